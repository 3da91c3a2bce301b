import Foundation
import RegioCore
import RegioQuery
import Testing

@testable import RegioDB
@testable import RegioPipeline

/// Every SQL file Regio fills and binds declares its placeholders and parameters (`SQLFile`), and
/// uses exactly what it declares.
@Suite struct SQLDeclarationTests {
    /// Every `.sql` file of the modules' resources but the migrations, which are run as written.
    static func files() throws -> [SQLFile] {
        var files: [SQLFile] = []
        for root in [SQLFile.root, PipelineSQL.root] {
            let walker = FileManager.default.enumerator(at: root, includingPropertiesForKeys: nil)!
            for case let url as URL in walker where url.pathExtension == "sql" {
                let path = String(url.standardizedFileURL.path.dropFirst(root.standardizedFileURL.path.count + 1))
                if path.hasPrefix("migrations/") { continue }
                files.append(try SQLFile.load(path, in: root))
            }
        }
        return files.sorted { $0.path < $1.path }
    }

    /// The placeholders (`{name}`) and parameters (`$n`) a file's statements use; comments do not count.
    static func uses(_ text: String) -> (placeholders: Set<String>, parameters: Set<Int>) {
        let code = text.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.range(of: "--").map { line[..<$0.lowerBound] } ?? line
        }.joined(separator: "\n")
        let placeholders = Set(code.matches(of: /\{([a-z_]+)\}/).map { String($0.output.1) })
        let parameters = Set(code.matches(of: /\$([0-9]+)/).compactMap { Int($0.output.1) })
        return (placeholders, parameters)
    }

    /// What is wrong with a file's declaration against its use, if anything.
    static func problems(_ file: SQLFile) -> [String] {
        let used = uses(file.text)
        var problems: [String] = []
        let declared = Set(file.placeholders)
        for name in used.placeholders.subtracting(declared).sorted() { problems.append("\(file.path) uses {\(name)}, undeclared") }
        for name in declared.subtracting(used.placeholders).sorted() { problems.append("\(file.path) declares {\(name)}, unused") }
        let parameters = Set(file.parameters.indices.map { $0 + 1 })
        for n in used.parameters.subtracting(parameters).sorted() { problems.append("\(file.path) uses $\(n), undeclared") }
        for n in parameters.subtracting(used.parameters).sorted() { problems.append("\(file.path) declares $\(n), unused") }
        return problems
    }

    @Test func everyFileUsesExactlyWhatItDeclares() throws {
        let files = try Self.files()
        // The pipeline's merges and checks, the referral matching, the rollups and the reports.
        #expect(files.count >= 35, "found \(files.map(\.path))")
        #expect(files.contains { $0.path == "ingest/merge/exams.sql" && $0.placeholders.contains("pages") })
        #expect(files.contains { $0.path == "reports/activity.sql" && $0.parameters.count == 6 })
        for file in files {
            #expect(Self.problems(file) == [])
        }
    }

    /// The check itself catches each kind of drift.
    @Test func driftIsCaught() throws {
        let undeclared = try SQLFile(path: "t1.sql", text: "-- parameters: $1 batch\nSELECT * FROM {staging} WHERE id = $1 AND f = $2")
        #expect(Self.problems(undeclared) == ["t1.sql uses {staging}, undeclared", "t1.sql uses $2, undeclared"])
        let unused = try SQLFile(path: "t2.sql", text: "-- placeholders: {staging} {pages}\n-- parameters: $1 batch, $2 facility\n-- {pages} and $2 in a comment\nSELECT * FROM {staging} WHERE id = $1")
        #expect(Self.problems(unused) == ["t2.sql declares {pages}, unused", "t2.sql declares $2, unused"])
    }

    @Test func declarationsAreReadStrictly() throws {
        #expect(throws: SQLFile.Malformed.self) { try SQLFile(path: "t.sql", text: "-- parameters: $2 facility\nSELECT $2") }
        #expect(throws: SQLFile.Malformed.self) { try SQLFile(path: "t.sql", text: "-- parameters: $1\nSELECT $1") }
        #expect(throws: SQLFile.Malformed.self) { try SQLFile(path: "t.sql", text: "-- placeholders: staging\nSELECT 1") }
        // Only the leading comment declares: a line further down is prose.
        let late = try SQLFile(path: "t.sql", text: "SELECT 1;\n-- parameters: $1 batch\n")
        #expect(late.parameters == [])
    }

    /// The renderer fills exactly what is declared, and refuses to send a file with a hole.
    @Test func renderingAndBindingNeedEveryDeclaredName() throws {
        let file = try SQLFile(path: "t.sql", text: """
            -- placeholders: {staging}
            -- parameters: $1 batch, $2 keys
            SELECT {staging}, {other} FROM t WHERE a = $1 AND b = $2
            """)
        #expect(file.placeholders == ["staging"] && file.parameters == ["batch", "keys"])
        let rendered = try file.render(["staging": "staging.b1_exams", "other": "x"])
        // The declaration is not sent: only the statement, with the declared placeholder filled.
        #expect(rendered == "SELECT staging.b1_exams, {other} FROM t WHERE a = $1 AND b = $2")
        #expect(throws: SQLFile.Unfilled.self) { try file.render(["other": "x"]) }
        #expect(throws: SQLFile.Unfilled.self) { try file.bindings(["batch": Int64(1)]) }
        let bindings = try file.bindings(["batch": Int64(1), "keys": nil, "unused": "x"])
        #expect(bindings.count == 2)
    }

    /// A report's declared parameters are its catalog entry's, in order: they are bound by name.
    @Test func reportsDeclareTheCatalogsParameters() throws {
        for report in ReportCatalog.all {
            let file = try SQLFile.load(report.sqlPath)
            #expect(file.parameters == report.parameters.map(\.name), "\(report.id)")
        }
    }
}
