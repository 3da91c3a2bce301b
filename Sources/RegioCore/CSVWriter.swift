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
}
