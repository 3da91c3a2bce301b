import Foundation
import Hummingbird
import RegioCore

/// How many requests one credential (a token, or a person's session) may make: `perMinute` on
/// average, in bursts of up to `burst`. A token bucket per caller, in this process.
public struct RateLimit: Sendable, Equatable {
    public var perMinute: Int
    public var burst: Int

    public init(perMinute: Int, burst: Int? = nil) {
        self.perMinute = perMinute
        self.burst = burst ?? max(perMinute / 4, 10)
    }
}

/// Refuses a caller over its rate with 429 and `Retry-After` (whole seconds until a request
/// would be allowed). Runs after authentication: the key is the credential or the person, so one
/// hospital's client gone wild slows only itself.
public struct RateLimitMiddleware: RouterMiddleware {
    public typealias Context = RegioRequestContext
    let buckets: RateBuckets

    public init(_ limit: RateLimit) {
        self.buckets = RateBuckets(limit)
    }

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        guard let identity = context.identity else { return try await next(request, context) }
        let key = identity.userID.map { "user \($0)" } ?? "token \(identity.tokenID)"
        if let wait = await buckets.take(key) {
            context.logger.warning("rate limited", metadata: ["caller": "\(key)"])
            throw Problem(status: .tooManyRequests, type: "rate-limited",
                          detail: "too many requests from this credential; try again in \(wait) s", retryAfter: wait)
        }
        return try await next(request, context)
    }
}

/// The token buckets, one per caller.
actor RateBuckets {
    let limit: RateLimit
    private var buckets: [String: (tokens: Double, at: ContinuousClock.Instant)] = [:]

    init(_ limit: RateLimit) { self.limit = limit }

    /// Takes one request from `key`'s bucket; nil when allowed, else the seconds to wait.
    func take(_ key: String) -> Int? {
        let now = ContinuousClock.now
        let rate = Double(limit.perMinute) / 60
        var bucket = buckets[key] ?? (Double(limit.burst), now)
        let elapsed = now - bucket.at
        let seconds = Double(elapsed.components.seconds) + Double(elapsed.components.attoseconds) / 1e18
        bucket = (min(Double(limit.burst), bucket.tokens + seconds * rate), now)
        defer {
            buckets[key] = bucket
            if buckets.count > 100_000 { buckets = buckets.filter { $0.value.tokens < Double(limit.burst) } }
        }
        guard bucket.tokens >= 1 else { return max(1, Int(((1 - bucket.tokens) / rate).rounded(.up))) }
        bucket.tokens -= 1
        return nil
    }
}
