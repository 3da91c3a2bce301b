import Hummingbird
import RegioCore

/// Request context of both services: Hummingbird's core storage plus the caller, once the
/// bearer token has been checked.
public struct RegioRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `BearerAuthMiddleware` for every route under `/v1`.
    public var identity: Identity?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.identity = nil
    }

    /// The authenticated caller; routes behind the auth middleware can rely on it.
    public func caller() throws -> Identity {
        guard let identity else { throw Problem.unauthorized("a bearer token is required") }
        return identity
    }

    /// The caller, if their role is one of `roles`; otherwise 403.
    public func caller(in roles: Set<Role>) throws -> Identity {
        let identity = try caller()
        guard roles.contains(identity.role) else {
            let allowed = roles.map(\.rawValue).sorted().joined(separator: ", ")
            throw Problem.forbidden("role \(identity.role.rawValue) may not do this (allowed: \(allowed))")
        }
        return identity
    }
}
