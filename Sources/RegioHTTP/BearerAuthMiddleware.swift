import Foundation
import Hummingbird
import RegioCore
import RegioDB

/// Resolves `Authorization: Bearer <token>` to an identity: 401 without a token or with an
/// unknown, revoked or expired one. What the identity may then do is each route's decision.
public struct BearerAuthMiddleware: RouterMiddleware {
    public typealias Context = RegioRequestContext
    let credentials: CredentialStore

    public init(credentials: CredentialStore) {
        self.credentials = credentials
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let header = request.headers[.authorization] else {
            throw Problem.unauthorized("send the token as 'Authorization: Bearer <token>'")
        }
        let parts = header.split(separator: " ", maxSplits: 1)
        guard parts.count == 2, parts[0].lowercased() == "bearer" else {
            throw Problem.unauthorized("the Authorization header must be 'Bearer <token>'")
        }
        var context = context
        switch try await credentials.authenticate(token: String(parts[1]).trimmingCharacters(in: .whitespaces)) {
        case .valid(let identity):
            context.identity = identity
            context.logger[metadataKey: "credential"] = "\(identity.tokenID)"
        case .unknown: throw Problem.unauthorized("the token is not known")
        case .revoked: throw Problem.unauthorized("the token was revoked")
        case .expired: throw Problem.unauthorized("the token has expired")
        }
        return try await next(request, context)
    }
}
