import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

@Suite("Migrations")
struct MigrationTests {
    /// Three small migrations in a folder of their own: 0002 depends on 0001.
    func folder(_ files: [String: String]) throws -> URL {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("migrations-\(UUID())")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        for (name, text) in files { try text.write(to: folder.appendingPathComponent(name), atomically: true, encoding: .utf8) }
        return folder
    }

    let sample = [
        "0002_items.sql": "CREATE TABLE t.items (id int PRIMARY KEY, box int REFERENCES t.boxes (id));",
        "0001_boxes.sql": "CREATE SCHEMA t; CREATE TABLE t.boxes (id int PRIMARY KEY); INSERT INTO t.boxes VALUES (1);",
        "0003_more.sql": "INSERT INTO t.items VALUES (1, 1); -- ; in a comment\nCREATE INDEX ON t.items (box);",
    ]

    func recorded(_ database: Database) async throws -> [Int] {
        var versions: [Int] = []
        for try await version in try await database.query("SELECT version FROM public.regio_migrations ORDER BY version").decode(Int.self) {
            versions.append(version)
        }
        return versions
    }

    @Test("files apply in version order, once")
    func order() async throws {
        let migrations = try Migration.load(from: try folder(sample))
        #expect(migrations.map(\.version) == [1, 2, 3])
        try await TestDatabase.with(migrated: false) { database throws in
            let runner = MigrationRunner(migrations: migrations)
            #expect(try await runner.apply(on: database).map(\.version) == [1, 2, 3])
            #expect(try await runner.apply(on: database).isEmpty)
            #expect(try await recorded(database) == [1, 2, 3])
            #expect(try await runner.isCurrent(on: database))
        }
    }

    @Test("a database holding a file staged by a build before migration 0008, in an undecided batch, is refused with the batch to settle")
    func legacyStagingRefused() async throws {
        let bundled = try Migration.bundled()
        try await TestDatabase.with(migrated: false) { database throws in
            try await MigrationRunner(migrations: bundled.filter { $0.version < 15 }).apply(on: database)
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let batch = try #require(try await database.text("""
                INSERT INTO ingest.batches (facility_id, business_date, manifest, content_key, encoding)
                SELECT id, '2026-11-22', '{}', 'legacy', 'UTF-8' FROM registry.facilities WHERE code = 'H339901001'
                RETURNING id::text
                """))
            // Received, its duplicates left to the decision and its retractions not counted.
            try await database.query(PostgresQuery(unsafeSQL: """
                INSERT INTO ingest.batch_files (batch_id, kind, name, expected_rows, expected_sha256, received_rows, received_at)
                VALUES (\(batch), 'patients', 'patients.csv', 1, 'x', 1, now())
                """))
            await #expect { try await MigrationRunner(migrations: bundled).apply(on: database) } throws: {
                "\($0)".contains("batches \(batch) hold files staged by a Regio build older than migration 0008")
            }
            #expect(try await recorded(database).last == 14, "nothing applied past the refusal")
            try await database.query(PostgresQuery(unsafeSQL: "DELETE FROM ingest.batches WHERE id = \(batch)"))
            #expect(try await MigrationRunner(migrations: bundled).apply(on: database).map(\.version).contains(15))
        }
    }

    @Test("an applied file that was edited is refused, and nothing else is applied")
    func tampered() async throws {
        let original = try Migration.load(from: try folder(sample))
        try await TestDatabase.with(migrated: false) { database throws in
            try await MigrationRunner(migrations: Array(original.prefix(2))).apply(on: database)
            var edited = original
            edited[0] = Migration(version: 1, name: "boxes", sql: original[0].sql + "\n-- edited")
            await #expect(throws: MigrationError.checksumMismatch(version: 1, name: "boxes")) {
                try await MigrationRunner(migrations: edited).apply(on: database)
            }
            #expect(try await recorded(database) == [1, 2])
            let status = try await MigrationRunner(migrations: edited).status(on: database)
            guard case .modified = status[0].state, case .pending = status[2].state else {
                Issue.record("status should show 1 modified and 3 pending, got \(status)"); return
            }
            #expect(try await MigrationRunner(migrations: edited).isCurrent(on: database) == false)
        }
    }

    @Test("a database migrated by a newer build is refused")
    func unknownApplied() async throws {
        let migrations = try Migration.load(from: try folder(sample))
        try await TestDatabase.with(migrated: false) { database throws in
            try await MigrationRunner(migrations: migrations).apply(on: database)
            await #expect(throws: MigrationError.unknownApplied(version: 3, name: "more")) {
                try await MigrationRunner(migrations: Array(migrations.prefix(2))).apply(on: database)
            }
        }
    }

    @Test("a failing migration is rolled back whole and not recorded")
    func failure() async throws {
        var files = sample
        files["0003_more.sql"] = "CREATE TABLE t.half (id int);\nINSERT INTO t.items VALUES (1, 99);"
        let migrations = try Migration.load(from: try folder(files))
        try await TestDatabase.with(migrated: false) { database throws in
            await #expect {
                try await MigrationRunner(migrations: migrations).apply(on: database)
            } throws: { error in
                guard case .failed(version: 3, name: "more", statement: 2, let message) = error as? MigrationError else { return false }
                return message.contains("foreign key")
            }
            #expect(try await recorded(database) == [1, 2])
            let rows = try await database.query("SELECT to_regclass('t.half') IS NULL")
            for try await missing in rows.decode(Bool.self) { #expect(missing) }
        }
    }

    @Test("instances starting at once apply each migration exactly once")
    func concurrentStart() async throws {
        let migrations = try Migration.load(from: try folder(sample))
        try await TestDatabase.with(migrated: false) { database throws in
            let applied = try await withThrowingTaskGroup(of: [Int].self) { group in
                for _ in 0..<4 {
                    group.addTask { try await MigrationRunner(migrations: migrations).apply(on: database).map(\.version) }
                }
                return try await group.reduce(into: [Int]()) { $0 += $1 }
            }
            #expect(applied.sorted() == [1, 2, 3])
            #expect(try await recorded(database) == [1, 2, 3])
        }
    }

    @Test("badly named files are refused")
    func badName() throws {
        #expect(throws: MigrationError.badFileName("1_short.sql")) {
            try Migration.load(from: try folder(["1_short.sql": "SELECT 1;"]))
        }
    }

    @Test("the shipped migrations apply to an empty database")
    func bundled() async throws {
        try await TestDatabase.with(migrated: false) { database throws in
            let runner = MigrationRunner(migrations: try Migration.bundled())
            #expect(try await runner.isCurrent(on: database) == false)
            let applied = try await runner.apply(on: database)
            #expect(applied.first?.name == "registry")
            #expect(try await runner.isCurrent(on: database))
        }
    }
}
