import Foundation
import HTTPTypes
import Hummingbird
import RegioHTTP

/// Tables of what the API handlers answer: the pages call the same handlers as `/v1` (the same
/// checks, the same audit rows) and show their answers.
enum PageTables {
    struct Column {
        var key: String
        var zh: String
        var en: String
    }

    /// A table of `values` (encoded as JSON objects), one column per key.
    static func table(_ values: some Encodable, columns: [Column], page: PageContext, emptyOK: Bool = false,
                      cell: (String, Any, [String: Any]) -> HTML? = { _, _, _ in nil }) throws -> HTML {
        let data = try JSONEncoder().encode(values)
        let objects = (try JSONSerialization.jsonObject(with: data) as? [[String: Any]]) ?? []
        let head = columns.map { "<th scope=\"col\">\(page.t($0.zh, $0.en))</th>" as HTML }
        let rows = objects.map { object -> HTML in
            let cells = columns.map { column -> HTML in
                let value = object[column.key] ?? NSNull()
                return "<td>\(cell(column.key, value, object) ?? "\(text(value))")</td>"
            }
            return "<tr>\(cells)</tr>"
        }
        let empty: HTML = objects.isEmpty ? "<p class=\"muted\">\(page.t("暂无。", "None."))</p>" : .empty
        return """
            \(empty)<div class="table-wrap"><table\(HTML(trusted: emptyOK && objects.isEmpty ? " data-empty-ok" : ""))>
            <thead><tr>\(head)</tr></thead><tbody>\(rows)</tbody></table></div>
            """
    }

    static func text(_ value: Any) -> String {
        switch value {
        case is NSNull: ""
        case let bool as Bool: bool ? "✓" : "—"
        case let number as NSNumber: Layout.number(number.doubleValue, decimals: 2)
        case let string as String: string
        case let array as [Any]: array.map(text).joined(separator: "; ")
        case let object as [String: Any]: object.keys.sorted().map { "\($0): \(text(object[$0]!))" }.joined(separator: ", ")
        default: "\(value)"
        }
    }

    /// A POST of `body` as JSON to an API handler, as the pages' forms send it.
    static func jsonRequest(_ body: some Encodable, path: String) throws -> Request {
        let head = HTTPRequest(method: .post, scheme: nil, authority: nil, path: path, headerFields: [.contentType: "application/json"])
        return Request(head: head, body: .init(buffer: ByteBuffer(data: try JSONEncoder().encode(body))))
    }
}
