import AsyncHTTPClient
import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// `regio bench ingest`: one standard night (about a million encounters, with proportional
/// patients, exams, purchases and referrals) uploaded through the real ingestion service, timed
/// from the first byte sent to the batch loaded; in the same run, the same encounters file loaded
/// with `psql \copy` into a table of the same shape and indexes (the baseline), and with pgloader
/// when it is installed. Prints rows per second, the ratios, and the service's peak memory.
public struct IngestBenchmark {
    public var encounters = 1_000_000
    public var workDirectory: URL
    public var executable: String
    public var logger: Logger

    /// The facility whose night is generated: a township centre, which buys and refers too.
    /// The append-only tables the run empties, and the trigger that refuses their TRUNCATE.
    static let appendOnly = [("emr.person_links", "person_links_no_truncate"), ("emr.emergency_grants", "emergency_grants_no_truncate")]

    static let facility = "P339921001"

    public init(workDirectory: URL, executable: String, logger: Logger) {
        self.workDirectory = workDirectory
        self.executable = executable
        self.logger = logger
    }

    public struct Figures: Sendable {
        public var totalRows = 0
        public var encounterRows = 0
        public var regioSeconds = 0.0
        public var psqlSeconds = 0.0
        public var pgloaderSeconds: Double?
        public var peakResidentBytes = 0
        /// The service's user + system CPU time over the run (upload, validation, staging).
        public var serviceCPUSeconds = 0.0
        /// From the worker taking the committed batch to the batch loaded: checks and merge.
        public var decideSeconds: Double?
        /// From the batch loaded to its patient records linked by the patient index, which runs
        /// after the merge (not part of `regioSeconds`); how many records it linked.
        public var linkSeconds: Double?
        public var linkedRecords = 0
        /// The service's peak resident memory once the records are linked too.
        public var peakResidentBytesLinked = 0

        public var regioRowsPerSecond: Double { Double(totalRows) / regioSeconds }
        public var regioEncountersPerSecond: Double { Double(encounterRows) / regioSeconds }
        public var psqlRowsPerSecond: Double { Double(encounterRows) / psqlSeconds }
        public var pgloaderRowsPerSecond: Double? { pgloaderSeconds.map { Double(encounterRows) / $0 } }
    }

    /// Generates the night once, then runs `rounds` rounds on it, each one the service, `psql`
    /// and pgloader in turn on an emptied database. This machine's speed drifts by a third within
    /// minutes: several rounds, each with its own ratios, show how much a single figure can be trusted.
    public func run(databaseURL: DatabaseURL?, rounds: Int = 1) async throws -> [Figures] {
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let (url, embedded) = try EmbeddedPostgres.unless(databaseURL, directory: workDirectory.appendingPathComponent("postgres"), logger: logger)
        defer { embedded?.stop() }

        print("generating one night of \(encounters) encounters for \(Self.facility)…")
        let extracts = workDirectory.appendingPathComponent("extract")
        try? FileManager.default.removeItem(at: extracts)
        var options = SampleExtractGenerator.Options(firstNight: Self.night, nights: 1, seed: 7)
        options.encountersPerFacility = encounters
        options.populationSize = encounters
        options.scale = Double(encounters) / 420
        options.badRowShare = 0  // psql \copy stops at the first bad row; the service validates every row all the same
        options.only = [Self.facility]
        let folder = try SampleExtractWriter(output: extracts).write(facilities: DemoRegion.facilities, options: options)[0]
        let manifest = try LocalExtract.readAndVerify(directory: folder.path)
        for file in manifest.files { print("  \(file.name): \(file.rows) rows") }

        var figures: [Figures] = []
        for round in 1...max(rounds, 1) {
            if rounds > 1 { print("round \(round) of \(rounds)") }
            figures.append(try await run(url: url, folder: folder, manifest: manifest))
        }
        return figures
    }

    static let night = CalendarDate("2026-11-22")!

    /// One round: the service, then `psql`, then pgloader, on an emptied database.
    private func run(url: DatabaseURL, folder: URL, manifest: ExtractManifest) async throws -> Figures {
        var figures = Figures()
        figures.totalRows = manifest.files.reduce(0) { $0 + $1.rows }
        figures.encounterRows = manifest.files.first { $0.kind == .encounters }!.rows

        // A fresh database for each run: migrate, register the region, issue an upload token.
        let token = try await withDatabase(url, logger: logger) { database in
            try await database.query("DROP SCHEMA IF EXISTS bench CASCADE")
            try await MigrationRunner(migrations: try Migration.bundled()).apply(on: database)
            // Every run starts empty: an earlier run's batch would make this one a repeat, which
            // merges nothing. (The link history and the emergency grants, which refer to persons,
            // refuse TRUNCATE; this database is the bench's.)
            try await database.withTransaction { connection in
                for (table, trigger) in Self.appendOnly {
                    try await connection.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(table) DISABLE TRIGGER \(trigger)"), logger: database.logger)
                }
                try await connection.query("""
                    TRUNCATE ingest.batches, ingest.batch_files, ingest.row_errors, ingest.rejected_rows, ingest.batch_checks,
                             emr.patients, emr.encounters, emr.exams, emr.persons, emr.bed_census, emr.person_links,
                             emr.link_reviews, emr.match_keys, emr.kept_apart, emr.steward_actions, emr.exam_registry,
                             emr.emergency_grants, procurement.purchases, referral.referrals, referral.status_history,
                             reports.facility_month, reports.referral_month, reports.exam_month, reports.person_index,
                             reports.purchase_month
                    """, logger: database.logger)
                for (table, trigger) in Self.appendOnly {
                    try await connection.query(PostgresQuery(unsafeSQL: "ALTER TABLE \(table) ENABLE TRIGGER \(trigger)"), logger: database.logger)
                }
            }
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "bench")
            try await database.query("CREATE SCHEMA bench")
            var facilityID = 0
            for try await id in try await database.query("SELECT id FROM registry.facilities WHERE code = \(Self.facility)").decode(Int.self) {
                facilityID = id
            }
            for table in ["bench.encounters_psql", "bench.encounters_pgloader"] {
                for statement in Self.baselineTable(table, facilityID: facilityID, night: Self.night) {
                    try await database.query(PostgresQuery(unsafeSQL: statement))
                }
            }
            return try await CredentialStore(database: database).issue(
                role: .facility, scope: Self.facility, label: "bench", expiresAt: nil, actor: "bench").token
        }

        // The ingestion service as its own process, so its memory is its own.
        let port = try EmbeddedPostgres.freePort()
        let secret = workDirectory.appendingPathComponent("region.key")
        try Data(String(repeating: "b", count: 44).utf8).write(to: secret)
        let service = Process()
        service.executableURL = URL(fileURLWithPath: executable)
        service.arguments = ["serve", "ingest"]
        service.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin",
                               "REGIO_DATABASE_URL": url.urlString, "REGIO_INGEST_PORT": "\(port)",
                               "REGIO_SECRET_FILE": secret.path, "REGIO_LOG_LEVEL": "warning"]
        try service.run()
        defer { if service.isRunning { service.terminate(); service.waitUntilExit() } }
        let server = "http://127.0.0.1:\(port)"
        try await waitUntilReady(server)

        print("uploading through the ingestion service…")
        var client = UploadClient(server: server, token: token, logger: logger)
        client.pollInterval = .milliseconds(100)
        let started = ContinuousClock.now
        let batch = try await client.upload(directory: folder.path, manifest: manifest)
        figures.regioSeconds = Self.seconds(ContinuousClock.now - started)
        guard batch.status == .loaded else { throw UploadClient.Failure("the bench batch ended \(batch.status.rawValue): \(batch.reason ?? "")") }
        figures.peakResidentBytes = Self.peakResident(pid: service.processIdentifier)
        figures.serviceCPUSeconds = Self.cpuSeconds(pid: service.processIdentifier)
        if let started = batch.startedAt, let finished = batch.finishedAt {
            figures.decideSeconds = finished.timeIntervalSince(started)
        }
        // The patient index links the night's records after it loaded: timed on its own.
        print("linking the night's patient records…")
        let (linkSeconds, linkedRecords) = try await withDatabase(url, logger: logger) { database -> (Double, Int) in
            while true {
                var linked: (Date?, Date?, Int)?
                for try await row in try await database.query("""
                    SELECT finished_at, linked_at, (SELECT count(*)::int FROM emr.patients WHERE batch_id = \(batch.id))
                    FROM ingest.batches WHERE id = \(batch.id)
                    """).decode((Date?, Date?, Int).self) {
                    linked = row
                }
                if case let (finished?, linkedAt?, records)? = linked { return (linkedAt.timeIntervalSince(finished), records) }
                try await Task.sleep(for: .milliseconds(200))
            }
        }
        figures.linkSeconds = linkSeconds
        figures.linkedRecords = linkedRecords
        figures.peakResidentBytesLinked = Self.peakResident(pid: service.processIdentifier)
        // Stopped before the baselines run (it finishes dropping the batch's staging tables
        // first), so they have the machine to themselves.
        service.terminate()
        service.waitUntilExit()

        let csv = folder.appendingPathComponent("encounters.csv").path
        print("loading the encounters file with psql \\copy…")
        figures.psqlSeconds = try timed {
            try Subprocess.run(try Self.tool("psql"), [url.urlString, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                "\\copy bench.encounters_psql (\(Self.fileColumns)) FROM '\(csv)' WITH (FORMAT csv, HEADER true)"], environment: ProcessInfo.processInfo.environment)
        }
        if let pgloader = Subprocess.which("pgloader") {
            print("loading the encounters file with pgloader…")
            let command = workDirectory.appendingPathComponent("encounters.load")
            try Self.pgloaderCommand(csv: csv, url: url).write(to: command, atomically: true, encoding: .utf8)
            figures.pgloaderSeconds = try timed { try Subprocess.run(pgloader, ["--quiet", command.path]) }
            let loaded = try await withDatabase(url, logger: logger) { database -> Int in
                for try await count in try await database.query("SELECT count(*)::bigint FROM bench.encounters_pgloader").decode(Int.self) { return count }
                return 0
            }
            if loaded != figures.encounterRows { throw UploadClient.Failure("pgloader loaded \(loaded) of \(figures.encounterRows) rows") }
        }
        return figures
    }

    func timed(_ body: () throws -> Void) throws -> Double {
        let started = ContinuousClock.now
        try body()
        return Self.seconds(ContinuousClock.now - started)
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }

    static func tool(_ name: String) throws -> String {
        guard let path = Subprocess.which(name) else { throw UploadClient.Failure("\(name) is not installed") }
        return path
    }

    func waitUntilReady(_ server: String) async throws {
        for _ in 0..<300 {
            let request = HTTPClientRequest(url: server + "/ready")
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(100))
        }
        throw UploadClient.Failure("the ingestion service did not become ready")
    }

    /// VmHWM: the most resident memory the process ever had.
    static func peakResident(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return (Int(line.split(separator: " ").dropFirst().first ?? "0") ?? 0) * 1024
    }

    /// utime + stime from `/proc/<pid>/stat` (fields 14 and 15, in clock ticks).
    static func cpuSeconds(pid: Int32) -> Double {
        guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
              let end = stat.lastIndex(of: ")") else { return 0 }
        // After the command name (which may hold spaces): field 3 onwards.
        let fields = stat[stat.index(after: end)...].split(separator: " ")
        guard fields.count > 12, let user = Double(fields[11]), let system = Double(fields[12]) else { return 0 }
        return (user + system) / Double(sysconf(Int32(_SC_CLK_TCK)))
    }

    /// The encounters file's columns, in order (the baselines load the file as it is).
    static let fileColumns = "encounter_id, patient_id, encounter_type, dept_code, dept_name, start_time, end_time, "
        + "primary_dx, total_cost, drug_cost, consumables_cost, referral_from, referral_id, op"

    /// A table of the same shape and indexes as `emr.encounters` — copied from it, so the
    /// baselines follow the schema as it changes — plus the file's `op` column. The columns the
    /// file does not carry take the values the merge would give them: the facility, the night.
    static func baselineTable(_ name: String, facilityID: Int, night: CalendarDate) -> [String] {
        [
            "CREATE TABLE \(name) (LIKE emr.encounters INCLUDING ALL)",
            """
            ALTER TABLE \(name) ADD COLUMN op text,
                ALTER facility_id SET DEFAULT \(facilityID),
                ALTER as_of SET DEFAULT '\(night)', ALTER row_hash SET DEFAULT '', ALTER batch_id SET DEFAULT 0
            """,
        ]
    }

    static func pgloaderCommand(csv: String, url: DatabaseURL) -> String {
        """
        LOAD CSV
            FROM '\(csv)' (\(fileColumns))
            INTO \(url.urlString)?bench.encounters_pgloader (\(fileColumns))
            WITH skip header = 1, fields optionally enclosed by '"', fields terminated by ','
            SET work_mem to '64MB';
        """
    }
}
