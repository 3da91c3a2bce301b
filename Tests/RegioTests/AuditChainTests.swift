import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// The audit trail is append-only for everyone but its owner, and an edited or removed row is
/// found by `regio audit verify`.
@Suite("Audit trail")
struct AuditChainTests {
    /// Audit rows of several kinds: registry changes, tokens, and lookups.
    static func someAudit(_ database: Database) async throws {
        try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
        _ = try await DemoRegion.issueTokens(credentials: CredentialStore(database: database), actor: "test")
        for n in 1...5 {
            try await database.query("""
                INSERT INTO audit.lookups (actor, facility_id, patient_id, by_resident_id, purpose, result)
                VALUES ('facility:test', 1, \("P\(n)"), false, 'treatment', 'not_found')
                """)
        }
    }

    /// Runs `sql` as the owner with the triggers switched off, as only someone with the owner's or
    /// a superuser's power could.
    static func tamper(_ database: Database, _ sql: String) async throws {
        try await database.withConnection { connection in
            try await connection.query("SET session_replication_role = replica", logger: database.logger)
            try await connection.query(PostgresQuery(unsafeSQL: sql), logger: database.logger)
            try await connection.query("SET session_replication_role = DEFAULT", logger: database.logger)
        }
    }

    @Test("UPDATE, DELETE and TRUNCATE are refused on both audit tables, even for the owner")
    func appendOnly() async throws {
        try await TestDatabase.with { database in
            try await Self.someAudit(database)
            for table in ["audit.events", "audit.lookups"] {
                for statement in ["UPDATE \(table) SET actor = 'someone else'", "DELETE FROM \(table)", "TRUNCATE \(table)"] {
                    await #expect(throws: (any Error).self, "\(statement)") { try await database.query(PostgresQuery(unsafeSQL: statement)) }
                }
            }
            #expect(try await database.text("SELECT count(*)::text FROM audit.lookups") == "5")
        }
    }

    @Test("an intact trail verifies; an edited row and a removed row are each found, by row")
    func editedAndRemovedRows() async throws {
        try await TestDatabase.with { database in
            try await Self.someAudit(database)
            let intact = try await AuditLog.verify(database)
            #expect(intact.allSatisfy { $0.problems.isEmpty && $0.rows > 0 && $0.head != nil }, "\(intact)")

            let ids = try #require(try await database.text("SELECT string_agg(id::text, ',' ORDER BY id) FROM audit.events"))
                .split(separator: ",").compactMap { Int64($0) }
            let (edited, removed) = (ids[3], ids[7])
            try await Self.tamper(database, "UPDATE audit.events SET actor = 'nobody' WHERE id = \(edited)")
            try await Self.tamper(database, "DELETE FROM audit.events WHERE id = \(removed)")
            try await Self.tamper(database, "UPDATE audit.lookups SET purpose = 'curiosity' WHERE patient_id = 'P2'")
            let found = try await AuditLog.verify(database)
            let events = try #require(found.first { $0.table == "audit.events" })
            #expect(events.problems.map(\.id) == [edited, ids[8]], "\(events.problems)")
            #expect(events.problems.first?.problem.contains("edited") == true)
            #expect(events.problems.last?.problem.contains("removed") == true)
            let lookups = try #require(found.first { $0.table == "audit.lookups" })
            #expect(lookups.problems.count == 1 && lookups.problems[0].problem.contains("edited"))

            // A forger who also recomputes the edited row's hash breaks the link of the row after it.
            try await Self.tamper(database, """
                UPDATE audit.lookups t SET hash = audit.row_hash(t.prev_hash, to_jsonb(t) - 'hash' - 'prev_hash') WHERE patient_id = 'P2'
                """)
            let reforged = try #require(try await AuditLog.verify(database).first { $0.table == "audit.lookups" })
            #expect(reforged.problems.count == 1 && reforged.problems[0].problem.contains("removed"), "\(reforged.problems)")
        }
    }

    @Test("rows written at once by many transactions, some rolled back, still verify")
    func concurrentWriters() async throws {
        try await TestDatabase.with { database in
            try await Self.someAudit(database)
            try await withThrowingTaskGroup(of: Void.self) { group in
                for writer in 0..<16 {
                    group.addTask {
                        for n in 0..<10 {
                            try? await database.withTransaction { connection in
                                try await AuditLog.record(actor: "writer \(writer)", action: "test.write", subject: "\(n)", detail: [:],
                                                          on: connection, logger: database.logger)
                                if n == 4 { throw CancellationError() }
                            }
                        }
                    }
                }
                try await group.waitForAll()
            }
            #expect(try await database.text("SELECT count(*)::text FROM audit.events WHERE action = 'test.write'") == "144")
            let result = try await AuditLog.verify(database)
            #expect(result.allSatisfy { $0.problems.isEmpty }, "\(result)")
        }
    }

    @Test("the roles that append audit rows can chain them without reading them")
    func applicationRolesChain() async throws {
        try await TestDatabase.with { database in
            try await Self.someAudit(database)
            let (_, writeURL) = try await Fixtures.deployedQueryRoles(database)
            try await withDatabase(writeURL, name: "writer", poolSize: 1, logger: TestDatabase.logger) { writer in
                try await writer.withConnection { connection in
                    try await AuditLog.record(actor: "bureau:x", action: "test.role", subject: nil, detail: [:], on: connection, logger: writer.logger)
                }
                await #expect(throws: (any Error).self) { try await writer.query("SELECT hash FROM audit.events") }
                await #expect(throws: (any Error).self) { try await writer.query("TRUNCATE audit.events") }
            }
            #expect(try await AuditLog.verify(database).allSatisfy { $0.problems.isEmpty })
        }
    }

    @Test("regio audit verify exits 0 on an intact trail and 1, naming the row, on a tampered one")
    func command() async throws {
        try await TestDatabase.with { database in
            try await Self.someAudit(database)
            let url = TestDatabase.url(of: database)
            var result = try RegioProcess.run(["audit", "verify"], database: url)
            #expect(result.status == 0 && result.stdout.contains("audit.events:") && result.stdout.contains("chain intact"), "\(result.stdout)")
            try await Self.tamper(database, "UPDATE audit.lookups SET actor = 'x' WHERE patient_id = 'P3'")
            let id = try #require(try await database.text("SELECT id::text FROM audit.lookups WHERE patient_id = 'P3'"))
            result = try RegioProcess.run(["audit", "verify"], database: url)
            #expect(result.status == 1 && result.stdout.contains("row \(id): its content does not match its hash"), "\(result.stdout)")
        }
    }
}
