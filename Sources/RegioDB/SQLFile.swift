import Foundation
import PostgresNIO
import RegioCore

/// A SQL file shipped as a module's resource (merges, checks, rollups, report queries), so that it
/// can be read, diffed and run in `psql` on its own. Its first comment lines declare what Regio
/// fills in before it is sent and what it binds:
///
///     -- placeholders: {staging} {pages}
///     -- parameters: $1 batch, $2 facility, $3 business_date
///
/// A placeholder is text Regio builds itself — a staging table's name, a range of pages — never
/// input; every value is a parameter. A file without one of the lines has none of that kind.
/// `render` fills exactly the declared placeholders and `bindings` binds exactly the declared
/// parameters, by name, to every statement of the file; `SQLDeclarationTests` fails when a file
/// uses a placeholder or parameter its declaration does not list, or lists one it does not use.
/// Migrations are scripts run as they are, with neither.
public struct SQLFile: Sendable {
    /// The path under `sql/`, e.g. `ingest/merge/exams.sql`.
    public let path: String
    /// The declared placeholders' names, without braces.
    public let placeholders: [String]
    /// The declared parameters' names: `$1` is the first.
    public let parameters: [String]
    /// The file as written, declaration included.
    public let text: String
    /// The file without its declaration lines: what is rendered and sent. (A fill may span lines,
    /// so the declaration, which names every placeholder, cannot stay in a comment.)
    public let body: String

    /// The `sql/` folder inside this module's resource bundle: rollups and report queries.
    public static var root: URL {
        Bundle.module.resourceURL!.appendingPathComponent("sql", isDirectory: true)
    }

    /// Reads `<root>/<path>` and its declaration.
    public static func load(_ path: String, in root: URL = SQLFile.root) throws -> SQLFile {
        let url = root.appendingPathComponent(path)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw Missing(path: path) }
        return try SQLFile(path: path, text: text)
    }

    public init(path: String, text: String) throws {
        self.path = path
        self.text = text
        var placeholders: [String] = []
        var parameters: [String] = []
        var body: [Substring] = []
        var leading = true  // the declaration is in the leading comment
        for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
            if leading, !line.hasPrefix("--") { leading = false }
            guard leading else { body.append(line); continue }
            let words = line.dropFirst(2).split(whereSeparator: { $0 == " " || $0 == "," })
            if words.first != "placeholders:", words.first != "parameters:" { body.append(line) }
            switch words.first {
            case "placeholders:":
                for word in words.dropFirst() {
                    guard word.hasPrefix("{"), word.hasSuffix("}"), word.count > 2 else {
                        throw Malformed(path: path, reason: "placeholder \(word) is not written {name}")
                    }
                    placeholders.append(String(word.dropFirst().dropLast()))
                }
            case "parameters:":
                let pairs = Array(words.dropFirst())
                guard pairs.count % 2 == 0 else { throw Malformed(path: path, reason: "parameters are written $n name, …") }
                for index in stride(from: 0, to: pairs.count, by: 2) {
                    guard pairs[index] == "$\(parameters.count + 1)" else {
                        throw Malformed(path: path, reason: "parameter \(pairs[index]) is out of order: expected $\(parameters.count + 1)")
                    }
                    parameters.append(String(pairs[index + 1]))
                }
            default: continue
            }
        }
        self.placeholders = placeholders
        self.parameters = parameters
        self.body = body.joined(separator: "\n")
    }

    /// The text with every declared placeholder replaced by its fill; `fills` may hold more than
    /// the file declares (a batch offers every name its files use).
    public func render(_ fills: [String: String] = [:]) throws -> String {
        var rendered = body
        for name in placeholders {
            guard let fill = fills[name] else { throw Unfilled(path: path, name: "{\(name)}") }
            rendered = rendered.replacingOccurrences(of: "{\(name)}", with: fill)
        }
        return rendered
    }

    /// The rendered file's statements, in order (see `SQLScript`).
    public func statements(_ fills: [String: String] = [:]) throws -> [String] {
        SQLScript.statements(in: try render(fills))
    }

    /// The declared parameters' values, in order, for any of the file's statements. A value that
    /// is nil binds NULL; a declared name missing from `values` is an error.
    public func bindings(_ values: [String: (any PostgresDynamicTypeEncodable)?]) throws -> PostgresBindings {
        var bindings = PostgresBindings(capacity: parameters.count)
        for name in parameters {
            guard let value = values[name] else { throw Unfilled(path: path, name: name) }
            if let value { bindings.append(value) } else { bindings.appendNull() }
        }
        return bindings
    }

    /// A statement of this file (rendered) with the declared parameters bound.
    public func query(_ statement: String, _ values: [String: (any PostgresDynamicTypeEncodable)?]) throws -> PostgresQuery {
        PostgresQuery(unsafeSQL: statement, binds: try bindings(values))
    }

    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public init(path: String) { self.path = path }
        public var description: String { "SQL resource sql/\(path) is missing from the bundle" }
    }

    /// The file's declaration cannot be read.
    public struct Malformed: Error, CustomStringConvertible {
        public var path: String
        public var reason: String
        public var description: String { "sql/\(path): \(reason)" }
    }

    /// A declared placeholder or parameter was given no value.
    public struct Unfilled: Error, CustomStringConvertible {
        public var path: String
        public var name: String
        public var description: String { "sql/\(path) declares \(name), which was given no value" }
    }
}
