import Foundation
import Logging
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// The ingestion service as its own process, killed with SIGKILL at each point of a batch's life
/// (`REGIO_FAULT`) while `regio upload` sends a facility's night, then started again — alone, or
/// after PostgreSQL itself was stopped immediately, whose crash recovery empties the unlogged
/// staging tables. Whatever the point, the night ends loaded whole, once, with nothing left behind.
@Suite("Crash recovery")
struct CrashTests {
    @Test("the service killed at each point of a batch and restarted: the night loads whole, once", arguments: FaultPoint.allCases)
    func serviceKilled(at point: FaultPoint) async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await CrashDrill(point: point, database: database.url, postgres: nil).run()
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
            // The service loads as its own role, as on the test cluster.
            try await database.query("CREATE ROLE regio_ingest LOGIN")
            try await MigrationRunner.grantServiceRoles(on: database)
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
        }
        try await CrashDrill(point: point, database: postgres.url, postgres: postgres).run()
    }
}

/// One kill and restart, and the checks after it.
struct CrashDrill {
    let point: FaultPoint
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

        // The service that kills itself, and the hospital's upload, which keeps retrying.
        let (doomed, server) = try ChildProcess.ingestService(
            database: database, secret: secret, environment: quiet.merging(["REGIO_FAULT": point.rawValue]) { $1 },
            output: work.appendingPathComponent("service-killed.log"))
        try await doomed.waitUntilReady(server)
        let upload = try ChildProcess(["upload", "--server", server, "--token-file", tokenFile.path, extract.path],
                                      environment: ["REGIO_LOG_LEVEL": "info"], output: work.appendingPathComponent("upload.log"))
        let killed = try await doomed.exitStatus(within: .seconds(120))
        #expect(killed == 128 + SIGKILL, "the service should have killed itself at \(point.rawValue):\n\(doomed.text)")
        #expect(doomed.text.contains("REGIO_FAULT"))

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
        let drill = "killed at \(point.rawValue)\(postgres == nil ? "" : " with PostgreSQL")"
        /// What went on, for a failed expectation: both processes' output so far.
        @Sendable func context() -> String { "\(drill)\nservice:\n\(restarted.text)\nupload:\n\(upload.text)" }

        try await withDatabase(database, name: "test", poolSize: 2, logger: TestDatabase.logger) { db in
            let check = Check(database: db)
            if point != .afterStage {
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

            for (file, expected) in try keysSent(in: extract) {
                let table = Self.tables[file]!
                let stored = try await check.value("""
                    SELECT count(*)::text FROM \(table) WHERE facility_id = (SELECT id FROM registry.facilities WHERE code = '\(Self.facility)')
                    """)
                #expect(stored == "\(expected)", "\(table) holds the \(expected) rows of \(file); \(context())")
            }

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
