import Logging
import RegioCore
import RegioDB

/// Runs `body` with a small pool to `url`, the pool's background task running beside it —
/// for command-line tools and tests, which have no service group.
public func withDatabase<T: Sendable>(
    _ url: DatabaseURL, name: String = "cli", poolSize: Int = 4, logger: Logger,
    _ body: @Sendable (Database) async throws -> T
) async throws -> T {
    // The pool's `run()` starts beside the body, so the body's first query may ask before the pool
    // has started; PostgresNIO warns about that although the query just waits. Keep tools quiet.
    var quiet = logger
    quiet.logLevel = max(logger.logLevel, .error)
    let database = Database(url: url, poolSize: poolSize, name: name, logger: quiet)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await database.client.run() }
        defer { group.cancelAll() }
        return try await body(database)
    }
}
