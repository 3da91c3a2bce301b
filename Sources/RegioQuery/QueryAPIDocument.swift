import Foundation
import RegioCore
import RegioDB

/// The query service's OpenAPI description, served at `/openapi.yaml`: the resource `openapi.yaml`
/// with each report of the catalog written in at its three marked places — a path
/// (`/v1/reports/<id>`, its roles, parameters and responses), a row schema, and the parameter
/// components the paths refer to. Written from the catalog the service runs, the report part
/// cannot drift from it, and a new report still needs no change here.
public enum QueryAPIDocument {
    /// The marker comment lines (as they start after their indentation) and what goes after each.
    static let markers = (paths: "# Reports:", parameters: "# Report parameters:", rows: "# Report rows:")

    public static func load(catalog: [ReportDefinition] = ReportCatalog.all) throws -> String {
        guard let url = Bundle.module.url(forResource: "openapi", withExtension: "yaml") else {
            throw SQLFile.Missing(path: "openapi.yaml")
        }
        return try render(template: String(contentsOf: url, encoding: .utf8), catalog: catalog)
    }

    static func render(template: String, catalog: [ReportDefinition]) throws -> String {
        var sections: [String: [String]] = [
            markers.paths: catalog.flatMap(path),
            markers.rows: catalog.flatMap(rowSchema),
        ]
        var parameters: [String: ReportParameter] = [:]
        for parameter in catalog.flatMap(\.parameters) where parameters[componentName(parameter)] == nil {
            parameters[componentName(parameter)] = parameter
        }
        sections[markers.parameters] = parameters.keys.sorted().flatMap { parameterComponent(parameters[$0]!) }
        var lines: [String] = []
        for line in template.components(separatedBy: "\n") {
            lines.append(line)
            let trimmed = line.drop(while: { $0 == " " })
            if let marker = sections.keys.first(where: { trimmed.hasPrefix($0) }) {
                lines += sections.removeValue(forKey: marker)!
            }
        }
        guard sections.isEmpty else { throw MissingMarkers(markers: sections.keys.sorted()) }
        return lines.joined(separator: "\n")
    }

    /// The template lacks a marker line: a defect of the resource, found at start-up.
    struct MissingMarkers: Error, CustomStringConvertible {
        var markers: [String]
        var description: String { "openapi.yaml has no line starting with \(markers)" }
    }

    // MARK: Rendering

    /// A YAML double-quoted scalar: JSON's string syntax is a subset of it.
    static func quoted(_ text: String) -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.withoutEscapingSlashes]
        return String(decoding: (try? encoder.encode(text)) ?? Data("\"\"".utf8), as: UTF8.self)
    }

    static func componentName(_ parameter: ReportParameter) -> String {
        "report.\(parameter.name).\(parameter.kind.rawValue)" + (parameter.required ? ".required" : "")
    }

    static func path(_ report: ReportDefinition) -> [String] {
        let roles = Role.allCases.filter(report.roles.contains).map(\.rawValue).joined(separator: ", ")
        var lines = [
            "  /v1/reports/\(report.id):",
            "    get:",
            "      tags: [reports]",
            "      operationId: \(quoted("report-\(report.id)"))",
            "      summary: \(quoted(report.titleEn))",
            "      description: \(quoted("Roles: \(roles). \(report.description)"))",
            "      parameters:",
        ]
        lines += report.parameters.map { "        - $ref: \"#/components/parameters/\(componentName($0))\"" }
        lines += [
            "        - $ref: \"#/components/parameters/format\"",
            "        - $ref: \"#/components/parameters/publication\"",
            "      responses:",
            "        \"200\":",
            "          description: \"One run: JSON, or CSV with `format=csv` (or `Accept: text/csv` without `format`).\"",
            "          headers:",
            "            Content-Disposition:",
            "              $ref: \"#/components/headers/ReportDisposition\"",
            "            X-Regio-Suppressed-Below:",
            "              $ref: \"#/components/headers/SuppressedBelow\"",
            "          content:",
            "            application/json:",
            "              schema:",
            "                allOf:",
            "                  - $ref: \"#/components/schemas/ReportRun\"",
            "                  - type: object",
            "                    properties:",
            "                      parameters:",
            "                        type: object",
            "                        required: [\(report.parameters.map { quoted($0.name) }.joined(separator: ", "))]",
            "                        additionalProperties: false",
            "                        properties:",
        ]
        lines += report.parameters.map { "                          \(quoted($0.name)): {type: [string, \"null\"]}" }
        if report.parameters.isEmpty { lines[lines.count - 1] = "                        properties: {}" }
        lines += [
            "                      rows:",
            "                        type: array",
            "                        items:",
            "                          $ref: \"#/components/schemas/report.\(report.id).row\"",
            "            text/csv:",
            "              schema:",
            "                type: string",
        ]
        for (status, response) in [("400", "BadParameter"), ("401", "Unauthorized"), ("403", "ReportForbidden"),
                                   ("429", "RateLimited"), ("503", "Unavailable")] {
            lines += ["        \"\(status)\":", "          $ref: \"#/components/responses/\(response)\""]
        }
        return lines
    }

    static func rowSchema(_ report: ReportDefinition) -> [String] {
        var lines = [
            "    report.\(report.id).row:",
            "      type: object",
            "      description: \(quoted("A row of \(report.id), every column present."))",
            "      additionalProperties: false",
            "      required: [\(report.columns.map { quoted($0.name) }.joined(separator: ", "))]",
            "      properties:",
        ]
        for column in report.columns {
            let cell = switch column.type {
            case .text: "ReportText"
            case .date: "ReportDate"
            case .month: "ReportMonth"
            case .integer: column.personCount ? "ReportCount" : "ReportInteger"
            case .decimal: "ReportDecimal"
            }
            lines.append("        \(quoted(column.name)): {$ref: \"#/components/schemas/\(cell)\"}")
        }
        return lines
    }

    static func parameterComponent(_ parameter: ReportParameter) -> [String] {
        let schema: [String] = switch parameter.kind {
        case .region: ["type: string", "pattern: \"^[0-9]{6}$\""]
        case .facility: ["type: string", "pattern: \"^[0-9A-Z]{4,32}$\""]
        case .alliance: ["type: string", "pattern: \"^[A-Z0-9_-]{2,32}$\""]
        case .tier: ["type: string", "enum: [\"1\", \"2\", \"3\"]"]
        case .month: ["type: string", "pattern: \"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$\""]
        case .date: ["type: string", "format: date"]
        case .integer: ["type: integer"]
        case .level: ["type: string", "enum: [facility, county, city, tier]"]
        case .item: ["type: string", "pattern: \"^[0-9A-Z]{6,40}$\""]
        case .group: ["type: string", "minLength: 1", "maxLength: 64"]
        case .percent: ["type: string", "pattern: \"^[0-9]+(\\\\.[0-9]+)?$\"", "description: From 0 to 1000."]
        }
        return [
            "    \(componentName(parameter)):",
            "      name: \(quoted(parameter.name))",
            "      in: query",
            "      required: \(parameter.required)",
            "      description: \(quoted(parameter.description))",
            "      schema:",
        ] + schema.map { "        " + $0 }
    }
}
