import Foundation

/// One prebuilt report as the catalog describes it: what it computes, who may run it, what it
/// takes and what each column means. The query is `sql/reports/<id>.sql`; its parameters arrive as
/// `$1…$n` in the order declared here, as text or NULL, and its columns must be exactly `columns`.
public struct ReportDefinition: Sendable {
    public var id: String
    public var titleZh: String
    public var titleEn: String
    public var description: String
    /// `description` in Chinese.
    public var descriptionZh: String
    /// Roles that may run it. A facility or alliance caller is held to its own scope: see
    /// `ReportParameter.Kind.facility` and `.alliance`.
    public var roles: Set<Role>
    public var parameters: [ReportParameter]
    public var columns: [ReportColumn]

    public init(id: String, titleZh: String, titleEn: String, description: String, descriptionZh: String = "",
                roles: Set<Role>, parameters: [ReportParameter], columns: [ReportColumn]) {
        self.id = id
        self.titleZh = titleZh
        self.titleEn = titleEn
        self.description = description
        self.descriptionZh = descriptionZh
        self.roles = roles
        self.parameters = parameters
        self.columns = columns
    }

    public var sqlPath: String { "reports/\(id).sql" }
}

public struct ReportParameter: Sendable {
    public enum Kind: String, Sendable {
        /// A GB/T 2260 region code of any level; the report covers everything inside it.
        case region
        /// A facility code. For a facility caller it defaults to, and may only be, their own.
        case facility
        /// An alliance code. For an alliance caller it defaults to, and may only be, their own.
        case alliance
        /// 1, 2 or 3.
        case tier
        /// A calendar month, `YYYY-MM`.
        case month
        /// A date, `YYYY-MM-DD`.
        case date
        /// A whole number.
        case integer
        /// How rows are grouped: `facility`, `county`, `city` or `tier`.
        case level
        /// A standard item's national code (procurement).
        case item
        /// A generic group of the procurement catalogue.
        case group
        /// A percentage from 0 to 1000, decimals allowed.
        case percent
    }

    public var name: String
    public var kind: Kind
    public var required: Bool
    /// A short form label for the filter, in Chinese (区域, 起始月份 …).
    public var labelZh: String
    /// The same label in English (Region, From month …).
    public var labelEn: String
    public var description: String
    /// `description` in Chinese.
    public var descriptionZh: String

    /// `ReportParameter("region", .region, zh: "区域", en: "Region", "Province, city or county code.", zh: "省、市或区县代码。")`.
    /// The labels and the Chinese description default to empty; the catalog's entries give both
    /// languages.
    public init(_ name: String, _ kind: Kind, required: Bool = false, zh labelZh: String = "", en labelEn: String = "",
                _ description: String, zh descriptionZh: String = "") {
        self.name = name
        self.kind = kind
        self.required = required
        self.labelZh = labelZh
        self.labelEn = labelEn
        self.description = description
        self.descriptionZh = descriptionZh
    }

    /// Checks one value of this parameter; returns the text bound to the query, or why it is wrong.
    public func normalise(_ raw: String) -> Result<String, ReportRequestError> {
        let value = raw.trimmingWhitespace()
        func bad(_ expected: String) -> Result<String, ReportRequestError> {
            .failure(.badParameter(name: name, message: "expected \(expected), got '\(raw)'"))
        }
        switch kind {
        case .region:
            return value.count == 6 && value.allSatisfy(\.isASCIIDigit) ? .success(value) : bad("a 6-digit region code")
        case .facility:
            return Facility.isValidCode(value) ? .success(value) : bad("a facility code")
        case .alliance:
            return Alliance.isValidCode(value) ? .success(value) : bad("an alliance code")
        case .tier:
            return ["1", "2", "3"].contains(value) ? .success(value) : bad("1, 2 or 3")
        case .month:
            guard let month = CalendarMonth(value) else { return bad("a month YYYY-MM") }
            return .success(month.description)
        case .date:
            guard let date = CalendarDate(value) else { return bad("a date YYYY-MM-DD") }
            return .success(date.description)
        case .integer:
            return Int(value) != nil ? .success(value) : bad("a whole number")
        case .level:
            return ["facility", "county", "city", "tier"].contains(value) ? .success(value) : bad("facility, county, city or tier")
        case .item:
            return CatalogItem.isValidCode(value) ? .success(value) : bad("a national code")
        case .group:
            let printable = !value.unicodeScalars.contains { $0.properties.generalCategory == .control }
            return !value.isEmpty && value.count <= 64 && printable ? .success(value) : bad("a generic group")
        case .percent:
            guard let percent = PlainDecimal.parse(value), percent <= 1000 else { return bad("a percentage from 0 to 1000") }
            return .success("\(percent)")
        }
    }
}

public struct ReportColumn: Sendable {
    public enum ValueType: String, Sendable {
        case text, integer, decimal, date, month
    }

    public var name: String
    public var type: ValueType
    /// Unit of the values, in English: "facilities", "beds", "visits", "yuan", "%", "days" …; nil for
    /// labels. Every unit used has its Chinese in `unitsZh`.
    public var unit: String?
    public var titleZh: String
    /// A short English title, e.g. "Outpatient + emergency visits".
    public var titleEn: String
    public var definition: String
    /// `definition` in Chinese.
    public var definitionZh: String
    /// Counts persons (or their visits, stays, referrals): shown as "<N" when below the regional
    /// small-cell threshold in outputs for publication.
    public var personCount: Bool
    /// The columns a ratio is built from: it is suppressed with any of them.
    public var builtOn: [String]
    /// Names an alliance member (its code or name): emptied in outputs for publication, where
    /// members appear by rank only.
    public var namesMember: Bool

    /// `ReportColumn("discharges", .integer, unit: "discharges", zh: "出院人次", en: "Discharges", personCount: true,
    /// "Inpatient encounters ending in the month.", zh: "当月结束的住院就诊。")`: the titles before the
    /// flags, the definitions last, each in English then Chinese.
    public init(_ name: String, _ type: ValueType, unit: String? = nil, zh titleZh: String, en titleEn: String,
                personCount: Bool = false, builtOn: [String] = [], namesMember: Bool = false,
                _ definition: String, zh definitionZh: String) {
        self.name = name
        self.type = type
        self.unit = unit
        self.titleZh = titleZh
        self.titleEn = titleEn
        self.definition = definition
        self.definitionZh = definitionZh
        self.personCount = personCount
        self.builtOn = builtOn
        self.namesMember = namesMember
    }

    /// The unit in Chinese, from `unitsZh`; the English unit should the table lack it.
    public var unitZh: String? {
        unit.map { Self.unitsZh[$0] ?? $0 }
    }

    /// Every unit of the catalog (`unit`) in Chinese.
    public static let unitsZh: [String: String] = [
        "%": "%",
        "base units": "最小计价单位",
        "batches": "批",
        "bed-days": "床日",
        "beds": "张",
        "checks": "项",
        "days": "天",
        "discharges": "人次",
        "exams": "项次",
        "extracts": "份",
        "facilities": "家",
        "lines": "笔",
        "members": "家",
        "persons": "人",
        "ratio": "比值",
        "records": "条",
        "referrals": "人次",
        "reviews": "条",
        "rows": "行",
        "times": "次",
        "visits": "人次",
        "yuan": "元",
        "z": "z",
    ]
}

/// Small-cell suppression for outputs marked for publication (and every alliance export): a person
/// count from 1 to threshold − 1 becomes "<threshold" and the ratios built on it become empty.
/// Zero stays zero — it discloses nobody.
public enum DisclosureControl {
    /// Outputs for publication show alliance members by rank only: their codes and names are emptied.
    public static func hideMembers(in rows: [[ReportValue]], columns: [ReportColumn]) -> [[ReportValue]] {
        let naming = columns.indices.filter { columns[$0].namesMember }
        guard !naming.isEmpty else { return rows }
        return rows.map { row in
            var row = row
            for index in naming { row[index] = .null }
            return row
        }
    }

    public static func apply(to rows: [[ReportValue]], columns: [ReportColumn], threshold: Int) -> [[ReportValue]] {
        let counted = columns.indices.filter { columns[$0].personCount }
        let ratios = columns.indices.filter { !columns[$0].builtOn.isEmpty }
        return rows.map { row in
            var row = row
            var suppressed = Set<String>()
            for index in counted {
                if case .integer(let value) = row[index], value > 0, value < threshold {
                    row[index] = .text("<\(threshold)")
                    suppressed.insert(columns[index].name)
                }
            }
            for index in ratios where !suppressed.isDisjoint(with: columns[index].builtOn) {
                row[index] = .null
            }
            return row
        }
    }
}

public enum ReportRequestError: Error, Equatable, CustomStringConvertible {
    case unknownParameter(String)
    case badParameter(name: String, message: String)
    case missingParameter(String)
    case outOfScope(String)

    public var description: String {
        switch self {
        case .unknownParameter(let name): "unknown parameter '\(name)'"
        case .badParameter(let name, let message): "parameter '\(name)': \(message)"
        case .missingParameter(let name): "parameter '\(name)' is required"
        case .outOfScope(let message): message
        }
    }
}

extension ReportDefinition {
    /// Parameters every report takes, handled by the framework: `format` (json | csv) and
    /// `publication` (true: apply small-cell suppression).
    public static let frameworkParameters: Set<String> = ["format", "publication"]

    /// Turns a request's query items into the query's bind values, in parameter order, applying the
    /// caller's scope: a facility caller sees only its facility, an alliance caller only its alliance.
    /// `format` and `publication` are the framework's own parameters and are not passed on.
    public func binds(for query: [(String, String)], caller: Identity) -> Result<[String?], ReportRequestError> {
        var given: [String: String] = [:]
        for (name, value) in query where !name.isEmpty && !Self.frameworkParameters.contains(name) {
            guard parameters.contains(where: { $0.name == name }) else { return .failure(.unknownParameter(name)) }
            given[name] = value
        }
        var binds: [String?] = []
        for parameter in parameters {
            var value: String?
            if let raw = given[parameter.name], !raw.isEmpty {
                switch parameter.normalise(raw) {
                case .success(let normalised): value = normalised
                case .failure(let error): return .failure(error)
                }
            }
            switch (parameter.kind, caller.role) {
            case (.facility, .facility):
                if let value, value != caller.facilityCode {
                    return .failure(.outOfScope("a facility token may only ask about its own facility"))
                }
                value = caller.facilityCode
            case (.alliance, .alliance):
                if let value, value != caller.allianceCode {
                    return .failure(.outOfScope("an alliance token may only ask about its own alliance"))
                }
                value = caller.allianceCode
            default:
                break
            }
            if parameter.required, value == nil { return .failure(.missingParameter(parameter.name)) }
            binds.append(value)
        }
        return .success(binds)
    }
}

/// A cell of a report's result.
public enum ReportValue: Sendable, Equatable, Encodable {
    case text(String)
    case integer(Int)
    case decimal(Decimal)
    case null

    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .text(let value): try container.encode(value)
        case .integer(let value): try container.encode(value)
        case .decimal(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }

    /// The text a CSV cell holds: decimals in plain notation, nothing for null.
    public var csvText: String {
        switch self {
        case .text(let value): value
        case .integer(let value): String(value)
        case .decimal(let value): "\(value)"
        case .null: ""
        }
    }
}

extension Character {
    var isASCIIDigit: Bool { isASCII && isNumber }
}
