/// The regional exam catalogue and facilities' local codes mapped to it (docs/shared-emr.md):
/// what makes an exam at one facility recognisable at another.
public struct ExamCode: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var category: String
    /// How long a result is recognised elsewhere (互认有效期); nil: the category's default.
    public var windowDays: Int?

    public init(code: String, name: String, category: String, windowDays: Int? = nil) {
        self.code = code
        self.name = name
        self.category = category
        self.windowDays = windowDays
    }

    /// Categories as the extract's `exams.category` names them.
    public static let categories = ExtractFileSpec.examCategories
}

/// A facility's local exam code and the regional code it means.
public struct ExamCodeMapping: Sendable, Equatable {
    public var facility: String
    public var localCode: String
    public var regionalCode: String
    /// The line of the import file it came from (0 when made otherwise): where a problem the
    /// database finds (an unknown facility or code) is reported.
    public var line: Int

    public init(facility: String, localCode: String, regionalCode: String, line: Int = 0) {
        self.facility = facility
        self.localCode = localCode
        self.regionalCode = regionalCode
        self.line = line
    }
}

/// Reads a CSV file with a header line whose columns may come in any order: each data line as a
/// value or its problems (line, column, reason), all of them collected; nothing partial.
public struct CSVImport {
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var line: Int
        public var column: String?
        public var message: String
        public init(line: Int, column: String?, message: String) {
            self.line = line
            self.column = column
            self.message = message
        }
        public var description: String {
            "line \(line)" + (column.map { ", column \($0)" } ?? "") + ": " + message
        }
    }

    /// One data line: its values by column name, and where to report what is wrong with it.
    public struct Row {
        public let line: Int
        let fields: [String]
        let index: [String: Int]
        public fileprivate(set) var problems: [Problem] = []

        public func value(_ column: String) -> String {
            guard let position = index[column], position < fields.count else { return "" }
            return fields[position].trimmingWhitespace()
        }

        public mutating func fail(_ column: String, _ message: String) {
            problems.append(Problem(line: line, column: column, message: message))
        }
    }

    /// Parses `text`; `read` turns a row into a value or records its problems on it.
    public static func parse<Value>(_ text: String, required: [String], read: (inout Row) -> Value?) -> Result<[Value], CSVImportErrors> {
        var parser = CSVParser()
        var records: [CSVParser.Record] = []
        parser.feed(text.utf8) { records.append($0) }
        parser.finish { records.append($0) }
        guard let header = records.first else {
            return .failure(CSVImportErrors(problems: [Problem(line: 1, column: nil, message: "the file is empty")]))
        }
        let index = Dictionary(header.fields.enumerated().map { ($1.trimmingWhitespace(), $0) }, uniquingKeysWith: { first, _ in first })
        var problems = required.filter { index[$0] == nil }.map { Problem(line: 1, column: $0, message: "required column is missing") }
        guard problems.isEmpty else { return .failure(CSVImportErrors(problems: problems)) }
        var values: [Value] = []
        for record in records.dropFirst() {
            if let problem = record.problem {
                problems.append(Problem(line: record.line, column: nil, message: problem))
                continue
            }
            if record.fields.allSatisfy({ $0.trimmingWhitespace().isEmpty }) { continue }
            var row = Row(line: record.line, fields: record.fields, index: index)
            let value = read(&row)
            problems += row.problems
            if row.problems.isEmpty, let value { values.append(value) }
        }
        return problems.isEmpty ? .success(values) : .failure(CSVImportErrors(problems: problems))
    }
}

public struct CSVImportErrors: Error, Equatable, CustomStringConvertible {
    public var problems: [CSVImport.Problem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}

/// `regio catalog import exam-codes FILE.csv`: header `code,name,category` and optionally `window_days`.
public enum ExamCodeImport {
    public static let required = ["code", "name", "category"]

    public static func parse(_ text: String) -> Result<[ExamCode], CSVImportErrors> {
        var seen: [String: Int] = [:]
        return CSVImport.parse(text, required: required) { row in
            let code = row.value("code")
            if code.isEmpty || code.count > 64 { row.fail("code", "required, at most 64 characters") }
            if let first = seen[code] { row.fail("code", "duplicate of line \(first)") }
            seen[code] = row.line
            let name = row.value("name")
            if name.isEmpty { row.fail("name", "required") }
            let category = row.value("category").uppercased()
            if !ExamCode.categories.contains(category) {
                row.fail("category", "must be one of \(ExamCode.categories.joined(separator: ", ")), got '\(row.value("category"))'")
            }
            let windowText = row.value("window_days")
            let window = windowText.isEmpty ? nil : Int(windowText)
            if !windowText.isEmpty, !(0...3650).contains(window ?? -1) {
                row.fail("window_days", "must be a whole number of days from 0 to 3650, or empty for the category's default, got '\(windowText)'")
            }
            return ExamCode(code: code, name: name, category: category, windowDays: window)
        }
    }
}

/// `regio catalog import exam-map FILE.csv`: header `facility,local_code,regional_code`.
public enum ExamMapImport {
    public static let required = ["facility", "local_code", "regional_code"]

    public static func parse(_ text: String) -> Result<[ExamCodeMapping], CSVImportErrors> {
        var seen: [String: Int] = [:]
        return CSVImport.parse(text, required: required) { row in
            let facility = row.value("facility")
            if !Facility.isValidCode(facility) { row.fail("facility", "'\(facility)' is not a facility code") }
            let local = row.value("local_code")
            if local.isEmpty { row.fail("local_code", "required") }
            let regional = row.value("regional_code")
            if regional.isEmpty { row.fail("regional_code", "required") }
            if let first = seen["\(facility)|\(local)"] { row.fail("local_code", "duplicate of line \(first)") }
            seen["\(facility)|\(local)"] = row.line
            return ExamCodeMapping(facility: facility, localCode: local, regionalCode: regional, line: row.line)
        }
    }
}
