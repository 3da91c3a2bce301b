import AsyncHTTPClient
import Foundation
import NIOCore
import NIOSSL
import RegioApp
import RegioCore
import RegioDB
import Testing

/// The services' own TLS (`REGIO_TLS_CERT_FILE`, `REGIO_TLS_KEY_FILE`): `regio serve all` as its
/// own process, a certificate for `localhost` from a test CA, real clients.
@Suite("TLS of the services")
struct ServiceTLSTests {
    @Test("both services speak HTTPS only, TLS 1.2 or later, with the configured certificate; the upload client trusts a region's CA; cookies are Secure")
    func servicesOverTLS() async throws {
        try await withSeededDatabase { database, work in
            let tlsDirectory = work.url.appendingPathComponent("tls")
            try FileManager.default.createDirectory(at: tlsDirectory, withIntermediateDirectories: true)
            try DatabaseTLSTests.certificates(in: tlsDirectory)
            let file = { (name: String) in tlsDirectory.appendingPathComponent(name).path }
            let (ingestPort, queryPort) = (try EmbeddedPostgres.freePort(), try EmbeddedPostgres.freePort())
            var loading = database.url
            loading.username = "regio_ingest"
            let service = try ChildProcess(["serve", "all"], environment: [
                "REGIO_DATABASE_URL": database.url.urlString, "REGIO_INGEST_DATABASE_URL": loading.urlString,
                "REGIO_SECRET_FILE": work.secret.path,
                "REGIO_INGEST_PORT": "\(ingestPort)", "REGIO_QUERY_PORT": "\(queryPort)",
                "REGIO_TLS_CERT_FILE": file("server.crt"), "REGIO_TLS_KEY_FILE": file("server.key"),
            ], output: work.url.appendingPathComponent("service.log"))
            do {
                try await Self.checks(service: service, database: database, work: work, ports: (ingestPort, queryPort), file: file)
            } catch {
                await service.stop()
                throw error
            }
            await service.stop()
        }
    }

    static func checks(service: ChildProcess, database: Database, work: ServiceWork, ports: (ingest: Int, query: Int),
                       file: (String) -> String) async throws {
        let (ingestPort, queryPort) = ports
        let (ingest, query) = ("https://localhost:\(ingestPort)", "https://localhost:\(queryPort)")

        try await Self.withClient(trusting: file("ca.crt")) { trusting in
            for server in [ingest, query] {
                let ready = try await eventually(within: .seconds(60)) {
                    guard service.process.isRunning else { throw TestSetupError("the service stopped:\n\(service.text)") }
                    return await Self.outcome { try await Self.status(server + "/ready", with: trusting) } == "200"
                }
                #expect(ready, "\(server) did not answer over TLS:\n\(service.text)")
            }
            #expect(service.text.contains("https://127.0.0.1:\(ingestPort)"), "the log names the scheme")

            // The sign-in page's cookie is Secure, because the request came over TLS.
            let signIn = try await trusting.execute(HTTPClientRequest(url: query + "/sign-in"), timeout: .seconds(10))
            let cookies = signIn.headers["set-cookie"]
            #expect(signIn.status == .ok && !cookies.isEmpty && cookies.allSatisfy { $0.contains("Secure") }, "\(cookies)")
        }

        // Plain HTTP to either port gets no answer.
        for port in [ingestPort, queryPort] {
            let plain = await Self.outcome { try await Self.status("http://localhost:\(port)/ready", with: .shared) }
            #expect(plain != "200", "plain HTTP on \(port): \(plain)")
        }
        // A client that trusts another CA refuses the certificate; one that offers TLS 1.1 at
        // most is refused by the service.
        try await Self.withClient(trusting: file("other.crt")) { other in
            let outcome = await Self.outcome { try await Self.status(ingest + "/ready", with: other) }
            #expect(outcome.uppercased().contains("CERTIFICATE"), "\(outcome)")
        }
        try await Self.withClient(trusting: file("ca.crt"), maximum: .tlsv11) { old in
            let outcome = await Self.outcome { try await Self.status(ingest + "/ready", with: old) }
            #expect(outcome != "200", "TLS 1.1 was accepted")
        }

        // The hospital's nightly upload over HTTPS, trusting the region's CA.
        let upload = try ChildProcess(["upload", "--server", ingest, "--token-file", try await work.tokenFile(for: "H339901001", database).path,
                                       "--ca-file", file("ca.crt"), try work.extract(for: "H339901001").path],
                                      environment: [:], output: work.url.appendingPathComponent("upload.log"))
        let status = try await upload.exitStatus(within: .seconds(120))
        #expect(status == 0, "\(upload.text)")
        #expect(try await database.text("SELECT count(*)::text FROM ingest.batches WHERE status = 'loaded'") == "1")
    }

    static func withClient<T: Sendable>(trusting caFile: String, maximum: TLSVersion? = nil,
                                        _ body: (HTTPClient) async throws -> T) async throws -> T {
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        if let maximum {
            tls.maximumTLSVersion = maximum
            tls.minimumTLSVersion = .tlsv1
        }
        let client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
        do {
            let result = try await body(client)
            try await client.shutdown()
            return result
        } catch {
            try? await client.shutdown()
            throw error
        }
    }

    static func status(_ url: String, with client: HTTPClient) async throws -> UInt {
        try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(5)).status.code
    }

    /// The status code as text, or the error's description.
    static func outcome(_ request: () async throws -> UInt) async -> String {
        do { return String(try await request()) } catch { return String(describing: error) }
    }
}
