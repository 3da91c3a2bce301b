/// Splits a SQL script into its statements. PostgresNIO speaks only the extended query protocol,
/// which takes one statement at a time, so migration files are cut at top-level semicolons —
/// those outside quotes, quoted identifiers, dollar-quoted bodies and comments.
public enum SQLScript {
    public static func statements(in script: String) -> [String] {
        let chars = Array(script.unicodeScalars)
        var statements: [String] = []
        var current = String.UnicodeScalarView()
        var index = 0
        var hasCode = false  // whether `current` holds anything but comments and white space

        func flush() {
            let text = String(current).trimmingWhitespace()
            if hasCode, !text.isEmpty { statements.append(text) }
            current = String.UnicodeScalarView()
            hasCode = false
        }
        func peek(_ offset: Int) -> Unicode.Scalar? {
            index + offset < chars.count ? chars[index + offset] : nil
        }
        func copy(until endIndex: Int) {
            current.append(contentsOf: chars[index..<min(endIndex, chars.count)])
            index = min(endIndex, chars.count)
        }

        while index < chars.count {
            let c = chars[index]
            switch c {
            case "-" where peek(1) == "-":
                var end = index
                while end < chars.count, chars[end] != "\n" { end += 1 }
                copy(until: end)
            case "/" where peek(1) == "*":
                var depth = 0
                var end = index
                while end < chars.count {
                    if chars[end] == "/", end + 1 < chars.count, chars[end + 1] == "*" { depth += 1; end += 2; continue }
                    if chars[end] == "*", end + 1 < chars.count, chars[end + 1] == "/" {
                        depth -= 1; end += 2
                        if depth == 0 { break }
                        continue
                    }
                    end += 1
                }
                copy(until: end)
            case "'", "\"":
                var end = index + 1
                while end < chars.count {
                    if chars[end] == c {
                        if end + 1 < chars.count, chars[end + 1] == c { end += 2; continue }  // doubled quote
                        end += 1
                        break
                    }
                    end += 1
                }
                hasCode = true
                copy(until: end)
            case "$":
                // A dollar-quote tag is $$ or $identifier$; a positional parameter ($1) is not one.
                var tagEnd = index + 1
                while tagEnd < chars.count, chars[tagEnd] == "_" || chars[tagEnd].properties.isAlphabetic
                        || (tagEnd > index + 1 && ("0"..."9").contains(chars[tagEnd])) {
                    tagEnd += 1
                }
                if tagEnd < chars.count, chars[tagEnd] == "$" {
                    let tag = Array(chars[index...tagEnd])
                    var end = tagEnd + 1
                    while end < chars.count {
                        if chars[end] == "$", end + tag.count <= chars.count, Array(chars[end..<end + tag.count]) == tag {
                            end += tag.count
                            break
                        }
                        end += 1
                    }
                    hasCode = true
                    copy(until: end)
                } else {
                    hasCode = true
                    copy(until: index + 1)
                }
            case ";":
                index += 1
                flush()
            default:
                if !c.properties.isWhitespace { hasCode = true }
                copy(until: index + 1)
            }
        }
        flush()
        return statements
    }

    /// A statement's command — its first keyword after leading `--` comments, upper-cased
    /// (`INSERT`, `UPDATE`, `DELETE`, `WITH`…), as PostgreSQL's command tag names it.
    public static func command(of statement: String) -> String {
        for line in statement.split(separator: "\n", omittingEmptySubsequences: true) {
            let text = line.drop(while: { $0 == " " || $0 == "\t" })
            if text.isEmpty || text.hasPrefix("--") { continue }
            return String(text.prefix(while: { $0.isLetter })).uppercased()
        }
        return ""
    }
}

extension String {
    /// Without leading and trailing white space (Unicode's, so a full-width space too).
    public func trimmingWhitespace() -> String {
        // Fast path: nothing to trim (the usual case for CSV fields).
        if let first = utf8.first, let last = utf8.last, first > 0x20, last > 0x20, first < 0x80, last < 0x80 { return self }
        if isEmpty { return self }
        let scalars = unicodeScalars
        // Non-ASCII ends (a name in Chinese): look at the two end scalars before copying anything.
        if !Self.isWhitespace(scalars.first!), !Self.isWhitespace(scalars.last!) { return self }
        guard let first = scalars.firstIndex(where: { !Self.isWhitespace($0) }),
              let last = scalars.lastIndex(where: { !Self.isWhitespace($0) }) else { return "" }
        return String(scalars[first...last])
    }

    /// Unicode's White_Space property — the same as `properties.isWhitespace` — spelled out: its
    /// 25 code points, without a property-table lookup for every Chinese field's ends.
    static func isWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x09...0x0D, 0x20, 0x85, 0xA0, 0x1680, 0x2000...0x200A, 0x2028, 0x2029, 0x202F, 0x205F, 0x3000: true
        default: false
        }
    }
}
