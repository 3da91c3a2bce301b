import Hummingbird
import Prometheus
import RegioCore
import RegioDB
import RegioHTTP

/// The query service: prebuilt reports and the dashboard, reading (ideally) from a replica.
public enum QueryService {
    /// - Parameters:
    ///   - database: where reports and tokens are read (a replica, as the read-only `regio_query`).
    ///   - writes: where what users change is written, and stewards' decisions queued (the
    ///     primary, as `regio_query_writer`).
    ///   - lookups: where the cross-facility lookup reads and audits (the primary, as
    ///     `regio_lookup`); `writes` when nil.
    ///   - accounts: where people's accounts and sessions are read and written (the primary, as
    ///     `regio_web`); `writes` when nil.
    ///   - pseudonymizer: the region secret's, for lookups by resident ID number; without it
    ///     those are unavailable.
    ///   - rateLimit: each token's and each signed-in person's allowance (none when nil).
    public static func buildRouter(
        database: Database, writes: Database, lookups: Database? = nil, accounts: Database? = nil, pseudonymizer: Pseudonymizer? = nil,
        migrations: MigrationRunner, metrics: PrometheusCollectorRegistry,
        catalog: [ReportDefinition] = ReportCatalog.all, rateLimit: RateLimit? = nil, servedOverTLS: Bool = false
    ) throws -> Router<RegioRequestContext> {
        let credentials = CredentialStore(database: database)
        let skeleton = ServiceRouter(
            operations: OperationsController(database: database, migrations: migrations, metrics: metrics),
            credentials: credentials, rateLimit: rateLimit)
        let runner = try ReportRunner(database: database, reports: catalog)
        let thresholds = ThresholdsController(store: ThresholdStore(database: writes))
        let lookup = LookupController(database: lookups ?? writes, pseudonymizer: pseudonymizer)
        let steward = StewardController(database: database, writes: writes)
        let procurement = ProcurementController(database: database, writes: writes)
        ReportsController(catalog: catalog, runner: runner).addRoutes(to: skeleton.api)
        thresholds.addRoutes(to: skeleton.api)
        lookup.addRoutes(to: skeleton.api)
        steward.addRoutes(to: skeleton.api)
        procurement.addRoutes(to: skeleton.api)
        let openAPI = try QueryAPIDocument.load(catalog: catalog)
        skeleton.router.get("openapi.yaml") { _, _ in
            var headers = HTTPFields()
            headers[.contentType] = "application/yaml; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: openAPI)))
        }
        Dashboard(catalog: catalog, runner: runner, database: database, accounts: AccountStore(database: accounts ?? writes),
                  credentials: credentials, thresholds: thresholds, lookup: lookup, steward: steward, procurement: procurement,
                  rateLimit: rateLimit, overTLS: servedOverTLS)
            .addRoutes(to: skeleton.router)
        return skeleton.router
    }
}
