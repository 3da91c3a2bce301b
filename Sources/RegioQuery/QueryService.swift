import Hummingbird
import Prometheus
import RegioCore
import RegioDB
import RegioHTTP

/// The query service: prebuilt reports and the dashboard, reading (ideally) from a replica.
public enum QueryService {
    public static func buildRouter(
        database: Database, migrations: MigrationRunner, metrics: PrometheusCollectorRegistry,
        catalog: [ReportDefinition] = ReportCatalog.all
    ) throws -> Router<RegioRequestContext> {
        let skeleton = ServiceRouter(
            operations: OperationsController(database: database, migrations: migrations, metrics: metrics),
            credentials: CredentialStore(database: database))
        ReportsController(catalog: catalog, runner: try ReportRunner(database: database, reports: catalog))
            .addRoutes(to: skeleton.api)
        ThresholdsController(store: ThresholdStore(database: database)).addRoutes(to: skeleton.api)
        return skeleton.router
    }
}
