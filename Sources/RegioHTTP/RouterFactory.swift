import Hummingbird
import Prometheus
import RegioDB

/// The skeleton both services share: problem bodies, request ids, request logs and metrics for
/// every route; health, readiness and metrics in the open; everything under `/v1` behind a token,
/// never cached (`no-store`), and within each credential's rate limit.
public struct ServiceRouter {
    public let router: Router<RegioRequestContext>
    /// Mount each service's API here: the bearer middleware already guards it.
    public let api: RouterGroup<RegioRequestContext>

    /// - Parameter rateLimit: each credential's allowance on `/v1` (none when nil).
    public init(operations: OperationsController, credentials: CredentialStore, rateLimit: RateLimit? = nil) {
        let router = Router(context: RegioRequestContext.self)
        router.middlewares.add(RequestIDMiddleware())
        router.middlewares.add(LogRequestsMiddleware(.info))
        router.middlewares.add(MetricsMiddleware())
        router.middlewares.add(ProblemMiddleware())
        operations.addRoutes(to: router)
        var api = router.group("v1").add(middleware: NoStoreMiddleware()).add(middleware: BearerAuthMiddleware(credentials: credentials))
        if let rateLimit { api = api.add(middleware: RateLimitMiddleware(rateLimit)) }
        self.api = api
        api.get("whoami") { _, context in WhoAmI(try context.caller()) }
        self.router = router
    }
}
