import PostgresNIO
import RegioCore
import RegioDB

/// Records what became of a batch on its row, with each file's counts and an audit row. Every
/// write goes through `record`, which changes the row only while the attempt is the batch's
/// current one, so an attempt that lost its lease can never overwrite a later attempt's outcome.
struct BatchOutcome: Sendable {
    let database: Database

    /// This attempt is no longer the batch's current one: another took the batch up (its owner's
    /// lease was lost meanwhile), and this one's writes are rolled back.
    struct Superseded: Error {}

    /// Rows a kind's merge inserted, updated and retracted.
    typealias Counts = (inserted: Int, updated: Int, retracted: Int)

    /// Runs a statement that records this attempt's outcome on the batch's row: it changes it
    /// only while the attempt is current (its `WHERE` asks for `attempts` and `validating`);
    /// otherwise a later attempt has taken the batch up, and this one's transaction rolls back.
    func record(_ statement: PostgresQuery, on connection: PostgresConnection) async throws {
        guard try await connection.changedRows(statement, logger: database.logger) == 1 else { throw Superseded() }
    }

    /// Ends the batch `status` (rejected, failed) with a reason, in a transaction of its own.
    func finish(_ id: Int64, attempt: Int32, status: BatchRecord.Status, reason: String) async throws {
        try await database.withTransaction { connection in
            try await record("""
                UPDATE ingest.batches SET status = \(status.rawValue), reason = \(reason), finished_at = now()
                WHERE id = \(id) AND attempts = \(attempt) AND status = 'validating'
                """, on: connection)
            try await AuditLog.record(actor: "ingest", action: "batch.\(status.rawValue)", subject: "\(id)",
                                      detail: ["reason": reason], on: connection, logger: database.logger)
        }
    }

    /// Each file's counts and the batch's status (loaded, validated), in the transaction of
    /// `connection` — the merge's own, for a loaded batch.
    func recordCounts(_ batch: Batch, _ counts: [ExtractKind: Counts], status: BatchRecord.Status,
                      on connection: PostgresConnection) async throws {
        let logger = database.logger
        for (kind, count) in counts {
            try await connection.query("""
                UPDATE ingest.batch_files SET inserted = \(count.inserted), updated = \(count.updated),
                    retracted = \(count.retracted),
                    unchanged = received_rows - rejected - \(count.inserted) - \(count.updated) - \(count.retracted)
                WHERE batch_id = \(batch.id) AND kind = \(kind.rawValue)
                """, logger: logger)
        }
        try await record("""
            UPDATE ingest.batches SET status = \(status.rawValue), finished_at = clock_timestamp(), reason = NULL
            WHERE id = \(batch.id) AND attempts = \(batch.attempt) AND status = 'validating'
            """, on: connection)
        if status == .loaded {
            // The rows the facility's batches replaced are kept for as long as they can be retracted.
            try await connection.query("""
                DELETE FROM ingest.superseded_rows WHERE batch_id IN (
                    SELECT id FROM ingest.batches WHERE facility_id = \(batch.facilityID) AND id <> \(batch.id)
                      AND finished_at < now() - make_interval(days => (SELECT value::int FROM registry.settings WHERE key = 'retraction_days')))
                """, logger: logger)
        }
        try await AuditLog.record(actor: "ingest", action: "batch.\(status.rawValue)", subject: "\(batch.id)",
                                  detail: ["business_date": batch.businessDate], on: connection, logger: logger)
    }

    /// The loaded batch of the facility with the same content, if any.
    func loadedDuplicate(of batch: Batch) async throws -> Int64? {
        for try await id in try await database.query("""
            SELECT id FROM ingest.batches
            WHERE facility_id = \(batch.facilityID) AND content_key = \(batch.contentKey) AND status = 'loaded'
              AND id <> \(batch.id) AND NOT dry_run
            ORDER BY id LIMIT 1
            """).decode(Int64.self) { return id }
        return nil
    }

    /// The same content was loaded before: applying it again could undo later corrections, so
    /// nothing is merged; every accepted row counts as unchanged, and the batch says which it repeats.
    func recordDuplicate(_ batch: Batch, of original: Int64) async throws {
        try await database.withTransaction(writing: .facility(batch.facilityID)) { connection in
            try await connection.query("""
                UPDATE ingest.batch_files f SET inserted = 0, updated = 0, retracted = 0,
                    rejected = o.rejected, warnings = o.warnings, unchanged = f.received_rows - o.rejected
                FROM ingest.batch_files o
                WHERE f.batch_id = \(batch.id) AND o.batch_id = \(original) AND o.kind = f.kind
                """, logger: database.logger)
            // The errors found after staging — the references — are the original's; those this
            // batch's upload found already (duplicate keys) are not copied twice.
            try await connection.query("""
                INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
                SELECT \(batch.id), e.kind, e.line, e.column_name, e.code, e.severity, e.message, e.raw_value
                FROM ingest.row_errors e
                WHERE e.batch_id = \(original) AND e.code IN ('duplicate_key', 'dangling_reference')
                  AND NOT EXISTS (SELECT 1 FROM ingest.row_errors m
                                  WHERE m.batch_id = \(batch.id) AND m.kind = e.kind AND m.line = e.line AND m.code = e.code)
                """, logger: database.logger)
            try await connection.query("""
                INSERT INTO ingest.rejected_rows (batch_id, kind, line, fields)
                SELECT \(batch.id), kind, line, fields FROM ingest.rejected_rows WHERE batch_id = \(original)
                """, logger: database.logger)
            try await record("""
                UPDATE ingest.batches SET status = \(batch.dryRun ? "validated" : "loaded"), duplicate_of = \(original),
                    reason = \("identical to batch \(original), already loaded; nothing changed"), finished_at = now()
                WHERE id = \(batch.id) AND attempts = \(batch.attempt) AND status = 'validating'
                """, on: connection)
        }
    }
}
