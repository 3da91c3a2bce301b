/// The files of a nightly extract (`regio-extract/1`, see docs/extract-format.md).
public enum ExtractKind: String, Sendable, Codable, CaseIterable, Comparable {
    case patients, encounters, exams, purchases, referrals, beds

    /// Merge order: what others refer to comes first.
    public static func < (lhs: Self, rhs: Self) -> Bool {
        allCases.firstIndex(of: lhs)! < allCases.firstIndex(of: rhs)!
    }

    public var spec: ExtractFileSpec { ExtractFileSpec.of(self) }
}

/// What a column holds, and so how its text is checked and normalised.
public enum ColumnType: Sendable, Equatable {
    /// Free text of at most this many characters.
    case text(maxLength: Int)
    /// One of a fixed list of codes.
    case code([String])
    /// `YYYY-MM-DD`.
    case date
    /// `YYYY-MM-DD HH:MM:SS` in the facility's time zone, or RFC 3339 with an offset.
    case timestamp
    /// Yuan, at most 2 decimals, ≥ 0.
    case money
    /// A decimal number > 0 (pack sizes, quantities).
    case positiveDecimal
    /// A whole number ≥ 0.
    case count
    /// ICD-10 code shape: `I10`, `J18.900`.
    case icd10
    /// A registered facility's code.
    case facilityCode
    /// A national ID document number; never stored in clear.
    case idNumber
    /// `0` or `1`.
    case flag
    /// `U` (upsert, the default) or `D` (retract).
    case op
}

public struct ColumnSpec: Sendable {
    public var name: String
    public var type: ColumnType
    public var required: Bool
    /// Not required, but a missing value is worth a warning (`birth_date`).
    public var recommended: Bool

    init(_ name: String, _ type: ColumnType, required: Bool = false, recommended: Bool = false) {
        self.name = name
        self.type = type
        self.required = required
        self.recommended = recommended
    }
}

/// The columns of one file kind and its key.
public struct ExtractFileSpec: Sendable {
    public var kind: ExtractKind
    public var columns: [ColumnSpec]
    /// The columns that identify a row within the facility (the upsert key).
    public var key: [String]
    /// Whether rows may carry `op` (beds are a daily census, replaced whole per day).
    public var supportsRetraction: Bool

    public func column(_ name: String) -> ColumnSpec? { columns.first { $0.name == name } }

    public static let sexCodes = ["0", "1", "2", "9"]
    public static let idTypes = ["RID", "PASSPORT", "HKMO", "OTHER"]
    public static let encounterTypes = ["O", "E", "I"]
    public static let examCategories = ["LAB", "IMAGING", "PATHOLOGY", "ECG", "ENDOSCOPY", "OTHER"]
    public static let referralStatuses = ["SENT", "ACCEPTED", "REJECTED", "COMPLETED", "CANCELLED"]

    public static func of(_ kind: ExtractKind) -> ExtractFileSpec {
        switch kind {
        case .patients: patients
        case .encounters: encounters
        case .exams: exams
        case .purchases: purchases
        case .referrals: referrals
        case .beds: beds
        }
    }

    static let patients = ExtractFileSpec(kind: .patients, columns: [
        ColumnSpec("patient_id", .text(maxLength: 64), required: true),
        ColumnSpec("name", .text(maxLength: 100), required: true),
        ColumnSpec("sex", .code(sexCodes), required: true),
        ColumnSpec("birth_date", .date, recommended: true),
        ColumnSpec("id_type", .code(idTypes)),
        ColumnSpec("id_number", .idNumber),
        ColumnSpec("phone", .text(maxLength: 32)),
        ColumnSpec("address", .text(maxLength: 200)),
        ColumnSpec("op", .op),
    ], key: ["patient_id"], supportsRetraction: true)

    static let encounters = ExtractFileSpec(kind: .encounters, columns: [
        ColumnSpec("encounter_id", .text(maxLength: 64), required: true),
        ColumnSpec("patient_id", .text(maxLength: 64), required: true),
        ColumnSpec("encounter_type", .code(encounterTypes), required: true),
        ColumnSpec("dept_code", .text(maxLength: 32)),
        ColumnSpec("dept_name", .text(maxLength: 100)),
        ColumnSpec("start_time", .timestamp, required: true),
        ColumnSpec("end_time", .timestamp),
        ColumnSpec("primary_dx", .icd10),
        ColumnSpec("total_cost", .money, required: true),
        ColumnSpec("drug_cost", .money, required: true),
        ColumnSpec("consumables_cost", .money, required: true),
        ColumnSpec("referral_from", .facilityCode),
        ColumnSpec("referral_id", .text(maxLength: 64)),
        ColumnSpec("op", .op),
    ], key: ["encounter_id"], supportsRetraction: true)

    static let exams = ExtractFileSpec(kind: .exams, columns: [
        ColumnSpec("report_id", .text(maxLength: 64), required: true),
        ColumnSpec("patient_id", .text(maxLength: 64), required: true),
        ColumnSpec("encounter_id", .text(maxLength: 64)),
        ColumnSpec("exam_code", .text(maxLength: 32), required: true),
        ColumnSpec("code_system", .code(["REGIONAL", "LOCAL"]), required: true),
        ColumnSpec("exam_name", .text(maxLength: 200), required: true),
        ColumnSpec("category", .code(examCategories), required: true),
        ColumnSpec("modality", .text(maxLength: 16)),
        ColumnSpec("body_site", .text(maxLength: 64)),
        ColumnSpec("performed_at", .timestamp, required: true),
        ColumnSpec("reported_at", .timestamp),
        ColumnSpec("summary", .text(maxLength: 2000)),
        ColumnSpec("document_ref", .text(maxLength: 500), required: true),
        ColumnSpec("price", .money),
        ColumnSpec("op", .op),
    ], key: ["report_id"], supportsRetraction: true)

    static let purchases = ExtractFileSpec(kind: .purchases, columns: [
        ColumnSpec("line_id", .text(maxLength: 64), required: true),
        ColumnSpec("item_code", .text(maxLength: 64), required: true),
        ColumnSpec("code_system", .code(["NHSA", "LOCAL"]), required: true),
        ColumnSpec("item_name", .text(maxLength: 200), required: true),
        ColumnSpec("spec", .text(maxLength: 200)),
        ColumnSpec("manufacturer", .text(maxLength: 200)),
        ColumnSpec("purchase_unit", .text(maxLength: 16), required: true),
        ColumnSpec("pack_size", .positiveDecimal, required: true),
        ColumnSpec("base_unit", .text(maxLength: 16), required: true),
        ColumnSpec("unit_price", .positiveDecimal, required: true),
        ColumnSpec("quantity", .positiveDecimal, required: true),
        ColumnSpec("amount", .money),
        ColumnSpec("supplier", .text(maxLength: 200), required: true),
        ColumnSpec("purchase_date", .date, required: true),
        ColumnSpec("invoice_no", .text(maxLength: 64)),
        ColumnSpec("vbp", .flag),
        ColumnSpec("op", .op),
    ], key: ["line_id"], supportsRetraction: true)

    static let referrals = ExtractFileSpec(kind: .referrals, columns: [
        ColumnSpec("referral_id", .text(maxLength: 64), required: true),
        ColumnSpec("patient_id", .text(maxLength: 64), required: true),
        ColumnSpec("to_facility_code", .facilityCode, required: true),
        ColumnSpec("referred_at", .timestamp, required: true),
        ColumnSpec("reason_dx", .icd10),
        ColumnSpec("status", .code(referralStatuses), required: true),
        ColumnSpec("status_at", .timestamp),
        ColumnSpec("op", .op),
    ], key: ["referral_id"], supportsRetraction: true)

    static let beds = ExtractFileSpec(kind: .beds, columns: [
        ColumnSpec("dept_code", .text(maxLength: 32), required: true),
        ColumnSpec("staffed_beds", .count, required: true),
        ColumnSpec("occupied_beds", .count, required: true),
    ], key: ["dept_code"], supportsRetraction: false)
}
