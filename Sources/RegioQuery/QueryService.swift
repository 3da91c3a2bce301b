import Hummingbird
import Prometheus
import RegioCore
import RegioDB
import RegioHTTP

/// The query service: prebuilt reports and the dashboard, reading (ideally) from a replica.
public enum QueryService {
    /// - Parameters:
    ///   - database: where reports and tokens are read (a replica, as the read-only `regio_query`).
    ///   - writes: where what users change is written (the primary, as `regio_query_writer`).
    public static func buildRouter(
        database: Database, writes: Database, migrations: MigrationRunner, metrics: PrometheusCollectorRegistry,
        catalog: [ReportDefinition] = ReportCatalog.all
    ) throws -> Router<RegioRequestContext> {
        let skeleton = ServiceRouter(
            operations: OperationsController(database: database, migrations: migrations, metrics: metrics),
            credentials: CredentialStore(database: database))
        ReportsController(catalog: catalog, runner: try ReportRunner(database: database, reports: catalog))
            .addRoutes(to: skeleton.api)
        ThresholdsController(store: ThresholdStore(database: writes)).addRoutes(to: skeleton.api)
        return skeleton.router
    }
}
