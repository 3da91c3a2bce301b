import Foundation
import Hummingbird
import Prometheus
import RegioDB

/// `/health` (the process answers), `/ready` (the database answers and every migration is
/// applied), `/metrics` (Prometheus text format). None of them needs a token.
public struct OperationsController: Sendable {
    let database: Database
    let migrations: MigrationRunner
    let metrics: PrometheusCollectorRegistry

    public init(database: Database, migrations: MigrationRunner, metrics: PrometheusCollectorRegistry) {
        self.database = database
        self.migrations = migrations
        self.metrics = metrics
    }

    struct Status: ResponseEncodable {
        var status: String
        var detail: String?
    }

    public func addRoutes(to router: Router<RegioRequestContext>) {
        router.get("health") { _, _ in Status(status: "ok") }
        router.get("ready") { _, context -> EditedResponse<Status> in
            do {
                guard try await migrations.isCurrent(on: database) else {
                    return EditedResponse(status: .serviceUnavailable, response: Status(status: "unavailable", detail: "migrations are pending; run `regio migrate`"))
                }
                return EditedResponse(status: .ok, response: Status(status: "ready"))
            } catch {
                context.logger.warning("readiness check failed", metadata: ["error": "\(Database.logDescription(of: error))"])
                return EditedResponse(status: .serviceUnavailable, response: Status(status: "unavailable", detail: "database unreachable"))
            }
        }
        router.get("metrics") { _, _ -> Response in
            var headers = HTTPFields()
            headers[.contentType] = "text/plain; version=0.0.4; charset=utf-8"
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: metrics.emitToBuffer())))
        }
    }
}
