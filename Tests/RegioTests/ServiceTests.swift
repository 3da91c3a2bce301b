import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegioApp
import RegioCore
import RegioDB
import Testing

@Suite("Services: health, readiness, metrics, authentication")
struct ServiceTests {
    @Test("health, readiness and metrics need no token")
    func operations() async throws {
        try await TestDatabase.with { database throws in
            try await Fixtures.ingestApp(database).test(.router) { client in
                try await client.execute(uri: "/health", method: .get) { #expect($0.status == .ok) }
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.text.contains("ready"))
                }
                try await client.execute(uri: "/metrics", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.text.contains("http_server_request_duration_bucket{http_route=\"/ready\""))
                    #expect(response.text.contains("regio_db_connections_max"))
                }
            }
        }
    }

    @Test("readiness fails while migrations are pending")
    func notReady() async throws {
        try await TestDatabase.with(migrated: false) { database throws in
            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/ready", method: .get) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(response.text.contains("migrations are pending"))
                }
            }
        }
    }

    @Test("401 without a token, with an unknown, revoked or expired one; 200 with a good one")
    func authentication() async throws {
        try await TestDatabase.with { database throws in
            let tokens = try await Fixtures.seedDemo(database)
            let store = CredentialStore(database: database)
            let revoked = try await store.issue(role: .bureau, scope: nil, label: "r", expiresAt: nil, actor: "test")
            try await store.revoke(id: revoked.id, actor: "test")
            let expired = try await store.issue(role: .bureau, scope: nil, label: "e", expiresAt: Date().addingTimeInterval(-1), actor: "test")

            for app in [try Fixtures.ingestApp(database) as any ApplicationProtocol, try Fixtures.queryApp(database)] {
                try await app.test(.router) { client in
                    try await client.execute(uri: "/v1/whoami", method: .get) { response in
                        #expect(response.status == .unauthorized)
                        #expect(response.headers[.contentType] == "application/problem+json")
                        #expect(response.headers[.wwwAuthenticate] == "Bearer realm=\"regio\"")
                    }
                    for (token, reason) in [("rg_unknown", "is not known"), (revoked.token, "was revoked"), (expired.token, "has expired")] {
                        try await client.execute(uri: "/v1/whoami", method: .get, headers: Fixtures.bearer(token)) { response in
                            let body = try response.json()
                            #expect(response.status == .unauthorized)
                            #expect(body["detail"] as? String == "the token \(reason)")
                        }
                    }
                    try await client.execute(uri: "/v1/whoami", method: .get, headers: [.authorization: "Basic abc"]) {
                        #expect($0.status == .unauthorized)
                    }
                    try await client.execute(uri: "/v1/whoami", method: .get, headers: Fixtures.bearer(tokens[.facility]!)) { response in
                        #expect(response.status == .ok)
                        let body = try response.json()
                        #expect(body["role"] as? String == "facility")
                        #expect(body["facility"] as? String == "H339901001")
                        #expect(response.headers[.init("X-Request-ID")!] != nil)
                    }
                }
            }
        }
    }
}
