extension CSVParser.Record {
    /// A quote left open: a quoted field that runs over line breaks into a record that is broken
    /// (a parser problem, or not as many fields as the header) has read the following rows as its
    /// own text. The error names the lines it ran over and shows the start of the field — on its
    /// first line, at most 40 characters, runs of six or more digits masked — never the rows it
    /// swallowed. `field` is the position of the runaway field: the fields before it are the
    /// record's own line.
    public func runawayQuote(headerWidth: Int) -> (issue: RowIssue, field: Int)? {
        guard lastLine > line, problem != nil || fields.count != headerWidth,
              let field = fields.firstIndex(where: { $0.contains("\n") || $0.contains("\r") }) else { return nil }
        let opening = fields[field].prefix { $0 != "\n" && $0 != "\r" }
        let message = "a quoted field opened on line \(line) runs to line \(lastLine): these \(lastLine - line + 1) lines were read as one row, "
            + "and none of them was loaded (is a closing quote missing?); field \(field + 1) starts \"\(Self.excerpt(opening))\""
        return (RowIssue(column: nil, code: .badCSV, severity: .error, message: message), field)
    }

    /// At most 40 characters, runs of six or more digits replaced by "…" (they may be an ID number
    /// or a phone).
    static func excerpt(_ text: Substring) -> String {
        var result = ""
        var digits = ""
        func flush() {
            result += digits.count >= 6 ? "…" : digits
            digits = ""
        }
        for character in text.prefix(40) {
            if character.isASCII && character.isNumber { digits.append(character) } else {
                flush()
                result.append(character)
            }
        }
        flush()
        return result
    }
}
