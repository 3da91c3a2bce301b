import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// Settles what a stopped process left of the batches it was deciding (docs/operations.md):
/// - a batch `validating` whose owner's lease is gone (`IngestInstance`) goes back to the queue —
///   or fails, once `maxAttempts` decisions of it were interrupted;
/// - a side transaction left prepared is committed when the attempt that prepared it loaded its
///   batch, and rolled back otherwise; one whose batch that attempt is still deciding is kept;
/// - the staging tables of decided batches are dropped.
/// It runs when the batch worker starts and every `BatchWorker.sweep` after, and logs one line
/// (a warning) per batch it settled.
public struct BatchRecovery: Sendable {
    public let database: Database
    /// Interrupted decisions after which a batch fails instead of being taken again: a batch
    /// that kills its database every time must not do so for ever.
    public static let maxAttempts = 5

    public init(database: Database) {
        self.database = database
    }

    /// What was done to one batch.
    public struct Settled: Sendable, Equatable {
        public var batch: Int64
        public var actions: [String]
    }

    /// Requeues abandoned batches, settles prepared side transactions, drops decided batches'
    /// staging; returns (and logs) what it did to each batch.
    @discardableResult
    public func settle() async throws -> [Settled] {
        var settled: [Int64: Settled] = [:]
        func note(_ batch: Int64, _ action: String) {
            settled[batch, default: Settled(batch: batch, actions: [])].actions.append(action)
        }
        for (batch, status, owner) in try await requeueAbandoned() {
            note(batch, status == "failed"
                 ? "failed after \(Self.maxAttempts) interrupted attempts"
                 : "requeued (its owner\(owner.map { ", instance \($0)," } ?? "") is gone)")
        }
        for side in try await resolvePrepared(sparingLiveOwners: true, logging: false) {
            note(side.batch, "side transaction \(side.commit ? "committed" : "rolled back")")
        }
        for batch in try await dropDecidedStaging() {
            note(batch, "staging dropped")
        }
        let result = settled.values.sorted { $0.batch < $1.batch }
        for entry in result {
            // A live owner's side transactions are spared above: whatever is settled here was left.
            database.logger.warning("batch settled after an interruption", metadata: [
                "batch": "\(entry.batch)", "actions": "\(entry.actions.joined(separator: "; "))",
            ])
        }
        return result
    }

    /// Batches `validating` whose owner no longer holds its lease: back to `queued`, or `failed`
    /// after `maxAttempts`. A live owner's batches are never touched.
    func requeueAbandoned() async throws -> [(batch: Int64, status: String, owner: Int32?)] {
        var found: [(Int64, String, Int32?)] = []
        let rows = try await database.query("""
            WITH abandoned AS (
                SELECT id, owner, attempts FROM ingest.batches
                WHERE status = 'validating' AND (owner IS NULL OR NOT ingest.instance_alive(owner))
                FOR UPDATE SKIP LOCKED
            )
            SELECT id, ingest.requeue_batch(id, attempts, \(Self.maxAttempts)::int), owner FROM abandoned
            """)
        for try await (batch, status, owner) in rows.decode((Int64, String?, Int32?).self) {
            if let status { found.append((batch, status, owner)) }
        }
        for (batch, status, _) in found where status == "failed" {
            try await Self.auditFailure(batch, database: database)
        }
        return found
    }

    /// Puts a batch whose decision was interrupted back in the queue (or fails it, see
    /// `maxAttempts`), while `attempt` is its current one; its new status, if it changed.
    @discardableResult
    public static func requeue(_ batch: Int64, attempt: Int32, database: Database) async throws -> String? {
        var status: String?
        for try await value in try await database.query(
            "SELECT ingest.requeue_batch(\(batch), \(attempt), \(maxAttempts)::int)").decode(String?.self) {
            status = value
        }
        if status == "failed" { try await auditFailure(batch, database: database) }
        return status
    }

    private static func auditFailure(_ batch: Int64, database: Database) async throws {
        try await database.withTransaction { connection in
            try await AuditLog.record(actor: "ingest", action: "batch.failed", subject: "\(batch)",
                                      detail: ["reason": "decision interrupted \(maxAttempts) times"], on: connection, logger: database.logger)
        }
    }

    /// A side transaction found prepared, and what was done with it.
    public struct PreparedSide: Sendable {
        public var name: String
        public var batch: Int64
        public var commit: Bool
        public var recent: Bool
    }

    /// Settles the side transactions left prepared: one named for the attempt that loaded its
    /// batch commits; one of an earlier attempt, of a batch that ended otherwise or was put back,
    /// or of no batch at all rolls back; one whose batch its attempt is still deciding is kept.
    /// Several workers may do this at once, and a batch's own worker may settle its side at the
    /// same moment: whoever comes second finds it gone, which is no error.
    /// `sparingLiveOwners`: a side transaction of the current attempt, prepared less than a
    /// minute ago by an owner still alive, is left to that owner's worker, which settles it the
    /// moment its main transaction has committed (the periodic sweep; a worker starting a batch
    /// settles everything it can).
    @discardableResult
    public func resolvePrepared(sparingLiveOwners: Bool = false, logging: Bool = true) async throws -> [PreparedSide] {
        var found: [(name: String, batch: Int64, commit: Bool?, recent: Bool)] = []
        for try await row in try await database.query("""
            SELECT x.gid, ingest.side_batch(x.gid),
                   CASE WHEN b.id IS NULL OR ingest.side_attempt(x.gid) <> b.attempts THEN false
                        WHEN \(sparingLiveOwners) AND x.prepared > now() - interval '1 minute'
                             AND ingest.instance_alive(b.owner) THEN NULL  -- its owner settles it
                        WHEN b.status = 'loaded' THEN true
                        WHEN b.status = 'validating' THEN NULL  -- that attempt is deciding it
                        ELSE false END,
                   x.prepared > now() - interval '10 seconds'
            FROM pg_prepared_xacts x
            JOIN pg_database d ON d.datname = x.database
            LEFT JOIN ingest.batches b ON b.id = ingest.side_batch(x.gid)
            WHERE x.database = current_database() AND x.gid LIKE 'regio\\_' || d.oid || '\\_batch\\_%'
            """).decode((String, Int64, Bool?, Bool).self) {
            found.append(row)
        }
        var settled: [PreparedSide] = []
        for entry in found {
            guard let commit = entry.commit else { continue }
            guard try await Self.finishPrepared(entry.name, commit: commit, database: database) else { continue }
            settled.append(PreparedSide(name: entry.name, batch: entry.batch, commit: commit, recent: entry.recent))
            if logging {
                database.logger.log(level: entry.recent ? .info : .warning, "settled a side transaction left prepared", metadata: [
                    "batch": "\(entry.batch)", "transaction": "\(entry.name)", "outcome": "\(commit ? "commit" : "rollback")",
                ])
            }
        }
        return settled
    }

    /// `COMMIT PREPARED` or `ROLLBACK PREPARED`; false when the transaction is not there any more,
    /// or another session is settling it.
    @discardableResult
    static func finishPrepared(_ name: String, commit: Bool, database: Database) async throws -> Bool {
        do {
            try await database.query(PostgresQuery(unsafeSQL: "\(commit ? "COMMIT" : "ROLLBACK") PREPARED '\(name)'"))
            return true
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "42704" {  // undefined_object
            return false
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55000" {
            // "prepared transaction … is busy": another session is settling it this moment (should
            // it fail, the next sweep finds the transaction again).
            return false
        }
    }

    /// Drops the staging tables of batches that are decided (and whose side transaction is not
    /// still prepared: it holds them) or that no longer exist; the batches whose tables went.
    func dropDecidedStaging() async throws -> [Int64] {
        var batches: [Int64] = []
        for try await id in try await database.query("""
            WITH staged AS (
                SELECT DISTINCT substring(c.relname FROM '^b([0-9]+)_')::bigint AS id
                FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
                WHERE n.nspname = 'staging' AND c.relkind = 'r' AND c.relname ~ '^b[0-9]+_'
            )
            SELECT s.id FROM staged s LEFT JOIN ingest.batches b ON b.id = s.id
            WHERE (b.id IS NULL OR b.status IN ('loaded', 'validated', 'rejected', 'failed'))
              AND s.id NOT IN (SELECT ingest.pending_side_batches())
              -- A live owner drops its batch's staging itself, right after the decision.
              AND (b.id IS NULL OR coalesce(NOT ingest.instance_alive(b.owner), true) OR b.finished_at < now() - interval '1 minute')
            ORDER BY s.id
            """).decode(Int64.self) {
            batches.append(id)
        }
        for batch in batches {
            try await StagingTable.drop(batchID: batch, database: database)
        }
        return batches
    }

    /// Whether an error means the database went away under a batch — its connection closed, the
    /// server shutting down or restarting — rather than anything about the batch: the decision is
    /// then taken up again, not failed.
    public static func isLostDatabase(_ error: any Error) -> Bool {
        switch error {
        case let error as PostgresTransactionError:
            return [error.beginError, error.closureError, error.commitError, error.rollbackError]
                .contains { $0.map(isLostDatabase) ?? false }
        case let error as PSQLError:
            if [.serverClosedConnection, .clientClosedConnection, .connectionError, .uncleanShutdown, .poolClosed].contains(error.code) {
                return true
            }
            guard let state = error.serverInfo?[.sqlState] else { return false }
            // 08: connection exceptions; 57P01–57P03: admin or crash shutdown, cannot connect now.
            return state.hasPrefix("08") || state.hasPrefix("57P")
        default:
            return false
        }
    }
}
