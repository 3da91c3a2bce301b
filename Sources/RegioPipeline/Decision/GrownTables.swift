import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// Keeps the planner's picture of a core table true inside the transaction that has just grown it.
///
/// PostgreSQL plans each statement from `pg_class.reltuples` (and the table's size). A batch's
/// merge inserts rows that no other session can see until it commits, so an ANALYZE run
/// meanwhile — autovacuum's, after an earlier batch — counts none of them and records a table of
/// many pages and no rows. Every later statement of the merge then expects one row where there
/// are a million, and plans nested loops over them: the facility rollup took 17.7 s instead of
/// 0.9 s, and the referral matching ran for over twelve minutes (in `regio bench ingest`).
/// A large first extract against a nearly empty table is the usual way to get there.
///
/// So when a merge statement inserts many rows against what the statistics count, the table is
/// analyzed in the same transaction: ANALYZE counts the transaction's own rows, and holds its
/// lock until the commit, so no autovacuum ANALYZE can undo it before the merge ends.
enum GrownTables {
    /// The kinds whose core table a merge transaction reads after merging them: the patients (the
    /// referral matching, when one transaction merges everything), the encounters (the facility
    /// rollup, the matching) and the referrals (the matching) — and `emr.persons`, which the
    /// patients' merge reads. The others are not analyzed: nothing would use it before the commit.
    static let readAfterMerge: Set<ExtractKind> = [.patients, .encounters, .referrals]

    /// Fewer inserted rows than this never make a plan go wrong by much.
    static let minimumRows = 10_000

    /// How long to wait for the table's ANALYZE lock (autovacuum, or another batch's merge that
    /// analyzed the table and has not committed yet). Past it the merge goes on with the
    /// statistics there are: two batches never wait on each other for longer than this.
    static let lockTimeout = "2s"

    /// Whether `inserted` rows call for an ANALYZE: they are more than half of what the statistics
    /// count (`counted`, `pg_class.reltuples`; −1 when never analyzed), so the table holds at least
    /// one and a half times the rows the planner assumes.
    static func needsAnalyze(inserted: Int, counted: Double) -> Bool {
        inserted >= minimumRows && Double(inserted) * 2 > max(counted, 0)
    }

    /// Analyzes `table` in the current transaction when `inserted` rows call for it (see
    /// `needsAnalyze`). A sample of 6,000 rows (statistics target 20) is enough for the merge's
    /// joins and takes ≈ 0.05 s on a million rows; autovacuum analyzes the table in full once the
    /// batch commits.
    static func analyzeIfGrown(_ table: String, inserted: Int, on connection: PostgresConnection, logger: Logger) async throws {
        guard inserted >= minimumRows else { return }
        var settings = (counted: 0.0, lockTimeout: "0", target: "100")
        for try await row in try await connection.query("""
            SELECT reltuples::float8, current_setting('lock_timeout'), current_setting('default_statistics_target')
            FROM pg_class WHERE oid = \(table)::regclass
            """, logger: logger).decode((Double, String, String).self) {
            settings = row
        }
        guard needsAnalyze(inserted: inserted, counted: settings.counted) else { return }
        // In a savepoint, so that a lock timeout costs the statistics, not the batch.
        try await connection.query("SAVEPOINT grown_table", logger: logger)
        try await setLocal(lockTimeout: lockTimeout, target: "20", on: connection, logger: logger)
        do {
            // The service's role does not own the table: migration 0022's function analyzes it. Its
            // error (a lock timeout) comes with its row, so the row is read.
            for try await _ in try await connection.query("SELECT ingest.analyze_grown(\(table)::regclass)", logger: logger) {}
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            logger.warning("statistics not refreshed: the table's ANALYZE lock is taken", metadata: ["table": "\(table)"])
            try await connection.query("ROLLBACK TO SAVEPOINT grown_table", logger: logger)
            try await connection.query("RELEASE SAVEPOINT grown_table", logger: logger)
            return
        }
        // Released, the savepoint hands its lock to the transaction, and the settings stay set:
        // they go back to what they were.
        try await setLocal(lockTimeout: settings.lockTimeout, target: settings.target, on: connection, logger: logger)
        try await connection.query("RELEASE SAVEPOINT grown_table", logger: logger)
    }

    private static func setLocal(lockTimeout: String, target: String, on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            SELECT set_config('lock_timeout', \(lockTimeout), true), set_config('default_statistics_target', \(target), true)
            """, logger: logger)
    }
}
