import Foundation
import Logging
import Metrics
import NIOCore
import NIOPosix
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
            database: url.database, tls: Self.tls(url))
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

    private static func tls(_ url: DatabaseURL) -> PostgresClient.Configuration.TLS {
        switch url.tlsMode {
        case .disable: .disable
        case .prefer: .prefer(tlsConfiguration(url))
        case .require, .verifyCA, .verifyFull: .require(tlsConfiguration(url))
        }
    }

    /// The TLS client settings `sslmode` asks for: no certificate check for `prefer` and
    /// `require` (encryption only, as libpq), the chain for `verify-ca`, chain and host name for
    /// `verify-full` — against `sslrootcert` alone when given.
    static func tlsConfiguration(_ url: DatabaseURL) -> TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.minimumTLSVersion = .tlsv12
        switch url.tlsMode {
        case .disable, .prefer, .require: configuration.certificateVerification = .none
        case .verifyCA: configuration.certificateVerification = .noHostnameVerification
        case .verifyFull: configuration.certificateVerification = .fullVerification
        }
        if let file = url.rootCertificate { configuration.trustRoots = .file(file) }
        return configuration
    }

    /// Runs `body` on one connection of the pool, counted in `regio_db_connections_in_use`.
    /// While PostgreSQL cannot be reached, throws `DatabaseUnavailable` within seconds rather than
    /// waiting for a connection (see `DatabaseWatchdog`).
    public func withConnection<Result: Sendable>(
        _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        // The lease is held by a task of its own, so that the watchdog can give up on it; `body`
        // runs here, on the connection the lease hands over, until it lets the lease go.
        let (handed, handOver) = AsyncStream<PostgresConnection>.makeStream()
        let (released, release) = AsyncStream<Void>.makeStream()
        let lease = Task { [client] in
            defer { handOver.finish() }
            try await client.withConnection { connection in
                handOver.yield(connection)
                for await _ in released {}
            }
        }
        defer { release.finish() }
        let watchdog = DatabaseWatchdog(url: url, cancelling: lease)
        var connections = handed.makeAsyncIterator()
        let connection = await withTaskCancellationHandler { await connections.next() } onCancel: { lease.cancel() }
        watchdog.stop()
        guard let connection else {
            // Cancelled, or the lease failed: a connection handed over meanwhile goes straight back.
            release.finish()
            do { try await lease.value } catch { throw watchdog.fired ? DatabaseUnavailable() : error }
            throw watchdog.fired ? DatabaseUnavailable() : CancellationError()
        }
        inUse.record(leases.change(by: 1))
        defer { inUse.record(leases.change(by: -1)) }
        return try await body(connection)
    }

    /// Runs `body` in one transaction: committed when it returns, rolled back when it throws.
    /// A transaction PostgreSQL aborted as a serialization failure or a deadlock victim is run
    /// again, up to `attempts` times in all, after a short random pause: `body` must only act
    /// on the database (which the rollback undoes).
    public func withTransaction<Result: Sendable>(
        attempts: Int = 3, _ body: (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        for attempt in 1... {
            do {
                return try await withConnection { connection in
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
            } catch where attempt < attempts && Self.isRetryable(error) {
                logger.warning("transaction retried", metadata: ["attempt": "\(attempt)", "error": "\(Self.logDescription(of: error))"])
                try await Task.sleep(for: .milliseconds(Int.random(in: 20...200) * attempt))
            }
        }
        fatalError("unreachable")
    }

    /// How long a scoped read may take: PostgreSQL cancels a statement after
    /// `readStatementTimeout`, and the caller stops waiting after `readDeadline`, whatever the
    /// connection does (see `withScope`).
    public static let readStatementTimeout = "30s"
    public static let readDeadline: Duration = .seconds(35)

    /// `body` in a transaction whose patient-level reads row-level security limits to `scope`
    /// (the setting `regio.scope`, for this transaction only; migration 0023), behind the batch
    /// commit barrier (`BatchCommitBarrier`): every statement of `body` sees each batch whole or
    /// not at all. Throws `BatchCommitting` when a batch's commit holds the barrier longer than
    /// `BatchCommitBarrier.readerWait`.
    ///
    /// A read never hangs: each statement ends within `readStatementTimeout`, and should the
    /// server not answer at all, the caller gets `DatabaseUnavailable` after `readDeadline` and
    /// the read is left to end on its own. (PostgresNIO 1.33 never answers a query written to a
    /// connection that has just closed — PostgreSQL crashing between two statements of a read;
    /// such a read keeps its pooled connection; the deadline's error in the log counts them.)
    public func withScope<Result: Sendable>(
        _ scope: RowScope, _ body: @escaping @Sendable (PostgresConnection) async throws -> Result
    ) async throws -> Result {
        let read = Task { [self] in
            try await withTransaction { connection in
                for try await _ in try await connection.query("""
                    SELECT set_config('regio.scope', \(scope.description), true),
                           set_config('statement_timeout', \(Self.readStatementTimeout), true)
                    """, logger: logger) {}
                try await BatchCommitBarrier.enterAsReader(on: connection, logger: logger)
                return try await body(connection)
            }
        }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { (waiting: CheckedContinuation<Result, any Error>) in
                let waiter = Waiter(waiting)
                let deadline = Task { [logger] in
                    try await Task.sleep(for: Self.readDeadline)
                    guard let waiting = waiter.take() else { return }
                    logger.error("a read got no answer within its deadline; left to end on its own, holding its connection meanwhile",
                                 metadata: ["deadline": "\(Self.readDeadline)"])
                    read.cancel()
                    waiting.resume(throwing: DatabaseUnavailable())
                }
                Task {
                    let result = await read.result
                    deadline.cancel()
                    waiter.take()?.resume(with: result)
                }
            }
        } onCancel: {
            read.cancel()
        }
    }

    /// A continuation resumed once, by whichever comes first.
    private final class Waiter<Value: Sendable>: Sendable {
        private let continuation: Mutex<CheckedContinuation<Value, any Error>?>
        init(_ continuation: CheckedContinuation<Value, any Error>) { self.continuation = Mutex(continuation) }
        func take() -> CheckedContinuation<Value, any Error>? { continuation.withLock { $0.take() } }
    }

    /// A serialization failure (40001) or a deadlock (40P01): the same transaction may succeed
    /// when run again.
    public static func isRetryable(_ error: any Error) -> Bool {
        let failure = (error as? PostgresTransactionError).flatMap { $0.closureError ?? $0.commitError } ?? error
        guard let state = (failure as? PSQLError)?.serverInfo?[.sqlState] else { return false }
        return state == "40001" || state == "40P01"
    }

    /// Runs one statement on a connection of the pool; its rows stream as they are read. Like
    /// `withConnection`, throws `DatabaseUnavailable` within seconds while PostgreSQL is gone.
    @discardableResult
    public func query(_ query: PostgresQuery) async throws -> PostgresRowSequence {
        let running = Task { [client, logger] in try await client.query(query, logger: logger) }
        let watchdog = DatabaseWatchdog(url: url, cancelling: running)
        defer { watchdog.stop() }
        do {
            return try await withTaskCancellationHandler { try await running.value } onCancel: { running.cancel() }
        } catch {
            throw watchdog.fired ? DatabaseUnavailable() : error
        }
    }

    /// Connections leased by `withConnection` and `withTransaction` now.
    public var connectionsInUse: Int { leases.value }

    /// A connection of its own, outside the pool, for a session that must last as long as the
    /// process (`IngestInstance`'s lease). The caller closes it.
    public func dedicatedConnection(name: String) async throws -> PostgresConnection {
        try await PostgresConnection.connect(configuration: try Self.connectionConfiguration(url, name: name), id: 0, logger: logger)
    }

    /// How a single connection outside the pool connects to `url`.
    static func connectionConfiguration(_ url: DatabaseURL, name: String) throws -> PostgresConnection.Configuration {
        let tls: PostgresConnection.Configuration.TLS = switch url.tlsMode {
        case .disable: .disable
        case .prefer: .prefer(try NIOSSLContext(configuration: tlsConfiguration(url)))
        case .require, .verifyCA, .verifyFull: .require(try NIOSSLContext(configuration: tlsConfiguration(url)))
        }
        var configuration = PostgresConnection.Configuration(
            host: url.host, port: url.port, username: url.username, password: url.password, database: url.database, tls: tls)
        configuration.options.additionalStartupParameters = [("application_name", "regio-\(name)")]
        return configuration
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

    /// What a log line may say about a failure. A database error's debug description carries the
    /// statement with its bind values and the server's detail, which quotes the row (names, ID
    /// numbers): only the error code, SQLSTATE and the server's message are kept. A decoding
    /// error keeps its column, not the value.
    public static func logDescription(of error: any Error) -> String {
        switch error {
        case let error as PSQLError:
            let state = error.serverInfo?[.sqlState].map { " \($0)" } ?? ""
            return "PSQLError \(error.code)\(state): \(error.serverInfo?[.message] ?? "no server message")"
        case let error as PostgresDecodingError:
            return "PostgresDecodingError \(error.code) in column \(error.columnName) (\(error.postgresType))"
        default:
            return String(describing: error)
        }
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

/// PostgreSQL cannot be reached: the request should be retried later (HTTP 503 with Retry-After).
public struct DatabaseUnavailable: Error, CustomStringConvertible {
    public init() {}
    public var description: String { "the database cannot be reached" }
}

/// Gives up on a wait for the database once PostgreSQL is gone. A pool waits for a connection
/// for as long as it takes, which is right while the pool is busy and wrong while the server is
/// down or refuses us: every 2 seconds of waiting, the watchdog opens a TCP connection to the
/// server, and every 10 seconds a session (so that a refused login or certificate counts too);
/// when a look fails, and the same look a second later too, it cancels the waiting task (and
/// `fired` says why it ended).
final class DatabaseWatchdog: Sendable {
    /// How long a wait goes on before the watchdog looks.
    static let patience: Duration = .seconds(2)
    private let state = Mutex<(fired: Bool, task: Task<Void, Never>?)>((false, nil))

    init<Success: Sendable>(url: DatabaseURL, cancelling task: Task<Success, any Error>) {
        // The task holds the watchdog until it ends: at `stop()`, or when it fires.
        let watch = Task { [self] in
            var looks = 0
            while !Task.isCancelled {
                try? await Task.sleep(for: Self.patience)
                if Task.isCancelled { return }
                looks += 1
                if await Self.answers(url, session: looks % 5 == 0) { continue }
                // Looked at again a second later before giving up: a server busy accepting
                // hundreds of connections at once can miss one look, and is not gone.
                try? await Task.sleep(for: .seconds(1))
                if Task.isCancelled { return }
                if await !Self.answers(url, session: looks % 5 == 0) {
                    state.withLock { $0.fired = true }
                    task.cancel()
                    return
                }
            }
        }
        state.withLock { $0.task = watch }
    }

    var fired: Bool { state.withLock { $0.fired } }

    func stop() {
        state.withLock { $0.task }?.cancel()
    }

    /// Whether the server accepts a TCP connection, and (`session`) opens a session for us.
    static func answers(_ url: DatabaseURL, session: Bool) async -> Bool {
        guard await reachable(url) else { return false }
        return session ? await acceptsSession(url) : true
    }

    /// Whether the server opens a session for us (our login, our certificate checks).
    static func acceptsSession(_ url: DatabaseURL) async -> Bool {
        do {
            let connection = try await PostgresConnection.connect(
                configuration: try Database.connectionConfiguration(url, name: "watchdog"), id: 0, logger: Logger(label: "regio.watchdog"))
            try? await connection.close()
            return true
        } catch {
            return false
        }
    }

    /// Whether the server accepts a TCP connection within a second.
    static func reachable(_ url: DatabaseURL) async -> Bool {
        do {
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .connectTimeout(.seconds(1))
                .connect(host: url.host, port: url.port).get()
            try? await channel.close()
            return true
        } catch {
            return false
        }
    }
}
