/// Checks of single values, on their UTF-8 bytes (no `Foundation` parsing on the hot path).
public enum FieldChecks {
    /// A resident ID number (居民身份证号): 18 characters with the GB 11643 (ISO 7064 MOD 11-2)
    /// check character, or a legacy 15-digit number. Returns its embedded birth date and sex.
    public struct ResidentID: Sendable, Equatable {
        public var birthDate: CalendarDate
        /// GB/T 2261.1: 1 male, 2 female.
        public var sex: String
    }

    public enum ResidentIDProblem: Error, Equatable {
        case shape, checkDigit, birthDate
    }

    static let weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    static let checkCharacters: [UInt8] = Array("10X98765432".utf8)

    /// The check character of the first 17 digits.
    public static func checkCharacter(_ first17: some Collection<UInt8>) -> UInt8 {
        var sum = 0
        for (digit, weight) in zip(first17, weights) { sum += Int(digit - 0x30) * weight }
        return checkCharacters[sum % 11]
    }

    public static func residentID(_ text: String) -> Result<ResidentID, ResidentIDProblem> {
        var bytes = Array(text.utf8)
        if bytes.count == 18, bytes[17] == UInt8(ascii: "x") { bytes[17] = UInt8(ascii: "X") }
        func digits(_ range: Range<Int>) -> Bool { bytes[range].allSatisfy { (0x30...0x39).contains($0) } }
        let year: Int, month: Int, day: Int, sexDigit: UInt8
        switch bytes.count {
        case 18:
            guard digits(0..<17), (0x30...0x39).contains(bytes[17]) || bytes[17] == UInt8(ascii: "X") else { return .failure(.shape) }
            guard checkCharacter(bytes[0..<17]) == bytes[17] else { return .failure(.checkDigit) }
            year = CalendarDate.number(bytes[6..<10][...])!
            month = CalendarDate.number(bytes[10..<12][...])!
            day = CalendarDate.number(bytes[12..<14][...])!
            sexDigit = bytes[16]
        case 15:
            guard digits(0..<15) else { return .failure(.shape) }
            year = 1900 + CalendarDate.number(bytes[6..<8][...])!
            month = CalendarDate.number(bytes[8..<10][...])!
            day = CalendarDate.number(bytes[10..<12][...])!
            sexDigit = bytes[14]
        default:
            return .failure(.shape)
        }
        guard let birth = CalendarDate(year: year, month: month, day: day) else { return .failure(.birthDate) }
        return .success(ResidentID(birthDate: birth, sex: (sexDigit - 0x30) % 2 == 1 ? "1" : "2"))
    }

    /// ICD-10 shape: a letter, two digits, then optionally a dot and 1–4 letters or digits
    /// (Chinese national extensions such as `J18.900`, `I10.x00x` are accepted).
    public static func isICD10(_ text: String) -> Bool {
        let b = Array(text.utf8)
        guard b.count >= 3, (0x41...0x5A).contains(b[0]), (0x30...0x39).contains(b[1]), (0x30...0x39).contains(b[2]) else { return false }
        if b.count == 3 { return true }
        guard b[3] == UInt8(ascii: "."), (5...8).contains(b.count) else { return false }
        return b[4...].allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || (0x61...0x7A).contains($0) }
    }

    /// A non-negative decimal with at most `maxScale` (≤ 6) decimals, normalised (`012.50` →
    /// `12.50`), with its exact value in millionths for the plausibility arithmetic. Nil for
    /// anything else (signs, exponents, thousands separators).
    public static func decimal(_ text: String, maxScale: Int) -> (text: String, micros: Int64)? {
        precondition(maxScale <= 6, "values are kept in millionths")
        let b = text.utf8
        guard !b.isEmpty, b.count <= 24 else { return nil }
        var integer: Int64 = 0
        var integerDigits = 0
        var fraction: Int64 = 0
        var fractionDigits = 0
        var sawDot = false
        var sawDigit = false
        for byte in b {
            if byte == UInt8(ascii: ".") {
                guard !sawDot else { return nil }
                sawDot = true
            } else if (0x30...0x39).contains(byte) {
                sawDigit = true
                if sawDot {
                    fractionDigits += 1
                    guard fractionDigits <= maxScale else { return nil }
                    fraction = fraction * 10 + Int64(byte - 0x30)
                } else {
                    integer = integer * 10 + Int64(byte - 0x30)
                    integerDigits += 1
                    guard integer < 1_000_000_000_000 else { return nil }
                }
            } else {
                return nil
            }
        }
        guard sawDigit else { return nil }
        var unit: Int64 = 1_000_000
        for _ in 0..<fractionDigits { unit /= 10 }
        let value = integer * 1_000_000 + fraction * unit  // integer < 10¹²: no overflow
        // Already in normal form (the usual case): no leading zero, no bare or trailing dot.
        if integerDigits > 0, b.first != UInt8(ascii: "0") || integerDigits == 1, !sawDot || fractionDigits > 0 {
            return (text, value)
        }
        let text = String(integer) + (fractionDigits > 0 ? "." + pad(Int(fraction), fractionDigits) : "")
        return (text, value)
    }

    /// A timestamp: `YYYY-MM-DD HH:MM:SS` (local time, `localOffset` added, e.g. `+08:00`) or
    /// RFC 3339 (`YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM)`). Returns ISO text with an offset and the
    /// local calendar date, for plausibility checks.
    public static func timestamp(_ text: String, localOffset: String) -> (value: String, date: CalendarDate)? {
        let b = Array(text.utf8)
        guard b.count >= 19, let date = CalendarDate(bytes: b[0..<10]),
              b[10] == UInt8(ascii: " ") || b[10] == UInt8(ascii: "T"),
              b[13] == UInt8(ascii: ":"), b[16] == UInt8(ascii: ":"),
              let hour = CalendarDate.number(b[11..<13]), let minute = CalendarDate.number(b[14..<16]),
              let second = CalendarDate.number(b[17..<19]), hour < 24, minute < 60, second < 61 else { return nil }
        var rest = b[19...]
        if rest.first == UInt8(ascii: ".") {
            rest = rest.dropFirst()
            let digits = rest.prefix { (0x30...0x39).contains($0) }
            guard !digits.isEmpty, digits.count <= 6 else { return nil }
            rest = rest.dropFirst(digits.count)
        }
        if rest.isEmpty, b.count == 19, b[10] == UInt8(ascii: " ") {
            return (text + localOffset, date)  // the common case: local time as written
        }
        let clock = String(decoding: b[0..<10], as: UTF8.self) + " " + String(decoding: b[11..<19], as: UTF8.self)
        if rest.isEmpty {
            return (clock + localOffset, date)
        }
        if rest.count == 1, rest.first == UInt8(ascii: "Z") { return (clock + "+00:00", date) }
        let offset = Array(rest)
        guard offset.count == 6, offset[0] == UInt8(ascii: "+") || offset[0] == UInt8(ascii: "-"), offset[3] == UInt8(ascii: ":"),
              let oh = CalendarDate.number(offset[1..<3]), let om = CalendarDate.number(offset[4..<6]), oh <= 14, om < 60
        else { return nil }
        return (clock + String(decoding: offset, as: UTF8.self), date)
    }
}

extension FieldChecks {
    /// Seconds since 1970-01-01 00:00 UTC of a timestamp as `timestamp(_:localOffset:)` writes it
    /// (`YYYY-MM-DD HH:MM:SS±HH:MM`); nil for any other text.
    public static func unixSeconds(normalizedTimestamp text: String) -> Int? {
        text.utf8.withContiguousStorageIfAvailable(unixSeconds) ?? unixSeconds(Array(text.utf8))
    }

    static func unixSeconds<Bytes: RandomAccessCollection<UInt8>>(_ b: Bytes) -> Int? where Bytes.Index == Int {
        guard b.count == 25, b.startIndex == 0, b[10] == UInt8(ascii: " "), b[19] == UInt8(ascii: "+") || b[19] == UInt8(ascii: "-"),
              let date = CalendarDate.parse(b[0..<10]),
              let h = CalendarDate.number(b[11..<13]), let m = CalendarDate.number(b[14..<16]),
              let s = CalendarDate.number(b[17..<19]), let oh = CalendarDate.number(b[20..<22]),
              let om = CalendarDate.number(b[23..<25]) else { return nil }
        let sign = b[19] == UInt8(ascii: "-") ? -1 : 1
        return ((date.dayNumber * 24 + h) * 60 + m - sign * (oh * 60 + om)) * 60 + s
    }
}

extension CalendarDate {
    /// Days since 1970-01-01 (proleptic Gregorian), for date arithmetic without Foundation.
    public var dayNumber: Int {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let m = month
        let doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146097 + doe - 719468
    }

    public init(dayNumber: Int) {
        let z = dayNumber + 719468
        let era = (z >= 0 ? z : z - 146096) / 146097
        let doe = z - era * 146097
        let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        let y = yoe + era * 400 + (m <= 2 ? 1 : 0)
        self.init(year: y, month: m, day: d)!
    }

    public func adding(days: Int) -> CalendarDate { CalendarDate(dayNumber: dayNumber + days) }
}
