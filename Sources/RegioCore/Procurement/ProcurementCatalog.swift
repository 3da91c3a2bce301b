import Foundation

/// A standard item of the procurement catalogue (docs/procurement.md): what purchase lines of
/// every member are compared as. Prices compare per `baseUnit`, the smallest dispensing unit.
public struct CatalogItem: Sendable, Equatable, Codable {
    public enum Category: String, Sendable, Codable, CaseIterable { case drug, consumable }

    /// NHSA drug code or national consumables code.
    public var nationalCode: String
    public var category: Category
    public var genericName: String
    /// Products of one generic, strength and route: their base units are interchangeable.
    public var genericGroup: String
    public var dosageForm: String?
    public var strength: String?
    public var spec: String?
    /// Base units in one `packUnit`.
    public var packSize: Decimal
    public var packUnit: String
    public var baseUnit: String
    public var manufacturer: String?

    public init(nationalCode: String, category: Category, genericName: String, genericGroup: String, dosageForm: String? = nil,
                strength: String? = nil, spec: String? = nil, packSize: Decimal, packUnit: String, baseUnit: String,
                manufacturer: String? = nil) {
        self.nationalCode = nationalCode
        self.category = category
        self.genericName = genericName
        self.genericGroup = genericGroup
        self.dosageForm = dosageForm
        self.strength = strength
        self.spec = spec
        self.packSize = packSize
        self.packUnit = packUnit
        self.baseUnit = baseUnit
        self.manufacturer = manufacturer
    }

    /// Whether a text is shaped like a national code: 6 to 40 capital letters and digits.
    public static func isValidCode(_ code: String) -> Bool {
        (6...40).contains(code.count) && code.allSatisfy { $0.isASCII && ($0.isUppercase || $0.isNumber) }
    }
}

/// A facility's LOCAL item code and the standard item it is.
public struct ItemMapping: Sendable, Equatable {
    public var facility: String
    public var localCode: String
    public var nationalCode: String
    /// The line of the import file (0 when made otherwise), where problems are reported.
    public var line: Int

    public init(facility: String, localCode: String, nationalCode: String, line: Int = 0) {
        self.facility = facility
        self.localCode = localCode
        self.nationalCode = nationalCode
        self.line = line
    }
}

/// An alliance's agreed price per base unit, valid over whole months (`validTo` nil: open).
public struct AgreedPrice: Sendable, Equatable {
    public var alliance: String
    public var nationalCode: String
    public var price: Decimal
    public var validFrom: CalendarDate
    public var validTo: CalendarDate?
    public var line: Int

    public init(alliance: String, nationalCode: String, price: Decimal, validFrom: CalendarDate, validTo: CalendarDate?, line: Int = 0) {
        self.alliance = alliance
        self.nationalCode = nationalCode
        self.price = price
        self.validFrom = validFrom
        self.validTo = validTo
        self.line = line
    }
}

/// A member's volume commitment under volume-based procurement: base units of a selected
/// product over the agreement cycle (whole months).
public struct VolumeCommitment: Sendable, Equatable {
    public var alliance: String
    public var member: String
    public var nationalCode: String
    public var cycleStart: CalendarDate
    public var cycleEnd: CalendarDate
    public var committedUnits: Decimal
    public var line: Int

    public init(alliance: String, member: String, nationalCode: String, cycleStart: CalendarDate, cycleEnd: CalendarDate,
                committedUnits: Decimal, line: Int = 0) {
        self.alliance = alliance
        self.member = member
        self.nationalCode = nationalCode
        self.cycleStart = cycleStart
        self.cycleEnd = cycleEnd
        self.committedUnits = committedUnits
        self.line = line
    }
}

/// A price per base unit listed by the provincial platform (挂网价), valid over whole months.
public struct ListedPrice: Sendable, Equatable {
    public var nationalCode: String
    public var price: Decimal
    public var validFrom: CalendarDate
    public var validTo: CalendarDate?
    public var source: String
    public var line: Int

    public init(nationalCode: String, price: Decimal, validFrom: CalendarDate, validTo: CalendarDate?,
                source: String = "provincial platform", line: Int = 0) {
        self.nationalCode = nationalCode
        self.price = price
        self.validFrom = validFrom
        self.validTo = validTo
        self.source = source
        self.line = line
    }
}

/// Agreements run in whole calendar months: they start on a first day and end on a last day. A
/// monthly rollup can then tell exactly which agreement a month falls under.
public enum AgreementPeriod {
    /// Why `from` … `to` is not a period of whole months, or nil when it is.
    public static func problem(from: CalendarDate, to: CalendarDate?) -> String? {
        if from.day != 1 { return "must be the first day of a month, got \(from)" }
        guard let to else { return nil }
        if to.day != CalendarDate.daysIn(month: to.month, year: to.year) { return "must be the last day of a month, got \(to)" }
        if to < from { return "ends before it starts" }
        return nil
    }
}

/// A decimal written plainly (`12.5`, `0.0325`): exact, never through a binary floating point.
public enum PlainDecimal {
    public static func parse(_ text: String) -> Decimal? {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard !text.isEmpty, parts.count <= 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(\.isASCIIDigit) }) else { return nil }
        return Decimal(string: text, locale: Locale(identifier: "en_US_POSIX"))
    }

    /// Whether a `numeric(precision, scale)` column stores `value` as it is: at most `scale`
    /// decimals and `precision - scale` digits before the point. (PostgreSQL rounds extra
    /// decimals away, and refuses a value too large.)
    public static func fits(_ value: Decimal, precision: Int, scale: Int) -> Bool {
        var value = value
        var rounded = Decimal()
        NSDecimalRound(&rounded, &value, scale, .plain)
        var limit = Decimal(1)
        for _ in 0..<(precision - scale) { limit *= 10 }
        return value.isFinite && rounded == value && abs(value) < limit
    }
}

extension CSVImport.Row {
    /// A required text column.
    mutating func required(_ column: String, max: Int = 200) -> String {
        let value = value(column)
        if value.isEmpty || value.count > max { fail(column, "required, at most \(max) characters") }
        return value
    }

    /// An optional text column: nil when empty.
    func optional(_ column: String) -> String? {
        let value = value(column)
        return value.isEmpty ? nil : value
    }

    mutating func nationalCode(_ column: String = "national_code") -> String {
        let code = value(column)
        if !CatalogItem.isValidCode(code) { fail(column, "'\(code)' is not a national code (6 to 40 capital letters and digits)") }
        return code
    }

    /// A decimal above zero.
    mutating func positiveDecimal(_ column: String) -> Decimal {
        guard let value = PlainDecimal.parse(value(column)), value > 0 else {
            fail(column, "must be a number above 0 written like 12.5, got '\(value(column))'")
            return 0
        }
        return value
    }

    mutating func date(_ column: String) -> CalendarDate? {
        guard let date = CalendarDate(value(column)) else {
            fail(column, "must be a date YYYY-MM-DD, got '\(value(column))'")
            return nil
        }
        return date
    }

    /// A whole-month period from two date columns; `to` may be empty (open) when `openEnded`.
    mutating func period(_ from: String, _ to: String, openEnded: Bool) -> (CalendarDate, CalendarDate?)? {
        guard let start = date(from) else { return nil }
        var end: CalendarDate?
        if !value(to).isEmpty || !openEnded {
            guard let date = date(to) else { return nil }
            end = date
        }
        if let problem = AgreementPeriod.problem(from: start, to: end) {
            fail(start.day != 1 ? from : to, problem)
            return nil
        }
        return (start, end)
    }
}

/// `regio catalog import items FILE.csv`: header `national_code,category,generic_name,generic_group,
/// pack_size,pack_unit,base_unit` and optionally `dosage_form,strength,spec,manufacturer`. A spec
/// that states a pack count must agree with `pack_size`.
public enum CatalogItemImport {
    public static let required = ["national_code", "category", "generic_name", "generic_group", "pack_size", "pack_unit", "base_unit"]

    public static func parse(_ text: String) -> Result<[CatalogItem], CSVImportErrors> {
        var seen: [String: Int] = [:]
        return CSVImport.parse(text, required: required) { row in
            let code = row.nationalCode()
            if let first = seen[code] { row.fail("national_code", "duplicate of line \(first)") }
            seen[code] = row.line
            let category = CatalogItem.Category(rawValue: row.value("category").lowercased())
            if category == nil { row.fail("category", "must be drug or consumable, got '\(row.value("category"))'") }
            let packSize = row.positiveDecimal("pack_size")
            let item = CatalogItem(
                nationalCode: code, category: category ?? .drug, genericName: row.required("generic_name"),
                genericGroup: row.required("generic_group", max: 64), dosageForm: row.optional("dosage_form"),
                strength: row.optional("strength"), spec: row.optional("spec"), packSize: packSize,
                packUnit: row.required("pack_unit", max: 8), baseUnit: row.required("base_unit", max: 8),
                manufacturer: row.optional("manufacturer"))
            if let spec = item.spec, case .success(let parsed) = PackSpec.parse(spec), let count = parsed.count, count != packSize,
               parsed.baseUnit == nil || parsed.baseUnit == item.baseUnit {
                row.fail("pack_size", "\(packSize) disagrees with the spec '\(spec)', which counts \(count)")
            }
            return item
        }
    }
}

/// `regio catalog import item-map FILE.csv`: header `facility,local_code,national_code`.
public enum ItemMapImport {
    public static let required = ["facility", "local_code", "national_code"]

    public static func parse(_ text: String) -> Result<[ItemMapping], CSVImportErrors> {
        var seen: [String: Int] = [:]
        return CSVImport.parse(text, required: required) { row in
            let facility = row.value("facility")
            if !Facility.isValidCode(facility) { row.fail("facility", "'\(facility)' is not a facility code") }
            let local = row.required("local_code", max: 64)
            let national = row.nationalCode()
            if let first = seen["\(facility)|\(local)"] { row.fail("local_code", "duplicate of line \(first)") }
            seen["\(facility)|\(local)"] = row.line
            return ItemMapping(facility: facility, localCode: local, nationalCode: national, line: row.line)
        }
    }
}

/// `regio catalog import agreed-prices FILE.csv`: header `alliance,national_code,price,valid_from`
/// and optionally `valid_to` (empty: open). Prices are yuan per base unit.
public enum AgreedPriceImport {
    public static let required = ["alliance", "national_code", "price", "valid_from"]

    public static func parse(_ text: String) -> Result<[AgreedPrice], CSVImportErrors> {
        CSVImport.parse(text, required: required) { row in
            let alliance = row.required("alliance", max: 32)
            let code = row.nationalCode()
            let price = row.positiveDecimal("price")
            guard let (from, to) = row.period("valid_from", "valid_to", openEnded: true) else { return nil }
            return AgreedPrice(alliance: alliance, nationalCode: code, price: price, validFrom: from, validTo: to, line: row.line)
        }
    }
}

/// `regio catalog import commitments FILE.csv`: header
/// `alliance,member,national_code,cycle_start,cycle_end,committed_base_units`.
public enum CommitmentImport {
    public static let required = ["alliance", "member", "national_code", "cycle_start", "cycle_end", "committed_base_units"]

    public static func parse(_ text: String) -> Result<[VolumeCommitment], CSVImportErrors> {
        CSVImport.parse(text, required: required) { row in
            let alliance = row.required("alliance", max: 32)
            let member = row.value("member")
            if !Facility.isValidCode(member) { row.fail("member", "'\(member)' is not a facility code") }
            let code = row.nationalCode()
            let units = row.positiveDecimal("committed_base_units")
            guard let (start, end) = row.period("cycle_start", "cycle_end", openEnded: false), let end else { return nil }
            return VolumeCommitment(alliance: alliance, member: member, nationalCode: code, cycleStart: start, cycleEnd: end,
                                    committedUnits: units, line: row.line)
        }
    }
}

/// `regio catalog import listed-prices FILE.csv`: header `national_code,price,valid_from` and
/// optionally `valid_to`, `source`.
public enum ListedPriceImport {
    public static let required = ["national_code", "price", "valid_from"]

    public static func parse(_ text: String) -> Result<[ListedPrice], CSVImportErrors> {
        CSVImport.parse(text, required: required) { row in
            let code = row.nationalCode()
            let price = row.positiveDecimal("price")
            let source = row.optional("source") ?? "provincial platform"
            guard let (from, to) = row.period("valid_from", "valid_to", openEnded: true) else { return nil }
            return ListedPrice(nationalCode: code, price: price, validFrom: from, validTo: to, source: source, line: row.line)
        }
    }
}
