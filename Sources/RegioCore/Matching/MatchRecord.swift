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

    /// The blocking keys: two records are compared only when they share one. Birth date (day and
    /// month in either order, so a swapped date still meets), the name's sound with the birth
    /// year, the phone, and the name's sound alone (for a missing or mistyped birth date; a
    /// large block of it is left out by the index).
    public var blockingKeys: [String] {
        var keys: [String] = []
        if let date = birthDate {
            keys.append("d\(date.year)-\(min(date.month, date.day))-\(max(date.month, date.day))")
            keys.append("n\(name.pinyinKey)|\(date.year)")
        }
        if let phone { keys.append("p\(phone)") }
        keys.append("n\(name.pinyinKey)")
        return keys
    }
}
