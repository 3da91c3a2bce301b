/// A calendar date without a time zone, `YYYY-MM-DD`, checked for real days (leap years too).
public struct CalendarDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int
    public var day: Int

    public init?(year: Int, month: Int, day: Int) {
        guard (1800...2999).contains(year), (1...12).contains(month),
              (1...CalendarDate.daysIn(month: month, year: year)).contains(day) else { return nil }
        self.year = year
        self.month = month
        self.day = day
    }

    public init?(_ text: some StringProtocol) {
        // A String's bytes are read where they are (no copy per date parsed).
        guard let date = text.utf8.withContiguousStorageIfAvailable({ Self.parse($0) }) ?? Self.parse(Array(text.utf8))
        else { return nil }
        self = date
    }

    /// From exactly ten bytes `YYYY-MM-DD`.
    public init?(bytes: ArraySlice<UInt8>) {
        guard let date = Self.parse(bytes) else { return nil }
        self = date
    }

    static func parse<Bytes: RandomAccessCollection<UInt8>>(_ b: Bytes) -> CalendarDate? where Bytes.Index == Int {
        let s = b.startIndex
        guard b.count == 10, b[s + 4] == UInt8(ascii: "-"), b[s + 7] == UInt8(ascii: "-"),
              let y = Self.number(b[s..<s + 4]), let m = Self.number(b[s + 5..<s + 7]), let d = Self.number(b[s + 8..<s + 10])
        else { return nil }
        return CalendarDate(year: y, month: m, day: d)
    }

    static func number<Digits: Collection<UInt8>>(_ digits: Digits) -> Int? {
        var value = 0
        for byte in digits {
            guard (0x30...0x39).contains(byte) else { return nil }
            value = value * 10 + Int(byte - 0x30)
        }
        return value
    }

    public static func daysIn(month: Int, year: Int) -> Int {
        switch month {
        case 2: (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    public var description: String {
        pad(year, 4) + "-" + pad(month, 2) + "-" + pad(day, 2)
    }

    public static func < (lhs: Self, rhs: Self) -> Bool {
        (lhs.year, lhs.month, lhs.day) < (rhs.year, rhs.month, rhs.day)
    }
}

/// A calendar month, `YYYY-MM`: the period of every report.
public struct CalendarMonth: Sendable, Hashable, Comparable, CustomStringConvertible {
    public var year: Int
    public var month: Int

    public init?(year: Int, month: Int) {
        guard (1900...2999).contains(year), (1...12).contains(month) else { return nil }
        self.year = year
        self.month = month
    }

    public init?(_ text: some StringProtocol) {
        let bytes = Array(text.utf8)
        guard bytes.count == 7, bytes[4] == UInt8(ascii: "-"),
              let y = CalendarDate.number(bytes[0..<4]), let m = CalendarDate.number(bytes[5..<7]) else { return nil }
        self.init(year: y, month: m)
    }

    public var description: String { pad(year, 4) + "-" + pad(month, 2) }

    public static func < (lhs: Self, rhs: Self) -> Bool { (lhs.year, lhs.month) < (rhs.year, rhs.month) }
}

func pad(_ value: Int, _ width: Int) -> String {
    let text = String(value)
    return String(repeating: "0", count: max(0, width - text.count)) + text
}
