import Foundation
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// The data stewards' pages: `GET /steward/reviews` (the patient-link review queue, each record
/// beside the candidate person's records, with a decision form posting to
/// `/steward/reviews/{id}`) and `GET /steward/codes` (local exam and item codes with no regional
/// or national code). They call the steward API's handlers: the same checks and queue.
struct StewardPages: Sendable {
    let steward: StewardController
    let procurement: ProcurementController

    func addRoutes(to router: some RouterMethods<RegioRequestContext>) {
        router.get("steward/reviews", use: reviews)
        router.post("steward/reviews/{id}", use: decide)
        router.get("steward/codes", use: codes)
    }

    @Sendable func reviews(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.steward])
        let queue = try await steward.reviews(request, context: context)
        let notice: HTML = request.uri.queryParameters.get("decided").map {
            "<p class=\"notice\" role=\"status\">\(page.t("审核 \($0) 的决定已提交。", "The decision on review \($0) was submitted."))</p>"
        } ?? .empty
        let items = queue.reviews.map { review -> HTML in
            let candidates = review.candidate_records.map { record(page, $0) }
            let fields = ((try? JSONSerialization.jsonObject(with: JSONEncoder().encode(review.contributions))) as? [String: Any]) ?? [:]
            let contributions = fields.keys.sorted().map { key -> HTML in "<li>\(key): \(PageTables.text(fields[key]!))</li>" }
            return """
                <section class="review" aria-labelledby="review-\(review.id)">
                <h2 id="review-\(review.id)">\(page.t("审核", "Review")) \(review.id) · \(page.t("得分", "score")) \(Layout.number(review.score, decimals: 2)) · \(page.t("已等待 \(review.age_days) 天", "\(review.age_days) days old"))</h2>
                <div class="side-by-side"><div><h3>\(page.t("待关联记录", "Record under review"))</h3>\(record(page, review.record))</div>
                <div><h3>\(page.t("候选患者", "Candidate person")) \(review.candidate_person)</h3>\(candidates)</div></div>
                <details><summary>\(page.t("各字段得分", "What each field added"))</summary><ul>\(contributions)</ul></details>
                <form class="filters" method="post" action="/steward/reviews/\(review.id)">\(page.csrfField)
                <label>\(page.t("决定", "Decision"))<select name="decision"><option value="link">\(page.t("关联为同一人", "Link: same person"))</option>
                <option value="keep_apart">\(page.t("保持分开", "Keep apart"))</option></select></label>
                <label>\(page.t("理由", "Reason"))<input name="reason" required minlength="3" maxlength="500"></label>
                <button type="submit">\(page.t("提交", "Submit"))</button></form></section>
                """
        }
        let empty: HTML = queue.reviews.isEmpty ? "<p class=\"muted\">\(page.t("没有待审核的关联。", "No open reviews."))</p>" : .empty
        let body: HTML = """
            \(notice)<p>\(page.t("待审核：\(queue.open)，按时间先后。", "Open: \(queue.open), oldest first."))</p>\(empty)\(items)
            """
        var response = page.render(title: page.t("患者关联审核", "Link reviews"), body)
        response.headers[.cacheControl] = "no-store"
        return response
    }

    func record(_ page: PageContext, _ record: StewardController.PatientRecord) -> HTML {
        """
        <dl class="definition"><dt>\(page.t("机构", "Facility"))</dt><dd>\(record.facility)</dd>
        <dt>\(page.t("患者号", "Patient id"))</dt><dd>\(record.patient_id)</dd>
        <dt>\(page.t("姓名", "Name"))</dt><dd>\(record.name)</dd><dt>\(page.t("性别", "Sex"))</dt><dd>\(record.sex)</dd>
        <dt>\(page.t("出生日期", "Birth date"))</dt><dd>\(record.birth_date ?? "")</dd>
        <dt>\(page.t("电话", "Phone"))</dt><dd>\(record.phone ?? "")</dd><dt>\(page.t("地址", "Address"))</dt><dd>\(record.address ?? "")</dd>
        <dt>\(page.t("有身份证号", "Has ID number"))</dt><dd>\(record.has_id_number ? "✓" : "—")</dd></dl>
        """
    }

    @Sendable func decide(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.steward])
        let form = try await FormFields(request, context: context)
        try form.checkCSRF(page)
        struct Decision: Encodable { var decision: String; var reason: String }
        let id = try context.parameters.require("id")
        _ = try await steward.decideReview(
            try PageTables.jsonRequest(Decision(decision: form.text("decision") ?? "", reason: form.text("reason") ?? ""),
                                       path: "/v1/steward/reviews/\(id)"),
            context: context)
        return SignInController.redirect(to: "/steward/reviews?decided=\(HTML.percentEncode(id))")
    }

    @Sendable func codes(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let page = try PageContext.require(request, context, roles: [.steward])
        let exams = try await steward.unmapped(request, context: context)
        let items = try await procurement.unmapped(request, context: context)
        let c = PageTables.Column.init
        let body: HTML = """
            <h2>\(page.t("未映射的检查检验编码", "Unmapped exam codes"))</h2>
            <p class="muted">\(page.t("医院自编码尚无区域标准编码，这些报告无法互认；按数量排序。用 regio exam-catalog 导入映射。",
                                      "Local codes with no regional standard code: their reports cannot be recognised elsewhere. By volume; map them with regio exam-catalog."))</p>
            \(try PageTables.table(exams.codes, columns: [c("facility", "机构", "Facility"), c("local_code", "本地编码", "Local code"),
                                                          c("name", "名称", "Name"), c("exams", "报告数", "Reports"),
                                                          c("last_performed", "最近检查", "Last performed")], page: page, emptyOK: true))
            <h2>\(page.t("未映射的药品耗材编码", "Unmapped item codes"))</h2>
            <p class="muted">\(page.t("医院自编码尚未对应国家编码，不参与价格比较；附相似度最高的候选。",
                                      "Local codes with no national code are left out of price comparison; the closest catalogue items are suggested."))</p>
            \(try PageTables.table(items.items, columns: [c("facility", "机构", "Facility"), c("local_code", "本地编码", "Local code"),
                                                          c("name", "名称", "Name"), c("spec", "规格", "Spec"), c("lines", "笔数", "Lines"),
                                                          c("amount", "金额", "Amount"), c("suggestions", "候选", "Suggestions")], page: page,
                                   emptyOK: true, cell: { key, value, _ in
                guard key == "suggestions", let list = value as? [[String: Any]] else { return nil }
                return "\(list.prefix(3).map { "\($0["national_code"] as? String ?? "") \($0["generic_name"] as? String ?? "")" }.joined(separator: "; "))"
            }))
            """
        return page.render(title: page.t("未映射编码", "Unmapped codes"), body)
    }
}
