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

/// Reads of patient-level data other than lookups — a batch's row errors and rejected rows (they
/// quote the refused values), the stewards' review queue and person views — each write an audit
/// row before they answer, and answer nothing (503) when they cannot.
@Suite("Audited patient-level reads")
struct AuditedReadsTests {
    /// Rejected: a sex code that does not exist (and a birth date that cannot be, a warning).
    static let badRow = "P009,赵六,7,1990-13-45,,,13800000009,清河区解放路9号\n"

    @Test("a batch's row errors and rejected rows are audited reads, and fail closed when the audit cannot be written")
    func batchErrors() async throws {
        try await IngestScenario.run { s in
            let batch = try await s.upload(["patients.csv": Extracts.patients + Self.badRow])
            let token = Fixtures.bearer(try await s.token("H339901001"))
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/errors", method: .get, headers: token) { response in
                #expect(response.status == .ok && response.text.contains("1990-13-45"))
            }
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/files/patients.csv/rejected", method: .get, headers: token) { response in
                #expect(response.status == .ok && response.text.contains("P009"), "\(response.text)")
            }
            #expect(try await s.value("""
                SELECT string_agg(action || ' ' || subject || ' ' || actor, '; ' ORDER BY id) FROM audit.events WHERE action LIKE 'read.%'
                """) == "read.batch-errors \(batch.id) facility:test; read.rejected-rows \(batch.id) facility:test")

            // The audit refuses: nothing is shown.
            try await s.database.query("ALTER TABLE audit.events ADD CONSTRAINT refuse_reads CHECK (action NOT LIKE 'read.%') NOT VALID")
            for uri in ["/v1/batches/\(batch.id)/errors", "/v1/batches/\(batch.id)/errors?format=csv",
                        "/v1/batches/\(batch.id)/files/patients.csv/rejected"] {
                try await s.client.execute(uri: uri, method: .get, headers: token) { response in
                    #expect(response.status == .serviceUnavailable, "\(uri)")
                    #expect(!response.text.contains("1990-13-45") && !response.text.contains("P009"), "\(uri)")
                }
            }
        }
    }

    @Test("the stewards' review queue and person view, and the dashboard's batch page, are audited reads that fail closed")
    func stewardAndDashboard() async throws {
        try await IngestScenario.run { s in
            let batch = try await s.upload(["patients.csv": Extracts.patients + Self.badRow])
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            _ = try await AccountStore(database: s.database).add(
                username: "keeper", displayName: "keeper", role: .steward, scope: nil,
                passwordHash: try await Passwords.hash(DashboardTests.password, cost: 4), actor: "test")
            try await Fixtures.queryApp(s.database).test(.router) { client in
                try await client.execute(uri: "/v1/steward/reviews", method: .get, headers: Fixtures.bearer(tokens[.steward]!)) {
                    #expect($0.status == .ok)
                }
                let browser = DashboardTests.Browser(client)
                _ = try await browser.signIn("keeper", DashboardTests.password)
                let page = try await browser.get("/uploads/\(batch.id)")
                #expect(page.status == .ok && page.text.contains("1990-13-45"))

                try await s.database.query("ALTER TABLE audit.events ADD CONSTRAINT refuse_reads CHECK (action NOT LIKE 'read.%') NOT VALID")
                try await client.execute(uri: "/v1/steward/reviews", method: .get, headers: Fixtures.bearer(tokens[.steward]!)) {
                    #expect($0.status == .serviceUnavailable)
                }
                let refused = try await browser.get("/uploads/\(batch.id)")
                #expect(refused.status == .serviceUnavailable && !refused.text.contains("1990-13-45"))
            }
            #expect(try await s.value("""
                SELECT string_agg(action || ' ' || actor, '; ' ORDER BY id) FROM audit.events WHERE action LIKE 'read.%'
                """) == "read.link-reviews steward:demo steward; read.batch-errors user:keeper")
        }
    }
}
