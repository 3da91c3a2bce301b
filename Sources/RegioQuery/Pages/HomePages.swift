import Foundation
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// `GET /`: the few figures each role looks at first, each linking to the report behind it.
struct HomePages: Sendable {
    let reports: ReportPages
    let accounts: AccountStore
    let credentials: CredentialStore
    let steward: StewardController
    let procurement: ProcurementController

    func addRoutes(to router: some RouterMethods<RegioRequestContext>) {
        router.get("/", use: home)
    }

    struct Card {
        var title: String
        var figure: String
        var note: String
        var link: String
        var tone: String = ""
    }

    @Sendable func home(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context)
        var cards: [Card] = []
        var extra: HTML = .empty
        switch page.identity.role {
        case .bureau:
            (cards, extra) = try await bureau(page)
        case .alliance:
            cards = try await alliance(page)
        case .facility:
            (cards, extra) = try await facility(page)
        case .steward:
            cards = try await stewardCards(page, request: request, context: context)
        case .admin:
            cards = try await admin(page)
        }
        let list = cards.map { card -> HTML in
            """
            <li class="card \(card.tone)"><a href="\(card.link)">\(card.title)</a><span class="figure">\(card.figure)</span>
            <span class="note">\(card.note)</span></li>
            """
        }
        return page.render(title: page.t("首页", "Home"), "<ul class=\"cards\">\(list)</ul>\(extra)")
    }

    // MARK: The bureau

    func bureau(_ page: PageContext) async throws -> ([Card], HTML) {
        var cards: [Card] = []
        // Primary-care share of the latest month with visits, over the whole region.
        let share = try await run("primary-care-share", [("level", "county")], page)
        if let month = latestMonth(share.result) {
            let rows = rows(of: share.result, month: month)
            let primary = sum(rows, "primary_visits", share.result), all = sum(rows, "all_visits", share.result)
            let percent = all > 0 ? primary / all * 100 : 0
            cards.append(Card(title: page.t("基层诊疗量占比", "Primary-care share"), figure: "\(Layout.number(percent)) %",
                              note: page.t("\(month)，参考线 65 %", "\(month), reference line 65 %"),
                              link: "/reports/primary-care-share", tone: percent >= 65 ? "ok" : "bad"))
        }
        let referrals = try await run("referrals", [("level", "city")], page)
        if let month = latestMonth(referrals.result) {
            let rows = rows(of: referrals.result, month: month)
            let up = sum(rows, "up_referrals", referrals.result), down = sum(rows, "down_referrals", referrals.result)
            cards.append(Card(title: page.t("转诊平衡（上转 / 下转）", "Referral balance (up / down)"),
                              figure: "\(Layout.number(up, decimals: 0)) / \(Layout.number(down, decimals: 0))",
                              note: page.t("\(month)，下转占 \(Layout.number(up + down > 0 ? down / (up + down) * 100 : 0)) %",
                                           "\(month), down-referrals \(Layout.number(up + down > 0 ? down / (up + down) * 100 : 0)) %"),
                              link: "/reports/referrals", tone: down >= up ? "ok" : "bad"))
        }
        let alerts = try await run("alerts", [], page)
        cards.append(Card(title: page.t("未处理预警", "Open alerts"), figure: "\(alerts.result.rows.count)",
                          note: page.t("超出阈值的机构指标", "facility indicators beyond their threshold"), link: "/reports/alerts",
                          tone: alerts.result.rows.isEmpty ? "ok" : "bad"))
        let uploads = try await run("upload-history", [], page)
        if let night = uploads.result.rows.compactMap({ text($0, "business_date", uploads.result) }).max() {
            // A facility may have sent the night more than once: it counts once, as loaded if any batch was.
            let rows = uploads.result.rows.filter { text($0, "business_date", uploads.result) == night }
            let facilities = Set(rows.compactMap { text($0, "facility_code", uploads.result) })
            let loaded = Set(rows.filter { text($0, "status", uploads.result) == "loaded" }.compactMap { text($0, "facility_code", uploads.result) })
            let rate = facilities.isEmpty ? 0 : Double(loaded.count) / Double(facilities.count) * 100
            cards.append(Card(title: page.t("昨夜上报率", "Last night's reporting rate"), figure: "\(Layout.number(rate)) %",
                              note: page.t("\(night)：\(loaded.count) / \(facilities.count) 家机构已入库",
                                           "\(night): \(loaded.count) of \(facilities.count) facilities loaded"),
                              link: "/uploads", tone: rate >= 95 ? "ok" : "bad"))
        }
        var extra: HTML = .empty
        if let report = reports.catalog.first(where: { $0.id == "primary-care-share" }),
           let chart = ReportChart.svg(report: report, result: share.result, language: page.language.chart, idPrefix: "home-share",
                                       columnTitle: { page.t($0.titleZh, $0.titleEn) }) {
            extra = "<h2>\(page.t("各区县基层诊疗量占比", "Primary-care share by county"))</h2><figure class=\"chart\">\(HTML(trusted: chart))</figure>"
        }
        return (cards, extra)
    }

    // MARK: An alliance

    func alliance(_ page: PageContext) async throws -> [Card] {
        let outliers = try await run("price-outliers", [], page)
        let excess = sum(outliers.result.rows, "excess_cost", outliers.result)
        let completion = try await run("vbp-completion", [], page)
        let behind = completion.result.rows.filter { text($0, "on_track", completion.result) == "no" }.count
        let comparison = try await run("price-comparison", [], page)
        let members = Set(comparison.result.rows.compactMap { text($0, "member_code", comparison.result) }).count
        return [
            Card(title: page.t("价格比较", "Price comparison"), figure: "\(members)",
                 note: page.t("有采购记录的成员机构", "members with purchases"), link: "/reports/price-comparison"),
            Card(title: page.t("价格异常", "Price outliers"), figure: "\(outliers.result.rows.count)",
                 note: page.t("超支 \(Layout.number(excess, decimals: 0)) 元", "\(Layout.number(excess, decimals: 0)) yuan above reference"),
                 link: "/reports/price-outliers", tone: outliers.result.rows.isEmpty ? "ok" : "bad"),
            Card(title: page.t("约定采购量完成进度", "Agreed-volume completion"), figure: "\(behind) / \(completion.result.rows.count)",
                 note: page.t("进度落后的成员与产品", "member-products behind schedule"), link: "/reports/vbp-completion",
                 tone: behind == 0 ? "ok" : "bad"),
            Card(title: page.t("价格趋势", "Price trend"), figure: "→", note: page.t("按月的加权均价", "weighted price by month"),
                 link: "/reports/price-trend"),
        ]
    }

    // MARK: A facility

    func facility(_ page: PageContext) async throws -> ([Card], HTML) {
        let uploads = try await run("upload-history", [], page)
        let result = uploads.result
        let latest = result.rows.max { (text($0, "business_date", result) ?? "") < (text($1, "business_date", result) ?? "") }
        let rejected = sum(result.rows, "rejected", result)
        var cards = [
            Card(title: page.t("最近一次上传", "Latest upload"), figure: latest.flatMap { text($0, "status", result) } ?? "—",
                 note: latest.flatMap { text($0, "business_date", result) } ?? "", link: "/uploads",
                 tone: latest.flatMap { text($0, "status", result) } == "loaded" ? "ok" : "bad"),
            Card(title: page.t("近 30 天拒收行", "Rows rejected, 30 nights"), figure: Layout.number(rejected, decimals: 0),
                 note: page.t("点开批次查看每行错误", "open a batch for each row's error"), link: "/uploads", tone: rejected == 0 ? "ok" : "bad"),
            Card(title: page.t("跨机构调阅", "Cross-facility lookup"), figure: "🔍",
                 note: page.t("本院患者在其他机构的检查检验结果", "your patients' results at other facilities"), link: "/lookup"),
        ]
        let activity = try await run("activity", [], page)
        if let month = latestMonth(activity.result) {
            let rows = rows(of: activity.result, month: month)
            cards.append(Card(title: page.t("门急诊人次", "Outpatient + emergency visits"),
                              figure: Layout.number(sum(rows, "outpatient_emergency_visits", activity.result), decimals: 0),
                              note: month, link: "/reports/activity"))
        }
        return (cards, .empty)
    }

    // MARK: Stewards and admins

    func stewardCards(_ page: PageContext, request: Request, context: RegioRequestContext) async throws -> [Card] {
        // Only the number of open reviews: the queue itself (patient records) is an audited read on its page.
        let database = reports.database
        let open = try await database.withScope(.region) { connection in
            for try await count in try await connection.query("SELECT count(*)::int FROM emr.link_reviews WHERE decided_at IS NULL",
                                                              logger: database.logger).decode(Int.self) {
                return count
            }
            return 0
        }
        let exams = try await steward.unmapped(request, context: context)
        let items = try await procurement.unmapped(request, context: context)
        return [
            Card(title: page.t("待审核患者关联", "Open link reviews"), figure: "\(open)",
                 note: page.t("概率匹配的待定区间", "probabilistic matches in the review band"), link: "/steward/reviews",
                 tone: open == 0 ? "ok" : "bad"),
            Card(title: page.t("未映射检查编码", "Unmapped exam codes"), figure: "\(exams.codes.count)",
                 note: page.t("未对应区域标准编码", "with no regional standard code"), link: "/steward/codes",
                 tone: exams.codes.isEmpty ? "ok" : "bad"),
            Card(title: page.t("未映射药品耗材编码", "Unmapped item codes"), figure: "\(items.items.count)",
                 note: page.t("医院自编码未对应国家编码", "local codes with no national code"), link: "/steward/codes",
                 tone: items.items.isEmpty ? "ok" : "bad"),
        ]
    }

    func admin(_ page: PageContext) async throws -> [Card] {
        let users = try await accounts.list()
        let tokens = try await credentials.list().filter { $0.revokedAt == nil && ($0.expiresAt ?? .distantFuture) > Date() }
        let locked = users.filter { $0.lockedUntil != nil }.count
        return [
            Card(title: page.t("用户", "Users"), figure: "\(users.filter { $0.disabledAt == nil }.count)",
                 note: page.t("启用中；\(locked) 个已锁定", "enabled; \(locked) locked"), link: "/admin/users", tone: locked == 0 ? "" : "bad"),
            Card(title: page.t("有效令牌", "Active tokens"), figure: "\(tokens.count)", note: page.t("API 客户端", "API clients"),
                 link: "/admin/tokens"),
            Card(title: page.t("预警阈值", "Thresholds"), figure: "⚙", note: page.t("预警与数据质量规则", "alert and data-quality rules"),
                 link: "/admin/thresholds"),
        ]
    }

    // MARK: Helpers

    func run(_ id: String, _ filters: [(String, String)], _ page: PageContext) async throws -> ReportPages.Run {
        guard let report = reports.catalog.first(where: { $0.id == id }) else { throw Problem.notFound("no report \(id)") }
        return try await reports.execute(report, filters: filters, caller: page.identity)
    }

    func column(_ name: String, _ result: ReportResult) -> Int? { result.columns.firstIndex { $0.name == name } }

    func text(_ row: [ReportValue], _ name: String, _ result: ReportResult) -> String? {
        guard let index = column(name, result) else { return nil }
        if case .text(let value) = row[index] { return value }
        return nil
    }

    func number(_ row: [ReportValue], _ name: String, _ result: ReportResult) -> Double {
        guard let index = column(name, result) else { return 0 }
        switch row[index] {
        case .integer(let value): return Double(value)
        case .decimal(let value): return NSDecimalNumber(decimal: value).doubleValue
        default: return 0
        }
    }

    func sum(_ rows: [[ReportValue]], _ name: String, _ result: ReportResult) -> Double {
        rows.reduce(0) { $0 + number($1, name, result) }
    }

    /// The latest month of a monthly report that has rows with activity.
    func latestMonth(_ result: ReportResult) -> String? {
        result.rows.compactMap { text($0, "month", result) }.max()
    }

    func rows(of result: ReportResult, month: String) -> [[ReportValue]] {
        result.rows.filter { text($0, "month", result) == month }
    }
}
