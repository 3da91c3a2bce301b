import Foundation

/// Error codes of `regio-extract/1` (shared/EXTRACT-SPEC.md), plus `unknown_column`.
public enum IssueCode: String, Sendable, Codable, CaseIterable {
    case missingColumn = "missing_column"
    case unknownColumn = "unknown_column"
    case badEncoding = "bad_encoding"
    case badCSV = "bad_csv"
    case missingRequired = "missing_required"
    case tooLong = "too_long"
    case badDate = "bad_date"
    case badNumber = "bad_number"
    case unknownCode = "unknown_code"
    case badChecksum = "bad_checksum"
    case duplicateKey = "duplicate_key"
    case danglingReference = "dangling_reference"
    case implausible
    case manifestMismatch = "manifest_mismatch"
    /// Invisible format characters (U+202E …) in a text value: kept, and shown by code in downloads.
    case formatCharacter = "format_character"
}

public enum Severity: String, Sendable, Codable {
    /// The row is rejected (or, for a file-level problem, the batch).
    case error
    /// The row is kept; a malformed optional value is stored as missing.
    case warning
}

/// One problem found in a row (or, with no line, in a file).
public struct RowIssue: Sendable, Codable, Equatable {
    public var column: String?
    public var code: IssueCode
    public var severity: Severity
    public var message: String
    /// The offending text, kept for the hospital to see — never for an ID number — and at most
    /// `maxRawCharacters` of it.
    public var raw: String?

    /// How much of an offending value an error keeps; a longer one is cut, and ends in "…".
    public static let maxRawCharacters = 200

    public init(column: String?, code: IssueCode, severity: Severity, message: String, raw: String? = nil) {
        self.column = column
        self.code = code
        self.severity = severity
        self.message = message
        self.raw = raw.map { raw in
            raw.utf8.count > Self.maxRawCharacters && raw.count > Self.maxRawCharacters
                ? String(raw.prefix(Self.maxRawCharacters)) + "…" : raw
        }
    }

    enum CodingKeys: String, CodingKey {
        case column = "c", code = "k", severity = "s", message = "m", raw = "r"
    }
}

/// What the validator makes of one data row.
public struct ValidatedRow: Sendable {
    /// `U` or `D`.
    public var op: String
    /// One value per `RowValidator.stagingColumns`: normalised when the row is kept, the raw text
    /// when it is rejected (so the hospital can download and fix it), never a clear ID number.
    public var values: [String?]
    public var issues: [RowIssue]
    public var rejected: Bool
    /// An accepted upsert's data-quality checks (`QualityChecks`); 0 for any other row.
    public var quality: QualityChecks.Outcome = 0
}

/// The per-batch facts row checks need.
public struct ValidationContext: Sendable {
    public var businessDate: CalendarDate
    /// The facility's UTC offset, `+08:00` for China (no daylight saving since 1991), added to
    /// local times.
    public var localOffset: String
    public var pseudonymizer: Pseudonymizer

    public init(businessDate: CalendarDate, localOffset: String = "+08:00", pseudonymizer: Pseudonymizer) {
        self.businessDate = businessDate
        self.localOffset = localOffset
        self.pseudonymizer = pseudonymizer
    }
}

/// Checks the rows of one file against its kind's columns: types, code lists, lengths, the
/// resident-ID check digit, and each kind's cross-field plausibility rules. Checks that need other
/// rows (duplicate keys, references) are set-based, in the database, after staging.
public struct RowValidator: Sendable {
    public let spec: ExtractFileSpec
    public let context: ValidationContext
    /// Columns staged per row, in order: the kind's columns without `op`, with `id_number`
    /// replaced by `id_hash`.
    public let stagingColumns: [String]
    /// Problems with the header: `missing_column` errors reject the file, `unknown_column`s warn.
    public let headerIssues: [RowIssue]
    public let headerWidth: Int
    private let positions: [Int?]
    private let opPosition: Int?
    /// The kind's columns without `op`, in staging order, and each one's staging position.
    private let staged: [ColumnSpec]
    /// Staging positions of the columns the cross-field checks read, by `Cross.rawValue`, resolved
    /// once per file so that a row's checks look nothing up by name.
    private let crossPositions: [Int?]

    public init(spec: ExtractFileSpec, header: [String], context: ValidationContext) {
        self.spec = spec
        self.context = context
        self.headerWidth = header.count
        var index: [String: Int] = [:]
        var issues: [RowIssue] = []
        for (position, name) in header.enumerated() {
            let trimmed = name  // names are matched exactly (EXTRACT-SPEC)
            if index[trimmed] != nil {
                issues.append(RowIssue(column: trimmed, code: .badCSV, severity: .error, message: "column \(trimmed) appears twice in the header"))
            }
            index[trimmed] = position
            if spec.column(trimmed) == nil {
                issues.append(RowIssue(column: trimmed, code: .unknownColumn, severity: .warning,
                                       message: "column \(trimmed) is not part of \(spec.kind.rawValue) files and is ignored"))
            }
        }
        for column in spec.columns where column.required && index[column.name] == nil {
            issues.append(RowIssue(column: column.name, code: .missingColumn, severity: .error,
                                   message: "required column \(column.name) is missing from the header"))
        }
        let staged = spec.columns.filter { $0.type != .op }
        self.staged = staged
        self.stagingColumns = staged.map { $0.type == .idNumber ? "id_hash" : $0.name }
        let stagedIndex = Dictionary(uniqueKeysWithValues: stagingColumns.enumerated().map { ($1, $0) })
        self.crossPositions = Cross.allCases.map { stagedIndex[$0.column] }
        self.positions = staged.map { index[$0.name] }
        self.opPosition = spec.supportsRetraction ? index["op"] : nil
        self.headerIssues = issues
    }

    /// Whether the header lets rows be read at all.
    public var headerIsUsable: Bool { !headerIssues.contains { $0.severity == .error } }

    public func validate(_ fields: [String]) -> ValidatedRow {
        var issues: [RowIssue] = []
        if fields.count != headerWidth {
            issues.append(RowIssue(column: nil, code: .badCSV, severity: .error,
                                   message: "the row has \(fields.count) fields, the header \(headerWidth)"))
        }
        func raw(_ position: Int?) -> String {
            guard let position, position < fields.count else { return "" }
            return fields[position]
        }
        var op = "U"
        if let opPosition {
            switch raw(opPosition).trimmingWhitespace() {
            case "", "U": op = "U"
            case "D": op = "D"
            case let other:
                issues.append(RowIssue(column: "op", code: .unknownCode, severity: .error, message: "op must be U or D", raw: other))
                op = other
            }
        }

        var values: [String?] = []
        values.reserveCapacity(staged.count)
        var typed = [Typed](repeating: .none, count: staged.count)
        for (column, position) in zip(staged, positions) {
            // A value from a downloaded rejected-rows file may carry the exports' formula escape.
            let text = raw(position).trimmingWhitespace().removingExportEscape()
            // A retraction needs only its key.
            let required = column.required && (op == "U" || spec.key.contains(column.name))
            if text.isEmpty {
                if required {
                    issues.append(RowIssue(column: column.name, code: .missingRequired, severity: .error, message: "\(column.name) is required"))
                } else if column.recommended, op == "U" {
                    issues.append(RowIssue(column: column.name, code: .missingRequired, severity: .warning,
                                           message: "\(column.name) is missing; it is strongly recommended (patient matching uses it)"))
                }
                values.append(nil)
                continue
            }
            if op == "D", !spec.key.contains(column.name) {
                values.append(nil)
                continue
            }
            switch check(column, text) {
            case .success(let (value, typedValue)):
                typed[values.count] = typedValue
                values.append(value)
                if case .text = column.type, let scalar = value.firstFormatCharacter {
                    issues.append(RowIssue(column: column.name, code: .formatCharacter, severity: .warning,
                                           message: "\(column.name) holds the invisible format character \(scalar.code)\(scalar.properties.name.map { " (\($0))" } ?? ""); kept as sent, shown by its code in downloads",
                                           raw: value.showingFormatCharacters()))
                }
            case .failure(let problem):
                let isID = column.type == .idNumber
                issues.append(RowIssue(column: column.name, code: problem.code, severity: required ? .error : .warning,
                                       message: problem.message + (required ? "" : "; stored as missing"), raw: isID ? nil : text))
                values.append(nil)
            }
        }
        if op == "U" { crossChecks(&values, typed: typed, issues: &issues) }

        let rejected = issues.contains { $0.severity == .error }
        if rejected { return ValidatedRow(op: op, values: rawValues(fields), issues: issues, rejected: true) }
        return ValidatedRow(op: op, values: values, issues: issues, rejected: false,
                            quality: op == "U" ? quality(values, typed: typed) : 0)
    }

    /// The row as sent, one value per staging column, for quarantine — but never an ID number, nor
    /// the fields from position `limit` on.
    public func rawValues(_ fields: [String], before limit: Int = .max) -> [String?] {
        zip(staged, positions).map { column, position in
            guard column.type != .idNumber, let position, position < min(fields.count, limit) else { return nil }
            return fields[position]
        }
    }

    struct Problem: Error {
        var code: IssueCode
        var message: String
    }

    /// A checked value as the cross-field checks need it, by staging position.
    enum Typed {
        case none
        /// Exact, in millionths (money has two decimals, prices and quantities six).
        case number(Int64)
        case date(CalendarDate)
        /// A timestamp: its date as written, and the instant (seconds since 1970 UTC) for ordering.
        /// (No text here: an array of these is then plain memory, with no reference to count.)
        case instant(CalendarDate, Int)
    }

    /// The columns the cross-field checks read.
    enum Cross: Int, CaseIterable {
        case birthDate, idType, idHash, sex, totalCost, drugCost, consumablesCost, startTime, endTime,
             performedAt, reportedAt, amount, unitPrice, quantity, purchaseDate, referredAt, statusAt,
             staffedBeds, occupiedBeds, primaryDx, encounterType, codeSystem

        var column: String {
            switch self {
            case .birthDate: "birth_date"
            case .idType: "id_type"
            case .idHash: "id_hash"
            case .sex: "sex"
            case .totalCost: "total_cost"
            case .drugCost: "drug_cost"
            case .consumablesCost: "consumables_cost"
            case .startTime: "start_time"
            case .endTime: "end_time"
            case .performedAt: "performed_at"
            case .reportedAt: "reported_at"
            case .amount: "amount"
            case .unitPrice: "unit_price"
            case .quantity: "quantity"
            case .purchaseDate: "purchase_date"
            case .referredAt: "referred_at"
            case .statusAt: "status_at"
            case .staffedBeds: "staffed_beds"
            case .occupiedBeds: "occupied_beds"
            case .primaryDx: "primary_dx"
            case .encounterType: "encounter_type"
            case .codeSystem: "code_system"
            }
        }
    }

    /// The normalised value to stage, and what the cross-field checks keep of it.
    private func check(_ column: ColumnSpec, _ text: String) -> Result<(String, Typed), Problem> {
        switch column.type {
        case .text(let maxLength):
            // UTF-8 bytes are at least as many as characters: count characters only when needed.
            return text.utf8.count <= maxLength || text.count <= maxLength ? .success((text, .none))
                : .failure(Problem(code: .tooLong, message: "\(column.name) has \(text.count) characters, at most \(maxLength) are allowed"))
        case .code(let codes):
            return codes.contains(text) ? .success((text, .none))
                : .failure(Problem(code: .unknownCode, message: "\(column.name) must be one of \(codes.joined(separator: ", "))"))
        case .op:
            return .success((text, .none))
        case .date:
            guard let date = CalendarDate(text) else {
                return .failure(Problem(code: .badDate, message: "\(column.name) must be a date YYYY-MM-DD"))
            }
            return .success((date.description, .date(date)))
        case .timestamp:
            guard let (value, date) = FieldChecks.timestamp(text, localOffset: context.localOffset) else {
                return .failure(Problem(code: .badDate, message: "\(column.name) must be YYYY-MM-DD HH:MM:SS or RFC 3339 with an offset"))
            }
            return .success((value, .instant(date, Self.instant(value))))
        case .money:
            guard let (normalised, value) = FieldChecks.decimal(text, maxScale: 2) else {
                return .failure(Problem(code: .badNumber, message: "\(column.name) must be an amount in yuan ≥ 0 with at most 2 decimals"))
            }
            return .success((normalised, .number(value)))
        case .positiveDecimal:
            // The database holds these as numeric(14, 6): below 10⁸ with at most 6 decimals.
            guard let (normalised, value) = FieldChecks.decimal(text, maxScale: 6), value > 0, value < 100_000_000 * 1_000_000 else {
                return .failure(Problem(code: .badNumber, message: "\(column.name) must be a number > 0 and below 100,000,000 with at most 6 decimals"))
            }
            return .success((normalised, .number(value)))
        case .count:
            guard let number = Int(text), number >= 0, number < 1_000_000 else {
                return .failure(Problem(code: .badNumber, message: "\(column.name) must be a whole number ≥ 0"))
            }
            return .success((String(number), .number(Int64(number) * 1_000_000)))
        case .icd10:
            return FieldChecks.isICD10(text) ? .success((text, .none))
                : .failure(Problem(code: .unknownCode, message: "\(column.name) is not an ICD-10 code (e.g. I10, J18.900)"))
        case .facilityCode:
            return Facility.isValidCode(text) ? .success((text, .none))
                : .failure(Problem(code: .unknownCode, message: "\(column.name) is not a facility code"))
        case .flag:
            return text == "0" || text == "1" ? .success((text, .none))
                : .failure(Problem(code: .unknownCode, message: "\(column.name) must be 0 or 1"))
        case .idNumber:
            return .success((text, .none))  // checked with its id_type in `crossChecks`
        }
    }

    private func index(_ column: Cross) -> Int? { crossPositions[column.rawValue] }

    private func crossChecks(_ values: inout [String?], typed: [Typed], issues: inout [RowIssue]) {
        func value(_ column: Cross) -> String? { index(column).flatMap { values[$0] } }
        func drop(_ column: Cross) { if let i = index(column) { values[i] = nil } }
        func number(_ column: Cross) -> Int64? {
            guard let i = index(column), case .number(let number) = typed[i] else { return nil }
            return number
        }
        func date(_ column: Cross) -> CalendarDate? {
            guard let i = index(column) else { return nil }
            switch typed[i] {
            case .date(let date), .instant(let date, _): return date
            case .none, .number: return nil
            }
        }
        func instant(_ column: Cross) -> Int? {
            guard let i = index(column), case .instant(_, let instant) = typed[i] else { return nil }
            return instant
        }
        func implausible(_ column: Cross, _ severity: Severity, _ message: String) {
            issues.append(RowIssue(column: column.column, code: .implausible, severity: severity, message: message,
                                   raw: column == .idHash ? nil : value(column)))
        }
        func notAfterBusinessDate(_ column: Cross) {
            if let date = date(column), date > context.businessDate {
                implausible(column, .error, "\(column.column) \(date) is after the business date \(context.businessDate)")
            }
        }
        func notBefore(_ later: Cross, _ earlier: Cross, _ severity: Severity) {
            if let a = instant(later), let b = instant(earlier), a < b {
                implausible(later, severity, "\(later.column) is before \(earlier.column)")
            }
        }

        switch spec.kind {
        case .patients:
            if let birth = date(.birthDate) {
                if birth > context.businessDate {
                    implausible(.birthDate, .warning, "birth_date is in the future; stored as missing")
                    drop(.birthDate)
                } else if birth.year < context.businessDate.year - 120 {
                    implausible(.birthDate, .warning, "birth_date is more than 120 years ago; stored as missing")
                    drop(.birthDate)
                }
            }
            checkIDNumber(&values, issues: &issues)
        case .encounters:
            if let total = number(.totalCost), let drug = number(.drugCost), let consumables = number(.consumablesCost),
               drug + consumables > total {
                implausible(.totalCost, .error, "drug_cost + consumables_cost exceed total_cost")
            }
            notAfterBusinessDate(.startTime)
            notAfterBusinessDate(.endTime)
            notBefore(.endTime, .startTime, .error)
        case .exams:
            notAfterBusinessDate(.performedAt)
            notBefore(.reportedAt, .performedAt, .warning)
        case .purchases:
            // In millionths of millionths: price × quantity of up to 10⁸ each needs 128 bits.
            if let amount = number(.amount), let price = number(.unitPrice), let quantity = number(.quantity),
               (Int128(amount) * 1_000_000 - Int128(price) * Int128(quantity)).magnitude > 10_000_000_000 {
                implausible(.amount, .warning, "amount is not unit_price × quantity (within 0.01); stored as missing")
                drop(.amount)
            }
            notAfterBusinessDate(.purchaseDate)
        case .referrals:
            notAfterBusinessDate(.referredAt)
            notBefore(.statusAt, .referredAt, .warning)
        case .beds:
            if let staffed = number(.staffedBeds), let occupied = number(.occupiedBeds), occupied > staffed {
                implausible(.occupiedBeds, .warning, "occupied_beds exceed staffed_beds")
            }
        }
    }

    /// The data-quality checks of an accepted upsert, on its values as staged (after the
    /// cross-field checks, which may drop some): what `sql/ingest/checks/<kind>.sql` counts.
    private func quality(_ values: [String?], typed: [Typed]) -> QualityChecks.Outcome {
        func value(_ column: Cross) -> String? { index(column).flatMap { values[$0] } }
        func typedValue(_ column: Cross) -> Typed? {
            guard let i = index(column), values[i] != nil else { return nil }
            return typed[i]
        }
        switch spec.kind {
        case .patients:
            return QualityChecks.checked(0, fails: value(.birthDate) == nil)
                | QualityChecks.checked(1, fails: value(.idType) != "RID" || value(.idHash) == nil)
        case .encounters:
            var zeroCost = false
            if case .number(let total) = typedValue(.totalCost) { zeroCost = total == 0 }
            var outcome = QualityChecks.checked(0, fails: value(.primaryDx) == nil) | QualityChecks.checked(1, fails: zeroCost)
            if value(.encounterType) == "I", case .instant(_, let end) = typedValue(.endTime) {
                var long = false
                if case .instant(_, let start) = typedValue(.startTime) { long = end - start > QualityChecks.longStaySeconds }
                outcome |= QualityChecks.checked(2, fails: long)
            }
            return outcome
        case .exams, .purchases:
            return QualityChecks.checked(0, fails: value(.codeSystem) == "LOCAL")
        case .referrals, .beds:
            return 0
        }
    }

    /// Whether timestamp `a` is earlier than `b`, both as `FieldChecks.timestamp` writes them
    /// (`YYYY-MM-DD HH:MM:SS±HH:MM`): the order of the instants they name, whatever their offsets.
    static func precedes(_ a: String, _ b: String) -> Bool {
        instant(a) < instant(b)
    }

    /// Orders ISO timestamps with offsets without a calendar library: seconds since the epoch.
    static func instant(_ text: String) -> Int {
        FieldChecks.unixSeconds(normalizedTimestamp: text) ?? 0
    }

    /// Resident ID numbers are checked (GB 11643) and compared with the row's birth date and sex;
    /// every ID number is then replaced by its keyed hash.
    private func checkIDNumber(_ values: inout [String?], issues: inout [RowIssue]) {
        func value(_ column: Cross) -> String? { index(column).flatMap { values[$0] } }
        guard let hashIndex = index(.idHash), let number = values[hashIndex] else { return }
        let idType = value(.idType) ?? "RID"
        var canonical = number.uppercased()
        if idType == "RID" {
            switch FieldChecks.residentID(canonical) {
            case .failure(let problem):
                let message = switch problem {
                case .shape: "id_number is not an 18-character (or legacy 15-digit) resident ID number"
                case .checkDigit: "id_number fails the GB 11643 check character"
                case .birthDate: "id_number embeds an impossible birth date"
                }
                issues.append(RowIssue(column: "id_number", code: .badChecksum, severity: .warning,
                                       message: message + "; stored as missing"))
                values[hashIndex] = nil
                return
            case .success(let resident):
                if canonical.utf8.count == 15 { canonical = Self.upgradeLegacyID(canonical) }
                if let birth = value(.birthDate), birth != resident.birthDate.description {
                    issues.append(RowIssue(column: "birth_date", code: .implausible, severity: .warning,
                                           message: "birth_date differs from the birth date in id_number", raw: birth))
                }
                if let sex = value(.sex), sex == "1" || sex == "2", sex != resident.sex {
                    issues.append(RowIssue(column: "sex", code: .implausible, severity: .warning,
                                           message: "sex differs from the sex encoded in id_number", raw: sex))
                }
            }
        }
        values[hashIndex] = context.pseudonymizer.pseudonym(idType + ":" + canonical)
    }

    /// A legacy 15-digit number as the 18-character number the same person holds today.
    static func upgradeLegacyID(_ legacy: String) -> String {
        let b = Array(legacy.utf8)
        let first17 = Array(b[0..<6]) + Array("19".utf8) + Array(b[6..<15])
        return String(decoding: first17 + [FieldChecks.checkCharacter(first17)], as: UTF8.self)
    }
}

extension Pseudonymizer {
    /// The keyed hash a resident ID number is stored under, as an extract's row stores it (a
    /// legacy 15-digit number as today's 18-character one); nil when it is not a valid number.
    public func residentIDPseudonym(_ number: String) -> String? {
        var canonical = number.trimmingWhitespace().uppercased()
        guard case .success = FieldChecks.residentID(canonical) else { return nil }
        if canonical.utf8.count == 15 { canonical = RowValidator.upgradeLegacyID(canonical) }
        return pseudonym("RID:" + canonical)
    }
}
