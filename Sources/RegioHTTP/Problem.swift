import Foundation
import HTTPTypes
import Hummingbird

/// An error answered as an RFC 9457 problem document (`application/problem+json`):
/// `{"type", "title", "status", "detail"}` plus optional extra members.
public struct Problem: HTTPResponseError, Sendable {
    public var status: HTTPResponse.Status
    public var type: String
    public var detail: String
    public var extra: [String: String]

    public init(status: HTTPResponse.Status, type: String, detail: String, extra: [String: String] = [:]) {
        self.status = status
        self.type = type
        self.detail = detail
        self.extra = extra
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
        } catch {
            context.logger.error("request failed", metadata: ["error": "\(String(reflecting: error))"])
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
