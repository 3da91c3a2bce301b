import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdTLS
import Logging
import NIOCore
import RegioCore
import RegioDB
import RegioPipeline
import RegioHTTP
import RegioIngest
import RegioQuery
import ServiceLifecycle

/// Which HTTP services one process runs.
public enum ServiceSelection: String, Sendable, CaseIterable {
    case ingest, query, all

    var runsIngest: Bool { self != .query }
    var runsQuery: Bool { self != .ingest }
}

/// Builds the long-running parts of `regio serve` (and `regio demo`): one connection pool and one
/// Hummingbird application per service, to run together in one `ServiceGroup`.
public struct RegioServer {
    public var services: [any Service] = []
    /// How long a graceful shutdown may take (`REGIO_SHUTDOWN_SECONDS`).
    let shutdown: Duration

    /// Called with the service name and the port it bound (useful when the configured port is 0).
    public typealias Listening = @Sendable (_ service: String, _ host: String, _ port: Int) async -> Void

    public init(selection: ServiceSelection, configuration: RegioConfiguration, logger: Logger,
                onListening: @escaping Listening = { _, _, _ in }) throws {
        guard let primary = configuration.databaseURL else {
            throw ConfigurationError(problems: ["REGIO_DATABASE_URL is not set (only `regio demo` runs without one)"])
        }
        let migrations = MigrationRunner(migrations: try Migration.bundled())
        self.shutdown = .seconds(configuration.shutdownSeconds)
        let idleTimeout = TimeAmount.seconds(Int64(configuration.idleTimeoutSeconds))
        let tls = try configuration.serverTLS()
        if selection.runsIngest {
            let pseudonymizer = Pseudonymizer(secret: try configuration.loadSecret())
            // The ingestion service's own role (regio_ingest in deployment); the owner migrates.
            let loading = configuration.ingestDatabaseURL ?? primary
            let database = Database(url: loading, poolSize: configuration.poolSize, name: "ingest",
                                    logger: logger.with(label: "db.ingest"))
            // What the uploads remember of the files they receive (within one memory budget), and
            // what they hand to the batch worker for the decisions: the service's own, not the process's.
            let (keyMemory, stagedKeys, committed) = (KeyMemory(), StagedKeys(), BatchDoorbell())
            let faults = FaultInjection(point: configuration.fault)
            let router = try IngestService.buildRouter(database: database, migrations: migrations, metrics: RegioMetrics.registry,
                                                       pseudonymizer: pseudonymizer, keyMemory: keyMemory, stagedKeys: stagedKeys,
                                                       committed: committed,
                                                       faults: faults, limits: StreamLimits(configuration),
                                                       rateLimit: configuration.rateLimit)
            // The decisions have a pool of their own: uploads hold a connection each for as long
            // as a file streams, and a night of many facilities at once would otherwise leave a
            // batch's checks waiting for them. A batch holds its merge transaction's connection
            // while its checks need others.
            let deciding = Database(url: loading, poolSize: configuration.poolSize, name: "ingest-worker",
                                    logger: logger.with(label: "db.worker"))
            let worker = BatchWorker(database: deciding, workers: min(2, configuration.poolSize - 1), stagedKeys: stagedKeys,
                                     committed: committed, faults: faults, slowBatch: .seconds(configuration.slowBatchSeconds),
                                     logger: logger.with(label: "regio.worker"))
            services.append(try Self.application(name: "ingest", router: router, listener: configuration.ingestListener,
                                             idleTimeout: idleTimeout, tls: tls, databases: [database, deciding], background: [worker],
                                             logger: logger, onListening: onListening))
        }
        if selection.runsQuery {
            let database = Database(url: configuration.queryDatabaseURL ?? primary, poolSize: configuration.poolSize,
                                    name: "query", logger: logger.with(label: "db.query"))
            // What users change (thresholds) goes to the primary, on a small pool of its own.
            let writes = Database(url: configuration.queryWriteDatabaseURL ?? primary, poolSize: 2, name: "query-writes",
                                  logger: logger.with(label: "db.query-writes"))
            // The cross-facility lookups read and audit on the primary, as a role of their own.
            let lookups = Database(url: configuration.queryLookupDatabaseURL ?? primary, poolSize: 2, name: "query-lookups",
                                   logger: logger.with(label: "db.query-lookups"))
            // Sign-in and sessions: every page request reads its session here, so it is not the smallest pool.
            let accounts = Database(url: configuration.queryAccountsDatabaseURL ?? primary, poolSize: 4, name: "query-accounts",
                                    logger: logger.with(label: "db.query-accounts"))
            let pseudonymizer = configuration.secretFile == nil ? nil : Pseudonymizer(secret: try configuration.loadSecret())
            let router = try QueryService.buildRouter(database: database, writes: writes, lookups: lookups, accounts: accounts,
                                                      pseudonymizer: pseudonymizer, migrations: migrations, metrics: RegioMetrics.registry,
                                                      rateLimit: configuration.rateLimit, servedOverTLS: tls != nil)
            services.append(try Self.application(name: "query", router: router, listener: configuration.queryListener,
                                             idleTimeout: idleTimeout, tls: tls, databases: [database, writes, lookups, accounts], background: [], logger: logger,
                                             onListening: onListening))
        }
    }

    /// The services in one group that SIGTERM and SIGINT shut down gracefully: the HTTP servers
    /// first (uploads in flight are abandoned at once, see `BatchController.upload`), then the
    /// batch workers and the pools. What has not finished after `REGIO_SHUTDOWN_SECONDS` is
    /// cancelled; what does not end within as long again stops the process.
    public func group(logger: Logger) -> ServiceGroup {
        var configuration = ServiceGroupConfiguration(services: services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger)
        configuration.maximumGracefulShutdownDuration = shutdown
        configuration.maximumCancellationDuration = shutdown
        return ServiceGroup(configuration: configuration)
    }

    static func application(
        name: String, router: Router<RegioRequestContext>, listener: RegioConfiguration.Listener, idleTimeout: TimeAmount,
        tls: TLSConfiguration?, databases: [Database], background: [any Service], logger: Logger, onListening: @escaping Listening
    ) throws -> any Service {
        let http = HTTP1Channel.Configuration(idleTimeout: idleTimeout)
        return Application(
            router: router,
            server: try tls.map { try .tls(.http1(configuration: http), tlsConfiguration: $0) } ?? .http1(configuration: http),
            configuration: .init(address: .hostname(listener.host, port: listener.port), serverName: "regio-\(name)"),
            services: databases.map(\.client) + background,
            onServerRunning: { channel in
                await onListening(name, listener.host, channel.localAddress?.port ?? listener.port)
            },
            logger: logger.with(label: "regio.\(name)")
        )
    }
}

extension Logger {
    /// The same handler set-up under another label.
    func with(label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = logLevel
        return logger
    }
}

extension RegioConfiguration {
    /// `REGIO_RATE_LIMIT_PER_MINUTE` as the services take it: nil for no limit.
    var rateLimit: RateLimit? { rateLimitPerMinute > 0 ? RateLimit(perMinute: rateLimitPerMinute) : nil }
}
