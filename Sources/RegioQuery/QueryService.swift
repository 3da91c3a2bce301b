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
    ///   - pseudonymizer: the region secret's, for lookups by resident ID number; without it
    ///     those are unavailable.
    public static func buildRouter(
        database: Database, writes: Database, lookups: Database? = nil, pseudonymizer: Pseudonymizer? = nil,
        migrations: MigrationRunner, metrics: PrometheusCollectorRegistry,
        catalog: [ReportDefinition] = ReportCatalog.all
    ) throws -> Router<RegioRequestContext> {
        let skeleton = ServiceRouter(
            operations: OperationsController(database: database, migrations: migrations, metrics: metrics),
            credentials: CredentialStore(database: database))
        ReportsController(catalog: catalog, runner: try ReportRunner(database: database, reports: catalog))
            .addRoutes(to: skeleton.api)
        ThresholdsController(store: ThresholdStore(database: writes)).addRoutes(to: skeleton.api)
        LookupController(database: lookups ?? writes, pseudonymizer: pseudonymizer).addRoutes(to: skeleton.api)
        StewardController(database: database, writes: writes).addRoutes(to: skeleton.api)
        ProcurementController(database: database, writes: writes).addRoutes(to: skeleton.api)
        return skeleton.router
    }
}
