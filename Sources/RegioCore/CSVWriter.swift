import Foundation

/// RFC 4180 output: fields holding a comma, quote or line break are quoted, quotes doubled;
/// lines end in CRLF as the RFC says (Excel and every BI tool read that).
public enum CSVWriter {
    public static func field(_ value: String) -> String {
        guard value.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
            return value
        }
        return "\"" + value.replacingOccurrences(of: "\"", with: "\"\"") + "\""
    }

    public static func line(_ fields: [String]) -> String {
        fields.map(field).joined(separator: ",") + "\r\n"
    }

    /// A line of a file the services hand out (reports, errors, rejected rows, listings), which
    /// people open in spreadsheets: each cell made safe (`safeCell`), then quoted as `line` does.
    public static func exportLine(_ fields: [String]) -> String {
        fields.map { field(safeCell($0)) }.joined(separator: ",") + "\r\n"
    }

    /// The characters a spreadsheet may take as the start of a formula (OWASP, CSV injection).
    static let formulaStarts: Set<Character> = ["=", "+", "-", "@", "\t", "\r"]

    /// A cell a spreadsheet would read as a formula — starting with `=`, `+`, `-`, `@`, tab or
    /// carriage return — gets a leading apostrophe, which spreadsheets show as text; a plain
    /// number (`-12.5`) is left as it is, since no spreadsheet evaluates it and reports need it
    /// as a number. Bidirectional-control characters, which can make a cell read other than it
    /// is, are shown as their code (`<U+202E>`). Extracts read the apostrophe back off
    /// (`removingExportEscape`), so a downloaded rejected-rows file can be fixed and sent again.
    public static func safeCell(_ value: String) -> String {
        var value = value
        if value.unicodeScalars.contains(where: isBidiControl) {
            value = value.unicodeScalars.map { isBidiControl($0) ? "<U+\(String($0.value, radix: 16, uppercase: true))>" : String($0) }.joined()
        }
        guard let first = value.first, formulaStarts.contains(first), !isPlainNumber(value) else { return value }
        return "'" + value
    }

    static func isBidiControl(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x200E, 0x200F, 0x061C, 0x202A...0x202E, 0x2066...0x2069: true
        default: false
        }
    }

    /// `-12`, `+3.5`: an optional sign, digits, at most one decimal point.
    static func isPlainNumber(_ value: String) -> Bool {
        let body = value.drop { $0 == "-" || $0 == "+" }
        guard value.count - body.count == 1, !body.isEmpty, body.first != ".", body.last != "." else { return false }
        return body.allSatisfy { $0.isASCII && ($0.isNumber || $0 == ".") } && body.filter { $0 == "." }.count <= 1
    }
}

extension String {
    /// The value without the apostrophe `CSVWriter.safeCell` puts before a formula character.
    public func removingExportEscape() -> String {
        guard utf8.first == UInt8(ascii: "'"), let second = dropFirst().first, CSVWriter.formulaStarts.contains(second) else { return self }
        return String(dropFirst())
    }
}
