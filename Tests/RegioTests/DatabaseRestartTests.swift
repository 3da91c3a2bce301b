import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// PostgreSQL stopped the hard way (`pg_ctl stop -m immediate`) under the query service, then
/// started again: clients are told to come back (503 with Retry-After) within seconds, never left
/// hanging, and the service answers again by itself.
@Suite("PostgreSQL restart under the query service")
struct DatabaseRestartTests {
    @Test("report reads during an immediate stop get 503 with Retry-After within seconds; after the restart the service answers again")
    func reportsAcrossARestart() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("regio-restart-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        let postgres = try EmbeddedPostgres(directory: directory, logger: TestDatabase.logger)
        /// Starts the server; when it does not start, the test says what its log says.
        @Sendable func start() throws {
            do {
                try postgres.start()
            } catch {
                let log = (try? String(contentsOf: directory.appendingPathComponent("postgres.log"), encoding: .utf8)) ?? ""
                Issue.record("PostgreSQL did not start: \(log.suffix(2000))")
                throw error
            }
        }
        try start()
        defer { postgres.stop() }
        try await withDatabase(postgres.url, name: "query", poolSize: 4, logger: TestDatabase.logger) { database in
            try await MigrationRunner(migrations: try Migration.bundled()).upgrade(database)
            let tokens = try await Fixtures.seedDemo(database)
            let bureau = Fixtures.bearer(try #require(tokens[.bureau]))
            try await Fixtures.queryApp(database).test(.live) { client in
                try await client.execute(uri: "/v1/reports/registry-summary", method: .get, headers: bureau) { #expect($0.status == .ok) }

                try postgres.crash()
                for _ in 1...3 {
                    let started = ContinuousClock.now
                    let response = try await client.execute(uri: "/v1/reports/registry-summary", method: .get, headers: bureau)
                    let waited = ContinuousClock.now - started
                    #expect(response.status == .serviceUnavailable, "\(response.status) \(response.text)")
                    #expect(response.headers[.retryAfter].flatMap(Int.init) ?? 0 > 0)
                    #expect(!response.text.contains("SELECT") && !response.text.contains("PSQLError"))
                    #expect(waited < .seconds(15), "answered after \(waited)")
                }
                let ready = try await client.execute(uri: "/ready", method: .get)
                #expect(ready.status == .serviceUnavailable)

                try start()
                let back = try await eventually(within: .seconds(30)) {
                    try await client.execute(uri: "/v1/reports/registry-summary", method: .get, headers: bureau).status == .ok
                }
                #expect(back, "the service answers again once PostgreSQL is back, without a restart")
            }
        }
    }
}

/// A server that is up but refuses the login.
@Suite("Refused login")
struct RefusedLoginTests {
    @Test("a pool whose login PostgreSQL refuses answers DatabaseUnavailable within seconds, rather than waiting for ever")
    func refusedLogin() async throws {
        try await TestDatabase.with { database in
            var url = database.url
            url.username = "no_such_role"
            let started = ContinuousClock.now
            await #expect(throws: DatabaseUnavailable.self) {
                try await withDatabase(url, name: "refused", poolSize: 1, logger: TestDatabase.logger) { refused in
                    try await refused.query("SELECT 1")
                }
            }
            #expect(ContinuousClock.now - started < .seconds(20))
        }
    }
}

/// The pool's lease, when the task asking for a connection is cancelled.
@Suite("Connection leases")
struct ConnectionLeaseTests {
    @Test("a task cancelled while it waits for a connection, as one comes free, ends, and no connection is lost")
    func cancelledLease() async throws {
        try await TestDatabase.with { database in
            for _ in 1...30 {
                // Every connection of the pool held, until `free` finishes.
                let (free, freeing) = AsyncStream<Void>.makeStream()
                let holders = (0..<database.poolSize).map { _ in
                    Task { try await database.withConnection { _ in for await _ in free {} } }
                }
                try await Task.sleep(for: .milliseconds(30))
                let waiting = Task { try await database.withConnection { _ in 1 } }
                try await Task.sleep(for: .milliseconds(30))
                // A connection comes free just as the waiting task is cancelled.
                freeing.finish()
                waiting.cancel()
                _ = try? await waiting.value
                for holder in holders { _ = try? await holder.value }
            }
            // The pool still hands out every connection.
            try await withThrowingTaskGroup(of: Void.self) { group in
                for _ in 0..<database.poolSize {
                    group.addTask {
                        try await database.withConnection { connection in
                            _ = try await connection.query("SELECT pg_sleep(0.1)", logger: database.logger)
                        }
                    }
                }
                try await group.waitForAll()
            }
        }
    }
}
