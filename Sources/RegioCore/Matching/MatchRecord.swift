/// What the patient index compares of one facility's patient record: built once per record
/// from its columns (`emr.patients`), so that comparing two records does no parsing.
public struct MatchRecord: Sendable {
    public var name: PersonName
    /// GB/T 2261.1 `1` or `2`; nil when unknown (`0`, `9`).
    public var sex: UInt8?
    public var birthDate: CalendarDate?
    /// The number's last 11 digits (a mobile number, or a landline with its area code).
    public var phone: String?
    /// The address's character pairs (hashed), for their overlap; nil when there is none.
    public var address: Set<Int>?
    /// The keyed hash of a valid national ID number, as the ingestion stores it.
    public var idHash: String?

    public init(name: String, sex: String?, birthDate: CalendarDate?, phone: String?, address: String?, idHash: String?) {
        self.name = PersonName(name)
        self.sex = switch sex {
        case "1": 1
        case "2": 2
        default: nil
        }
        self.birthDate = birthDate
        let digits = phone.map { String($0.unicodeScalars.filter { ("0"..."9").contains($0) }.map(Character.init)).suffix(11) }
        self.phone = digits.flatMap { $0.count >= 7 ? String($0) : nil }
        self.address = address.flatMap(Self.pairs)
        self.idHash = idHash
    }

    /// The overlapping pairs of an address's letters and digits (`解放路1号` → 解放, 放路, 路1, 1号),
    /// hashed; nil when fewer than two remain.
    static func pairs(_ text: String) -> Set<Int>? {
        let scalars = text.unicodeScalars.filter { $0.properties.isAlphabetic || $0.properties.numericType != nil }
            .map { HanReadings.isHan($0) ? HanReadings.shared.reading(of: $0).simplified : $0 }
        guard scalars.count >= 2 else { return nil }
        var pairs = Set<Int>(minimumCapacity: scalars.count)
        for index in 1..<scalars.count {
            pairs.insert(Int(scalars[index - 1].value) << 21 | Int(scalars[index].value))
        }
        return pairs
    }

    /// The blocking keys a record is filed under. Two records are compared when one is filed
    /// under a key the other looks up (`lookupKeys`): the birth date with day and month in either
    /// order (a swapped date still meets), the name's sound with the birth year, and with the
    /// month and day (a mistyped year), the phone, the ID number; a record without a birth date
    /// under its name's sound (`n`); every record under its name's sound as well (`a`), which only
    /// a record without a birth date looks up.
    public var indexKeys: [String] {
        var keys = ["a\(name.pinyinKey)"]
        if let date = birthDate {
            keys += dateKeys(date)
        } else {
            keys.append("n\(name.pinyinKey)")
        }
        if let phone { keys.append("p\(phone)") }
        if let idHash { keys.append("i\(idHash)") }
        return keys
    }

    /// The keys a record looks up (see `indexKeys`): with a birth date, the records of its date,
    /// of its name and year, and those of its name without a date; without one, every record of
    /// its name.
    public var lookupKeys: [String] {
        var keys: [String] = []
        if let date = birthDate {
            keys += dateKeys(date)
            keys.append("n\(name.pinyinKey)")
        } else {
            keys.append("a\(name.pinyinKey)")
        }
        if let phone { keys.append("p\(phone)") }
        if let idHash { keys.append("i\(idHash)") }
        return keys
    }

    private func dateKeys(_ date: CalendarDate) -> [String] {
        ["d\(date.year)-\(min(date.month, date.day))-\(max(date.month, date.day))",
         "y\(name.pinyinKey)|\(date.year)", "m\(name.pinyinKey)|\(date.month)-\(date.day)"]
    }
}
