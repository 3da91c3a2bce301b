import Foundation
import HummingbirdBcrypt
import Hummingbird
import NIOPosix
import RegioCore
import RegioDB
import RegioHTTP

/// Passwords of people's accounts: bcrypt, computed off the event loops.
public enum Passwords {
    /// bcrypt's cost (2^cost rounds): about a quarter of a second on one core.
    public static let cost: UInt8 = 12
    /// Shortest password accepted.
    public static let minimumLength = 10

    public static func hash(_ password: String, cost: UInt8 = cost) async throws -> String {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.hash(password, cost: cost) }
    }

    public static func verify(_ password: String, hash: String) async throws -> Bool {
        try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: hash) }
    }

    /// The work of a password check against nobody's password, for a username that is not an
    /// account: the answer then takes as long as for one that is.
    static func checkDecoy(_ password: String) async throws {
        _ = try await NIOThreadPool.singleton.runIfActive { Bcrypt.verify(password, hash: decoy) }
    }

    private static let decoy = Bcrypt.hash(AccessToken.generate(), cost: cost)

    /// Why a new password is refused, or nil.
    public static func problem(with password: String, username: String) -> String? {
        if password.count < minimumLength { return "a password has at least \(minimumLength) characters" }
        if password.lowercased().contains(username.lowercased()) { return "a password must not contain the username" }
        if Set(password).count < 4 { return "a password needs at least 4 different characters" }
        return nil
    }

    /// A random password for a new account or a reset: 16 characters without look-alikes.
    public static func generate() -> String {
        let alphabet = Array("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789")
        var generator = SystemRandomNumberGenerator()
        return String((0..<16).map { _ in alphabet.randomElement(using: &generator)! })
    }
}

/// The dashboard's cookies: the session (HttpOnly, SameSite=Strict, Secure when served over TLS),
/// the CSRF token of the sign-in form (before there is a session), and the language.
enum WebCookies {
    static let session = "regio_session"
    static let signInCSRF = "regio_signin_csrf"
    static let language = "regio_lang"

    static func make(_ name: String, _ value: String, secure: Bool, maxAge: Int? = nil) -> Cookie {
        Cookie(name: name, value: value, maxAge: maxAge, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    static func cleared(_ name: String, secure: Bool) -> Cookie {
        Cookie(name: name, value: "", maxAge: 0, path: "/", secure: secure, httpOnly: true, sameSite: .strict)
    }

    /// Whether the request arrived over TLS: the service's own (`overTLS`; an HTTP/1 request
    /// carries no scheme of its own) or the documented proxy's.
    static func isSecure(_ request: Request, overTLS: Bool) -> Bool {
        overTLS || request.headers[.init("X-Forwarded-Proto")!] == "https"
    }
}

/// Resolves the session cookie of a page request to the signed-in person. Pages that need one
/// redirect to the sign-in page without it (`PageContext.require`).
struct WebSessionMiddleware: RouterMiddleware {
    typealias Context = RegioRequestContext
    let accounts: AccountStore

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var context = context
        if let cookie = request.cookies[WebCookies.session]?.value, !cookie.isEmpty,
           let session = try await accounts.session(cookie: cookie) {
            context.session = session
            context.identity = session.identity
            context.logger[metadataKey: "user"] = "\(session.identity.userID ?? 0)"
        }
        return try await next(request, context)
    }
}

/// Slows down guessing from one address: after `limit` failed sign-ins within `window`, further
/// attempts from it are refused (429) until the window has passed. Accounts lock on their own
/// (`AccountStore.recordFailure`); this covers guessing across many accounts.
actor SignInThrottle {
    let limit: Int
    let window: Duration
    private var failures: [String: [ContinuousClock.Instant]] = [:]

    init(limit: Int = 20, window: Duration = .seconds(600)) {
        self.limit = limit
        self.window = window
    }

    /// How long the address must wait, or nil when it may try.
    func wait(for address: String) -> Duration? {
        let now = ContinuousClock.now
        let recent = (failures[address] ?? []).filter { now - $0 < window }
        failures[address] = recent
        guard recent.count >= limit, let oldest = recent.first else { return nil }
        return window - (now - oldest)
    }

    func failed(_ address: String) {
        failures[address, default: []].append(.now)
        if failures.count > 10_000 { failures = failures.filter { !$0.value.isEmpty } }
    }
}
