import Foundation
import PostgresNIO
import RegioApp
@testable import RegioDB
@testable import RegioPipeline
import Testing

/// A merge that grows a core table analyzes it in its own transaction, so that its later
/// statements are not planned from statistics that count none of its rows (see `GrownTables`).
@Suite("Ingestion: statistics of the tables a merge grows")
struct GrownTablesTests {
    /// The planner's row estimate for the whole table, as `connection`'s transaction sees it.
    static func estimate(_ table: String, on connection: PostgresConnection) async throws -> Int {
        var rows: Int?
        for try await line in try await connection.query(PostgresQuery(unsafeSQL: "EXPLAIN SELECT * FROM \(table)"),
                                                          logger: TestDatabase.logger).decode(String.self) {
            if rows == nil, let match = line.firstMatch(of: /rows=(\d+)/) { rows = Int(match.1) }
        }
        return try #require(rows)
    }

    static func setting(_ name: String, on connection: PostgresConnection) async throws -> String? {
        for try await value in try await connection.query("SELECT current_setting(\(name))", logger: TestDatabase.logger)
            .decode(String.self) {
            return value
        }
        return nil
    }

    /// Opens a transaction on `connection` and inserts `rows` rows into `emr.match_keys`, as the
    /// linker would: for the first facility, in its write scope.
    static func grow(_ rows: Int, on connection: PostgresConnection) async throws {
        try await connection.query("BEGIN", logger: TestDatabase.logger)
        try await WriteScope.facility(1).enter(on: connection, logger: TestDatabase.logger)
        try await connection.query("INSERT INTO emr.match_keys SELECT 'key ' || g, 1, 'P' || g FROM generate_series(1, \(rows)) g",
                                   logger: TestDatabase.logger)
    }

    /// `body` with a connection of the ingestion service's role (which does not own the table),
    /// and the owner's database, on a new migrated database.
    static func asService(_ body: @escaping @Sendable (_ merge: PostgresConnection, _ owner: Database) async throws -> Void) async throws {
        try await TestDatabase.with { database in
            try await withDatabase(TestDatabase.ingestURL(of: database), name: "ingest", poolSize: 1, logger: TestDatabase.logger) { service in
                try await service.withConnection { try await body($0, database) }
            }
        }
    }

    @Test("when to analyze: many rows inserted against what the statistics count")
    func rule() {
        #expect(!GrownTables.needsAnalyze(inserted: 9_999, counted: -1))
        #expect(GrownTables.needsAnalyze(inserted: 10_000, counted: -1))  // never analyzed
        #expect(GrownTables.needsAnalyze(inserted: 1_000_000, counted: 0))  // analyzed while the rows were in flight
        #expect(GrownTables.needsAnalyze(inserted: 50_000, counted: 60_000))
        #expect(!GrownTables.needsAnalyze(inserted: 50_000, counted: 100_000))
        #expect(!GrownTables.needsAnalyze(inserted: 200_000, counted: 10_000_000))  // a usual night's share
    }

    @Test("an ANALYZE that missed the transaction's rows is corrected within it, and cannot be repeated before the commit")
    func analyzedInTransaction() async throws {
        try await Self.asService { merge, database in
            try await Self.grow(50_000, on: merge)
            // What autovacuum's ANALYZE records meanwhile: the pages, and none of their rows.
            try await database.query("ANALYZE emr.match_keys")
            #expect(try await Self.estimate("emr.match_keys", on: merge) < 100)

            try await GrownTables.analyzeIfGrown("emr.match_keys", inserted: 50_000, on: merge, logger: TestDatabase.logger)
            let estimate = try await Self.estimate("emr.match_keys", on: merge)
            #expect(estimate > 40_000 && estimate < 60_000, "estimated \(estimate) rows")
            // The savepoint's settings are back to the session's.
            #expect(try await Self.setting("lock_timeout", on: merge) == "0")
            #expect(try await Self.setting("default_statistics_target", on: merge) == "100")

            // Until the commit, no other ANALYZE (autovacuum's) can record the table without them again.
            try await database.withConnection { other in
                try await other.query("SET lock_timeout = '200ms'", logger: TestDatabase.logger)
                let error = await #expect(throws: PSQLError.self) {
                    try await other.query("ANALYZE emr.match_keys", logger: TestDatabase.logger)
                }
                #expect(error?.serverInfo?[.sqlState] == "55P03")
            }
            try await merge.query("COMMIT", logger: TestDatabase.logger)
        }
    }

    @Test("a table whose ANALYZE lock is taken is left as it is, and the merge goes on")
    func lockTaken() async throws {
        try await Self.asService { merge, database in
            try await database.withConnection { holder in
                // Another batch's merge that analyzed the table and has not committed.
                try await holder.query("BEGIN", logger: TestDatabase.logger)
                try await holder.query("ANALYZE emr.match_keys", logger: TestDatabase.logger)
                try await Self.grow(20_000, on: merge)
                try await GrownTables.analyzeIfGrown("emr.match_keys", inserted: 20_000, on: merge, logger: TestDatabase.logger)
                // The transaction is intact, its rows there, its settings its own.
                var rows: Int?
                for try await count in try await merge.query("SELECT count(*)::int FROM emr.match_keys", logger: TestDatabase.logger)
                    .decode(Int.self) {
                    rows = count
                }
                #expect(rows == 20_000)
                #expect(try await Self.setting("lock_timeout", on: merge) == "0")
                try await merge.query("COMMIT", logger: TestDatabase.logger)
                try await holder.query("ROLLBACK", logger: TestDatabase.logger)
            }
        }
    }

    @Test("a batch that grows emr.encounters leaves statistics that count its rows", arguments: [true, false])
    func batchAnalyzes(side: Bool) async throws {
        try await IngestScenario.run(sideTransactions: side) { s in
            // Only the merge may analyze the table during the test.
            try await s.database.query("ALTER TABLE emr.encounters SET (autovacuum_enabled = false)")
            let rows = GrownTables.minimumRows + 500
            var encounters = Extracts.encountersHeader
            for number in 1...rows {
                encounters += "E\(number),P00\(number % 3 + 1),O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,120.50,60.00,5.00,\n"
            }
            let batch = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": encounters])
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(batch.file(named: "encounters.csv")?.inserted == rows)
            let text = try await s.value("SELECT reltuples::text FROM pg_class WHERE oid = 'emr.encounters'::regclass")
            let counted = try #require(text.flatMap(Double.init))
            #expect(counted > Double(rows) * 0.9, "pg_class counts \(counted) rows")
        }
    }
}
