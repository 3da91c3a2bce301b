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
    /// as a number. Invisible format characters (bidirectional controls that can make a cell read
    /// other than it is, zero-width spaces …) are shown as their code (`<U+202E>`). Extracts read
    /// the apostrophe back off (`removingExportEscape`), so a downloaded rejected-rows file can be
    /// fixed and sent again.
    public static func safeCell(_ value: String) -> String {
        let value = value.showingFormatCharacters()
        guard let first = value.first, formulaStarts.contains(first), !isPlainNumber(value) else { return value }
        return "'" + value
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

extension Unicode.Scalar {
    /// An invisible character that changes how text around it reads or compares (Unicode
    /// category Cf: bidirectional controls such as U+202E, zero-width spaces and joiners, the
    /// soft hyphen, a byte-order mark inside text …). Han, kana, hangul and ASCII are skipped
    /// without a property lookup: they are nearly all of an extract's text.
    public var isFormatCharacter: Bool {
        switch value {
        case 0..<0xAD, 0x3000...0x9FFF, 0xAC00...0xD7FF: false
        default: properties.generalCategory == .format
        }
    }
}

extension String {
    /// The first invisible format character (`Unicode.Scalar.isFormatCharacter`), if any. Every
    /// format character's UTF-8 form starts with one of a few lead bytes (none of them Han's):
    /// text without any is passed over a byte at a time.
    public var firstFormatCharacter: Unicode.Scalar? {
        guard utf8.contains(where: { $0 >= 0xC2 && Self.formatLeadBytes[Int($0)] }) else { return nil }
        return unicodeScalars.first { $0.isFormatCharacter }
    }

    /// Whether a byte leads the UTF-8 form of some scalar of category Cf (U+00AD; Arabic and
    /// Syriac; U+08E2; U+180E; U+200B–U+206F; U+FEFF, U+FFF9–U+FFFB; planes 1 and 14).
    static let formatLeadBytes: [Bool] = (0..<256).map { [0xC2, 0xD8, 0xDB, 0xDC, 0xE0, 0xE1, 0xE2, 0xEF, 0xF0, 0xF3].contains($0) }

    /// The text with each invisible format character shown as its code, `<U+202E>`.
    public func showingFormatCharacters() -> String {
        guard firstFormatCharacter != nil else { return self }
        return unicodeScalars.map { $0.isFormatCharacter ? $0.code : String($0) }.joined()
    }
}

extension Unicode.Scalar {
    /// `U+202E`-style, in angle brackets.
    var code: String { "<U+\(String(value, radix: 16, uppercase: true).leftPadded(to: 4))>" }
}

private extension String {
    func leftPadded(to width: Int) -> String { count >= width ? self : String(repeating: "0", count: width - count) + self }
}
