import Foundation

/// SQL that lives in `sql/` (merges, rollups, report queries), shipped as a resource of this
/// module so it can be read, diffed and run in `psql` on its own.
public enum SQLFile {
    public struct Missing: Error, CustomStringConvertible {
        public var path: String
        public init(path: String) { self.path = path }
        public var description: String { "SQL resource sql/\(path) is missing from the bundle" }
    }

    /// The `sql/` folder inside the resource bundle.
    public static var root: URL {
        Bundle.module.resourceURL!.appendingPathComponent("sql", isDirectory: true)
    }

    /// Reads `sql/<path>`, e.g. `reports/registry-summary.sql`.
    public static func load(_ path: String) throws -> String {
        let url = root.appendingPathComponent(path)
        guard let text = try? String(contentsOf: url, encoding: .utf8) else { throw Missing(path: path) }
        return text
    }
}
