import Logging
import RegioCore
import RegioDB

/// Runs `body` with a small pool to `url`, the pool's background task running beside it —
/// for command-line tools and tests, which have no service group.
public func withDatabase<T: Sendable>(
    _ url: DatabaseURL, name: String = "cli", poolSize: Int = 4, logger: Logger,
    _ body: @Sendable (Database) async throws -> T
) async throws -> T {
    let database = Database(url: url, poolSize: poolSize, name: name, logger: logger)
    return try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask { await database.client.run() }
        defer { group.cancelAll() }
        return try await body(database)
    }
}
