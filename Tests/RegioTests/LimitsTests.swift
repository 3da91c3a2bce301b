import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import RegioHTTP
import RegioQuery
import Synchronization
import Testing

/// Per-credential rate limits, `no-store` on the API, and transactions retried after a deadlock.
@Suite("Limits and retries")
struct LimitsTests {
    @Test("a token over its rate gets 429 with Retry-After; other tokens are not slowed; a signed-in person has an allowance of their own")
    func rateLimit() async throws {
        try await TestDatabase.with { database in
            let tokens = try await Fixtures.seedDemo(database)
            let (bureau, steward) = (Fixtures.bearer(tokens[.bureau]!), Fixtures.bearer(tokens[.steward]!))
            _ = try await AccountStore(database: database).add(
                username: "wang", displayName: "wang", role: .bureau, scope: nil,
                passwordHash: try await Passwords.hash(DashboardTests.password, cost: 4), actor: "test")
            let router = try QueryService.buildRouter(
                database: database, writes: database, migrations: MigrationRunner(migrations: try Migration.bundled()),
                metrics: RegioMetrics.registry, rateLimit: RateLimit(perMinute: 1, burst: 5))
            try await Application(router: router).test(.router) { client in
                for _ in 1...5 {
                    try await client.execute(uri: "/v1/whoami", method: .get, headers: bureau) { #expect($0.status == .ok) }
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: bureau) { response in
                    #expect(response.status == .tooManyRequests)
                    #expect((response.headers[.retryAfter].flatMap(Int.init) ?? 0) > 30, "at one a minute, the next is most of a minute away")
                }
                try await client.execute(uri: "/v1/whoami", method: .get, headers: steward) { #expect($0.status == .ok) }

                let browser = DashboardTests.Browser(client)
                #expect(try await browser.signIn("wang", DashboardTests.password).status == .seeOther)
                var statuses: [HTTPResponse.Status] = []
                for _ in 1...6 { statuses.append(try await browser.get("/reports").status) }
                #expect(statuses.prefix(5).allSatisfy { $0 == .ok } && statuses.last == .tooManyRequests, "\(statuses)")
            }
        }
    }

    @Test("every /v1 answer, errors included, carries Cache-Control: no-store")
    func noStore() async throws {
        try await TestDatabase.with { database in
            let tokens = try await Fixtures.seedDemo(database)
            try await Fixtures.queryApp(database).test(.router) { client in
                for (uri, token) in [("/v1/reports/registry-summary", tokens[.bureau]!), ("/v1/reports/no-such-report", tokens[.bureau]!),
                                     ("/v1/steward/reviews", tokens[.steward]!), ("/v1/reports/registry-summary", "not-a-token")] {
                    try await client.execute(uri: uri, method: .get, headers: Fixtures.bearer(token)) { response in
                        #expect(response.headers[.cacheControl] == "no-store", "\(uri) \(response.status)")
                    }
                }
            }
        }
    }

    @Test("two transactions that deadlock both commit: PostgreSQL aborts one, and it is run again")
    func deadlockRetried() async throws {
        try await TestDatabase.with { database in
            try await database.query("CREATE TABLE public.accounts_test (id int PRIMARY KEY, balance int NOT NULL)")
            try await database.query("INSERT INTO public.accounts_test VALUES (1, 100), (2, 100)")
            try await database.query("ALTER DATABASE \(unescaped: database.url.database) SET deadlock_timeout = '200ms'")
            let (attempts, locked) = (Attempts(), Attempts())
            try await withThrowingTaskGroup(of: Void.self) { group in
                // Each moves 10 from one row to the other, locking them in opposite orders.
                for (from, to) in [(1, 2), (2, 1)] {
                    group.addTask { try await Self.transfer(from: from, to: to, database: database, attempts: attempts, locked: locked) }
                }
                try await group.waitForAll()
            }
            #expect(attempts.count == 3, "one of the two ran again")
            #expect(try await database.text("SELECT string_agg(balance::text, ',' ORDER BY id) FROM public.accounts_test") == "100,100")
        }
    }

    final class Attempts: Sendable {
        private let value = Mutex(0)
        var count: Int { value.withLock { $0 } }
        func add() { value.withLock { $0 += 1 } }
    }

    /// Each first attempt takes its first row's lock, then waits until the other has taken its own
    /// (however late the pool hands it a connection), so that the second UPDATEs deadlock.
    static func transfer(from: Int, to: Int, database: Database, attempts: Attempts, locked: Attempts) async throws {
        let tried = Mutex(false)
        try await database.withTransaction { connection in
            attempts.add()
            try await connection.query("UPDATE public.accounts_test SET balance = balance - 10 WHERE id = \(from)", logger: database.logger)
            if !tried.withLock({ let was = $0; $0 = true; return was }) {
                locked.add()
                let deadline = ContinuousClock.now + .seconds(30)
                while locked.count < 2, ContinuousClock.now < deadline { try await Task.sleep(for: .milliseconds(20)) }
            }
            try await connection.query("UPDATE public.accounts_test SET balance = balance + 10 WHERE id = \(to)", logger: database.logger)
        }
    }
}
