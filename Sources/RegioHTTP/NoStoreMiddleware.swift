import Hummingbird

/// `Cache-Control: no-store` on every answer of the routes it guards, errors included: patient data
/// must not stay in a browser's or a proxy's cache. It guards all of `/v1` on both services.
public struct NoStoreMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[.cacheControl] = "no-store"
            return response
        } catch let error as any HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers[.cacheControl] = "no-store"
            return response
        }
    }
}
