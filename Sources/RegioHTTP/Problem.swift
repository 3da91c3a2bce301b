import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import RegioCore
import RegioDB

/// An error answered as an RFC 9457 problem document (`application/problem+json`):
/// `{"type", "title", "status", "detail"}` plus optional extra members.
public struct Problem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var type: String
    public var detail: String
    public var extra: [String: String]
    /// Sent as `Retry-After` (seconds): when to try again.
    public var retryAfter: Int?

    public init(status: HTTPResponse.Status, type: String, detail: String, extra: [String: String] = [:], retryAfter: Int? = nil) {
        self.status = status
        self.type = type
        self.detail = detail
        self.extra = extra
        self.retryAfter = retryAfter
    }

    /// The database is gone for the moment (stopped, restarting, unreachable): try again soon.
    public static func databaseUnavailable(requestID: String) -> Problem {
        Problem(status: .serviceUnavailable, type: "database-unavailable",
                detail: "the database cannot be reached at the moment; nothing was changed by this request unless it said so — try again (request id \(requestID))",
                retryAfter: 5)
    }

    /// A read that waited `BatchCommitBarrier.readerWait` for a batch's commit.
    public static func batchCommitting(requestID: String) -> Problem {
        Problem(status: .serviceUnavailable, type: "batch-committing",
                detail: "a night's upload is being committed and reads wait for it to be whole; try again (request id \(requestID))",
                retryAfter: 5)
    }

    /// A read of patient-level data whose audit row could not be written: nothing is answered.
    public static func readNotAudited(requestID: String) -> Problem {
        Problem(status: .serviceUnavailable, type: "not-audited",
                detail: "the read could not be audited, so nothing is shown; quote request id \(requestID) when reporting it")
    }

    /// Audits a read of patient-level data before it happens (`AuditLog.recordRead`); when the
    /// audit row cannot be written, fails closed with 503.
    public static func auditingRead(_ caller: Identity, action: String, subject: String?, detail: [String: String] = [:],
                                    on database: Database, context: some RequestContext) async throws {
        do {
            try await AuditLog.recordRead(actor: caller.userID == nil ? "\(caller.role.rawValue):\(caller.label)" : "user:\(caller.label)",
                                          action: action, subject: subject, detail: detail, on: database)
        } catch {
            context.logger.error("read not audited", metadata: ["action": "\(action)", "error": "\(Database.logDescription(of: error))"])
            throw readNotAudited(requestID: context.id)
        }
    }

    /// Whether an error means the database could not be reached or went away mid-request, rather
    /// than refused what was asked: no connection, a connection lost, the server shutting down.
    public static func isDatabaseUnavailable(_ error: any Error) -> Bool {
        if error is DatabaseUnavailable { return true }
        guard let error = error as? PSQLError else { return false }
        switch error.code {
        case .connectionError, .serverClosedConnection, .clientClosedConnection, .poolClosed: return true
        default: break
        }
        // Class 08 (connection exception), 57P01–57P03 (the server shutting down, crashed, starting).
        guard let state = error.serverInfo?[.sqlState] else { return false }
        return state.hasPrefix("08") || ["57P01", "57P02", "57P03"].contains(state)
    }

    public static func badRequest(_ detail: String, type: String = "bad-request") -> Problem {
        Problem(status: .badRequest, type: type, detail: detail)
    }
    public static func unauthorized(_ detail: String) -> Problem {
        Problem(status: .unauthorized, type: "unauthorized", detail: detail)
    }
    public static func forbidden(_ detail: String) -> Problem {
        Problem(status: .forbidden, type: "forbidden", detail: detail)
    }
    public static func notFound(_ detail: String) -> Problem {
        Problem(status: .notFound, type: "not-found", detail: detail)
    }

    public func response(from request: Request, context: some RequestContext) throws -> Response {
        var body: [String: String] = extra
        body["type"] = "https://regio.example/problems/\(type)"
        body["title"] = status.reasonPhrase
        body["detail"] = detail
        var json = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        // `status` is a number in problem documents; splice it in rather than stringify it.
        json.removeLast()
        json.append(contentsOf: Array(",\"status\":\(status.code)}".utf8))
        var headers = HTTPFields()
        headers[.contentType] = "application/problem+json"
        if status == .unauthorized { headers[.wwwAuthenticate] = "Bearer realm=\"regio\"" }
        if let retryAfter { headers[.retryAfter] = String(retryAfter) }
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: json)))
    }
}

/// Turns every error that is not already an HTTP answer into a 500 problem, logged with the
/// request id, so a caller never sees a bare connection reset or an HTML page.
public struct ProblemMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            return try await next(request, context)
        } catch let error as Problem {
            throw error
        } catch let error as HTTPError {
            throw Problem(status: error.status, type: "http-\(error.status.code)", detail: error.body ?? error.status.reasonPhrase)
        } catch let error as any HTTPResponseError {
            throw error
        } catch where Problem.isDatabaseUnavailable(error) {
            context.logger.warning("database unavailable", metadata: ["error": "\(Database.logDescription(of: error))"])
            throw Problem.databaseUnavailable(requestID: context.id)
        } catch is BatchCommitting {
            context.logger.warning("read waited too long for a batch's commit")
            throw Problem.batchCommitting(requestID: context.id)
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(Database.logDescription(of: error))"])
            throw Problem(status: .internalServerError, type: "internal",
                          detail: "the server failed to answer; quote request id \(context.id) when reporting it")
        }
    }
}

/// Echoes the request id (also in every log line of the request) as `X-Request-ID`.
public struct RequestIDMiddleware<Context: RequestContext>: RouterMiddleware {
    public init() {}

    public func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        do {
            var response = try await next(request, context)
            response.headers[.requestID] = context.id
            return response
        } catch let error as any HTTPResponseError {
            var response = try error.response(from: request, context: context)
            response.headers[.requestID] = context.id
            return response
        }
    }
}

extension HTTPField.Name {
    public static let requestID = Self("X-Request-ID")!
}
