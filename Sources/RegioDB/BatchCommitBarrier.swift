import Logging
import PostgresNIO

/// Makes a batch's merge atomic for readers even when it commits as two transactions (the main
/// one, then the prepared side one; `BatchMerge`): between the two commits a reader would see the
/// batch's patients without its encounters.
///
/// The barrier is one transaction-level advisory lock. A merge takes it exclusively just before
/// its last transaction becomes durable — the side one before `PREPARE TRANSACTION`, or the only
/// one before `COMMIT` — and holds it until that transaction commits: a prepared transaction keeps
/// its locks, across a crash of PostgreSQL too. It takes it only once every transaction of the
/// merge has done all but commit, so that a holder waits for nothing but its commit: a merge
/// waiting for the barrier may hold row locks a holder's other transaction would wait for, and
/// neither would go on. A reader (`Database.withScope`) takes it shared as
/// its transaction's first lock, in a statement of its own (after the one setting its scope), so
/// each later statement's snapshot is taken after every batch that held it committed whole; and
/// no batch commits while the reader's transaction runs (READ COMMITTED), so its statements agree
/// with each other.
///
/// A reader waits at most `readerWait` — a batch holds the barrier for the milliseconds of its
/// commit, but a side transaction left prepared by a killed ingestion service holds it until the
/// service is back and settles it (`BatchRecovery`) — then gets `BatchCommitting` (HTTP 503 with
/// Retry-After). Advisory locks need no privilege: every service role may take it.
public enum BatchCommitBarrier {
    /// The advisory lock's key: "regio" and "batch" in ASCII, a number nothing else uses.
    public static let key: Int64 = 0x7265_6769_6F62_6174

    /// How long a reader waits for a batch's commit before answering 503.
    public static let readerWait = "10s"

    /// Takes the barrier shared for the rest of the transaction, waiting at most `readerWait`.
    static func enterAsReader(on connection: PostgresConnection, logger: Logger) async throws {
        var configured = "0"
        for try await setting in try await connection.query(
            "SELECT current_setting('lock_timeout'), set_config('lock_timeout', \(readerWait), true)", logger: logger
        ).decode((String, String).self) {
            configured = setting.0
        }
        do {
            for try await _ in try await connection.query("SELECT pg_advisory_xact_lock_shared(\(key))", logger: logger) {}
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            throw BatchCommitting()
        }
        // The rest of the transaction waits for locks as the server is configured to.
        for try await _ in try await connection.query("SELECT set_config('lock_timeout', \(configured), true)", logger: logger) {}
    }

    /// Takes the barrier exclusively until the transaction (prepared or not) commits or rolls
    /// back: waits for the readers running now; readers that come after wait for the commit.
    public static func holdForCommit(on connection: PostgresConnection, logger: Logger) async throws {
        for try await _ in try await connection.query("SELECT pg_advisory_xact_lock(\(key))", logger: logger) {}
    }
}

/// A reader waited `BatchCommitBarrier.readerWait` for a batch's commit: ask again shortly.
public struct BatchCommitting: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "a batch is being committed; reads wait for it" }
}
