import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import RegioQuery
import Testing

/// deploy/backup: a base backup and the WAL archive restore into a new cluster that has the same
/// batches and gives the same report answers — including a night loaded after the base backup.
@Suite("Backup and restore")
struct BackupRestoreTests {
    static let scripts = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("deploy/backup")

    /// Runs a backup script as PostgreSQL's user (when the tests run as root) or as ourselves;
    /// its standard output.
    static func run(_ script: String, _ arguments: [String]) throws -> String {
        let path = scripts.appendingPathComponent(script).path
        let (executable, all) = geteuid() == 0 ? ("/usr/sbin/runuser", ["-u", "postgres", "--", path] + arguments) : (path, arguments)
        let output = try Subprocess.capture(executable, all)
        guard output.status == 0 else { throw TestSetupError("\(script) exited with \(output.status): \(output.stdout)\(output.stderr)") }
        return output.stdout
    }

    /// What the restored cluster must agree on: every batch, and two reports' answers.
    static func snapshot(_ url: DatabaseURL) async throws -> [String] {
        try await withDatabase(url, name: "snapshot", poolSize: 2, logger: TestDatabase.logger) { database in
            var lines: [String] = []
            for try await line in try await database.query("""
                SELECT b.id || ' ' || f.code || ' ' || b.business_date || ' ' || b.status || ' ' || coalesce(sum(bf.inserted), 0)
                FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id
                LEFT JOIN ingest.batch_files bf ON bf.batch_id = b.id
                GROUP BY b.id, f.code ORDER BY b.id
                """).decode(String.self) {
                lines.append(line)
            }
            let runner = try ReportRunner(database: database, reports: ReportCatalog.all)
            let bureau = Identity(tokenID: 0, role: .bureau, label: "test")
            for (id, filters) in [("activity", [("level", "county"), ("from", "2026-11"), ("to", "2026-11")]), ("registry-summary", [])] {
                let report = try #require(ReportCatalog.report(id: id))
                guard case .success(let binds) = report.binds(for: filters, caller: bureau) else {
                    throw TestSetupError("bad filters for \(id)")
                }
                let result = try await runner.run(report, binds: binds, scope: .region)
                lines += result.rows.map { "\(id): " + $0.map(\.csvText).joined(separator: ",") }
            }
            return lines
        }
    }

    @Test("a base backup plus the WAL archive restores every batch and the same report answers, including a night loaded after the backup")
    func restoreIntoANewCluster() async throws {
        let root = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("regio-backup-\(UUID())")
        defer { try? FileManager.default.removeItem(at: root) }
        let backups = root.appendingPathComponent("backups")
        try FileManager.default.createDirectory(at: backups.appendingPathComponent("wal"), withIntermediateDirectories: true)
        if geteuid() == 0 { _ = try Subprocess.run("/bin/chown", ["-R", "postgres", root.path]) }

        let primary = try EmbeddedPostgres(
            directory: root.appendingPathComponent("primary"),
            settings: ["archive_mode": "on", "wal_level": "replica",
                       "archive_command": "\(Self.scripts.path)/archive-wal.sh %p \(backups.path)/wal/%f"],
            logger: TestDatabase.logger)
        try primary.start()
        defer { primary.stop() }

        // Two nights of two facilities, through the real ingestion service; the second after the base backup.
        let first = CalendarDate("2026-11-20")!
        var options = SampleExtractGenerator.Options(firstNight: first, nights: 2)
        options.only = ["H339901001", "P339911001"]
        let folders = try SampleExtractWriter(output: root.appendingPathComponent("extracts"))
            .write(facilities: DemoRegion.facilities, options: options).sorted { $0.lastPathComponent < $1.lastPathComponent }
        let base = try await withDatabase(primary.url, name: "primary", poolSize: 6, logger: TestDatabase.logger) { database in
            try await MigrationRunner(migrations: try Migration.bundled()).upgrade(database)
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let credentials = CredentialStore(database: database)
            let base = try await Fixtures.ingestApp(database, asOwner: true).test(.live) { client in
                let server = "http://localhost:\(client.port!)"
                var base = ""
                for night in ["2026-11-20", "2026-11-21"] {
                    for folder in folders where folder.lastPathComponent == night {
                        let facility = folder.deletingLastPathComponent().lastPathComponent
                        let token = try await credentials.issue(role: .facility, scope: facility, label: "t", expiresAt: nil, actor: "t").token
                        let batch = try await UploadClient(server: server, token: token, logger: TestDatabase.logger)
                            .upload(directory: folder.path)
                        #expect(batch.status == .loaded || batch.status == .rejected, "\(batch.status)")
                    }
                    if night == "2026-11-20" {
                        base = try Self.run("base-backup.sh", [backups.path, "-h", "127.0.0.1", "-p", "\(primary.url.port)", "-U", "regio"])
                            .trimmingCharacters(in: .whitespacesAndNewlines)
                    }
                }
                return base
            }
            // The night after the backup is in the archive once its WAL segment is finished.
            try await database.query("SELECT pg_switch_wal()")
            #expect(try await eventually(within: .seconds(30)) {
                try await database.text("SELECT (last_archived_wal >= pg_walfile_name(pg_current_wal_lsn() - 1))::text FROM pg_stat_archiver") == "true"
            })
            return base
        }
        let expected = try await Self.snapshot(primary.url)
        #expect(expected.contains { $0.contains("2026-11-21 loaded") }, "the night after the base backup was loaded")
        primary.stop()

        // The restore, into a new cluster on another port.
        let restored = try EmbeddedPostgres(directory: root.appendingPathComponent("restored"), logger: TestDatabase.logger)
        _ = try Self.run("restore.sh", [base, backups.appendingPathComponent("wal").path, root.appendingPathComponent("restored/data").path])
        try restored.start()
        defer { restored.stop() }
        let found = try await Self.snapshot(restored.url)
        #expect(found == expected)
        #expect(found.count > 4)
    }
}
