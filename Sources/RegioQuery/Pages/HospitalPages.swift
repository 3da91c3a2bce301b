import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import RegioCore
import RegioDB
import RegioHTTP

/// A facility's pages: `GET /uploads` (its nightly batches; for the bureau, stewards and admins,
/// every facility's), `GET /uploads/{batch}` (one batch's files, row errors and rejected rows:
/// the facility's own, or for stewards and admins), and `GET/POST /lookup` (the cross-facility
/// lookup for one of its patients, through the API's handler and its audit).
struct HospitalPages: Sendable {
    let reports: ReportPages
    let database: Database
    let lookup: LookupController
    /// Where the batch page audits its read of row values (the accounts connection, which may
    /// append audit rows; the reporting connection may not).
    let audit: Database
    /// Most error and rejected rows a batch page lists (the ingestion API serves them all).
    static let rowLimit = 500

    func addRoutes(to router: some RouterMethods<RegioRequestContext>) {
        router.get("uploads", use: uploads)
        router.get("uploads/{id}", use: batch)
        router.get("lookup", use: lookupForm)
        router.post("lookup", use: lookupAnswer)
    }

    static let batchRoles: Set<Role> = [.facility, .steward, .admin]

    @Sendable func uploads(_ request: Request, context: RegioRequestContext) async throws -> Response {
        guard let report = reports.catalog.first(where: { $0.id == "upload-history" }) else { throw Problem.notFound("no upload history") }
        let page = try PageContext.require(request, context, roles: report.roles)
        let given = ReportPages.filters(of: request, for: report)
        let run = try await reports.execute(report, filters: given, caller: page.identity)
        let options = try await FilterOptions.load(for: report, caller: page.identity, database: database)
        let drill = Self.batchRoles.contains(page.identity.role)
        let chart = ReportChart.svg(report: report, result: run.result, language: page.language.chart, idPrefix: "uploads",
                                    columnTitle: { page.t($0.titleZh, $0.titleEn) })
        let csvLink = "/reports/upload-history?" + HTML.query(given + [("format", "csv")])
        let body: HTML = """
            <p class="description">\(page.t(report.descriptionZh, report.description))</p>
            \(reports.filterForm(report, given: given, options: options, page: page, action: "/uploads"))
            \(chart.map { "<figure class=\"chart\">\(HTML(trusted: $0))</figure>" as HTML } ?? .empty)
            <p><a class="csv" href="\(csvLink)" download>\(page.t("下载 CSV（即下表）", "Download CSV (the table below)"))</a></p>
            \(reports.table(report, run.result, page: page, link: { column, value in
                guard drill, column.name == "batch_id", case .integer(let id) = value else { return nil }
                return "/uploads/\(id)"
            }))
            """
        return page.render(title: page.t("上传记录", "Uploads"), body)
    }

    @Sendable func batch(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: Self.batchRoles)
        guard let id = Int64(try context.parameters.require("id")) else { throw Problem.notFound("no such batch") }
        typealias Head = (facility: String, name: String, date: String, status: String, reason: String?, received: String)
        var head: Head?
        for try await row in try await database.query("""
            SELECT f.code, f.name, b.business_date::text, b.status, b.reason, to_char(b.created_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD HH24:MI')
            FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id WHERE b.id = \(id)
            """).decode((String, String, String, String, String?, String).self) {
            head = row
        }
        // Another facility's batch is answered as if it did not exist.
        guard let head, page.identity.role != .facility || page.identity.facilityCode == head.facility else {
            throw Problem.notFound("no batch \(id) of yours")
        }
        try await Problem.auditingRead(page.identity, action: "read.batch-errors", subject: "\(id)", detail: ["page": "dashboard"],
                                       on: audit, context: context)
        struct File: Encodable { var kind: String; var received_rows: Int?; var inserted: Int?; var updated: Int?; var unchanged: Int?
                                 var retracted: Int?; var rejected: Int?; var warnings: Int?; var file_error: String? }
        var files: [File] = []
        for try await row in try await database.query("""
            SELECT kind, received_rows, inserted, updated, unchanged, retracted, rejected, warnings, file_error
            FROM ingest.batch_files WHERE batch_id = \(id) ORDER BY kind
            """).decode((String, Int?, Int?, Int?, Int?, Int?, Int?, Int?, String?).self) {
            files.append(File(kind: row.0, received_rows: row.1, inserted: row.2, updated: row.3, unchanged: row.4, retracted: row.5,
                              rejected: row.6, warnings: row.7, file_error: row.8))
        }
        struct RowError: Encodable { var file: String; var line: Int?; var column: String?; var code: String; var severity: String
                                     var message: String; var value: String? }
        struct Rejected: Encodable { var file: String; var line: Int; var fields: String }
        // Raw values: row-level security shows them to the batch's facility and the region's roles only.
        let (errors, rejected) = try await database.withScope(RowScope(page.identity)) { connection in
            var errors: [RowError] = []
            for try await row in try await connection.query("""
                SELECT kind, line, column_name, code, severity, message, raw_value FROM ingest.row_errors
                WHERE batch_id = \(id) ORDER BY kind, line NULLS FIRST LIMIT \(Self.rowLimit)
                """, logger: database.logger).decode((String, Int?, String?, String, String, String, String?).self) {
                errors.append(RowError(file: row.0, line: row.1, column: row.2, code: row.3, severity: row.4, message: row.5, value: row.6))
            }
            var rejected: [Rejected] = []
            for try await row in try await connection.query("""
                SELECT kind, line, fields::text FROM ingest.rejected_rows WHERE batch_id = \(id) ORDER BY kind, line LIMIT \(Self.rowLimit)
                """, logger: database.logger).decode((String, Int, String).self) {
                rejected.append(Rejected(file: row.0, line: row.1, fields: row.2))
            }
            return (errors, rejected)
        }
        let c = PageTables.Column.init
        let body: HTML = """
            <dl class="definition"><dt>\(page.t("机构", "Facility"))</dt><dd>\(head.name) (\(head.facility))</dd>
            <dt>\(page.t("业务日期", "Business date"))</dt><dd>\(head.date)</dd>
            <dt>\(page.t("状态", "Status"))</dt><dd>\(head.status)\(head.reason.map { " — \($0)" } ?? "")</dd>
            <dt>\(page.t("接收时间", "Received"))</dt><dd>\(head.received)</dd></dl>
            <h2>\(page.t("文件", "Files"))</h2>
            \(try PageTables.table(files, columns: [c("kind", "文件", "File"), c("received_rows", "接收行数", "Rows received"),
                                                    c("inserted", "新增", "Inserted"), c("updated", "更新", "Updated"),
                                                    c("unchanged", "未变", "Unchanged"), c("retracted", "撤回", "Retracted"),
                                                    c("rejected", "拒收", "Rejected"), c("warnings", "警告", "Warnings"),
                                                    c("file_error", "文件错误", "File error")], page: page, emptyOK: true))
            <h2>\(page.t("行错误", "Row errors"))</h2>
            <p class="muted">\(page.t("文件、行号、列与原因；最多显示 \(Self.rowLimit) 条。", "File, line, column and reason; at most \(Self.rowLimit) shown."))</p>
            \(try PageTables.table(errors, columns: [c("file", "文件", "File"), c("line", "行", "Line"), c("column", "列", "Column"),
                                                     c("code", "错误代码", "Code"), c("severity", "级别", "Severity"),
                                                     c("message", "原因", "Reason"), c("value", "原值", "Value")], page: page, emptyOK: true))
            <h2>\(page.t("拒收行（原样，身份证号已去除）", "Rejected rows (as sent, ID numbers removed)"))</h2>
            \(try PageTables.table(rejected, columns: [c("file", "文件", "File"), c("line", "行", "Line"), c("fields", "内容", "Fields")],
                                   page: page, emptyOK: true))
            <p><a href="/uploads">\(page.t("返回上传记录", "Back to uploads"))</a></p>
            """
        return page.render(title: page.t("批次 \(id)", "Batch \(id)"), body)
    }

    @Sendable func lookupForm(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.facility])
        let grants = try await lookup.emergencyAccess(request, context: context).grants
        let c = PageTables.Column.init
        let body: HTML = """
            \(lookupFields(page, patient: "", purpose: ""))
            \(emergencyFields(page))
            <h2>\(page.t("其他机构对本院患者的紧急调阅（近 90 天）", "Emergency access to your patients by other facilities (90 days)"))</h2>
            \(try PageTables.table(grants, columns: [c("granted_at", "授权时间", "Granted"), c("expires_at", "到期", "Expires"),
                                                    c("by_facility_name", "调阅机构", "By facility"), c("code", "事由", "Purpose code"),
                                                    c("reason", "说明", "Reason"), c("patient_id", "本院患者号", "Your patient id")],
                                   page: page, emptyOK: true))
            """
        return page.render(title: page.t("跨机构调阅", "Cross-facility lookup"), body)
    }

    /// Emergency access: a person the facility holds no record of, by ID number, with a coded
    /// purpose and a written reason.
    func emergencyFields(_ page: PageContext) -> HTML {
        let codes: [(String, String, String)] = [("unconscious", "患者昏迷无法陈述", "Patient unconscious"),
                                                 ("life_threatening", "危及生命", "Life-threatening"),
                                                 ("emergency_transfer", "急诊转入", "Emergency transfer in"),
                                                 ("public_health", "突发公共卫生事件", "Public health emergency")]
        let options = codes.map { "<option value=\"\($0.0)\">\(page.t($0.1, $0.2))</option>" as HTML }
        return """
            <details><summary>\(page.t("紧急调阅（本院无记录的患者）", "Emergency access (a person your facility has no record of)"))</summary>
            <p class="muted">\(page.t("仅限紧急情况：授权只覆盖该患者，3 小时后失效；事由与说明会被审计，并告知该患者的就诊机构。",
                                       "Emergencies only: the grant covers this person alone and expires after 3 hours; the purpose and reason are audited and shown to the facilities holding the person's records."))</p>
            <form class="filters" method="post" action="/lookup">\(page.csrfField)
            <label>\(page.t("身份证号", "Resident ID number"))<input name="resident_id" required maxlength="18" autocomplete="off"></label>
            <label>\(page.t("事由", "Purpose code"))<select name="emergency_code">\(options)</select></label>
            <label>\(page.t("说明", "Reason"))<input name="emergency_reason" required minlength="10" maxlength="500"></label>
            <input type="hidden" name="purpose" value="emergency">
            <button type="submit">\(page.t("紧急调阅", "Emergency lookup"))</button></form></details>
            """
    }

    func lookupFields(_ page: PageContext, patient: String, purpose: String) -> HTML {
        """
        <p class="description">\(page.t("查询本院患者在其他机构已有的检查检验报告，避免重复检查。仅限本院有记录的患者；每次调阅都会记录审计。",
                                         "See the exam and lab reports one of your patients already has at other facilities, to avoid repeating them. Only for patients your facility holds a record of; every lookup is audited."))</p>
        <form class="filters" method="post" action="/lookup">\(page.csrfField)
        <label>\(page.t("本院患者号", "Your patient id"))<input name="patient_id" value="\(patient)" required maxlength="64"></label>
        <label>\(page.t("调阅目的", "Purpose"))<input name="purpose" value="\(purpose)" required minlength="2" maxlength="200"
          placeholder="\(page.t("诊疗：胸痛", "treatment: chest pain"))"></label>
        <button type="submit">\(page.t("调阅", "Look up"))</button></form>
        """
    }

    @Sendable func lookupAnswer(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.facility])
        let form = try await FormFields(request, context: context)
        try form.checkCSRF(page)
        let (patient, purpose) = (form.text("patient_id") ?? "", form.text("purpose") ?? "")
        var question = LookupController.Question(patient_id: patient, resident_id: nil, purpose: purpose, emergency: nil)
        if let resident = form.text("resident_id") {
            question = LookupController.Question(
                patient_id: nil, resident_id: resident, purpose: purpose,
                emergency: LookupController.Emergency(code: form.text("emergency_code") ?? "", reason: form.text("emergency_reason") ?? ""))
        }
        let answer: LookupController.Answer
        do {
            answer = try await lookup.lookup(try PageTables.jsonRequest(question, path: "/v1/lookup"), context: context)
        } catch let problem as Problem where problem.status.code < 500 {
            let body: HTML = "\(lookupFields(page, patient: patient, purpose: purpose))<p class=\"error\" role=\"alert\">\(problem.detail)</p>"
            return page.render(title: page.t("跨机构调阅", "Cross-facility lookup"), body, status: problem.status)
        }
        let c = PageTables.Column.init
        let body: HTML = """
            \(lookupFields(page, patient: patient, purpose: purpose))
            <h2>\(page.t("患者 \(answer.patient_id ?? "") 在其他机构的报告", "Patient \(answer.patient_id ?? "")'s reports elsewhere"))</h2>
            \(answer.emergency.map { "<p class=\"error\" role=\"status\">\(page.t("紧急调阅授权，至 \($0.expires_at) 失效；已审计。", "Emergency access, until \($0.expires_at); audited."))</p>" as HTML } ?? .empty)
            \(answer.linked ? .empty : "<p class=\"muted\">\(page.t("该记录尚未关联到区域患者索引。", "This record is not linked to the regional index yet."))</p>")
            \(try PageTables.table(answer.reports, columns: [
                c("facility_name", "机构", "Facility"), c("category", "类别", "Category"), c("regional_code", "区域编码", "Regional code"),
                c("performed_at", "检查时间", "Performed"), c("summary", "结论摘要", "Summary"),
                c("recognised_until", "互认截止", "Recognised until"), c("within_window", "互认期内", "Within window"),
                c("document_ref", "报告位置", "Document")], page: page, emptyOK: true))
            """
        var response = page.render(title: page.t("跨机构调阅", "Cross-facility lookup"), body)
        response.headers[.cacheControl] = "no-store"
        return response
    }
}
