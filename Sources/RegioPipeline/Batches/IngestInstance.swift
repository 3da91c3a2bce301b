import Foundation
import Logging
import PostgresNIO
import RegioDB
import Synchronization

/// This process, as the database knows it while it decides batches: a row of `ingest.instances`
/// and the advisory lock (8, id) held on a connection of its own. The lock is the lease on every
/// batch the process takes (`ingest.batches.owner`): PostgreSQL releases it the moment the process
/// dies or the connection is lost — a killed service, a crashed database — so another worker (or
/// this process's next start) requeues those batches at once, and never while their owner lives
/// (`BatchRecovery`). The heartbeat (every five seconds) renews the lease: one older than 30
/// seconds has lapsed, whatever the lock says (`ingest.instance_alive`). A heartbeat that fails
/// means the connection is lost; the process then takes a new lease under a new id, because
/// whatever it was doing under the old one died with that connection's sessions or is fenced
/// off by the batch's attempt number (`BatchOutcome.record`).
public final class IngestInstance: Sendable {
    let database: Database
    let heartbeat: Duration
    let logger: Logger
    /// The lease's id while its lock is held.
    private let lease = Mutex<Int32?>(nil)

    public init(database: Database, heartbeat: Duration = .seconds(5), logger: Logger) {
        self.database = database
        self.heartbeat = heartbeat
        self.logger = logger
    }

    /// The id batches are taken under, or nil while no lease is held (the database is out of reach).
    public var current: Int32? { lease.withLock { $0 } }

    /// Holds the lease until the task is cancelled, taking a new one whenever it is lost.
    public func run() async {
        while !Task.isCancelled {
            do {
                let connection = try await database.dedicatedConnection(name: "ingest-lease")
                do {
                    let id = try await register(on: connection)
                    lease.withLock { $0 = id }
                    logger.info("instance lease taken", metadata: ["instance": "\(id)"])
                    while true {
                        try await Task.sleep(for: heartbeat)
                        try await connection.query("UPDATE ingest.instances SET heartbeat_at = now() WHERE id = \(id)", logger: logger)
                    }
                } catch {
                    try? await connection.close()
                    throw error
                }
            } catch is CancellationError {
                break
            } catch {
                if let lost = lease.withLock({ value in defer { value = nil }; return value }) {
                    logger.warning("instance lease lost; taking a new one", metadata: [
                        "instance": "\(lost)", "error": "\(Database.message(for: error))",
                    ])
                }
                try? await Task.sleep(for: .seconds(1))
            }
        }
        lease.withLock { $0 = nil }
    }

    /// A new instance row, its lock taken; rows of instances gone for a day are removed.
    private func register(on connection: PostgresConnection) async throws -> Int32 {
        try await connection.query("""
            DELETE FROM ingest.instances
            WHERE heartbeat_at < now() - interval '1 day' AND NOT ingest.instance_alive(id)
            """, logger: logger)
        // Should this process's machine vanish without closing the connection, the server notices
        // within about 25 s and releases the lock (the operating system's default takes hours).
        for setting in ["tcp_keepalives_idle = 10", "tcp_keepalives_interval = 5", "tcp_keepalives_count = 3"] {
            try await connection.query(PostgresQuery(unsafeSQL: "SET \(setting)"), logger: logger)
        }
        let host = ProcessInfo.processInfo.hostName
        let pid = Int32(ProcessInfo.processInfo.processIdentifier)
        for try await id in try await connection.query("""
            INSERT INTO ingest.instances (host, pid) VALUES (\(host), \(pid)) RETURNING id
            """, logger: logger).decode(Int32.self) {
            try await connection.query("SELECT pg_advisory_lock(8, \(id))", logger: logger)
            return id
        }
        throw RegistrationFailed()
    }

    struct RegistrationFailed: Error {}
}
