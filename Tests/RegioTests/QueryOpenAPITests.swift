import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegioCore
import RegioQuery
import Testing

/// The query service's `/openapi.yaml` against its routes; scripts/api-fuzz.sh holds its answers
/// to it.
@Suite("Query service: its OpenAPI document")
struct QueryOpenAPITests {
    /// (method, path) of every operation: the two-space keys under `paths:` and the four-space
    /// method keys below them.
    static func operations(_ document: String) -> [(String, String)] {
        var found: [(String, String)] = []
        var path: String?
        for line in document.components(separatedBy: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if !line.hasPrefix("   "), !line.isEmpty, !line.hasPrefix("  #") {
                path = nil
            } else if let current = path, line.hasPrefix("    "), !line.hasPrefix("     "),
                      let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                found.append((method, current))
            }
        }
        return found
    }

    @Test("the document is served, with every report of the catalog in it")
    func served() async throws {
        try await TestDatabase.with { database throws in
            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/openapi.yaml", method: .get) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "application/yaml; charset=utf-8")
                    let served = Self.operations(String(buffer: response.body))
                    for report in ReportCatalog.all {
                        #expect(served.contains { $0 == ("get", "/v1/reports/\(report.id)") }, "\(report.id)")
                    }
                }
            }
        }
    }

    @Test("every $ref names a component the document has")
    func references() throws {
        let document = try QueryAPIDocument.load()
        var components: Set<String> = []
        var section: String?
        var inComponents = false
        for line in document.components(separatedBy: "\n") {
            if line == "components:" { inComponents = true; continue }
            guard inComponents else { continue }
            if line.hasPrefix("  "), !line.hasPrefix("   "), line.hasSuffix(":") {
                section = String(line.dropFirst(2).dropLast())
            } else if let section, line.hasPrefix("    "), !line.hasPrefix("     "), !line.hasPrefix("    #"),
                      let colon = line.firstIndex(of: ":") {
                components.insert("\(section)/\(line[line.index(line.startIndex, offsetBy: 4)..<colon])")
            }
        }
        let references = document.components(separatedBy: "$ref: \"#/components/").dropFirst().map { String($0.prefix { $0 != "\"" }) }
        #expect(references.count > 100)
        for reference in Set(references) {
            #expect(components.contains(reference), "\(reference)")
        }
    }

    @Test("every path and method in the document is routed")
    func routed() async throws {
        let operations = Self.operations(try QueryAPIDocument.load())
        #expect(operations.count >= 25 + ReportCatalog.all.count)
        try await TestDatabase.with { database throws in
            try await Fixtures.queryApp(database).test(.router) { client in
                for (method, path) in operations {
                    let uri = path.replacingOccurrences(of: "{id}", with: "1").replacingOccurrences(of: "{code}", with: "QH-ALLIANCE")
                        .replacingOccurrences(of: "{kind}", with: "alert").replacingOccurrences(of: "{indicator}", with: "x")
                    try await client.execute(uri: uri, method: HTTPRequest.Method(method.uppercased())!) { response in
                        // Routed: answered by a handler or by the auth middleware, never "no such route".
                        #expect(response.status != .notFound && response.status != .methodNotAllowed, "\(method) \(path)")
                    }
                }
            }
        }
    }
}
