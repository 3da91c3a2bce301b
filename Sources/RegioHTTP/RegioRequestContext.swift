import Hummingbird
import RegioCore
import RegioDB

/// Request context of both services: Hummingbird's core storage plus the caller, once the
/// bearer token (API) or the session cookie (pages) has been checked.
public struct RegioRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// Set by `BearerAuthMiddleware` for every route under `/v1`.
    public var identity: Identity?
    /// Set for dashboard pages when the browser's session cookie names an open session.
    public var session: WebSession?

    /// The peer's IP address (the proxy's, behind one), for sign-in throttling and its audit.
    public let peerAddress: String?

    public init(source: Source) {
        self.coreContext = .init(source: source)
        self.peerAddress = source.channel.remoteAddress?.ipAddress
        self.identity = nil
        self.session = nil
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
