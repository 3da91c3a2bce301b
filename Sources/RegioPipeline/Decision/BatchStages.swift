import Foundation
import Logging
import PostgresNIO
import RegioDB
import Synchronization

/// What a batch's decision is doing and how long each of its stages took. A decision runs
/// several stages at once (the checks of each kind, the main and the side transaction), so the
/// stages running are a set. Each stage is logged at `debug` as it ends; the decision's `info`
/// line lists them all (`summary`), and `BatchWatchdog` names those still running when a batch
/// is slow.
final class BatchStages: Sendable {
    let batchID: Int64
    let logger: Logger
    private let state = Mutex(State())

    private struct State {
        var running: [Int: (name: String, since: ContinuousClock.Instant)] = [:]
        var done: [(name: String, took: Duration)] = []
        var next = 0
    }

    init(batchID: Int64, logger: Logger) {
        self.batchID = batchID
        self.logger = logger
    }

    /// Runs `body` as the stage `name` (e.g. `main: merge encounters`). A stage that is a `step`
    /// of another (one statement of a merge) is logged, and named by the watchdog, but left out
    /// of the summary.
    func measure<T>(_ name: String, step: Bool = false, _ body: () async throws -> T) async rethrows -> T {
        let started = ContinuousClock.now
        let id = state.withLock { state in
            state.next += 1
            state.running[state.next] = (name, started)
            return state.next
        }
        defer {
            let took = ContinuousClock.now - started
            state.withLock { state in
                state.running[id] = nil
                if !step { state.done.append((name, took)) }
            }
            logger.debug("batch stage done", metadata: ["batch": "\(batchID)", "stage": "\(name)", "seconds": "\(Self.seconds(took))"])
        }
        return try await body()
    }

    /// The stages running now, longest first, with how long each has run.
    var running: [(name: String, running: Duration)] {
        let now = ContinuousClock.now
        return state.withLock { $0.running.values.map { ($0.name, now - $0.since) } }.sorted { $0.running > $1.running }
    }

    /// Every stage done, in the order they ended: `name=seconds, …`.
    var summary: String {
        state.withLock { $0.done.map { "\($0.name)=\(Self.seconds($0.took))" }.joined(separator: ", ") }
    }

    /// Seconds with millisecond precision, as text.
    static func seconds(_ duration: Duration) -> String {
        let (seconds, attoseconds) = duration.components
        return String(format: "%.3f", Double(seconds) + Double(attoseconds) / 1e18)
    }
}

/// Warns when a batch has been deciding longer than `after`, and again each `after` while it
/// goes on: which stages run, and what the batch's sessions in PostgreSQL wait on — a lock, and
/// whom it waits for (a prepared transaction shows as such), or nothing, when the stage waits for
/// a connection from the pool. The batch's sessions are those whose query names its staging
/// tables or whose `application_name` is the batch's (set in its main and side transactions).
/// PostgreSQL is asked on a connection of the watchdog's own: the pool may be what the batch
/// waits for.
struct BatchWatchdog: Sendable {
    let database: Database
    let after: Duration

    /// Runs until cancelled.
    func watch(_ stages: BatchStages, attempt: Int32) async {
        let started = ContinuousClock.now
        while (try? await Task.sleep(for: after)) != nil {
            let sessions = try? await self.sessions(stages.batchID)
            let waits = switch sessions {
            case nil: "(PostgreSQL could not be asked)"
            case let sessions? where !sessions.contains(where: \.active):
                "no statement of the batch runs in PostgreSQL: its stages wait for a connection from the pool, or for the service"
                    + sessions.map { "; " + $0.description }.joined()
            case let sessions?: sessions.map(\.description).joined(separator: "; ")
            }
            database.logger.warning("batch slow", metadata: [
                "batch": "\(stages.batchID)", "attempt": "\(attempt)",
                "seconds": "\((ContinuousClock.now - started).components.seconds)",
                "stages": "\(stages.running.map { "\($0.name) (\($0.running.components.seconds) s)" }.joined(separator: ", "))",
                "pool": "\(database.connectionsInUse) of \(database.poolSize) connections in use",
                "waits": "\(waits)",
            ])
        }
    }

    /// The application name a batch's transactions set.
    static func applicationName(_ batchID: Int64) -> String { "regio batch \(batchID)" }

    /// A session of the batch in PostgreSQL: what it is doing or waits for, and who blocks it.
    struct Session: CustomStringConvertible {
        var active: Bool
        var description: String
    }

    /// The batch's sessions that are not idle.
    func sessions(_ batchID: Int64) async throws -> [Session] {
        let connection = try await database.dedicatedConnection(name: "ingest-watchdog")
        do {
            let waits = try await sessions(batchID, on: connection)
            try? await connection.close()
            return waits
        } catch {
            try? await connection.close()
            throw error
        }
    }

    private func sessions(_ batchID: Int64, on connection: PostgresConnection) async throws -> [Session] {
        var sessions: [Session] = []
        let rows = try await connection.query("""
            WITH activity AS (
                SELECT pid, datname, state, wait_event_type, wait_event, application_name, query,
                       btrim(regexp_replace(regexp_replace(coalesce(query, ''), '--[^' || chr(10) || ']*', '', 'g'), '\\s+', ' ', 'g')) AS statement
                FROM pg_stat_activity)
            SELECT a.pid, a.state = 'active', a.state || coalesce(', waiting for ' || a.wait_event_type || ' ' || a.wait_event, ''),
                   left(a.statement, 120),
                   (SELECT string_agg(CASE WHEN b = 0 THEN 'a prepared transaction ('
                                               || coalesce(
                                                   -- those holding a lock the session waits for …
                                                   (SELECT string_agg(DISTINCT p.gid, ', ')
                                                    FROM pg_locks w
                                                    JOIN pg_locks h ON h.granted AND h.pid IS NULL AND h.locktype = w.locktype
                                                     AND h.database IS NOT DISTINCT FROM w.database
                                                     AND h.relation IS NOT DISTINCT FROM w.relation
                                                     AND h.transactionid IS NOT DISTINCT FROM w.transactionid
                                                    JOIN pg_prepared_xacts p ON h.virtualtransaction = '-1/' || p.transaction
                                                    WHERE w.pid = a.pid AND NOT w.granted),
                                                   -- … or, failing that, this database's
                                                   (SELECT string_agg(gid, ', ') FROM pg_prepared_xacts WHERE database = current_database()),
                                                   '?') || ')'
                                           ELSE 'session ' || b || coalesce(' (' || nullif(s.application_name, '') || ')', '')
                                                || ': ' || left(coalesce(s.statement, ''), 80) END, '; ')
                    FROM unnest(pg_blocking_pids(a.pid)) b LEFT JOIN activity s ON s.pid = b)
            FROM activity a
            WHERE a.datname = current_database() AND a.pid <> pg_backend_pid() AND a.state NOT IN ('idle')
              AND (a.application_name = \(Self.applicationName(batchID)) OR a.query LIKE \("%staging.b\(batchID)\\_%"))
            ORDER BY a.pid
            """, logger: database.logger)
        for try await (pid, active, wait, query, blockers) in rows.decode((Int32, Bool, String, String, String?).self) {
            sessions.append(Session(active: active, description: "session \(pid) \(wait): \(query)" + (blockers.map { ", blocked by \($0)" } ?? "")))
        }
        return sessions
    }
}
