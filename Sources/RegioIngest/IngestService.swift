import Foundation
import Hummingbird
import Prometheus
import RegioCore
import RegioDB
import RegioPipeline
import RegioHTTP

/// The ingestion service: hospitals' nightly extracts come in here.
public enum IngestService {
    /// - Parameters:
    ///   - keyMemory: what the uploads may spend remembering keys (`KeyMemory`).
    ///   - stagedKeys: what uploads keep of the files they stage for the batch worker
    ///     (`BatchWorker`) that decides their batches; the two share one.
    ///   - committed: rung when a batch is committed, for the same worker.
    ///   - faults: where the crash tests kill the process.
    ///   - rateLimit: each token's allowance (none when nil).
    public static func buildRouter(
        database: Database, migrations: MigrationRunner, metrics: PrometheusCollectorRegistry, pseudonymizer: Pseudonymizer,
        keyMemory: KeyMemory, stagedKeys: StagedKeys, committed: BatchDoorbell, faults: FaultInjection = .none,
        limits: StreamLimits = StreamLimits(), rateLimit: RateLimit? = nil
    ) throws -> Router<RegioRequestContext> {
        let skeleton = ServiceRouter(
            operations: OperationsController(database: database, migrations: migrations, metrics: metrics),
            credentials: CredentialStore(database: database), rateLimit: rateLimit)
        BatchController(database: database, pseudonymizer: pseudonymizer, keyMemory: keyMemory, stagedKeys: stagedKeys,
                        committed: committed, faults: faults, limits: limits)
            .addRoutes(to: skeleton.api)
        let openAPI = try OpenAPIDocument.load()
        skeleton.router.get("openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: openAPI)))
        }
        return skeleton.router
    }
}

/// The ingestion API's OpenAPI description, shipped as a resource and served at `/openapi.yaml`.
public enum OpenAPIDocument {
    public static func load() throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw SQLFile.Missing(path: "openapi.yaml")
        }
        return try String(contentsOf: url, encoding: .utf8)
    }
}
