import Foundation
import Logging
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Synchronization
import Testing

/// The ingestion service as its own process, killed with SIGKILL at each point of a batch's life
/// (`REGIO_FAULT`), or from outside at a moment of the upload, while `regio upload` sends a
/// facility's night, then started again — alone, or after PostgreSQL itself was stopped
/// immediately, whose crash recovery empties the unlogged staging tables. Whatever the point, the
/// night ends loaded whole, once, with nothing left behind; and a reader reading as the query
/// service does all along never sees part of it.
@Suite("Crash recovery")
struct CrashTests {
    @Test("the service killed at each point of a batch and restarted: the night loads whole, once", arguments: FaultPoint.allCases)
    func serviceKilled(at point: FaultPoint) async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await CrashDrill(kill: .at(point), database: database.url, postgres: nil).run()
        }
    }

    /// Ten moments from the upload's start, 0.1 s to 2.8 s: before, during and after the merge
    /// (a night of this township centre takes about 2 s to upload and decide).
    @Test("the service killed from outside at a moment of the upload and restarted: the night loads whole, once",
          arguments: Array(stride(from: 100, through: 2800, by: 300)))
    func serviceKilledAfter(milliseconds: Int) async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await CrashDrill(kill: .after(.milliseconds(milliseconds)), database: database.url, postgres: nil).run()
        }
    }

    @Test("the service killed and PostgreSQL stopped immediately (crash recovery): the night loads whole, once",
          arguments: FaultPoint.allCases)
    func serviceAndDatabaseKilled(at point: FaultPoint) async throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("crash-pg-\(UUID())")
        let postgres = try EmbeddedPostgres(directory: directory, logger: TestDatabase.logger)
        try postgres.start()
        defer {
            postgres.stop()
            try? FileManager.default.removeItem(at: directory)
        }
        try await withDatabase(postgres.url, name: "test", poolSize: 2, logger: TestDatabase.logger) { database in
            try await MigrationRunner(migrations: try Migration.bundled()).apply(on: database)
            // The services log in as their roles, as on the test cluster.
            try await Demo.deployServiceRoles(database)
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
        }
        try await CrashDrill(kill: .at(point), database: postgres.url, postgres: postgres).run()
    }
}

/// One kill and restart, and the checks after it.
struct CrashDrill {
    enum Kill: CustomStringConvertible {
        /// The service kills itself at the point (`REGIO_FAULT`).
        case at(FaultPoint)
        /// The test kills it this long after the upload started.
        case after(Duration)

        var description: String {
            switch self {
            case .at(let point): "at \(point.rawValue)"
            case .after(let delay): "\(delay) into the upload"
            }
        }
    }

    let kill: Kill
    let database: DatabaseURL
    /// The private cluster to stop immediately after the kill; nil: PostgreSQL keeps running.
    let postgres: EmbeddedPostgres?

    /// A township centre: it sends every kind of file but the bed census.
    static let facility = "P339921001"
    static let night = "2026-11-22"
    /// The tables each file's rows end in.
    static let tables: [String: String] = [
        "patients.csv": "emr.patients", "encounters.csv": "emr.encounters", "exams.csv": "emr.exams",
        "purchases.csv": "procurement.purchases", "referrals.csv": "referral.referrals", "beds.csv": "emr.bed_census",
    ]

    func run() async throws {
        let scratch = try ServiceWork()
        let work = scratch.url
        let extract = try writeNight(into: work)
        let secret = scratch.secret
        let tokenFile = try await withDatabase(database, name: "test", poolSize: 1, logger: TestDatabase.logger) {
            try await scratch.tokenFile(for: Self.facility, $0)
        }
        let quiet = ["REGIO_DB_POOL_SIZE": "4"]

        // A reader of the facility's rows, as the query service reads, from before the upload
        // until the night is checked.
        var readerURL = database
        readerURL.username = "regio_query"
        let reader = ConcurrentReader(facility: Self.facility)
        let reading = Task { await reader.run(readerURL) }
        defer { reading.cancel() }
        try await reader.waitForFirstRead()

        // The service to kill, and the hospital's upload, which keeps retrying.
        var fault: [String: String] = [:]
        if case .at(let point) = kill { fault["REGIO_FAULT"] = point.rawValue }
        let (doomed, server) = try ChildProcess.ingestService(
            database: database, secret: secret, environment: quiet.merging(fault) { $1 },
            output: work.appendingPathComponent("service-killed.log"))
        try await doomed.waitUntilReady(server)
        let upload = try ChildProcess(["upload", "--server", server, "--token-file", tokenFile.path, extract.path],
                                      environment: ["REGIO_LOG_LEVEL": "info"], output: work.appendingPathComponent("upload.log"))
        switch kill {
        case .at(let point):
            let killed = try await doomed.exitStatus(within: .seconds(120))
            #expect(killed == 128 + SIGKILL, "the service should have killed itself at \(point.rawValue):\n\(doomed.text)")
            #expect(doomed.text.contains("REGIO_FAULT"))
        case .after(let delay):
            try await Task.sleep(for: delay)
            Foundation.kill(doomed.process.processIdentifier, SIGKILL)
            #expect(try await doomed.exitStatus(within: .seconds(10)) == 128 + SIGKILL)
        }

        if let postgres {
            try postgres.crash()
            try postgres.start()
        }

        // The same port again: the upload's retries find the service where they left it.
        let (restarted, _) = try ChildProcess.ingestService(
            database: database, secret: secret, port: URLComponents(string: server)!.port!, environment: quiet,
            output: work.appendingPathComponent("service.log"))
        try await restarted.waitUntilReady(server)
        let ready = ContinuousClock.now
        let drill = "killed \(kill)\(postgres == nil ? "" : " with PostgreSQL")"
        /// What went on, for a failed expectation: both processes' output so far.
        @Sendable func context() -> String { "\(drill)\nservice:\n\(restarted.text)\nupload:\n\(upload.text)" }

        try await withDatabase(database, name: "test", poolSize: 2, logger: TestDatabase.logger) { db in
            let check = Check(database: db)
            if case .at(let point) = kill, point == .duringCopy || point == .afterStage {
                // Killed while receiving: the upload sends the night again.
            } else {
                // A committed batch is taken up again at once: decided, or (its staged rows lost
                // in crash recovery) back to receiving for the upload to send them again.
                let settled = try await eventually(within: .seconds(10)) {
                    try await check.value("SELECT count(*)::text FROM ingest.batches WHERE status IN ('queued', 'validating')") == "0"
                }
                #expect(settled, "the batch still in the queue or being decided 10 s after /ready; \(context())")
                print("crash drill, \(drill): the batch left the queue \(ContinuousClock.now - ready) after /ready")
            }

            let uploaded = try await upload.exitStatus(within: .seconds(180))
            #expect(uploaded == 0, "the interrupted upload should end loaded; \(context())")

            #expect(try await check.value("SELECT string_agg(id || ' ' || status || ' ' || coalesce(reason, ''), '; ') FROM ingest.batches WHERE status <> 'loaded'") == nil,
                    "every batch loaded; \(context())")
            #expect(try await check.value("SELECT string_agg(gid, ', ') FROM pg_prepared_xacts WHERE database = current_database()") == nil,
                    "no prepared transaction left; \(context())")
            let stagingLeft = try await eventually(within: .seconds(5)) {
                try await check.value("""
                    SELECT string_agg(t.tablename, ', ') FROM pg_tables t JOIN ingest.batches b ON t.tablename LIKE 'b' || b.id || '\\_%'
                    WHERE t.schemaname = 'staging' AND b.status IN ('loaded', 'validated', 'rejected', 'failed')
                    """) == nil
            }
            #expect(stagingLeft, "no staging table of a decided batch; \(context())")

            // The same upload again: the night is already there, and nothing changes.
            let again = try RegioProcess.run(["upload", "--server", server, "--token-file", tokenFile.path, extract.path])
            #expect(again.status == 0, "\(again.stdout)\(again.stderr)")
            #expect(again.stdout.contains("already loaded"), "\(again.stdout)")

            let sent = try keysSent(in: extract)
            for (file, expected) in sent {
                let table = Self.tables[file]!
                let stored = try await check.value("""
                    SELECT count(*)::text FROM \(table) WHERE facility_id = (SELECT id FROM registry.facilities WHERE code = '\(Self.facility)')
                    """)
                #expect(stored == "\(expected)", "\(table) holds the \(expected) rows of \(file); \(context())")
            }

            // Whatever the reader read — in each of its transactions, both statements — was the
            // night not there or the night whole.
            let whole = ConcurrentReader.Seen(main: ConcurrentReader.mainFiles.map { sent[$0] ?? 0 },
                                              activity: ConcurrentReader.activityFiles.map { sent[$0] ?? 0 })
            let nothing = ConcurrentReader.Seen(main: whole.main.map { _ in 0 }, activity: whole.activity.map { _ in 0 })
            // A read PostgreSQL's crash left unanswered ends at its deadline (`Database.withScope`).
            let finalRead = try await eventually(within: Database.readDeadline + .seconds(10)) { reader.states.keys.contains(whole) }
            #expect(finalRead, "the reader reads the whole night once it is loaded; \(context())")
            let seen = reader.states
            #expect(Set(seen.keys).isSubset(of: [nothing, whole]),
                    "the reader saw part of the night: \(seen.keys.filter { $0 != nothing && $0 != whole }); \(context())")
            print("crash drill, \(drill): the reader read \(seen.values.reduce(0, +)) times (\(seen[nothing] ?? 0) before the night, "
                  + "\(seen[whole] ?? 0) after it) and was refused \(reader.refusals) times")

            // The rollups the batch refreshed equal a rebuild from the core tables — once the
            // linker, which refreshes what depends on persons after the commit, has linked it.
            let linked = try await eventually(within: .seconds(30)) {
                try await check.value("SELECT count(*)::text FROM ingest.batches WHERE status = 'loaded' AND NOT dry_run AND linked_at IS NULL") == "0"
            }
            #expect(linked, "the loaded batch linked; \(context())")
            let rollups = try await check.rollups()
            try await Rollups.rebuildAll(db)
            #expect(try await check.rollups() == rollups, "rollups equal a rebuild; \(context())")
        }
        await restarted.stop()
        for log in [doomed.text, restarted.text, upload.text] {
            #expect(!log.contains("duplicate key"), "\(context())")
        }
        scratch.remove()
    }

    /// One night of the facility, without deliberately bad rows, so that every row is loaded, and
    /// with the week of purchases before it (a day may have none), so that every kind is there.
    private func writeNight(into work: URL) throws -> URL {
        var options = SampleExtractGenerator.Options(firstNight: CalendarDate(Self.night)!, nights: 1, seed: 11)
        options.badRowShare = 0
        options.purchaseHistoryDays = 6
        options.scale = 4
        options.only = [Self.facility]
        return try SampleExtractWriter(output: work.appendingPathComponent("extract")).write(facilities: DemoRegion.facilities, options: options)[0]
    }

    /// The distinct keys (first column) of each file of the extract.
    private func keysSent(in extract: URL) throws -> [String: Int] {
        var keys: [String: Int] = [:]
        for file in Self.tables.keys {
            let path = extract.appendingPathComponent(file)
            guard let text = try? String(contentsOf: path, encoding: .utf8) else { continue }
            let lines = text.split(separator: "\n").dropFirst()
            keys[file] = Set(lines.map { $0.prefix { $0 != "," } }).count
        }
        #expect(Set(keys.keys) == Set(Self.tables.keys).subtracting(["beds.csv"]),
                "a township centre sends every kind of file but the bed census, which only hospitals send: \(keys.keys.sorted())")
        return keys
    }

    struct Check {
        let database: Database

        func value(_ sql: String) async throws -> String? { try await database.text(sql) }

        /// A fingerprint of every table of the `reports` schema (without the times rows were written).
        func rollups() async throws -> [String: String] {
            var tables: [String] = []
            for try await name in try await database.query(
                "SELECT schemaname || '.' || tablename FROM pg_tables WHERE schemaname = 'reports' ORDER BY 1").decode(String.self) {
                tables.append(name)
            }
            var prints: [String: String] = [:]
            for table in tables {
                prints[table] = try await value("""
                    SELECT coalesce(md5(string_agg(r::text, '|' ORDER BY r::text)), '-')
                    FROM (SELECT to_jsonb(t) - 'refreshed_at' - 'updated_at' AS r FROM \(table) t) rows
                    """)
            }
            #expect(!prints.isEmpty)
            return prints
        }
    }
}

/// Reads one facility's rows as the query service reads patient-level data — as `regio_query`,
/// through `Database.withScope` — again and again until cancelled, and counts each state it saw:
/// the facility's patients, exams and purchases (merged by a batch's main transaction) in one
/// statement, its encounters and referrals (the side transaction's) in the next.
final class ConcurrentReader: Sendable {
    struct Seen: Hashable, CustomStringConvertible {
        var main: [Int]
        var activity: [Int]
        var description: String { "\(main) \(activity)" }
    }

    static let mainFiles = ["patients.csv", "exams.csv", "purchases.csv"]
    static let activityFiles = ["encounters.csv", "referrals.csv"]

    let facility: String
    private let seen = Mutex<[Seen: Int]>([:])
    private let refused = Mutex(0)

    init(facility: String) {
        self.facility = facility
    }

    /// Each state read, with how many times.
    var states: [Seen: Int] { seen.withLock { $0 } }
    /// Reads that failed: PostgreSQL away, a batch's commit waited for too long, no answer
    /// within the deadline.
    var refusals: Int { refused.withLock { $0 } }

    func run(_ url: DatabaseURL) async {
        _ = try? await withDatabase(url, name: "reader", poolSize: 2, logger: TestDatabase.logger) { database in
            while !Task.isCancelled {
                do {
                    let state = try await database.withScope(.facility(facility)) { connection in
                        Seen(main: try await self.counts(["emr.patients", "emr.exams", "procurement.purchases"], on: connection),
                             activity: try await self.counts(["emr.encounters", "referral.referrals"], on: connection))
                    }
                    seen.withLock { $0[state, default: 0] += 1 }
                } catch {
                    refused.withLock { $0 += 1 }
                    try? await Task.sleep(for: .milliseconds(100))
                }
            }
        }
    }

    /// Waits until the reader has read once (the night not there yet).
    func waitForFirstRead() async throws {
        // Beside the whole suite on two cores, a first connection can take a while.
        let read = try await eventually(within: .seconds(60)) { !self.states.isEmpty }
        #expect(read, "the reader reads before the upload (refused \(refusals) times)")
    }

    private func counts(_ tables: [String], on connection: PostgresConnection) async throws -> [Int] {
        let facility = "(SELECT id FROM registry.facilities WHERE code = '\(facility)')"
        let columns = tables.map { "(SELECT count(*) FROM \($0) WHERE facility_id = \(facility))::int8" }
        var counts: [Int] = []
        for try await row in try await connection.query(PostgresQuery(unsafeSQL: "SELECT ARRAY[\(columns.joined(separator: ", "))]"),
                                                       logger: TestDatabase.logger).decode([Int].self) {
            counts = row
        }
        return counts
    }
}
