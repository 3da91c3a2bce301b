import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
@testable import RegioPipeline
import Testing

/// An ingestion service listening on a real socket, with its worker, on a fresh database seeded
/// with the demo region; extracts are written to a folder and sent with the real upload client.
struct IngestScenario {
    let database: Database
    let client: any TestClientProtocol
    /// What the service's uploads keep for its worker's decisions.
    let stagedKeys: StagedKeys

    /// - Parameters:
    ///   - sideTransactions: whether the worker may merge the activity in a side transaction (the
    ///     test cluster allows prepared transactions).
    ///   - idle: how often the worker polls the queue between batches.
    ///   - stagedKeys: what the service remembers of staged files for their decision.
    static func run(sideTransactions: Bool = true, idle: Duration = .milliseconds(50), stagedKeys: StagedKeys = StagedKeys(),
                    _ body: @Sendable @escaping (IngestScenario) async throws -> Void) async throws {
        try await TestDatabase.with { database throws in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await Fixtures.ingestApp(database, sideTransactions: sideTransactions, stagedKeys: stagedKeys, idle: idle).test(.live) { client in
                try await body(IngestScenario(database: database, client: client, stagedKeys: stagedKeys))
            }
        }
    }

    var server: String { "http://127.0.0.1:\(client.port!)" }

    /// Sets the region's rejected-row share that rejects a whole batch (`reject_threshold_percent`).
    func rejectThreshold(_ percent: Int) async throws {
        try await database.query("UPDATE registry.settings SET value = to_jsonb(\(percent)::int) WHERE key = 'reject_threshold_percent'")
    }

    func token(_ facility: String) async throws -> String {
        try await CredentialStore(database: database).issue(role: .facility, scope: facility, label: "test", expiresAt: nil, actor: "test").token
    }

    /// Writes `files` (name → bytes) and a manifest into a new folder.
    func folder(_ files: [String: [UInt8]], facility: String, date: String, encoding: TextEncoding = .utf8) throws -> String {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("extract-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        for (name, bytes) in files { try Data(bytes).write(to: directory.appendingPathComponent(name)) }
        try LocalExtract.writeManifest(directory: directory.path, facility: facility, businessDate: date, encoding: encoding)
        return directory.path
    }

    /// Sends an extract with the upload client and waits for the decision.
    @discardableResult
    func upload(_ files: [String: String], facility: String = "H339901001", date: String = "2026-11-22",
                dryRun: Bool = false) async throws -> BatchRecord {
        try await upload(bytes: files.mapValues { Array($0.utf8) }, facility: facility, date: date, dryRun: dryRun)
    }

    @discardableResult
    func upload(bytes files: [String: [UInt8]], facility: String = "H339901001", date: String = "2026-11-22",
                encoding: TextEncoding = .utf8, dryRun: Bool = false, token: String? = nil) async throws -> BatchRecord {
        let directory = try folder(files, facility: facility, date: date, encoding: encoding)
        let credential: String
        if let token { credential = token } else { credential = try await self.token(facility) }
        var uploader = UploadClient(server: server, token: credential, logger: TestDatabase.logger)
        uploader.pollInterval = .milliseconds(50)
        let batch = try await uploader.upload(directory: directory, dryRun: dryRun)
        try await waitUntilLinked(batch.id)
        return batch
    }

    /// Waits until the patient index has linked a loaded batch's records (the service's worker
    /// does it after the batch loads), so that what a test reads next does not change under it.
    /// A batch that did not load is never linked.
    func waitUntilLinked(_ batch: Int64) async throws {
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            let state = try await value("""
                SELECT CASE WHEN status <> 'loaded' OR dry_run OR linked_at IS NOT NULL THEN 'settled' END
                FROM ingest.batches WHERE id = \(batch)
                """)
            if state == "settled" { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        Issue.record("batch \(batch) was not linked within 30 s")
    }

    /// A batch created and its files sent over HTTP, not committed yet.
    struct StagedBatch {
        var id: Int64
        var token: String
        var directory: String
        /// Each sent file's rejected rows, from its upload receipt.
        var rejected: [String: Int] = [:]
    }

    /// Creates a batch for `files` and sends them (unless `send` is false), without committing:
    /// a test can change what was staged first, then `commit`.
    func stage(_ files: [String: String], facility: String = "H339901001", date: String = "2026-11-22",
               send: Bool = true) async throws -> StagedBatch {
        let directory = try folder(files.mapValues { Array($0.utf8) }, facility: facility, date: date)
        var batch = StagedBatch(id: 0, token: try await token(facility), directory: directory)
        try await client.execute(uri: "/v1/batches", method: .post, headers: Fixtures.bearer(batch.token),
                                 body: ByteBuffer(string: try String(contentsOfFile: directory + "/manifest.json", encoding: .utf8))) {
            batch.id = try #require(try $0.json()["batch"] as? [String: Any])["id"] as! Int64
        }
        for (name, text) in files.sorted(by: { $0.key < $1.key }) where send {
            try await client.execute(uri: "/v1/batches/\(batch.id)/files/\(name)", method: .put, headers: Fixtures.bearer(batch.token),
                                     body: ByteBuffer(string: text)) { response in
                #expect(response.status == .ok)
                batch.rejected[name] = try response.json()["rejected"] as? Int
            }
        }
        return batch
    }

    /// Commits a staged batch; `waitForDecision` waits for the outcome.
    func commit(_ batch: StagedBatch) async throws {
        try await client.execute(uri: "/v1/batches/\(batch.id)/commit", method: .post, headers: Fixtures.bearer(batch.token)) {
            #expect($0.status == .accepted)
        }
    }

    func issues(_ batch: Int64) async throws -> [StoredIssue] {
        try await BatchStore(database: database).issues(batch: batch, offset: 0, limit: 10_000)
    }

    func count(_ table: String) async throws -> Int {
        for try await count in try await database.query(PostgresQuery(unsafeSQL: "SELECT count(*)::bigint FROM \(table)")).decode(Int.self) {
            return count
        }
        return 0
    }

    func value(_ sql: String) async throws -> String? { try await database.text(sql) }

    /// Makes PostgreSQL refuse a row change inside the merge, as a full disk or a constraint added
    /// later would: a trigger `timing` (e.g. `BEFORE INSERT`) on `table`, for the rows where
    /// `condition` holds, raising the text of the SQL expression `message`. `atCommit`: a
    /// constraint trigger deferred to the transaction's commit (`timing` is then `AFTER …`).
    func injectFailure(_ timing: String, on table: String, when condition: String, message: String,
                       atCommit: Bool = false) async throws {
        try await database.query(PostgresQuery(unsafeSQL: """
            CREATE FUNCTION public.injected_failure() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN RAISE EXCEPTION '%', \(message); END $$
            """))
        try await database.query(PostgresQuery(unsafeSQL: atCommit ? """
            CREATE CONSTRAINT TRIGGER injected_failure \(timing) ON \(table) DEFERRABLE INITIALLY DEFERRED
            FOR EACH ROW WHEN (\(condition)) EXECUTE FUNCTION public.injected_failure()
            """ : """
            CREATE TRIGGER injected_failure \(timing) ON \(table) FOR EACH ROW WHEN (\(condition))
            EXECUTE FUNCTION public.injected_failure()
            """))
    }

    /// Staging tables left: the worker drops a batch's right after recording the decision that the
    /// client sees, so they are given up to five seconds to go.
    func stagingTables() async throws -> String? {
        var left = try await value("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'staging'")
        for _ in 0..<100 where left != "0" {
            try await Task.sleep(for: .milliseconds(50))
            left = try await value("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'staging'")
        }
        return left
    }

    /// A fingerprint of every core table, to prove a batch changed nothing.
    /// The core tables' rows; of the regional index, the persons that hold a record (a person the
    /// patient index made for a record since retracted stays, named in the record's link history).
    func coreFingerprint() async throws -> String {
        var parts: [String] = []
        parts.append(try await value("""
            SELECT count(*)::text FROM emr.persons p WHERE EXISTS (SELECT 1 FROM emr.patients t WHERE t.person_id = p.id)
            """) ?? "-")
        for table in ["emr.patients", "emr.encounters", "emr.exams", "emr.bed_census", "procurement.purchases", "referral.referrals"] {
            parts.append(try await value("SELECT coalesce(md5(string_agg(t::text, '|' ORDER BY t::text)), '-') FROM \(table) t") ?? "-")
        }
        return parts.joined(separator: " ")
    }
}

/// Small extracts, written as a hospital's export would be.
enum Extracts {
    static let patientsHeader = "patient_id,name,sex,birth_date,id_type,id_number,phone,address\n"
    static let patients = patientsHeader + """
        P001,张三,1,1980-05-06,RID,\(rid("339901", "19800506", 101)),13800000001,清河区解放路1号
        P002,李四,2,1975-11-30,RID,\(rid("339901", "19751130", 202)),13800000002,"清河区延安路2号,3单元"
        P003,王五,1,2001-01-15,,,,

        """
    static let encountersHeader = "encounter_id,patient_id,encounter_type,dept_code,dept_name,start_time,end_time,primary_dx,total_cost,drug_cost,consumables_cost,op\n"
    static let encounters = encountersHeader + """
        E001,P001,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,120.50,60.00,5.00,
        E002,P002,I,0401,外科,2026-11-18 10:00:00,2026-11-22 10:00:00,K35.800,8600.00,2100.00,900.00,
        E003,P003,E,1001,急诊科,2026-11-22 23:10:00,,J06.900,300.00,100.00,20.00,

        """

    /// A valid 18-character resident ID number for a county, birth date and sequence.
    static func rid(_ county: String, _ birth: String, _ sequence: Int) -> String {
        let first17 = Array((county + birth + String(format: "%03d", sequence)).utf8)
        return String(decoding: first17 + [FieldChecks.checkCharacter(first17)], as: UTF8.self)
    }
}
