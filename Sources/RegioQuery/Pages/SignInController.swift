import Foundation
import HTTPTypes
import Hummingbird
import Logging
import RegioCore
import RegioDB
import RegioHTTP

/// A submitted form (`application/x-www-form-urlencoded`, at most 64 KiB).
struct FormFields {
    var values: [String: String]

    init(_ request: Request, context: RegioRequestContext) async throws {
        let buffer = try await request.body.collect(upTo: 64 * 1024)
        values = [:]
        for pair in String(buffer: buffer).split(separator: "&") {
            let parts = pair.split(separator: "=", maxSplits: 1, omittingEmptySubsequences: false)
            let decode = { (text: Substring) in String(text).replacingOccurrences(of: "+", with: " ").removingPercentEncoding ?? "" }
            values[decode(parts[0])] = parts.count > 1 ? decode(parts[1]) : ""
        }
    }

    subscript(_ name: String) -> String? { values[name] }

    /// The field, trimmed; nil when missing or empty.
    func text(_ name: String) -> String? {
        let value = values[name]?.trimmingWhitespace() ?? ""
        return value.isEmpty ? nil : value
    }

    /// Refuses a form that does not carry the session's CSRF token.
    func checkCSRF(_ page: PageContext) throws {
        guard let token = values["csrf"], Self.constantTimeEqual(token, page.session.csrfToken) else {
            throw Problem.forbidden("the form does not carry your sign-in's CSRF token; reload the page and try again")
        }
    }

    static func constantTimeEqual(_ a: String, _ b: String) -> Bool {
        let (x, y) = (Array(a.utf8), Array(b.utf8))
        guard x.count == y.count else { return false }
        return zip(x, y).reduce(0) { $0 | ($1.0 ^ $1.1) } == 0
    }
}

/// `GET/POST /sign-in`, `POST /sign-out` and `GET /language/{zh|en}`.
///
/// The sign-in form is protected against cross-site submission by a double-submit token (a
/// cookie and a hidden field that must match) and SameSite=Strict cookies. A wrong password, an
/// unknown, disabled or locked account all get the same answer; each is audited, and the account
/// locks after the policy's number of failures in a row. An address that fails too often is
/// refused for a while (429).
struct SignInController: Sendable {
    let accounts: AccountStore
    let throttle: SignInThrottle
    /// Whether the service itself speaks TLS (`REGIO_TLS_CERT_FILE`).
    let overTLS: Bool

    func addRoutes(to router: some RouterMethods<RegioRequestContext>) {
        router.get("sign-in", use: form)
        router.post("sign-in", use: signIn)
        router.post("sign-out", use: signOut)
        router.get("language/{code}", use: language)
    }

    @Sendable func form(_ request: Request, context: RegioRequestContext) async throws -> Response {
        if context.session != nil { return Self.redirect(to: "/") }
        return signInPage(request: request, language: PageLanguage(request), error: nil)
    }

    @Sendable func signIn(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let language = PageLanguage(request)
        let form = try await FormFields(request, context: context)
        guard let cookieToken = request.cookies[WebCookies.signInCSRF]?.value, let fieldToken = form["csrf"],
              FormFields.constantTimeEqual(cookieToken, fieldToken) else {
            throw Problem.forbidden("the sign-in form expired or was not sent from this site; reload it and try again")
        }
        let address = Self.address(of: request, context: context)
        if let wait = await throttle.wait(for: address) {
            let seconds = Int(wait.components.seconds) + 1
            var response = signInPage(request: request, language: language, status: .tooManyRequests,
                                           error: language == .en ? "Too many failed sign-ins from this address; try again in \(seconds / 60 + 1) minutes."
                                                                  : "此地址登录失败次数过多，请 \(seconds / 60 + 1) 分钟后再试。")
            response.headers[.retryAfter] = String(seconds)
            return response
        }
        let username = (form.text("username") ?? "").lowercased()
        let password = form["password"] ?? ""
        let refused = language == .en ? "Wrong username or password, or the account is locked or disabled."
                                      : "用户名或密码错误，或账户已锁定或停用。"
        guard AccountStore.isValidUsername(username), !password.isEmpty, password.utf8.count <= 200 else {
            await throttle.failed(address)
            try await accounts.recordFailure(username: username.isEmpty ? "(empty)" : String(username.prefix(64)), reason: "malformed",
                                             address: address)
            return signInPage(request: request, language: language, status: .unauthorized, error: refused)
        }
        guard let candidate = try await accounts.candidate(username: username) else {
            // The same work as a real check, so that timing does not tell which usernames exist.
            try await Passwords.checkDecoy(password)
            await throttle.failed(address)
            try await accounts.recordFailure(username: username, reason: "unknown user", address: address)
            return signInPage(request: request, language: language, status: .unauthorized, error: refused)
        }
        if candidate.disabled || candidate.lockedUntil != nil {
            await throttle.failed(address)
            try await accounts.recordFailure(username: username, reason: candidate.disabled ? "disabled" : "locked", address: address)
            return signInPage(request: request, language: language, status: .unauthorized, error: refused)
        }
        guard try await Passwords.verify(password, hash: candidate.passwordHash) else {
            await throttle.failed(address)
            try await accounts.recordFailure(username: username, reason: "wrong password", address: address)
            return signInPage(request: request, language: language, status: .unauthorized, error: refused)
        }
        let (cookie, _) = try await accounts.startSession(userID: candidate.id, address: address)
        context.logger.info("signed in", metadata: ["user": "\(candidate.id)"])
        var response = Self.redirect(to: "/")
        let secure = WebCookies.isSecure(request, overTLS: overTLS)
        response.setCookie(WebCookies.make(WebCookies.session, cookie, secure: secure))
        response.setCookie(WebCookies.cleared(WebCookies.signInCSRF, secure: secure))
        return response
    }

    @Sendable func signOut(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context)
        let form = try await FormFields(request, context: context)
        try form.checkCSRF(page)
        if let cookie = request.cookies[WebCookies.session]?.value { try await accounts.endSession(cookie: cookie) }
        var response = Self.redirect(to: "/sign-in")
        response.setCookie(WebCookies.cleared(WebCookies.session, secure: WebCookies.isSecure(request, overTLS: overTLS)))
        return response
    }

    @Sendable func language(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let code = try context.parameters.require("code")
        guard let language = PageLanguage(rawValue: code) else { throw Problem.notFound("languages are zh and en") }
        let back = request.uri.queryParameters.get("back") ?? "/"
        // Only a path of this site: never another host.
        let target = back.hasPrefix("/") && !back.hasPrefix("//") && !back.contains("\\") ? back : "/"
        var response = Self.redirect(to: target)
        response.setCookie(WebCookies.make(WebCookies.language, language.rawValue, secure: WebCookies.isSecure(request, overTLS: overTLS),
                                           maxAge: 365 * 24 * 3600))
        return response
    }

    static func redirect(to path: String) -> Response {
        Response(status: .seeOther, headers: [.location: path, .cacheControl: "no-store"])
    }

    /// The peer's address, for throttling and the audit.
    static func address(of request: Request, context: RegioRequestContext) -> String {
        context.peerAddress ?? "unknown"
    }

    func signInPage(request: Request, language: PageLanguage, status: HTTPResponse.Status = .ok, error: String?) -> Response {
        let t = { (zh: String, en: String) in language == .en ? en : zh }
        let token = AccessToken.generate()
        let other: (code: String, label: String) = language == .en ? ("zh", "中文") : ("en", "English")
        let body: HTML = """
            <form class="sign-in" method="post" action="/sign-in">
            \(error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" as HTML } ?? .empty)
            <input type="hidden" name="csrf" value="\(token)">
            <label>\(t("用户名", "Username"))<input name="username" autocomplete="username" required maxlength="64" autofocus></label>
            <label>\(t("密码", "Password"))<input name="password" type="password" autocomplete="current-password" required maxlength="200"></label>
            <button type="submit">\(t("登录", "Sign in"))</button>
            <p class="muted">\(t("API 客户端请继续使用令牌（Authorization: Bearer）。", "API clients keep using bearer tokens (Authorization: Bearer)."))</p>
            <p><a href="/language/\(other.code)?back=/sign-in">\(other.label)</a></p>
            </form>
            """
        let header: HTML = "<header><a class=\"brand\" href=\"/sign-in\">Regio · \(t("区域卫生数据平台", "Regional health data"))</a></header>"
        var response = Layout.response(Layout.document(title: t("登录", "Sign in"), language: language, status: status, header: header, body: body),
                                       status: status)
        response.setCookie(WebCookies.make(WebCookies.signInCSRF, token, secure: WebCookies.isSecure(request, overTLS: overTLS), maxAge: 3600))
        return response
    }
}

/// Turns what page handlers throw into pages: a redirect to sign in, or an error page with the
/// status (403, 404, 400 …). Server errors are logged and shown without detail.
struct PageErrorMiddleware: RouterMiddleware {
    typealias Context = RegioRequestContext

    /// A 503 page asking to come back in five seconds.
    private static func retryLater(_ message: String, page: PageContext?, language: PageLanguage) -> Response {
        var response = Layout.errorPage(status: .serviceUnavailable, message: message, page: page, language: language)
        response.headers[.retryAfter] = "5"
        return response
    }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        let language = PageLanguage(request)
        let page = context.session.map { PageContext(session: $0, language: language, request: request) }
        do {
            return try await next(request, context)
        } catch let redirect as PageRedirect {
            return SignInController.redirect(to: redirect.to)
        } catch let problem as Problem {
            return Layout.errorPage(status: problem.status, message: problem.detail, page: page, language: language)
        } catch let error as HTTPError {
            return Layout.errorPage(status: error.status, message: error.body ?? "\(error.status.reasonPhrase)", page: page, language: language)
        } catch where Problem.isDatabaseUnavailable(error) {
            context.logger.warning("database unavailable", metadata: ["error": "\(Database.logDescription(of: error))"])
            return Self.retryLater(language == .en ? "The database cannot be reached at the moment; try again in a few seconds."
                                                   : "暂时无法连接数据库，请稍后重试。", page: page, language: language)
        } catch is BatchCommitting {
            context.logger.warning("read waited too long for a batch's commit")
            return Self.retryLater(language == .en ? "A night's upload is being committed; try again in a few seconds."
                                                   : "正在提交夜间上传的数据，请稍后重试。", page: page, language: language)
        } catch {
            context.logger.error("page failed", metadata: ["error": "\(Database.logDescription(of: error))"])
            return Layout.errorPage(status: .internalServerError,
                                    message: (language == .en ? "The page could not be built; quote request id " : "页面生成失败，请报告请求号 ") + "\(context.id)",
                                    page: page, language: language)
        }
    }
}
