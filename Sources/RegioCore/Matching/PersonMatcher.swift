/// Decides, record by record, which person a patient record belongs to: its blocking keys find
/// the records it is compared with, `MatchModel` scores each pair, and the best-scoring person
/// decides. Holds the records it has placed, by blocking key. The patient index runs one over
/// a batch's records with the candidates the database found for them; `regio bench mpi` over a
/// whole generated region.
public struct PersonMatcher: Sendable {
    public let model: MatchModel
    /// A blocking key shared by more records than this finds no candidates (a common name
    /// without a birth date): the other keys must.
    public let blockLimit: Int

    /// What became of a record.
    public enum Decision: Sendable, Equatable {
        /// Linked to `person`, by the same ID number with the name or birth date agreeing (`id`),
        /// or by score (`probabilistic`).
        case link(person: Int, method: Method, score: MatchScore)
        /// Close to `person`, but not close enough, or as close to another: a steward decides.
        /// The record is a new person meanwhile.
        case review(person: Int, score: MatchScore)
        /// Like no one placed so far.
        case new

        public enum Method: String, Sendable { case id, probabilistic }
    }

    private(set) var records: [MatchRecord] = []
    /// The person of each record, by its position in `records`.
    private(set) var personOf: [Int] = []
    private var blocks: [String: [Int32]] = [:]
    /// Each person's records, by their positions in `records`.
    private var members: [Int: [Int32]] = [:]
    /// How many records of each name, and in all, an exact name's share is taken from: those
    /// placed (`counted`) and those of `population`.
    private var names: [String: Int] = [:]
    private var counted = 0
    private var population: (records: Int, names: [String: Int]) = (0, [:])
    private var nextPerson = 0

    public init(model: MatchModel = .standard, blockLimit: Int = 400) {
        self.model = model
        self.blockLimit = blockLimit
    }

    /// The index the records placed here are drawn from, when it is larger (the database's):
    /// how many records it holds, and of the names that matter, how many of each.
    public mutating func drawnFrom(records: Int, names: [String: Int]) {
        population = (records, names)
    }

    /// Places a record already linked to `person` (a stored record, or a decision taken
    /// elsewhere), so later records are compared with it. `counted`: whether it adds to the
    /// name counts (not when it is one of `drawnFrom`'s records already).
    public mutating func place(_ record: MatchRecord, person: Int, counted: Bool = true) {
        let index = Int32(records.count)
        records.append(record)
        personOf.append(person)
        nextPerson = max(nextPerson, person + 1)
        members[person, default: []].append(index)
        if counted {
            names[record.name.simplified, default: 0] += 1
            self.counted += 1
        }
        for key in record.indexKeys { blocks[key, default: []].append(index) }
    }

    /// Decides `record`'s person and places it: linked, or a new person (also when it goes to
    /// review). Returns the decision and the person it now has.
    public mutating func add(_ record: MatchRecord) -> (decision: Decision, person: Int) {
        let decision = decide(record)
        let person: Int
        switch decision {
        case .link(let linked, _, _): person = linked
        case .review, .new:
            person = nextPerson
        }
        place(record, person: person)
        return (decision, person)
    }

    /// The decision for `record` against the records placed so far; the persons in `apart` (a
    /// steward kept the record apart from them) are not considered.
    public func decide(_ record: MatchRecord, excluding apart: Set<Int> = []) -> Decision {
        var candidates = Set<Int32>()
        for key in record.lookupKeys {
            guard let members = blocks[key], members.count <= blockLimit else { continue }
            candidates.formUnion(members)
        }
        let best = scores(record, candidates).filter { !apart.contains($0.key) }
        let ranked = best.sorted { $0.value.total > $1.value.total }
        guard let (closest, closestScore) = ranked.first, closestScore.total >= model.reviewThreshold else { return .new }
        // A link needs the name to agree in some way (or the ID number): a family shares a phone,
        // an address and, for twins, a birth date, whatever the weights of those add up to.
        let linkable = ranked.filter { _, score in score.total >= model.linkThreshold && Self.namesAgree(score) }
        if linkable.count == 1, let (person, score) = linkable.first {
            let byID = score.contributions.contains { $0.field == .idNumber && $0.level == "agree" }
            return .link(person: person, method: byID ? .id : .probabilistic, score: score)
        }
        // Two people it could be, or one it is only close to.
        return .review(person: linkable.first?.key ?? closest, score: linkable.first?.value ?? closestScore)
    }

    /// `record`'s score against `person`, over all of the person's records whatever their
    /// blocking keys; nil when none of its records is placed.
    public func score(_ record: MatchRecord, against person: Int) -> MatchScore? {
        guard let indexes = members[person] else { return nil }
        return scores(record, Set(indexes))[person]
    }

    /// Whether a score could link: the name agrees in some way, or the ID number does.
    public static func namesAgree(_ score: MatchScore) -> Bool {
        score.contributions.contains {
            ($0.field == .name && $0.level != "different") || ($0.field == .idNumber && $0.level == "agree")
        }
    }

    /// The persons of `candidates`, each scored against the record.
    private func scores(_ record: MatchRecord, _ candidates: Set<Int32>) -> [Int: MatchScore] {
        let total = Double(max(counted + population.records, 1))
        let share: (String) -> Double = { Double((names[$0] ?? 0) + (population.names[$0] ?? 0)) / total }
        // A person is scored field by field against all of its records: each field by the best
        // level any of its records gives, so a record that lacks a field hides nothing another
        // record of the person says.
        var fields: [Int: [MatchModel.Field: MatchScore.Contribution]] = [:]
        for candidate in candidates {
            let other = records[Int(candidate)]
            let score = Self.withoutConflictingID(model.score(record, other, nameShare: share), model: model, record, other,
                                                  nameShare: share)
            let person = personOf[Int(candidate)]
            for contribution in score.contributions
            where fields[person]?[contribution.field].map({ $0.weight < contribution.weight }) ?? true {
                fields[person, default: [:]][contribution.field] = contribution
            }
        }
        return fields.mapValues { byField in
            let contributions = MatchModel.Field.allCases.compactMap { byField[$0] }
            return MatchScore(total: contributions.reduce(0) { $0 + $1.weight }, contributions: contributions)
        }
    }

    /// An ID number that agrees while the name and the birth date both disagree is someone
    /// else's (a child registered with a parent's card): the pair is scored without it.
    static func withoutConflictingID(_ score: MatchScore, model: MatchModel, _ a: MatchRecord, _ b: MatchRecord,
                                     nameShare: (String) -> Double) -> MatchScore {
        guard score.contributions.contains(where: { $0.field == .idNumber && $0.level == "agree" }) else { return score }
        let level = { (field: MatchModel.Field) in score.contributions.first { $0.field == field }?.level }
        let nameDiffers = level(.name) == "different"
        let dateDiffers = level(.birthDate).map { $0 == "different" || $0 == "same_year" } ?? false
        guard nameDiffers, dateDiffers else { return score }
        var a = a, b = b
        a.idHash = nil
        b.idHash = nil
        return model.score(a, b, nameShare: nameShare)
    }
}
