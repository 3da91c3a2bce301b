import Foundation
import HTTPTypes
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// The language a page is drawn in: Chinese unless the browser chose English (`/language/en`).
public enum PageLanguage: String, Sendable {
    case zh, en

    init(_ request: Request) {
        self = request.cookies[WebCookies.language]?.value == "en" ? .en : .zh
    }

    var chart: ChartLanguage { self == .en ? .en : .zh }
    var htmlCode: String { self == .en ? "en" : "zh-CN" }
}

/// What every page handler knows: who is signed in, in which language, and the request.
struct PageContext {
    let session: WebSession
    let language: PageLanguage
    let request: Request

    var identity: Identity { session.identity }

    /// The signed-in person, or a redirect to the sign-in page.
    static func require(_ request: Request, _ context: RegioRequestContext) throws -> PageContext {
        guard let session = context.session else { throw PageRedirect(to: "/sign-in") }
        return PageContext(session: session, language: PageLanguage(request), request: request)
    }

    /// The person, if their role is one of `roles`; otherwise 403.
    static func require(_ request: Request, _ context: RegioRequestContext, roles: Set<Role>) throws -> PageContext {
        let page = try require(request, context)
        guard roles.contains(page.identity.role) else {
            throw Problem.forbidden("role \(page.identity.role.rawValue) may not open this page")
        }
        return page
    }

    func t(_ zh: String, _ en: String) -> String { language == .en ? en : zh }

    /// A form's CSRF field.
    var csrfField: HTML { "<input type=\"hidden\" name=\"csrf\" value=\"\(session.csrfToken)\">" }

    /// The page's response: the shell (header, navigation for the role, language switch,
    /// sign-out) around `body`.
    func render(title: String, _ body: HTML, status: HTTPResponse.Status = .ok) -> Response {
        Layout.response(Layout.document(title: title, language: language, status: status, header: header, body: body), status: status)
    }

    var header: HTML {
        let links = Layout.navigation(for: identity.role).map { item -> HTML in
            let current = request.uri.path == item.path || (item.path != "/" && request.uri.path.hasPrefix(item.path + "/"))
            return "<li><a href=\"\(item.path)\"\(HTML(trusted: current ? " aria-current=\"page\"" : ""))>\(t(item.zh, item.en))</a></li>"
        }
        let scope = identity.facilityCode ?? identity.allianceCode
        let back = request.uri.path
        let other: (code: String, label: String) = language == .en ? ("zh", "中文") : ("en", "English")
        return """
            <header><a class="brand" href="/">Regio · \(t("区域卫生数据平台", "Regional health data"))</a>
            <nav aria-label="\(t("主导航", "Main"))"><ul>\(links)</ul></nav>
            <div class="who"><span>\(session.displayName) · \(Layout.roleName(identity.role, self))\(scope.map { " · \($0)" } ?? "")</span>
            <a href="/language/\(other.code)?back=\(HTML.percentEncode(back))" lang="\(other.code == "en" ? "en" : "zh-CN")">\(other.label)</a>
            <form method="post" action="/sign-out">\(csrfField)<button type="submit">\(t("退出", "Sign out"))</button></form></div>
            </header>
            """
    }
}

/// A page that needs the person to sign in (again) first.
struct PageRedirect: Error {
    var to: String
}

enum Layout {
    struct NavigationItem { var path: String; var zh: String; var en: String }

    static func navigation(for role: Role) -> [NavigationItem] {
        var items = [NavigationItem(path: "/", zh: "首页", en: "Home"), NavigationItem(path: "/reports", zh: "报表", en: "Reports")]
        switch role {
        case .facility:
            items += [NavigationItem(path: "/uploads", zh: "上传记录", en: "Uploads"),
                      NavigationItem(path: "/lookup", zh: "跨机构调阅", en: "Cross-facility lookup")]
        case .alliance:
            break
        case .bureau:
            items += [NavigationItem(path: "/uploads", zh: "上传记录", en: "Uploads"),
                      NavigationItem(path: "/admin/thresholds", zh: "预警阈值", en: "Thresholds")]
        case .steward:
            items += [NavigationItem(path: "/uploads", zh: "上传记录", en: "Uploads"),
                      NavigationItem(path: "/steward/reviews", zh: "患者关联审核", en: "Link reviews"),
                      NavigationItem(path: "/steward/codes", zh: "未映射编码", en: "Unmapped codes")]
        case .admin:
            items += [NavigationItem(path: "/uploads", zh: "上传记录", en: "Uploads"),
                      NavigationItem(path: "/admin/users", zh: "用户", en: "Users"),
                      NavigationItem(path: "/admin/tokens", zh: "令牌", en: "Tokens"),
                      NavigationItem(path: "/admin/thresholds", zh: "预警阈值", en: "Thresholds")]
        }
        return items
    }

    static func roleName(_ role: Role, _ page: PageContext) -> String {
        switch role {
        case .facility: page.t("医疗机构", "Facility")
        case .alliance: page.t("采购联盟", "Alliance")
        case .bureau: page.t("卫生健康委", "Health bureau")
        case .steward: page.t("数据管理员", "Data steward")
        case .admin: page.t("系统管理员", "Administrator")
        }
    }

    static func document(title: String, language: PageLanguage, status: HTTPResponse.Status, header: HTML, body: HTML) -> HTML {
        """
        <!DOCTYPE html>
        <html lang="\(language.htmlCode)">
        <head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(title) · Regio</title><link rel="icon" href="data:,"><link rel="stylesheet" href="/assets/regio.css"></head>
        <body data-status="\(Int(status.code))">\(header)
        <main id="main"><h1>\(title)</h1>
        \(body)
        </main></body></html>
        """
    }

    static func response(_ document: HTML, status: HTTPResponse.Status) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[.init("X-Content-Type-Options")!] = "nosniff"
        headers[.init("X-Frame-Options")!] = "DENY"
        headers[.init("Referrer-Policy")!] = "same-origin"
        headers[.init("Content-Security-Policy")!] =
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: document.text)))
    }

    /// A page for an error, with no navigation when nobody is signed in.
    static func errorPage(status: HTTPResponse.Status, message: String, page: PageContext?, language: PageLanguage) -> Response {
        let title = switch status {
        case .forbidden: language == .en ? "Not allowed" : "无权访问"
        case .notFound: language == .en ? "Not found" : "未找到"
        case .badRequest: language == .en ? "Check the request" : "请求有误"
        case .tooManyRequests: language == .en ? "Too many attempts" : "尝试次数过多"
        default: language == .en ? "Something went wrong" : "出错了"
        }
        let body: HTML = "<p class=\"error\" role=\"alert\">\(message)</p><p><a href=\"/\">\(language == .en ? "Back to the home page" : "返回首页")</a></p>"
        if let page { return page.render(title: title, body, status: status) }
        return response(document(title: title, language: language, status: status, header: "<header><a class=\"brand\" href=\"/\">Regio</a></header>", body: body),
                        status: status)
    }

    /// A number as pages show it: thousands separated, at most `decimals` decimals.
    /// The charts' formatting (`ChartNumber`), without trailing zeros: a table of thousands of
    /// cells formats each one, so no formatter object is made per value.
    static func number(_ value: Double, decimals: Int = 1) -> String {
        var text = ChartNumber.format(value, decimals: decimals)
        if text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        return text
    }

    static let stylesheet = """
        :root { --ink: #1d2733; --muted: #5a6675; --line: #d5dbe3; --accent: #0b5cad; --bad: #b3261e; --ok: #1b7f3b; --bg: #f6f8fa; }
        * { box-sizing: border-box; }
        body { margin: 0; font: 15px/1.5 system-ui, "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", sans-serif; color: var(--ink); background: var(--bg); }
        header { display: flex; flex-wrap: wrap; gap: .5rem 1.5rem; align-items: center; padding: .6rem 1.5rem; background: #fff; border-bottom: 1px solid var(--line); }
        header .brand { font-weight: 700; color: var(--ink); text-decoration: none; }
        nav ul { display: flex; flex-wrap: wrap; gap: .25rem 1rem; list-style: none; margin: 0; padding: 0; }
        nav a[aria-current] { font-weight: 700; text-decoration: underline; }
        .who { margin-left: auto; display: flex; gap: .75rem; align-items: center; color: var(--muted); }
        .who form { margin: 0; }
        main { max-width: 1200px; margin: 0 auto; padding: 1rem 1.5rem 3rem; }
        a { color: var(--accent); }
        h1 { font-size: 1.5rem; margin: .5rem 0 1rem; }
        h2 { font-size: 1.15rem; margin: 1.5rem 0 .5rem; }
        .cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 1rem; margin: 0 0 1.5rem; padding: 0; list-style: none; }
        .card { background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .8rem 1rem; }
        .card .figure { font-size: 1.7rem; font-weight: 700; display: block; }
        .card .note { color: var(--muted); font-size: .85rem; }
        .card.bad .figure { color: var(--bad); } .card.ok .figure { color: var(--ok); }
        form.filters { display: flex; flex-wrap: wrap; gap: .75rem 1rem; align-items: flex-end; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: .75rem 1rem; }
        form.filters label { display: flex; flex-direction: column; font-size: .85rem; color: var(--muted); }
        input, select, button, textarea { font: inherit; padding: .3rem .5rem; }
        button { cursor: pointer; }
        figure.chart { background: #fff; border: 1px solid var(--line); border-radius: 6px; margin: 1rem 0; padding: .75rem; overflow-x: auto; }
        figure.chart figcaption { color: var(--muted); font-size: .85rem; }
        .table-wrap { overflow-x: auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; }
        table { border-collapse: collapse; width: 100%; font-size: .9rem; }
        th, td { padding: .35rem .6rem; border-bottom: 1px solid var(--line); text-align: left; vertical-align: top; }
        th { background: #eef2f6; position: sticky; top: 0; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        dl.definition { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; font-size: .9rem; }
        dl.definition dt { font-weight: 600; }
        .error { color: var(--bad); font-weight: 600; }
        .notice { color: var(--ok); font-weight: 600; }
        .muted { color: var(--muted); }
        .side-by-side { display: grid; grid-template-columns: 1fr 1fr; gap: 1rem; }
        .sign-in { max-width: 360px; margin: 3rem auto; background: #fff; border: 1px solid var(--line); border-radius: 6px; padding: 1.5rem; }
        .sign-in label { display: block; margin: .5rem 0; } .sign-in input { width: 100%; }
        details { margin: .75rem 0; }
        """
}
