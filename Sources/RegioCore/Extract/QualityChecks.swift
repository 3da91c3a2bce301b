/// The data-quality checks of a kind's accepted rows (`reports.thresholds`, kind 'quality'),
/// counted as the rows are validated: each check has the rows it applies to and, among them, the
/// rows that fail it. The same checks are written in SQL (`sql/ingest/checks/<kind>.sql`) for the
/// batches whose counts the upload cannot give — rows rejected later by a database check, a
/// decision in another process; a test holds the two to the same results.
public enum QualityChecks {
    /// The checks of `kind`, in the order of their bits in `ValidatedRow.quality`.
    public static func ids(_ kind: ExtractKind) -> [String] {
        switch kind {
        case .patients: ["patients_without_birth_date", "patients_without_resident_id"]
        case .encounters: ["encounters_without_diagnosis", "encounters_zero_cost", "stays_over_60_days"]
        case .exams: ["exams_local_code"]
        case .purchases: ["purchases_local_code"]
        case .referrals, .beds: []
        }
    }

    /// A stay is long when it lasted more than this (`end_time - start_time > interval '60 days'`).
    static let longStaySeconds = 60 * 86_400

    /// Bit 2i: the row is one check i applies to; bit 2i + 1: it fails check i.
    public typealias Outcome = UInt16

    /// How many accepted upserts each check applied to and how many failed it.
    public struct Tally: Sendable, Equatable {
        public var applicable: [Int]
        public var failing: [Int]

        public init(kind: ExtractKind) {
            let count = QualityChecks.ids(kind).count
            applicable = Array(repeating: 0, count: count)
            failing = Array(repeating: 0, count: count)
        }

        public mutating func add(_ outcome: Outcome) {
            for check in applicable.indices {
                if outcome & (1 << (2 * check)) != 0 { applicable[check] += 1 }
                if outcome & (1 << (2 * check + 1)) != 0 { failing[check] += 1 }
            }
        }

        public mutating func add(_ other: Tally) {
            for check in applicable.indices {
                applicable[check] += other.applicable[check]
                failing[check] += other.failing[check]
            }
        }
    }

    /// Check `index` applies to the row, which fails it or not.
    static func checked(_ index: Int, fails: Bool) -> Outcome {
        1 << (2 * index) | (fails ? 1 << (2 * index + 1) : 0)
    }
}
