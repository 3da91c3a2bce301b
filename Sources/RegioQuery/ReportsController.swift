import Foundation
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// `GET /v1/reports` (the catalog) and `GET /v1/reports/{id}?…&format=json|csv` (one run).
public struct ReportsController: Sendable {
    let catalog: [ReportDefinition]
    let runner: ReportRunner

    public init(catalog: [ReportDefinition], runner: ReportRunner) {
        self.catalog = catalog
        self.runner = runner
    }

    public func addRoutes(to group: RouterGroup<RegioRequestContext>) {
        group.get("reports", use: list)
        group.get("reports/{id}", use: run)
    }

    @Sendable func list(_ request: Request, context: RegioRequestContext) async throws -> CatalogResponse {
        let caller = try context.caller()
        return CatalogResponse(reports: catalog.filter { $0.roles.contains(caller.role) }.map(CatalogEntry.init))
    }

    @Sendable func run(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let caller = try context.caller()
        let id = try context.parameters.require("id")
        guard let report = catalog.first(where: { $0.id == id }) else {
            throw Problem.notFound("no report '\(id)'; GET /v1/reports lists them")
        }
        _ = try context.caller(in: report.roles)
        let query = request.uri.queryParameters.map { (String($0.key), String($0.value)) }
        let format = try OutputFormat(request: request)
        let run = try await Self.run(report, query: query, caller: caller, publication: try Self.isPublication(request), runner: runner)
        context.logger.info("report run", metadata: ["report": "\(report.id)", "rows": "\(run.result.rows.count)"])
        let parameters = Dictionary(uniqueKeysWithValues: zip(report.parameters.map(\.name), run.binds))
        return try format.render(report: report, parameters: parameters, result: run.result,
                                 disclosure: run.threshold.map(Disclosure.init(threshold:)))
    }

    /// One run of a report as the caller may see it — the API's and the dashboard's one way in:
    /// the caller's scope applied to the filters (403 outside it, 400 for a bad value); for
    /// publication, alliance members by rank only; small cells suppressed for publication and for
    /// every alliance caller (`threshold` is then the threshold used).
    static func run(_ report: ReportDefinition, query: [(String, String)], caller: Identity, publication: Bool,
                    runner: ReportRunner) async throws -> (binds: [String?], result: ReportResult, threshold: Int?) {
        let binds: [String?]
        switch report.binds(for: query, caller: caller) {
        case .success(let values): binds = values
        case .failure(.outOfScope(let message)): throw Problem.forbidden(message)
        case .failure(let error): throw Problem.badRequest(error.description, type: "bad-parameter")
        }
        var result = try await runner.run(report, binds: binds, scope: RowScope(caller))
        var threshold: Int?
        if publication { result.rows = DisclosureControl.hideMembers(in: result.rows, columns: result.columns) }
        if publication || caller.role == .alliance {
            let value = try await runner.smallCellThreshold()
            result.rows = DisclosureControl.apply(to: result.rows, columns: result.columns, threshold: value)
            threshold = value
        }
        return (binds, result, threshold)
    }

    static func isPublication(_ request: Request) throws -> Bool {
        switch request.uri.queryParameters.get("publication") {
        case nil, "false", "0": false
        case "true", "1": true
        case let other?: throw Problem.badRequest("publication must be true or false, got '\(other)'", type: "bad-parameter")
        }
    }
}

enum OutputFormat {
    case json, csv

    init(request: Request) throws {
        switch request.uri.queryParameters.get("format") {
        case nil:
            self = (request.headers[.accept] ?? "").contains("text/csv") ? .csv : .json
        case "json": self = .json
        case "csv": self = .csv
        case let other?: throw Problem.badRequest("format must be json or csv, got '\(other)'", type: "bad-parameter")
        }
    }

    func render(report: ReportDefinition, parameters: [String: String?], result: ReportResult,
                disclosure: Disclosure?) throws -> Response {
        var headers = HTTPFields()
        let body: ByteBuffer
        switch self {
        case .json:
            headers[.contentType] = "application/json; charset=utf-8"
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            body = ByteBuffer(data: try encoder.encode(ReportRunResponse(report: report, parameters: parameters, result: result, disclosure: disclosure)))
        case .csv:
            headers[.contentType] = "text/csv; charset=utf-8"
            headers[.contentDisposition] = "attachment; filename=\"\(report.id).csv\""
            if let disclosure { headers[.init("X-Regio-Suppressed-Below")!] = String(disclosure.threshold) }
            var text = CSVWriter.exportLine(result.columns.map(\.name))
            for row in result.rows { text += CSVWriter.exportLine(row.map(\.csvText)) }
            body = ByteBuffer(string: text)
        }
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: body))
    }
}

struct CatalogResponse: ResponseEncodable {
    var reports: [CatalogEntry]
}

/// A report as the catalog lists it, in Chinese and English: `description` / `description_zh`,
/// per parameter `label_zh`, `label_en`, `description`, `description_zh`, per column `title_zh`,
/// `title_en`, `definition`, `definition_zh`, `unit` and `unit_zh`.
struct CatalogEntry: Encodable {
    struct Title: Encodable { var zh: String; var en: String }
    struct Parameter: Encodable {
        var name: String; var kind: String; var required: Bool; var label_zh: String; var label_en: String
        var description: String; var description_zh: String
    }
    struct Column: Encodable {
        var name: String; var type: String; var unit: String?; var unit_zh: String?; var title_zh: String; var title_en: String
        var definition: String; var definition_zh: String
        var person_count: Bool; var built_on: [String]; var names_member: Bool
    }
    var id: String
    var title: Title
    var description: String
    var description_zh: String
    var roles: [String]
    var parameters: [Parameter]
    var columns: [Column]
    var formats = ["json", "csv"]

    init(_ report: ReportDefinition) {
        id = report.id
        title = Title(zh: report.titleZh, en: report.titleEn)
        description = report.description
        description_zh = report.descriptionZh
        roles = report.roles.map(\.rawValue).sorted()
        parameters = report.parameters.map {
            Parameter(name: $0.name, kind: $0.kind.rawValue, required: $0.required, label_zh: $0.labelZh, label_en: $0.labelEn,
                      description: $0.description, description_zh: $0.descriptionZh)
        }
        columns = report.columns.map {
            Column(name: $0.name, type: $0.type.rawValue, unit: $0.unit, unit_zh: $0.unitZh, title_zh: $0.titleZh,
                   title_en: $0.titleEn, definition: $0.definition, definition_zh: $0.definitionZh,
                   person_count: $0.personCount, built_on: $0.builtOn, names_member: $0.namesMember)
        }
    }
}

/// Present when small cells were suppressed: counts 1 … threshold − 1 read "<threshold".
struct Disclosure: Encodable {
    var threshold: Int
}

/// `{"report", "title", "parameters", "columns", "rows": [{column: value}]}`, and `disclosure`
/// when small cells were suppressed.
struct ReportRunResponse: Encodable {
    var report: ReportDefinition
    var parameters: [String: String?]
    var result: ReportResult
    var disclosure: Disclosure?

    struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(_ string: String) { stringValue = string }
        init?(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.container(keyedBy: Key.self)
        try container.encode(report.id, forKey: Key("report"))
        try container.encode(CatalogEntry.Title(zh: report.titleZh, en: report.titleEn), forKey: Key("title"))
        var parametersContainer = container.nestedContainer(keyedBy: Key.self, forKey: Key("parameters"))
        for (name, value) in parameters { try parametersContainer.encode(value, forKey: Key(name)) }
        try container.encode(CatalogEntry(report).columns, forKey: Key("columns"))
        try container.encodeIfPresent(disclosure, forKey: Key("disclosure"))
        var rows = container.nestedUnkeyedContainer(forKey: Key("rows"))
        for row in result.rows {
            var object = rows.nestedContainer(keyedBy: Key.self)
            for (column, value) in zip(result.columns, row) { try object.encode(value, forKey: Key(column.name)) }
        }
    }
}
