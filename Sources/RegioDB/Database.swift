import Foundation
import Logging
import Metrics
import NIOSSL
import PostgresNIO
import RegioCore
import Synchronization

/// A pool of connections to one PostgreSQL database, with the gauges `/metrics` shows for it.
///
/// The `PostgresClient` inside must run as a service (it is one) for the pool to hand out
/// connections; `regio serve` puts it in the service group, tools and tests run it in a task.
public struct Database: Sendable {
    public let client: PostgresClient
    public let url: DatabaseURL
    public let logger: Logger
    /// The most connections the pool opens.
    public let poolSize: Int
    private let inUse: Gauge
    private let leases: LeaseCounter

    /// - Parameters:
    ///   - poolSize: This pool keeps at most this many connections. A report request holds one
    ///     for the length of its query; an upload holds one while its file streams (COPY), so the
    ///     uploads' pool bounds how many files stream at once; a batch's decision holds
    ///     several from the decisions' pool: its main and side transactions, and beside them its
    ///     checks, one connection per kind. PostgreSQL's `max_connections` must cover the sum
    ///     over all pools (see deploy/postgresql/regio.conf).
    ///   - name: Shown in `pg_stat_activity.application_name` and used as the metrics label.
    public init(url: DatabaseURL, poolSize: Int, name: String, logger: Logger) {
        var configuration = PostgresClient.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password,
            database: url.database, tls: Self.tls(url.tlsMode))
        configuration.options.maximumConnections = poolSize
        configuration.options.minimumConnections = 0
        configuration.options.additionalStartupParameters = [("application_name", "regio-\(name)")]
        self.client = PostgresClient(configuration: configuration, backgroundLogger: logger)
        self.url = url
        self.logger = logger
        self.inUse = Gauge(label: "regio_db_connections_in_use", dimensions: [("pool", name)])
        Gauge(label: "regio_db_connections_max", dimensions: [("pool", name)]).record(poolSize)
        self.leases = LeaseCounter()
        self.poolSize = poolSize
    }

    private static func tls(_ mode: DatabaseURL.TLSMode) -> PostgresClient.Configuration.TLS {
        switch mode {
        case .disable: .disable
        case .prefer: .prefer(.makeClientConfiguration())
        case .require: .require(.makeClientConfiguration())
        }
    }

    /// Runs `body` on one connection of the pool, counted in `regio_db_connections_in_use`.
    public func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await client.withConnection { connection in
            inUse.record(leases.change(by: 1))
            defer { inUse.record(leases.change(by: -1)) }
            return try await body(connection)
        }
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    public func withTransaction<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        try await withConnection { connection in
            do {
                return try await connection.withTransaction(logger: logger) { try await body($0) }
            } catch let error as PostgresTransactionError {
                // The caller wants its own error back (a RegistryError, say), not the wrapper,
                // unless the transaction itself failed around it.
                if let closureError = error.closureError, error.rollbackError == nil, error.commitError == nil {
                    throw closureError
                }
                throw error
            }
        }
    }

    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        try await client.query(query, logger: logger)
    }

    /// Connections leased by `withConnection` and `withTransaction` now.
    public var connectionsInUse: Int { leases.value }

    /// A connection of its own, outside the pool, for a session that must last as long as the
    /// process (`IngestInstance`'s lease). The caller closes it.
    public func dedicatedConnection(name: String) async throws -> PostgresConnection {
        let tls: PostgresConnection.Configuration.TLS = switch url.tlsMode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: .makeClientConfiguration()))
        case .require: .require(try NIOSSLContext(configuration: .makeClientConfiguration()))
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: tls)
        configuration.options.additionalStartupParameters = [("application_name", "regio-\(name)")]
        return try await PostgresConnection.connect(configuration: configuration, id: 0, logger: logger)
    }
}

/// Counts leased connections; a lock is enough, the critical section is one addition.
final class LeaseCounter: Sendable {
    private let count = Mutex(0)
    var value: Int { count.withLock { $0 } }
    func change(by delta: Int) -> Int {
        count.withLock { value in
            value += delta
            return value
        }
    }
}

extension Database {
    /// What to tell a person about a failure: PostgreSQL's own message for a server error
    /// (PSQLError's description hides it on purpose), the error's description otherwise.
    public static func message(for error: any Error) -> String {
        guard let error = error as? PSQLError else { return "\(error)" }
        if let message = error.serverInfo?[.message] { return "database error: \(message)" }
        return "database error: \(error.code)"
    }
}

extension PostgresConnection {
    /// Runs one statement that returns no rows; the rows it changed, from its command tag (which
    /// the future-returning query keeps and the async row sequence does not).
    public func changedRows(_ query: PostgresQuery, logger: Logger) async throws -> Int {
        let result: EventLoopFuture<PostgresQueryResult> = self.query(query, logger: logger)
        return try await result.get().metadata.rows ?? 0
    }
}
