import Logging
import PostgresNIO

/// Which patient-level rows the ingestion service may write (row-level security, migration 0024):
/// its role reads every row, but writes only under the scope its transaction or session names.
///
/// - `facility`: a batch's upload, checks, merge, linking and retraction write that facility's
///   records and its batches' row errors and rejected rows, nothing else;
/// - `region`: the derivations that cross facilities by design — referral completions, the exam
///   registry, the stewards' decisions — update what they derive; they insert or delete no
///   facility's records.
///
/// Without a scope the role writes no patient-level row. Like the readers' `RowScope`, this is a
/// second wall behind the statements' own facility filters: it holds when one forgets its filter.
public enum WriteScope: Sendable, Equatable {
    case facility(Int)
    /// The facility of this batch.
    case batch(Int64)
    case region

    /// Names this scope for the rest of the transaction of `connection` (`local`), or of its session.
    public func enter(on connection: PostgresConnection, local: Bool = true, logger: Logger) async throws {
        let query: PostgresQuery = switch self {
        case .facility(let id): "SELECT set_config('regio.writes', \(String(id)), \(local))"
        case .batch(let id):
            "SELECT set_config('regio.writes', coalesce((SELECT facility_id::text FROM ingest.batches WHERE id = \(id)), ''), \(local))"
        case .region: "SELECT set_config('regio.writes', 'region', \(local))"
        }
        for try await _ in try await connection.query(query, logger: logger) {}
    }

    /// Runs `body` — one derivation that crosses facilities — in the region scope, in the
    /// transaction of `connection`; then the transaction's scope is what it was.
    public static func acrossFacilities<Result>(on connection: PostgresConnection, logger: Logger,
                                                _ body: () async throws -> Result) async throws -> Result {
        var previous = ""
        for try await value in try await connection.query("""
            SELECT coalesce(current_setting('regio.writes', true), ''), set_config('regio.writes', 'region', true)
            """, logger: logger).decode((String, String).self) {
            previous = value.0
        }
        let result = try await body()
        for try await _ in try await connection.query("SELECT set_config('regio.writes', \(previous), true)", logger: logger) {}
        return result
    }
}

extension Database {
    /// `withTransaction`, its statements writing `scope`'s rows.
    public func withTransaction<Result: Sendable>(
        writing scope: WriteScope, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withTransaction { connection in
            try await scope.enter(on: connection, logger: logger)
            return try await body(connection)
        }
    }

    /// `withConnection`, every statement of `body` — each in a transaction of its own, or in
    /// transactions it begins — writing `scope`'s rows: the scope is the session's until `body`
    /// ends, then reset, before the connection goes back to the pool.
    public func withConnection<Result: Sendable>(
        writing scope: WriteScope, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in
            try await scope.enter(on: connection, local: false, logger: logger)
            let result: Result
            do {
                result = try await body(connection)
            } catch {
                _ = try? await connection.query("RESET regio.writes", logger: logger)
                throw error
            }
            try await connection.query("RESET regio.writes", logger: logger)
            return result
        }
    }
}
