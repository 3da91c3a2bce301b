import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
import RegioApp
import RegioCore
import RegioDB
import Testing

/// Runs `body` on a new database seeded with the demo region, with a scratch folder beside it —
/// the setting of the tests that start the ingestion service as its own process.
func withSeededDatabase(_ body: @Sendable (Database, ServiceWork) async throws -> Void) async throws {
    try await TestDatabase.with { database in
        try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
        let work = try ServiceWork()
        defer { work.remove() }
        try await body(database, work)
    }
}

/// A scratch folder: the region secret, tokens, extracts.
struct ServiceWork {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("regio-work-\(UUID())")
    var secret: URL { url.appendingPathComponent("region.key") }

    init() throws {
        try FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        try Data(String(repeating: "s", count: 40).utf8).write(to: secret)
    }

    func remove() { try? FileManager.default.removeItem(at: url) }

    /// `regio serve ingest` on `database` with this folder's secret (on `port`, else a free one),
    /// its output in `log` here, once it answers `/ready`.
    func readyIngestService(_ database: Database, environment: [String: String], port: Int? = nil,
                            log: String = "service.log") async throws -> (ChildProcess, server: String) {
        let (service, server) = try ChildProcess.ingestService(database: database.url, secret: secret, port: port, environment: environment,
                                                               output: url.appendingPathComponent(log))
        try await service.waitUntilReady(server)
        return (service, server)
    }

    func token(for facility: String, _ database: Database) async throws -> String {
        try await CredentialStore(database: database).issue(role: .facility, scope: facility, label: "test", expiresAt: nil, actor: "test").token
    }

    func tokenFile(for facility: String, _ database: Database) async throws -> URL {
        let file = url.appendingPathComponent("token-\(facility)")
        try Data(try await token(for: facility, database).utf8).write(to: file)
        return file
    }

    /// A small night of `facility`: three patients and their encounters.
    func extract(for facility: String, date: String = "2026-11-22") throws -> URL {
        let extract = url.appendingPathComponent("extract-\(facility)-\(date)")
        try FileManager.default.createDirectory(at: extract, withIntermediateDirectories: true)
        try Data(Extracts.patients.utf8).write(to: extract.appendingPathComponent("patients.csv"))
        try Data(Extracts.encounters.utf8).write(to: extract.appendingPathComponent("encounters.csv"))
        try LocalExtract.writeManifest(directory: extract.path, facility: facility, businessDate: date, encoding: .utf8)
        return extract
    }
}

/// Requests to the ingestion service as the upload client makes them, one at a time.
struct HTTPSession {
    let server: String

    func send(_ method: HTTPMethod, _ path: String, token: String,
              body: HTTPClientRequest.Body? = nil) async throws -> (status: HTTPResponseStatus, json: [String: Any]) {
        var request = HTTPClientRequest(url: server + path)
        request.method = method
        request.headers.add(name: "Authorization", value: "Bearer \(token)")
        request.body = body
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(120))
        let bytes = try await response.body.collect(upTo: 1 << 20)
        return (response.status, (try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any]) ?? [:])
    }

    /// Creates a batch from the folder's manifest; its id.
    func create(_ extract: URL, token: String) async throws -> Int64 {
        let manifest = try Data(contentsOf: extract.appendingPathComponent("manifest.json"))
        let created = try await send(.POST, "/v1/batches", token: token, body: .bytes(ByteBuffer(data: manifest)))
        #expect(created.status == .created)
        return try #require((created.json["batch"] as? [String: Any])?["id"] as? Int64)
    }
}
