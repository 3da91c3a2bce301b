import Foundation

/// The Fellegi–Sunter model the patient index scores a pair of records with: each field compared
/// gives one level, each level a weight log₂(m/u) — m the chance of that level between two
/// records of one person, u between two records of different people — and the weights add up.
/// A field missing on either side adds nothing. An exact name's u is its share of the index's
/// records when that is larger (王伟 agrees by chance far more often than 欧阳震华), so common
/// names need the other fields to link.
public struct MatchModel: Sendable, Codable, Equatable {
    public enum Field: String, Sendable, Codable, CaseIterable {
        case name, birthDate = "birth_date", sex, phone, address, idNumber = "id_number"
    }

    /// One comparison outcome of a field, with its probabilities.
    public struct Level: Sendable, Codable, Equatable {
        public var field: Field
        public var level: String
        public var m: Double
        public var u: Double
        public var weight: Double { log2(m / u) }

        public init(_ field: Field, _ level: String, m: Double, u: Double) {
            self.field = field
            self.level = level
            self.m = m
            self.u = u
        }
    }

    public var levels: [Level]
    /// At or above: the record is linked to the person.
    public var linkThreshold: Double
    /// At or above (and below `linkThreshold`): the pair goes to a steward's review.
    public var reviewThreshold: Double

    /// Sets one level's m and u (a region's own, `emr.match_weights`); false when the model has no
    /// such field and level.
    public mutating func set(field: String, level: String, m: Double, u: Double) -> Bool {
        guard let index = levels.firstIndex(where: { $0.field.rawValue == field && $0.level == level }) else { return false }
        levels[index].m = m
        levels[index].u = u
        return true
    }

    public init(levels: [Level], linkThreshold: Double, reviewThreshold: Double) {
        self.levels = levels
        self.linkThreshold = linkThreshold
        self.reviewThreshold = reviewThreshold
    }

    public func level(_ field: Field, _ name: String) -> Level {
        guard let level = levels.first(where: { $0.field == field && $0.level == name }) else {
            preconditionFailure("the model has no level \(field.rawValue).\(name)")
        }
        return level
    }

    /// The defaults, chosen with `regio bench mpi` (docs/patient-index.md gives the measurements):
    /// m from how often the generator's noise, which follows what registration clerks do, leaves
    /// each level; u from how often different people of a region agree by chance.
    public static let standard = MatchModel(levels: [
        Level(.name, "exact", m: 0.85, u: 0.00001),
        Level(.name, "homophone", m: 0.08, u: 0.0005),
        Level(.name, "close", m: 0.05, u: 0.004),
        Level(.name, "different", m: 0.02, u: 0.9953),
        Level(.birthDate, "exact", m: 0.92, u: 0.00005),
        Level(.birthDate, "swapped", m: 0.03, u: 0.00005),
        Level(.birthDate, "one_digit", m: 0.015, u: 0.001),
        Level(.birthDate, "same_year", m: 0.01, u: 0.012),
        Level(.birthDate, "different", m: 0.015, u: 0.98695),
        Level(.sex, "agree", m: 0.995, u: 0.5),
        Level(.sex, "disagree", m: 0.005, u: 0.5),
        Level(.phone, "exact", m: 0.7, u: 0.0002),
        Level(.phone, "different", m: 0.3, u: 0.9998),
        Level(.address, "same", m: 0.6, u: 0.002),
        Level(.address, "similar", m: 0.15, u: 0.01),
        Level(.address, "different", m: 0.25, u: 0.988),
        Level(.idNumber, "agree", m: 0.98, u: 0.000001),
        Level(.idNumber, "different", m: 0.02, u: 0.999999),
    ], linkThreshold: 15, reviewThreshold: 8)
}

/// A pair's total and what each field added to it: what a link stores, so a steward can see why.
public struct MatchScore: Sendable, Codable, Equatable {
    public struct Contribution: Sendable, Codable, Equatable {
        public var field: MatchModel.Field
        public var level: String
        public var weight: Double
    }

    public var total: Double
    public var contributions: [Contribution]
}

extension MatchModel {
    /// Compares two records field by field. `nameShare`: the share of the index's records with
    /// this (simplified) name, for an exact name's u.
    public func score(_ a: MatchRecord, _ b: MatchRecord, nameShare: (String) -> Double = { _ in 0 }) -> MatchScore {
        var contributions: [MatchScore.Contribution] = []
        contributions.reserveCapacity(6)
        func add(_ field: Field, _ levelName: String, u: Double? = nil) {
            var level = level(field, levelName)
            if let u { level.u = max(level.u, u) }
            contributions.append(.init(field: field, level: levelName, weight: level.weight))
        }
        let name = Self.compareNames(a.name, b.name)
        add(.name, name, u: name == "exact" ? nameShare(a.name.simplified) : nil)
        if let x = a.birthDate, let y = b.birthDate { add(.birthDate, Self.compareDates(x, y)) }
        if let x = a.sex, let y = b.sex { add(.sex, x == y ? "agree" : "disagree") }
        if let x = a.phone, let y = b.phone { add(.phone, x == y ? "exact" : "different") }
        if let x = a.address, let y = b.address {
            let dice = 2 * Double(x.intersection(y).count) / Double(x.count + y.count)
            add(.address, dice >= 0.8 ? "same" : dice >= 0.5 ? "similar" : "different")
        }
        if let x = a.idHash, let y = b.idHash { add(.idNumber, x == y ? "agree" : "different") }
        return MatchScore(total: contributions.reduce(0) { $0 + $1.weight }, contributions: contributions)
    }

    /// `exact`: the same simplified characters (or Latin words); `homophone`: the same pinyin
    /// (a variant or homophone character); `close`: the same surname and length, one syllable
    /// that differs but sounds alike (min/ming, lin/ling: Jaro–Winkler ≥ 0.85), or a Latin
    /// spelling with Jaro–Winkler ≥ 0.94; `different` otherwise.
    static func compareNames(_ a: PersonName, _ b: PersonName) -> String {
        if a.simplified == b.simplified { return "exact" }
        if a.isHan, b.isHan {
            if a.syllables == b.syllables { return "homophone" }
            guard a.syllables.count == b.syllables.count, a.surnameKey == b.surnameKey else { return "different" }
            let differing = zip(a.syllables, b.syllables).filter { $0 != $1 }
            if differing.count == 1, let (x, y) = differing.first, JaroWinkler.similarity(x, y) >= 0.85 { return "close" }
            return "different"
        }
        if a.isHan != b.isHan {
            // One written in pinyin: compare the sounds.
            return a.pinyinKey.uppercased() == b.pinyinKey.replacingOccurrences(of: " ", with: "").uppercased()
                || b.pinyinKey.uppercased() == a.pinyinKey.replacingOccurrences(of: " ", with: "").uppercased() ? "homophone" : "different"
        }
        return JaroWinkler.similarity(a.simplified, b.simplified) >= 0.94 ? "close" : "different"
    }

    /// `exact`; `swapped` (day and month exchanged); `one_digit` (one digit of YYYYMMDD differs);
    /// `same_year`; `different`.
    static func compareDates(_ a: CalendarDate, _ b: CalendarDate) -> String {
        if a == b { return "exact" }
        if a.year == b.year, a.month == b.day, a.day == b.month { return "swapped" }
        let x = Array(a.description.utf8), y = Array(b.description.utf8)
        if x.count == y.count, zip(x, y).filter({ $0 != $1 }).count == 1 { return "one_digit" }
        return a.year == b.year ? "same_year" : "different"
    }
}

/// Jaro–Winkler similarity (prefix scale 0.1, at most 4 characters), on Unicode scalars.
public enum JaroWinkler {
    public static func similarity(_ a: String, _ b: String) -> Double {
        let x = Array(a.unicodeScalars), y = Array(b.unicodeScalars)
        if x.isEmpty || y.isEmpty { return x.isEmpty && y.isEmpty ? 1 : 0 }
        let window = max(0, max(x.count, y.count) / 2 - 1)
        var xMatched = [Bool](repeating: false, count: x.count), yMatched = [Bool](repeating: false, count: y.count)
        var matches = 0
        for i in x.indices {
            let (low, high) = (max(0, i - window), min(y.count, i + window + 1))
            guard low < high else { break }
            for j in low..<high where !yMatched[j] && x[i] == y[j] {
                xMatched[i] = true
                yMatched[j] = true
                matches += 1
                break
            }
        }
        if matches == 0 { return 0 }
        var transpositions = 0, k = 0
        for i in x.indices where xMatched[i] {
            while !yMatched[k] { k += 1 }
            if x[i] != y[k] { transpositions += 1 }
            k += 1
        }
        let m = Double(matches)
        let jaro = (m / Double(x.count) + m / Double(y.count) + (m - Double(transpositions / 2)) / m) / 3
        let prefix = zip(x, y).prefix(4).prefix { $0 == $1 }.count
        return jaro + Double(prefix) * 0.1 * (1 - jaro)
    }
}
