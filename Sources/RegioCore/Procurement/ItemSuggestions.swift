import Foundation

/// Ranks catalogue items as the standard item an unmapped LOCAL code may be, by how alike their
/// names, specs and manufacturers read — for a steward to confirm or reject, never applied alone.
///
/// Score (0 … 1) = 0.6 × name + 0.25 × spec + 0.15 × manufacturer, each the Dice coefficient of the
/// two texts' character bigrams (Chinese names share characters, not words: 阿莫西林胶囊 and
/// 阿莫西林胶囊(联邦) share most bigrams), computed on the texts with spaces and punctuation
/// removed and full-width forms folded. A spec counts fully when both parse to the same strength
/// and count (PackSpec), whatever way they are written. An item whose base unit differs from the
/// line's loses half its score: it is rarely the same product.
public enum ItemSuggestions {
    /// What the purchase lines say about the unmapped code.
    public struct Line: Sendable, Equatable {
        public var name: String
        public var spec: String?
        public var manufacturer: String?
        public var baseUnit: String

        public init(name: String, spec: String?, manufacturer: String?, baseUnit: String) {
            self.name = name
            self.spec = spec
            self.manufacturer = manufacturer
            self.baseUnit = baseUnit
        }
    }

    public struct Suggestion: Sendable, Equatable, Codable {
        public var nationalCode: String
        public var genericName: String
        public var spec: String?
        public var manufacturer: String?
        public var score: Decimal

        enum CodingKeys: String, CodingKey {
            case nationalCode = "national_code", genericName = "generic_name", spec, manufacturer, score
        }
    }

    /// The best `limit` items scoring at least `minimum`, best first (ties by national code).
    public static func rank(_ line: Line, among items: [CatalogItem], excluding rejected: Set<String> = [],
                            limit: Int = 3, minimum: Double = 0.3) -> [Suggestion] {
        let name = bigrams(line.name)
        let spec = line.spec.map(bigrams)
        let parsedSpec = line.spec.flatMap { try? PackSpec.parse($0).get() }
        let manufacturer = line.manufacturer.map(bigrams)
        var scored: [(Double, CatalogItem)] = []
        for item in items where !rejected.contains(item.nationalCode) {
            var score = 0.6 * dice(name, bigrams(item.genericName))
            if let spec, let itemSpec = item.spec {
                let sameContent = parsedSpec != nil && parsedSpec.map { ($0.strength, $0.volume, $0.count) }
                    .map { line in (try? PackSpec.parse(itemSpec).get()).map { ($0.strength, $0.volume, $0.count) == line } ?? false } == true
                score += 0.25 * (sameContent ? 1 : dice(spec, bigrams(itemSpec)))
            }
            if let manufacturer, let itemManufacturer = item.manufacturer {
                score += 0.15 * dice(manufacturer, bigrams(itemManufacturer))
            }
            if item.baseUnit != line.baseUnit { score /= 2 }
            if score >= minimum { scored.append((score, item)) }
        }
        scored.sort { $0.0 != $1.0 ? $0.0 > $1.0 : $0.1.nationalCode < $1.1.nationalCode }
        return scored.prefix(limit).map { score, item in
            Suggestion(nationalCode: item.nationalCode, genericName: item.genericName, spec: item.spec, manufacturer: item.manufacturer,
                       score: Decimal(string: String(format: "%.3f", score)) ?? 0)
        }
    }

    /// Character bigrams of the text's letters and digits, full-width folded to ASCII and lower-cased.
    static func bigrams(_ text: String) -> [String: Int] {
        let folded = String(String.UnicodeScalarView(text.unicodeScalars.map { scalar in
            (0xFF01...0xFF5E).contains(scalar.value) ? Unicode.Scalar(scalar.value - 0xFEE0)! : scalar
        }))
        let characters = Array(folded.lowercased().filter { $0.isLetter || $0.isNumber })
        var grams: [String: Int] = [:]
        if characters.count == 1 { grams[String(characters)] = 1 }
        for index in characters.indices.dropLast() { grams[String(characters[index...index + 1]), default: 0] += 1 }
        return grams
    }

    /// 2 × shared ÷ (|a| + |b|), counting repeated bigrams as often as both have them.
    static func dice(_ a: [String: Int], _ b: [String: Int]) -> Double {
        let total = a.values.reduce(0, +) + b.values.reduce(0, +)
        guard total > 0 else { return 0 }
        let shared = a.reduce(0) { $0 + min($1.value, b[$1.key] ?? 0) }
        return 2 * Double(shared) / Double(total)
    }
}
