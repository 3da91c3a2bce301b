import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import RegioQuery
import Testing

/// People's accounts and the dashboard's pages, through the query service's router: sign-in with
/// a session cookie and CSRF tokens, lockout, expiry, sign-out, roles, and the accounts role.
/// (The pages in a real browser: Tests/browser, run by `make test`.)
@Suite("Dashboard and accounts")
struct DashboardTests {
    static let password = "correct horse battery"

    /// A browser's view of the dashboard: its cookies, carried from response to request.
    final class Browser: @unchecked Sendable {
        let client: any TestClientProtocol
        var cookies: [String: String] = [:]

        init(_ client: any TestClientProtocol) { self.client = client }

        @discardableResult
        func get(_ uri: String) async throws -> TestResponse {
            try await send(uri, method: .get, form: nil)
        }

        @discardableResult
        func post(_ uri: String, _ form: [(String, String)]) async throws -> TestResponse {
            try await send(uri, method: .post, form: form)
        }

        func send(_ uri: String, method: HTTPRequest.Method, form: [(String, String)]?) async throws -> TestResponse {
            var headers = HTTPFields()
            if !cookies.isEmpty { headers[.cookie] = cookies.map { "\($0.key)=\($0.value)" }.joined(separator: "; ") }
            var body: ByteBuffer?
            if let form {
                headers[.contentType] = "application/x-www-form-urlencoded"
                body = ByteBuffer(string: HTML.query(form))
            }
            let response = try await client.execute(uri: uri, method: method, headers: headers, body: body)
            for header in response.headers[values: .setCookie] {
                let pair = header.split(separator: ";")[0].split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
                let (name, value) = (String(pair[0]), pair.count > 1 ? String(pair[1]) : "")
                if value.isEmpty || header.contains("Max-Age=0") { cookies[name] = nil } else { cookies[name] = value }
            }
            return response
        }

        /// The CSRF token of the first form on a page.
        static func csrf(in page: TestResponse) -> String? {
            let text = page.text
            guard let range = text.range(of: #"name="csrf" value=""#) else { return nil }
            return String(text[range.upperBound...].prefix { $0 != "\"" })
        }

        func signIn(_ username: String, _ password: String) async throws -> TestResponse {
            let form = try await get("/sign-in")
            return try await post("/sign-in", [("csrf", Self.csrf(in: form) ?? ""), ("username", username), ("password", password)])
        }
    }

    static func addUser(_ accounts: AccountStore, _ username: String, _ role: Role, scope: String? = nil) async throws {
        _ = try await accounts.add(username: username, displayName: username, role: role, scope: scope,
                                   passwordHash: try await Passwords.hash(password, cost: 4), actor: "test")
    }

    static func auditCount(_ database: Database, _ action: String, subject: String) async throws -> Int {
        Int(try await database.text("SELECT count(*)::text FROM audit.events WHERE action = '\(action)' AND subject = '\(subject)'") ?? "0") ?? 0
    }

    @Test("sign-in sets an HttpOnly, SameSite=Strict session cookie; pages need it; sign-out needs the CSRF token and ends the session")
    func signInAndOut() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let accounts = AccountStore(database: database)
            try await Self.addUser(accounts, "wang.fang", .bureau)
            try await Fixtures.queryApp(database).test(.router) { client in
                let browser = Browser(client)
                let anonymous = try await browser.get("/")
                #expect(anonymous.status == .seeOther && anonymous.headers[.location] == "/sign-in")

                let form = try await browser.get("/sign-in")
                #expect(form.status == .ok)
                #expect(form.headers[values: .setCookie].contains { $0.hasPrefix("regio_signin_csrf=") && $0.contains("HttpOnly") && $0.contains("SameSite=Strict") })
                // A form posted without the sign-in CSRF cookie (from another site) is refused.
                let forged = try await client.execute(uri: "/sign-in", method: .post, headers: [.contentType: "application/x-www-form-urlencoded"],
                                                      body: ByteBuffer(string: "csrf=x&username=wang.fang&password=\(Self.password)"))
                #expect(forged.status == .forbidden)

                let wrong = try await browser.post("/sign-in", [("csrf", Browser.csrf(in: form)!), ("username", "wang.fang"), ("password", "nope nope nope")])
                #expect(wrong.status == .unauthorized)
                #expect(wrong.text.contains("class=\"error\""))
                #expect(browser.cookies["regio_session"] == nil)

                let signedIn = try await browser.signIn("Wang.Fang", Self.password)
                #expect(signedIn.status == .seeOther && signedIn.headers[.location] == "/")
                let cookie = try #require(signedIn.headers[values: .setCookie].first { $0.hasPrefix("regio_session=") })
                #expect(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict") && cookie.contains("Path=/"))
                #expect(!cookie.contains("Secure"), "Secure only behind TLS")

                let home = try await browser.get("/")
                #expect(home.status == .ok)
                #expect(home.text.contains("data-status=\"200\"") && home.text.contains("基层诊疗量占比"))
                #expect(home.headers[.cacheControl] == "no-store")
                #expect(home.headers[.init("Content-Security-Policy")!]?.contains("default-src 'none'") == true)

                // The session's CSRF token is required to sign out; a wrong one is refused.
                #expect(try await browser.post("/sign-out", [("csrf", "forged")]).status == .forbidden)
                let out = try await browser.post("/sign-out", [("csrf", Browser.csrf(in: home)!)])
                #expect(out.status == .seeOther && out.headers[.location] == "/sign-in")
                // The old cookie no longer opens a page, even when a browser kept it.
                browser.cookies["regio_session"] = String(cookie.dropFirst("regio_session=".count).prefix { $0 != ";" })
                #expect(try await browser.get("/").status == .seeOther)
            }
            #expect(try await Self.auditCount(database, "sign-in", subject: "wang.fang") == 1)
            #expect(try await Self.auditCount(database, "sign-in.failure", subject: "wang.fang") == 1)
            #expect(try await Self.auditCount(database, "sign-out", subject: "wang.fang") == 1)
            #expect(try await database.text("SELECT detail->>'reason' FROM audit.events WHERE action = 'sign-in.failure'") == "wrong password")
        }
    }

    @Test("text from the database or the request is shown as text: a display name or a filter value cannot inject markup")
    func escaping() async throws {
        #expect(HTML("<p>\("<script>alert('x') & \"y\"</script>")</p>").text
                == "<p>&lt;script&gt;alert(&apos;x&apos;) &amp; &quot;y&quot;&lt;/script&gt;</p>")
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            _ = try await AccountStore(database: database).add(
                username: "mallory", displayName: "<img src=x onerror=alert(1)>", role: .bureau, scope: nil,
                passwordHash: try await Passwords.hash(Self.password, cost: 4), actor: "test")
            try await Fixtures.queryApp(database).test(.router) { client in
                let browser = Browser(client)
                _ = try await browser.signIn("mallory", Self.password)
                let home = try await browser.get("/")
                #expect(home.text.contains("&lt;img src=x onerror=alert(1)&gt;") && !home.text.contains("<img src=x"))
                let report = try await browser.get("/reports/registry-summary?region=%22%3E%3Cscript%3E")
                #expect(report.status == .badRequest)
                #expect(!report.text.contains("\"><script>"))
            }
        }
    }

    @Test("five failures in a row lock the account, even against the right password; a reset lifts it; unknown users are audited too")
    func lockout() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let accounts = AccountStore(database: database)
            try await Self.addUser(accounts, "li.lei", .steward)
            try await Fixtures.queryApp(database).test(.router) { client in
                let browser = Browser(client)
                for _ in 1...5 { #expect(try await browser.signIn("li.lei", "wrong password!").status == .unauthorized) }
                #expect(try await accounts.list().first { $0.username == "li.lei" }?.lockedUntil != nil)
                #expect(try await browser.signIn("li.lei", Self.password).status == .unauthorized, "locked: the right password is refused")
                #expect(try await browser.signIn("nobody", Self.password).status == .unauthorized)

                try await accounts.resetPassword(username: "li.lei", passwordHash: try await Passwords.hash(Self.password, cost: 4), actor: "test")
                #expect(try await browser.signIn("li.lei", Self.password).status == .seeOther)
            }
            #expect(try await Self.auditCount(database, "sign-in.lockout", subject: "li.lei") == 1)
            #expect(try await Self.auditCount(database, "sign-in.failure", subject: "li.lei") == 6)
            #expect(try await Self.auditCount(database, "sign-in.failure", subject: "(unknown user)") == 1)
            #expect(try await Self.auditCount(database, "user.reset-password", subject: "li.lei") == 1)
        }
    }

    @Test("a session ends after the idle limit and after the absolute limit; disabling an account ends its sessions")
    func sessionExpiry() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let accounts = AccountStore(database: database)
            try await Self.addUser(accounts, "zhao", .admin)
            try await Fixtures.queryApp(database).test(.router) { client in
                let browser = Browser(client)
                _ = try await browser.signIn("zhao", Self.password)
                #expect(try await browser.get("/").status == .ok)
                try await database.query("UPDATE accounts.sessions SET last_seen_at = now() - interval '31 minutes'")
                #expect(try await browser.get("/").status == .seeOther, "idle for longer than session_idle_minutes (30)")

                _ = try await browser.signIn("zhao", Self.password)
                try await database.query("UPDATE accounts.sessions SET created_at = now() - interval '12 hours 1 minute' WHERE ended_at IS NULL")
                #expect(try await browser.get("/").status == .seeOther, "older than session_absolute_hours (12), however active")

                _ = try await browser.signIn("zhao", Self.password)
                #expect(try await browser.get("/").status == .ok)
                try await accounts.setDisabled(username: "zhao", true, actor: "test")
                #expect(try await browser.get("/").status == .seeOther)
                #expect(try await browser.signIn("zhao", Self.password).status == .unauthorized)
            }
            #expect(try await database.text("SELECT count(*)::text FROM accounts.sessions WHERE ended_at IS NULL") == "0")
        }
    }

    @Test("each role reaches its pages and gets 403 on others; report pages show a chart, the table and a CSV of the same rows")
    func rolesAndReportPages() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let accounts = AccountStore(database: database)
            try await Self.addUser(accounts, "bureau", .bureau)
            try await Self.addUser(accounts, "clinic", .facility, scope: DemoRegion.facilities[0].code)
            try await Self.addUser(accounts, "buyer", .alliance, scope: DemoRegion.allianceCode)
            try await Self.addUser(accounts, "keeper", .steward)
            try await Self.addUser(accounts, "root", .admin)
            let reachable: [String: [String]] = [
                "bureau": ["/", "/reports", "/reports/registry-summary", "/reports/primary-care-share", "/uploads", "/admin/thresholds"],
                "clinic": ["/", "/reports", "/reports/upload-history", "/uploads", "/lookup"],
                "buyer": ["/", "/reports", "/reports/price-comparison"],
                "keeper": ["/", "/steward/reviews", "/steward/codes", "/uploads"],
                "root": ["/", "/admin/users", "/admin/tokens", "/admin/thresholds"],
            ]
            let forbidden: [String: [String]] = [
                "clinic": ["/reports/primary-care-share", "/reports/price-comparison", "/admin/users", "/steward/reviews"],
                "buyer": ["/reports/primary-care-share", "/uploads", "/lookup", "/admin/thresholds",
                          "/reports/price-comparison?alliance=\(DemoRegion.countyAllianceCode)"],
                "bureau": ["/lookup", "/admin/users", "/steward/reviews", "/uploads/1"],
                "keeper": ["/admin/users"],
            ]
            try await Fixtures.queryApp(database).test(.router) { client in
                for (user, paths) in reachable {
                    let browser = Browser(client)
                    #expect(try await browser.signIn(user, Self.password).status == .seeOther)
                    for path in paths {
                        let page = try await browser.get(path)
                        #expect(page.status == .ok, "\(user) \(path): \(page.status)")
                        #expect(page.text.contains("<main"), "\(user) \(path)")
                    }
                    for path in forbidden[user] ?? [] {
                        let page = try await browser.get(path)
                        #expect(page.status == .forbidden, "\(user) \(path): \(page.status)")
                        #expect(page.text.contains("data-status=\"403\""))
                    }
                }
                let browser = Browser(client)
                _ = try await browser.signIn("bureau", Self.password)
                let page = try await browser.get("/reports/registry-summary?tier=1&region=")
                #expect(page.text.contains("<figure class=\"chart\"><svg"))
                let rows = page.text.components(separatedBy: "<tr>").count - 2
                #expect(rows > 0)
                let csv = try await browser.get("/reports/registry-summary?tier=1&format=csv")
                #expect(csv.headers[.contentType] == "text/csv; charset=utf-8")
                let lines = csv.text.split(whereSeparator: \.isNewline)
                #expect(lines.count - 1 == rows, "the CSV carries exactly the rows the page shows")
                #expect(lines.dropFirst().allSatisfy { $0.contains(",1,") }, "with the page's filter")
                // English on request: the same report with English titles.
                _ = try await browser.get("/language/en?back=/reports/registry-summary")
                let english = try await browser.get("/reports/registry-summary")
                #expect(english.text.contains("<html lang=\"en\">") && english.text.contains("Facilities and staffed beds"))
                #expect(try await browser.get("/language/en?back=//evil.example").headers[.location] == "/")

                // The alliance user's pages never offer another alliance.
                let buyer = Browser(client)
                _ = try await buyer.signIn("buyer", Self.password)
                let prices = try await buyer.get("/reports/price-comparison")
                #expect(prices.text.contains(DemoRegion.allianceCode))
                #expect(!prices.text.contains(DemoRegion.countyAllianceCode))
            }
        }
    }

    @Test("the admin adds, disables and resets users on the page; every change is audited with the admin's name")
    func adminPages() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let accounts = AccountStore(database: database)
            try await Self.addUser(accounts, "root", .admin)
            try await Fixtures.queryApp(database).test(.router) { client in
                let browser = Browser(client)
                _ = try await browser.signIn("root", Self.password)
                let users = try await browser.get("/admin/users")
                let csrf = try #require(Browser.csrf(in: users))
                #expect(try await browser.post("/admin/users", [("username", "chen"), ("display_name", "陈"), ("role", "facility"),
                                                                ("scope", DemoRegion.facilities[1].code)]).status == .forbidden,
                        "no CSRF token")
                let added = try await browser.post("/admin/users", [("csrf", csrf), ("username", "chen"), ("display_name", "陈"),
                                                                    ("role", "facility"), ("scope", DemoRegion.facilities[1].code)])
                #expect(added.status == .ok)
                let password = try #require(added.text.components(separatedBy: "初始密码：").dropFirst().first?.prefix(16)).description
                let refused = try await browser.post("/admin/users", [("csrf", csrf), ("username", "chen2"), ("display_name", "x"),
                                                                      ("role", "facility"), ("scope", "NOSUCHCODE")])
                #expect(refused.status == .badRequest && refused.text.contains("NOSUCHCODE"))

                let chen = Browser(client)
                #expect(try await chen.signIn("chen", password).status == .seeOther)
                #expect(try await chen.get("/uploads").status == .ok)
                #expect(try await browser.post("/admin/users/chen", [("csrf", csrf), ("action", "disable")]).status == .ok)
                #expect(try await chen.get("/uploads").status == .seeOther, "disabled: the session ended")
                #expect(try await browser.post("/admin/users/root", [("csrf", csrf), ("action", "disable")]).status == .badRequest)
            }
            #expect(try await database.text("SELECT actor FROM audit.events WHERE action = 'user.add' AND subject = 'chen'") == "user:root")
            #expect(try await Self.auditCount(database, "user.disable", subject: "chen") == 1)
            #expect(try await database.text("SELECT count(*)::text FROM accounts.users WHERE username = 'chen2'") == "0")
        }
    }

    @Test("sign-in and sessions work through the deployed accounts role, which may write nothing but accounts and audit rows; the reporting role reads no account")
    func accountsRole() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await Self.addUser(AccountStore(database: database), "wang", .bureau)
            let accountsURL = try await Fixtures.deployedAccountsRole(database)
            let (readURL, _) = try await Fixtures.deployedQueryRoles(database)
            try await withDatabase(accountsURL, name: "accounts", poolSize: 2, logger: TestDatabase.logger) { web in
                try await withDatabase(readURL, name: "reader", poolSize: 2, logger: TestDatabase.logger) { reader in
                    try await Fixtures.queryApp(reader, accounts: web).test(.router) { client in
                        let browser = Browser(client)
                        let signedIn = try await browser.signIn("wang", Self.password)
                        #expect(signedIn.status == .seeOther)
                        let report = try await browser.get("/reports/registry-summary")
                        #expect(report.status == .ok)
                    }
                    for statement in ["SELECT * FROM emr.persons", "UPDATE registry.facilities SET name = name",
                                      "UPDATE reports.thresholds SET threshold = 1", "DELETE FROM audit.events",
                                      "INSERT INTO registry.credentials (token_hash, role, label) VALUES (repeat('a', 64), 'admin', 'x')"] {
                        await #expect(throws: (any Error).self, "\(statement)") { try await web.query(PostgresQuery(unsafeSQL: statement)) }
                    }
                    for statement in ["SELECT * FROM accounts.users", "SELECT * FROM accounts.sessions"] {
                        await #expect(throws: (any Error).self, "\(statement)") { try await reader.query(PostgresQuery(unsafeSQL: statement)) }
                    }
                }
            }
            #expect(try await Self.auditCount(database, "sign-in", subject: "wang") == 1)
        }
    }

    @Test("regio user add, list, disable, enable and reset-password, as a subprocess")
    func userCommands() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let url = TestDatabase.url(of: database)
            var result = try RegioProcess.run(["user", "add", "Ops.Lin", "--role", "alliance", "--alliance", DemoRegion.allianceCode,
                                               "--name", "林", "--generate-password"], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            let password = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(password.count == 16)
            result = try RegioProcess.run(["user", "add", "xu", "--role", "bureau", "--facility", "H339901001", "--generate-password"], database: url)
            #expect(result.status != 0 && result.stderr.contains("region-wide"), "\(result.stderr)")
            result = try RegioProcess.run(["user", "list"], database: url)
            #expect(result.stdout.contains("ops.lin") && result.stdout.contains(DemoRegion.allianceCode))
            let hash = try #require(try await database.text("SELECT password_hash FROM accounts.users WHERE username = 'ops.lin'"))
            #expect(try await Passwords.verify(password, hash: hash))
            #expect(try RegioProcess.run(["user", "disable", "ops.lin"], database: url).status == 0)
            #expect(try RegioProcess.run(["user", "list"], database: url).stdout.contains("disabled"))
            #expect(try RegioProcess.run(["user", "enable", "ops.lin"], database: url).status == 0)
            result = try RegioProcess.run(["user", "reset-password", "ops.lin", "--generate-password"], database: url)
            let newHash = try #require(try await database.text("SELECT password_hash FROM accounts.users WHERE username = 'ops.lin'"))
            #expect(try await Passwords.verify(result.stdout.trimmingCharacters(in: .whitespacesAndNewlines), hash: newHash))
            #expect(try RegioProcess.run(["user", "disable", "nobody"], database: url).status == 1)
            #expect(try await database.text("SELECT count(*)::text FROM audit.events WHERE action LIKE 'user.%' AND subject = 'ops.lin'") == "4")
        }
    }
}
