import RegioCore

/// The per-batch, per-kind UNLOGGED table a file streams into. Its name is built from the batch
/// id and the kind — never from input — so it can be spliced into SQL.
public struct StagingTable: Sendable {
    public var batchID: Int64
    public var kind: ExtractKind

    public init(batchID: Int64, kind: ExtractKind) {
        self.batchID = batchID
        self.kind = kind
    }

    public var name: String { "staging.\(unqualifiedName)" }
    var unqualifiedName: String { "b\(batchID)_\(kind.rawValue)" }

    /// For PostgresNIO's `copyFrom`, which wraps the table name in double quotes as one identifier:
    /// closing and reopening the quotes around the dot names the schema too.
    var copyTarget: String { "staging\".\"\(unqualifiedName)" }

    /// Internal columns first, then the kind's staged columns, all text.
    public static func columns(for kind: ExtractKind) -> [String] {
        ["_line", "_op", "_rejected", "_issues"] + stagingColumns(kind)
    }

    public static func stagingColumns(_ kind: ExtractKind) -> [String] {
        kind.spec.columns.filter { $0.type != .op }.map { $0.type == .idNumber ? "id_hash" : $0.name }
    }

    var createStatement: String {
        let data = Self.stagingColumns(kind).map { "\($0) text" }.joined(separator: ", ")
        return "CREATE UNLOGGED TABLE \(name) (_line integer NOT NULL, _op text NOT NULL, _rejected boolean NOT NULL, _issues text, \(data))"
    }

    /// Fills `{staging}`, `{kind}` and `{key}` in a SQL file's text.
    func render(_ sql: String) -> String {
        sql.replacingOccurrences(of: "{staging}", with: name)
            .replacingOccurrences(of: "{kind}", with: kind.rawValue)
            .replacingOccurrences(of: "{key}", with: kind.spec.key[0])
    }
}
