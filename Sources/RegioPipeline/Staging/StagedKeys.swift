import RegioCore
import RegioDB
import Synchronization

/// What the ingestion service remembers of the files it stages, from their upload until their
/// batch is decided, so that the decision can skip a reference check the rows have already
/// settled: when every patient an encounter, exam or referral names is among the batch's own
/// accepted patients, and every encounter an exam names among its encounters, the database has
/// nothing to find. On the benchmark's night those checks took ≈ 3.3 s of statements — three
/// hash joins over the night's patients and one over its encounters — with the merge waiting
/// for them. A night that refers to rows sent before, or anything memory cannot settle, is
/// checked in the database as before; so is every batch decided by another process.
///
/// Keys and references are remembered by hash (Swift's 64-bit `hashValue`, seeded per process).
/// A reference to a key the batch does not send, whose hash happens to equal a sent key's, would
/// pass unchecked: with a night's million keys, about one chance in 10¹³ per such reference, and
/// the row would load with its patient unknown rather than be rejected.
///
/// Memory is bounded by `KeyMemory`: the referenced files keep their keys' share (taken when
/// they streamed) and each referring file takes 8 bytes a row for each of its reference
/// columns; a file that finds no room is checked in the database. Remembered files whose batch is
/// not decided here within `lifetime` are let go.
public final class StagedKeys: Sendable {
    /// A column whose values are keys of another kind (`dangling_reference` when they are not).
    struct Reference: Sendable {
        var column: String
        var target: ExtractKind
    }

    /// The references the checks of ingest/dangling_patients.sql and
    /// ingest/dangling_exam_encounter.sql resolve.
    static func references(of kind: ExtractKind) -> [Reference] {
        switch kind {
        case .encounters, .referrals: [Reference(column: "patient_id", target: .patients)]
        case .exams: [Reference(column: "patient_id", target: .patients), Reference(column: "encounter_id", target: .encounters)]
        case .patients, .purchases, .beds: []
        }
    }

    /// The kinds other kinds refer to, whose keys are kept.
    static let referenced: Set<ExtractKind> = [.patients, .encounters]

    /// Columns naming a registered facility (ingest/dangling_referral_target.sql,
    /// ingest/dangling_referral_from.sql).
    static func facilityColumns(of kind: ExtractKind) -> [String] {
        kind.spec.columns.filter { $0.type == .facilityCode }.map(\.name)
    }

    /// More distinct facility codes than this in one column are not remembered.
    static let facilityCodeLimit = 1_000
    static let lifetime: Duration = .seconds(3600)

    private struct Key: Hashable {
        var batch: Int64
        var kind: ExtractKind
    }

    private let files = Mutex<[Key: (file: StagedFile, at: ContinuousClock.Instant)]>([:])
    /// How long a staged file is remembered for its batch's decision.
    let lifetime: Duration

    /// `lifetime` zero: nothing is remembered, every decision checks in the database.
    init(lifetime: Duration) {
        self.lifetime = lifetime
    }

    public convenience init() {
        self.init(lifetime: Self.lifetime)
    }

    /// A file of the batch is being staged (again): whatever was remembered of it is stale.
    func forget(batch: Int64, kind: ExtractKind) {
        _ = files.withLock { $0.removeValue(forKey: Key(batch: batch, kind: kind)) }
    }

    func remember(_ file: StagedFile, batch: Int64, kind: ExtractKind) {
        let now = ContinuousClock.now
        files.withLock { files in
            files = files.filter { now - $0.value.at < lifetime }
            if lifetime > .zero { files[Key(batch: batch, kind: kind)] = (file, now) }
        }
    }

    /// The batch's remembered files, which the caller now holds alone.
    func take(batch: Int64) -> [ExtractKind: StagedFile] {
        files.withLock { files in
            var taken: [ExtractKind: StagedFile] = [:]
            for key in files.keys where key.batch == batch {
                taken[key.kind] = files.removeValue(forKey: key)?.file
            }
            return taken
        }
    }
}

/// What is remembered of one staged file.
struct StagedFile: Sendable {
    /// The OID of the staging table the file went to: staged again (by this process or another
    /// behind the same database), the file has another, and this is stale.
    var table: Int64
    /// The keys of its accepted upserts, for a kind others refer to (nil: not kept, or unknown).
    var keys: SentKeys?
    /// For each reference column (`StagedKeys.references`), the hashes of the values its accepted
    /// upserts hold, one per row that has one; a column is missing when there was no memory.
    var references: [String: [Int]]
    /// For each facility column, the distinct codes its accepted upserts hold; a column is
    /// missing when it held too many.
    var facilityCodes: [String: Set<String>]
    /// The data-quality checks of its accepted upserts, counted as they streamed (nil when rows
    /// they counted were rejected as duplicates afterwards).
    var quality: QualityChecks.Tally? = nil
    /// Keeps the memory `references` was counted against taken.
    var memory: KeyMemory.Reservation?
}

/// The remembered files of a batch being decided, those still staged as they were remembered.
struct RememberedFiles: Sendable {
    var files: [ExtractKind: StagedFile] = [:] {
        didSet { answers = Answers() }
    }
    /// `allSent`'s answers, each found once for the batch: finding one looks up every reference
    /// the file holds (a million for a night's encounters), and the decision asks several times.
    private var answers = Answers()

    private final class Answers: Sendable {
        let known = Mutex<[String: Bool]>([:])
    }

    init(files: [ExtractKind: StagedFile] = [:]) {
        self.files = files
    }

    /// Whether every value of `column` in `kind`'s accepted upserts is a key of an accepted
    /// upsert of the batch's file it refers to — so that the database could find none missing.
    /// False whenever something is not remembered, or when the referred file's own references
    /// are not all sent (their check may reject some of its rows).
    func allSent(_ kind: ExtractKind, _ column: String) -> Bool {
        let question = "\(kind.rawValue).\(column)"
        if let known = answers.known.withLock({ $0[question] }) { return known }
        let answer = findAllSent(kind, column)
        answers.known.withLock { $0[question] = answer }
        return answer
    }

    private func findAllSent(_ kind: ExtractKind, _ column: String) -> Bool {
        guard let reference = StagedKeys.references(of: kind).first(where: { $0.column == column }),
              let values = files[kind]?.references[column] else { return false }
        if values.isEmpty { return true }
        guard let keys = files[reference.target]?.keys,
              StagedKeys.references(of: reference.target).allSatisfy({ allSent(reference.target, $0.column) })
        else { return false }
        return values.allSatisfy(keys.contains)
    }

    /// The data-quality checks of `kind`'s accepted upserts as they streamed, when they are its
    /// accepted upserts still: remembered, and no check of the decision can reject any of its
    /// rows. Of the checks that reject rows, only `ingest/dangling_patients.sql` reads a kind
    /// with quality checks (encounters, exams), and it is skipped when every patient the rows
    /// name was sent (`allSent`).
    func quality(_ kind: ExtractKind) -> QualityChecks.Tally? {
        guard let tally = files[kind]?.quality else { return nil }
        let namesPatients = StagedKeys.references(of: kind).contains { $0.column == "patient_id" }
        return !namesPatients || allSent(kind, "patient_id") ? tally : nil
    }

    /// The distinct facility codes of `column` in `kind`'s accepted upserts, when remembered.
    func facilityCodes(_ kind: ExtractKind, _ column: String) -> Set<String>? {
        files[kind]?.facilityCodes[column]
    }
}
