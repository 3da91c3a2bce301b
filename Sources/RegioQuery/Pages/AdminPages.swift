import Foundation
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// The administrators' pages: `GET/POST /admin/users` (people's accounts: add, disable, enable,
/// reset a password — written through the accounts connection, audited), `GET /admin/tokens`
/// (API credentials; issued and revoked with `regio token`), and `GET /admin/thresholds` with
/// `POST /admin/thresholds/{kind}/{indicator}` (the bureau's and admins' thresholds, through the
/// thresholds API's handler).
struct AdminPages: Sendable {
    let accounts: AccountStore
    let credentials: CredentialStore
    let thresholds: ThresholdsController

    func addRoutes(to router: some RouterMethods<RegioRequestContext>) {
        router.get("admin/users", use: users)
        router.post("admin/users", use: addUser)
        router.post("admin/users/{username}", use: changeUser)
        router.get("admin/tokens", use: tokens)
        router.get("admin/thresholds", use: thresholdList)
        router.post("admin/thresholds/{kind}/{indicator}", use: changeThreshold)
    }

    static func actor(_ page: PageContext) -> String { "user:\(page.identity.label)" }

    @Sendable func users(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.admin])
        return try await usersPage(page, notice: nil, error: nil)
    }

    func usersPage(_ page: PageContext, notice: String?, error: String?, status: HTTPResponse.Status = .ok) async throws -> Response {
        let list = try await accounts.list()
        let rows = list.map { user -> HTML in
            let state = user.disabledAt != nil ? page.t("已停用", "disabled") : user.lockedUntil != nil ? page.t("已锁定", "locked") : page.t("启用", "enabled")
            let toggle = user.disabledAt == nil ? ("disable", page.t("停用", "Disable")) : ("enable", page.t("启用", "Enable"))
            return """
                <tr><td>\(user.username)</td><td>\(user.displayName)</td><td>\(Layout.roleName(user.role, page))</td><td>\(user.scope ?? "")</td>
                <td>\(state)</td><td>\(user.lastSignInAt.map(Self.format) ?? "")</td>
                <td><form method="post" action="/admin/users/\(user.username)">\(page.csrfField)
                <button name="action" value="\(toggle.0)">\(toggle.1)</button>
                <button name="action" value="reset">\(page.t("重置密码", "Reset password"))</button></form></td></tr>
                """
        }
        let roleOptions = Role.allCases.map { "<option value=\"\($0.rawValue)\">\(Layout.roleName($0, page))</option>" as HTML }
        let body: HTML = """
            \(notice.map { "<p class=\"notice\" role=\"status\">\($0)</p>" as HTML } ?? .empty)
            \(error.map { "<p class=\"error\" role=\"alert\">\($0)</p>" as HTML } ?? .empty)
            <div class="table-wrap"><table><thead><tr><th scope="col">\(page.t("用户名", "Username"))</th><th scope="col">\(page.t("姓名", "Name"))</th>
            <th scope="col">\(page.t("角色", "Role"))</th><th scope="col">\(page.t("机构或联盟", "Facility or alliance"))</th>
            <th scope="col">\(page.t("状态", "State"))</th><th scope="col">\(page.t("最近登录", "Last sign-in"))</th><th scope="col">\(page.t("操作", "Actions"))</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            <h2>\(page.t("新增用户", "Add a user"))</h2>
            <form class="filters" method="post" action="/admin/users">\(page.csrfField)
            <label>\(page.t("用户名", "Username"))<input name="username" required pattern="[a-z0-9][a-z0-9._\\-]{1,63}"></label>
            <label>\(page.t("姓名", "Name"))<input name="display_name" required maxlength="100"></label>
            <label>\(page.t("角色", "Role"))<select name="role">\(roleOptions)</select></label>
            <label>\(page.t("机构或联盟代码", "Facility or alliance code"))<input name="scope" maxlength="32"></label>
            <button type="submit">\(page.t("新增（生成初始密码）", "Add (with a generated password)"))</button></form>
            """
        return page.render(title: page.t("用户", "Users"), body, status: status)
    }

    @Sendable func addUser(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.admin])
        let form = try await FormFields(request, context: context)
        try form.checkCSRF(page)
        guard let role = form.text("role").flatMap(Role.init(rawValue:)) else {
            return try await usersPage(page, notice: nil, error: page.t("请选择角色。", "Choose a role."), status: .badRequest)
        }
        let username = (form.text("username") ?? "").lowercased()
        let password = Passwords.generate()
        do {
            _ = try await accounts.add(username: username, displayName: form.text("display_name") ?? username, role: role,
                                       scope: role.scopeKind == nil ? nil : form.text("scope"),
                                       passwordHash: try await Passwords.hash(password), actor: Self.actor(page))
        } catch let error as RegistryError {
            return try await usersPage(page, notice: nil, error: error.message, status: .badRequest)
        }
        return try await usersPage(page, notice: page.t("已新增 \(username)，初始密码：\(password)（仅显示一次，请安全转交）",
                                                        "Added \(username); initial password: \(password) (shown once: hand it over safely)"),
                                   error: nil)
    }

    @Sendable func changeUser(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.admin])
        let form = try await FormFields(request, context: context)
        try form.checkCSRF(page)
        let username = try context.parameters.require("username")
        do {
            switch form.text("action") {
            case "disable":
                guard username != page.identity.label else {
                    return try await usersPage(page, notice: nil, error: page.t("不能停用自己的账户。", "You cannot disable your own account."),
                                               status: .badRequest)
                }
                try await accounts.setDisabled(username: username, true, actor: Self.actor(page))
                return try await usersPage(page, notice: page.t("已停用 \(username)。", "Disabled \(username)."), error: nil)
            case "enable":
                try await accounts.setDisabled(username: username, false, actor: Self.actor(page))
                return try await usersPage(page, notice: page.t("已启用 \(username)。", "Enabled \(username)."), error: nil)
            case "reset":
                let password = Passwords.generate()
                try await accounts.resetPassword(username: username, passwordHash: try await Passwords.hash(password), actor: Self.actor(page))
                return try await usersPage(page, notice: page.t("\(username) 的新密码：\(password)（仅显示一次）",
                                                                "\(username)'s new password: \(password) (shown once)"), error: nil)
            default:
                throw Problem.badRequest("action is disable, enable or reset")
            }
        } catch let error as RegistryError {
            throw Problem.notFound(error.message)
        }
    }

    @Sendable func tokens(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.admin])
        struct Token: Encodable { var id: Int64; var role: String; var scope: String?; var label: String; var created: String
                                  var expires: String?; var revoked: String? }
        let list = try await credentials.list().map {
            Token(id: $0.id, role: $0.role.rawValue, scope: $0.scope, label: $0.label, created: Self.format($0.createdAt),
                  expires: $0.expiresAt.map(Self.format), revoked: $0.revokedAt.map(Self.format))
        }
        let c = PageTables.Column.init
        let body: HTML = """
            <p class="muted">\(page.t("API 客户端的令牌；用 regio token issue / revoke 签发与吊销。令牌本身只在签发时显示一次。",
                                      "API clients' tokens; issue and revoke them with regio token issue / revoke. A token is shown only once, when issued."))</p>
            \(try PageTables.table(list, columns: [c("id", "编号", "Id"), c("role", "角色", "Role"), c("scope", "机构或联盟", "Facility or alliance"),
                                                   c("label", "用途", "Label"), c("created", "签发", "Issued"), c("expires", "到期", "Expires"),
                                                   c("revoked", "吊销", "Revoked")], page: page))
            """
        return page.render(title: page.t("令牌", "Tokens"), body)
    }

    @Sendable func thresholdList(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.bureau, .admin])
        let list = try await thresholds.list(request, context: context).thresholds
        let notice: HTML = request.uri.queryParameters.get("changed").map {
            "<p class=\"notice\" role=\"status\">\(page.t("已更新 \($0)。", "Updated \($0)."))</p>"
        } ?? .empty
        let rows = list.map { threshold -> HTML in
            """
            <tr><td>\(threshold.kind.rawValue)</td><td>\(threshold.indicator)</td><td>\(threshold.description)</td>
            <td><form method="post" action="/admin/thresholds/\(threshold.kind.rawValue)/\(threshold.indicator)">\(page.csrfField)
            <select name="comparator" aria-label="\(page.t("比较", "Comparator"))">
            <option value="&gt;"\(HTML(trusted: threshold.comparator == ">" ? " selected" : ""))>&gt;</option>
            <option value="&lt;"\(HTML(trusted: threshold.comparator == "<" ? " selected" : ""))>&lt;</option></select>
            <input name="threshold" type="number" step="any" value="\("\(threshold.threshold)")" aria-label="\(page.t("阈值", "Threshold"))" required>
            \(threshold.unit) <button type="submit">\(page.t("保存", "Save"))</button></form></td></tr>
            """
        }
        let body: HTML = """
            \(notice)<p class="muted">\(page.t("预警与数据质量规则的阈值；每次修改都会记录审计。", "Thresholds of the alert and data-quality rules; every change is audited."))</p>
            <div class="table-wrap"><table><thead><tr><th scope="col">\(page.t("类别", "Kind"))</th><th scope="col">\(page.t("指标", "Indicator"))</th>
            <th scope="col">\(page.t("说明", "Description"))</th><th scope="col">\(page.t("阈值", "Threshold"))</th></tr></thead>
            <tbody>\(rows)</tbody></table></div>
            """
        return page.render(title: page.t("预警阈值", "Thresholds"), body)
    }

    @Sendable func changeThreshold(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.bureau, .admin])
        let form = try await FormFields(request, context: context)
        try form.checkCSRF(page)
        guard let value = form.text("threshold").flatMap({ Decimal(string: $0) }) else { throw Problem.badRequest("the threshold is a number") }
        struct Change: Encodable { var threshold: Decimal; var comparator: String? }
        let (kind, indicator) = (try context.parameters.require("kind"), try context.parameters.require("indicator"))
        _ = try await thresholds.update(try PageTables.jsonRequest(Change(threshold: value, comparator: form.text("comparator")),
                                                                   path: "/v1/admin/thresholds/\(kind)/\(indicator)"),
                                        context: context)
        return SignInController.redirect(to: "/admin/thresholds?changed=\(HTML.percentEncode(indicator))")
    }

    static func format(_ date: Date) -> String {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        formatter.dateFormat = "yyyy-MM-dd HH:mm"
        return formatter.string(from: date)
    }
}
