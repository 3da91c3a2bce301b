import Hummingbird
import Prometheus
import RegioDB
import RegioHTTP

/// The ingestion service: hospitals' nightly extracts come in here.
public enum IngestService {
    public static func buildRouter(
        database: Database, migrations: MigrationRunner, metrics: PrometheusCollectorRegistry
    ) throws -> Router<RegioRequestContext> {
        let skeleton = ServiceRouter(
            operations: OperationsController(database: database, migrations: migrations, metrics: metrics),
            credentials: CredentialStore(database: database))
        return skeleton.router
    }
}
