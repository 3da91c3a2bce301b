import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import RegioCore
import RegioDB
import RegioHTTP

/// `GET /reports` (the reports the person may run) and `GET /reports/{id}` (one report: its
/// filters, definition, chart and table; with `format=csv`, exactly that table as CSV). Every
/// catalog report gets its page from its definition alone.
struct ReportPages: Sendable {
    let catalog: [ReportDefinition]
    let runner: ReportRunner
    let database: Database
    /// Most rows one page shows (and its CSV carries).
    static let rowLimit = 5000

    func addRoutes(to router: some RouterMethods<RegioRequestContext>) {
        router.get("reports", use: list)
        router.get("reports/{id}", use: show)
    }

    @Sendable func list(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context)
        let items = catalog.filter { $0.roles.contains(page.identity.role) }.map { report -> HTML in
            "<li><a href=\"/reports/\(report.id)\">\(title(report, page))</a> <span class=\"muted\">\(page.t(report.titleEn, report.titleZh))</span></li>"
        }
        return page.render(title: page.t("报表", "Reports"), "<ul class=\"reports\">\(items)</ul>")
    }

    func title(_ report: ReportDefinition, _ page: PageContext) -> String { page.t(report.titleZh, report.titleEn) }

    @Sendable func show(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let id = try context.parameters.require("id")
        guard let report = catalog.first(where: { $0.id == id }) else { throw Problem.notFound("no report '\(id)'") }
        let page = try PageContext.require(request, context, roles: report.roles)
        let given = Self.filters(of: request, for: report)
        let run = try await execute(report, filters: given, caller: page.identity)
        if request.uri.queryParameters.get("format") == "csv" { return try csv(report, run) }

        let csvLink = "/reports/\(report.id)?" + HTML.query(given + [("format", "csv")])
        let chart = ReportChart.svg(report: report, result: run.result, language: page.language.chart, idPrefix: "chart-\(report.id)",
                                    columnTitle: { page.t($0.titleZh, $0.titleEn) })
        let options = try await FilterOptions.load(for: report, caller: page.identity, database: database)
        var body: HTML = """
            <p class="description">\(page.t(report.descriptionZh, report.description))</p>
            \(filterForm(report, given: given, options: options, page: page))
            """
        if let chart {
            body = "\(body)<figure class=\"chart\">\(HTML(trusted: chart))<figcaption>\(page.t("图：", "Chart: "))\(title(report, page))</figcaption></figure>"
        }
        body = """
            \(body)
            <p><a class="csv" href="\(csvLink)" download>\(page.t("下载 CSV（即下表）", "Download CSV (the table below)"))</a>
            \(run.truncated ? HTML("<span class=\"muted\">\(page.t("仅显示前 \(Self.rowLimit) 行，请缩小筛选范围。", "Only the first \(Self.rowLimit) rows are shown; narrow the filters."))</span>") : .empty)
            \(run.disclosure.map { HTML("<span class=\"muted\">\(page.t("小于 \($0) 的人数已隐藏（显示为 <\($0)）。", "Counts below \($0) are suppressed (shown as <\($0))."))</span>") } ?? .empty)</p>
            \(table(report, run.result, page: page))
            \(definition(report, page: page))
            """
        return page.render(title: title(report, page), body)
    }

    struct Run {
        var result: ReportResult
        var disclosure: Int?
        var truncated: Bool
    }

    /// The report as the caller may see it (`ReportsController.run`), cut at `rowLimit`.
    func execute(_ report: ReportDefinition, filters: [(String, String)], caller: Identity) async throws -> Run {
        var (_, result, threshold) = try await ReportsController.run(report, query: filters, caller: caller, publication: false,
                                                                     runner: runner)
        let truncated = result.rows.count > Self.rowLimit
        if truncated { result.rows = Array(result.rows.prefix(Self.rowLimit)) }
        return Run(result: result, disclosure: threshold, truncated: truncated)
    }

    /// The request's filters that name a parameter of the report and are not empty (a form sends
    /// its empty fields too).
    static func filters(of request: Request, for report: ReportDefinition) -> [(String, String)] {
        request.uri.queryParameters.compactMap { item -> (String, String)? in
            let (name, value) = (String(item.key), String(item.value).trimmingWhitespace())
            guard !value.isEmpty, report.parameters.contains(where: { $0.name == name }) else { return nil }
            return (name, value)
        }
    }

    /// The page's rows as the API's CSV.
    func csv(_ report: ReportDefinition, _ run: Run) throws -> Response {
        var response = try OutputFormat.csv.render(report: report, parameters: [:], result: run.result,
                                                   disclosure: run.disclosure.map(Disclosure.init(threshold:)))
        response.headers[.cacheControl] = "no-store"
        return response
    }

    /// The report's filters as a GET form, submitted to `action` (the report's own page unless given).
    func filterForm(_ report: ReportDefinition, given: [(String, String)], options: FilterOptions, page: PageContext,
                    action: String? = nil) -> HTML {
        let fields = report.parameters.map { parameter -> HTML in
            let value = given.first { $0.0 == parameter.name }?.1 ?? ""
            let label = page.t(parameter.labelZh, parameter.labelEn)
            let help = page.t(parameter.descriptionZh, parameter.description)
            let control: HTML
            if let choices = options.choices(for: parameter, page: page) {
                let items = choices.map { choice -> HTML in
                    "<option value=\"\(choice.value)\"\(HTML(trusted: choice.value == value ? " selected" : ""))>\(choice.label)</option>"
                }
                control = "<select name=\"\(parameter.name)\"><option value=\"\">\(page.t("（默认）", "(default)"))</option>\(items)</select>"
            } else {
                let type = switch parameter.kind {
                case .month: "month"
                case .date: "date"
                case .integer, .percent: "number"
                default: "text"
                }
                control = "<input type=\"\(type)\" name=\"\(parameter.name)\" value=\"\(value)\"\(HTML(trusted: parameter.kind == .percent ? " step=\"any\" min=\"0\"" : ""))>"
            }
            return "<label title=\"\(help)\">\(label)\(control)</label>"
        }
        return """
            <form class="filters" method="get" action="\(action ?? "/reports/\(report.id)")" aria-label="\(page.t("筛选", "Filters"))">
            \(fields)<button type="submit">\(page.t("查询", "Apply"))</button></form>
            """
    }

    /// The table of a run; `link` may turn a cell into a link (its target, or nil).
    func table(_ report: ReportDefinition, _ result: ReportResult, page: PageContext,
               link: (ReportColumn, ReportValue) -> String? = { _, _ in nil }) -> HTML {
        let head = result.columns.map { column -> HTML in
            let unit = page.language == .en ? column.unit : column.unitZh
            return "<th scope=\"col\" title=\"\(page.t(column.definitionZh, column.definition))\">\(page.t(column.titleZh, column.titleEn))\(unit.map { " (\($0))" } ?? "")</th>"
        }
        let rows = result.rows.map { row -> HTML in
            let cells = zip(result.columns, row).map { column, value -> HTML in
                let numeric = column.type == .integer || column.type == .decimal
                let text = Self.display(value)
                let content: HTML = link(column, value).map { "<a href=\"\($0)\">\(text)</a>" } ?? "\(text)"
                return "<td\(HTML(trusted: numeric ? " class=\"num\"" : ""))>\(content)</td>"
            }
            return "<tr>\(cells)</tr>"
        }
        let empty: HTML = result.rows.isEmpty
            ? "<p class=\"muted\">\(page.t("所选条件下没有数据。", "No rows for these filters."))</p>" : .empty
        return """
            \(empty)<div class="table-wrap"><table class="report"\(HTML(trusted: result.rows.isEmpty ? " data-empty-ok" : ""))>
            <caption class="muted">\(page.t("共 \(result.rows.count) 行", "\(result.rows.count) rows"))</caption>
            <thead><tr>\(head)</tr></thead><tbody>\(rows)</tbody></table></div>
            """
    }

    /// The definition of every column, ratios with their numerator and denominator.
    func definition(_ report: ReportDefinition, page: PageContext) -> HTML {
        let items = report.columns.map { column -> HTML in
            var text = page.t(column.definitionZh, column.definition)
            if column.builtOn.count == 2, let numerator = report.columns.first(where: { $0.name == column.builtOn[0] }),
               let denominator = report.columns.first(where: { $0.name == column.builtOn[1] }) {
                text += page.t("（分子：\(numerator.titleZh)；分母：\(denominator.titleZh)）",
                               " (numerator: \(numerator.titleEn); denominator: \(denominator.titleEn))")
            }
            return "<dt>\(page.t(column.titleZh, column.titleEn))</dt><dd>\(text)</dd>"
        }
        return "<details><summary>\(page.t("指标定义", "Definitions"))</summary><dl class=\"definition\">\(items)</dl></details>"
    }

    static func display(_ value: ReportValue) -> String {
        switch value {
        case .null: ""
        case .text(let text): text
        case .integer(let number): Layout.number(Double(number), decimals: 0)
        case .decimal(let number): Layout.number(NSDecimalNumber(decimal: number).doubleValue, decimals: 2)
        }
    }
}

/// The choices a report's filters offer, within what the caller may see.
struct FilterOptions {
    struct Choice { var value: String; var label: String }
    var regions: [Choice] = []
    var facilities: [Choice] = []
    var alliances: [Choice] = []
    var items: [Choice] = []
    var groups: [Choice] = []

    static func load(for report: ReportDefinition, caller: Identity, database: Database) async throws -> FilterOptions {
        var options = FilterOptions()
        let kinds = Set(report.parameters.map(\.kind))
        func choices(_ query: PostgresQuery) async throws -> [Choice] {
            var result: [Choice] = []
            for try await (value, label) in try await database.query(query).decode((String, String).self) {
                result.append(Choice(value: value, label: label))
            }
            return result
        }
        if kinds.contains(.region) {
            options.regions = try await choices("""
                SELECT code, name || ' (' || code || ')' FROM registry.regions
                ORDER BY CASE level WHEN 'province' THEN 0 WHEN 'city' THEN 1 ELSE 2 END, code
                """)
        }
        if kinds.contains(.facility) {
            options.facilities = switch caller.role {
            case .facility:
                try await choices("SELECT code, name FROM registry.facilities WHERE code = \(caller.facilityCode ?? "")")
            case .alliance:
                try await choices("""
                    SELECT f.code, f.name FROM registry.facilities f
                    JOIN registry.alliance_members m ON m.facility_id = f.id JOIN registry.alliances a ON a.id = m.alliance_id
                    WHERE a.code = \(caller.allianceCode ?? "") ORDER BY f.code
                    """)
            default:
                try await choices("SELECT code, name FROM registry.facilities WHERE active ORDER BY code")
            }
        }
        if kinds.contains(.alliance) {
            options.alliances = caller.role == .alliance
                ? try await choices("SELECT code, name FROM registry.alliances WHERE code = \(caller.allianceCode ?? "")")
                : try await choices("SELECT code, name FROM registry.alliances ORDER BY code")
        }
        if kinds.contains(.item) {
            options.items = try await choices("""
                SELECT national_code, generic_name || coalesce(' ' || spec, '') || ' · ' || national_code FROM procurement.items
                ORDER BY generic_group, generic_name, national_code
                """)
        }
        if kinds.contains(.group) {
            options.groups = try await choices("SELECT DISTINCT generic_group, generic_group FROM procurement.items ORDER BY 1")
        }
        return options
    }

    func choices(for parameter: ReportParameter, page: PageContext) -> [Choice]? {
        switch parameter.kind {
        case .region: regions
        case .facility: facilities.map { Choice(value: $0.value, label: "\($0.label) (\($0.value))") }
        case .alliance: alliances.map { Choice(value: $0.value, label: "\($0.label) (\($0.value))") }
        case .item: items
        case .group: groups
        case .tier: [Choice(value: "1", label: page.t("一级（基层）", "1 (primary)")), Choice(value: "2", label: page.t("二级", "2 (secondary)")),
                     Choice(value: "3", label: page.t("三级", "3 (tertiary)"))]
        case .level: [Choice(value: "facility", label: page.t("机构", "Facility")), Choice(value: "county", label: page.t("区县", "County")),
                      Choice(value: "city", label: page.t("市", "City")), Choice(value: "tier", label: page.t("级别", "Tier"))]
        case .month, .date, .integer, .percent: nil
        }
    }
}
