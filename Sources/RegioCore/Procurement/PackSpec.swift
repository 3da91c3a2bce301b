import Foundation

/// A drug or consumable's package specification (规格), parsed from the free text hospitals and
/// catalogues write: `0.25g*24片/盒`, `10ml:0.5g*5支`, `5mg×7片×2板`, `100ml/瓶` …
///
/// Price comparison divides a purchase price by the base units in a pack, so a wrong count is worse
/// than none: a text that can be read more than one way is refused, never guessed. How it reads:
/// - Normalised first: full-width forms folded to ASCII (`＊：／（）`, digits, letters), `×` and an
///   `x`/`X` followed by a digit become `*`, spaces go, a leading `规格`/`规格:` label goes,
///   parentheses without a digit are a remark and go (`(笔芯)`, `(带针)`; with one: refused).
/// - One `/` may end the text with a pack unit, a count word without a number (`/盒`); a number
///   there (`0.25g/24`) is refused, as is a second `/`.
/// - The rest splits at `*` into levels, each `number unit` or `a:b` (a volume and a strength, in
///   either order: `10ml:0.5g`, `0.9%:100ml`). Units are matched without case (`ML` → `ml`, `ug`
///   and `mcg` → `μg`, `iu` → `IU`).
/// - Strength (mass, activity units, %) and volume each appear at most once, before the counted
///   levels. Length levels (`mm cm m Fr`) make `size`, as written; bare numbers are allowed only
///   just before one (`3.0*18mm`). Counted levels (`片 支 板 盒`…, `s` for pieces) come last and
///   multiply; each is a whole number. Any other order, or a bare number elsewhere, is ambiguous.
/// - `packUnit` is the `/` unit, else the outermost of two or more counted levels when it is a
///   container (`板 盒 瓶 袋 包 套`): `7片*2板` packs 14 片 per 板, `6袋` is just 6 袋.
/// - Uppercase `G` is grams after a fraction (`0.5G`) but refused after a whole number: `20G` is a
///   needle gauge as often as 20 grams of ointment.
public struct PackSpec: Sendable, Equatable {
    public struct Quantity: Sendable, Equatable {
        public var value: Decimal
        public var unit: String

        public init(value: Decimal, unit: String) {
            self.value = value
            self.unit = unit
        }
    }

    /// Active content per base unit (mass, activity units or a percentage): `0.25g`, `300单位`.
    public var strength: Quantity?
    /// Volume per base unit: `10ml` in `10ml:0.5g*5支`, `100ml` in `100ml/瓶`.
    public var volume: Quantity?
    /// Physical size of a device, kept as written (`3.0*18mm`, `17.5*9.5cm`, `7Fr`): consumables.
    public var size: String?
    /// Base units per pack: the product of the counted levels (`7片×2板` → 14); nil when the text
    /// counts nothing.
    public var count: Decimal?
    /// The unit counted innermost, the smallest dispensing unit (片 in `7片×2板`); nil when not
    /// named (`20mg*28s`: 28 pieces of no named unit).
    public var baseUnit: String?
    /// The unit of the whole pack when written after `/` (`盒` in `0.25g*24片/盒`), or the outer
    /// counted level when it is a container; nil otherwise.
    public var packUnit: String?

    public init(strength: Quantity? = nil, volume: Quantity? = nil, size: String? = nil, count: Decimal? = nil,
                baseUnit: String? = nil, packUnit: String? = nil) {
        self.strength = strength
        self.volume = volume
        self.size = size
        self.count = count
        self.baseUnit = baseUnit
        self.packUnit = packUnit
    }

    public enum Refusal: Error, Equatable, CustomStringConvertible {
        case empty
        case noQuantity(String)
        case malformed(String)
        case zeroOrNegative(String)
        case fractionalCount(String)
        case ambiguous(String)

        public var description: String {
            switch self {
            case .empty: "the spec is empty"
            case .noQuantity(let text): "no quantity in '\(text)'"
            case .malformed(let text): "cannot read '\(text)'"
            case .zeroOrNegative(let text): "'\(text)' is zero or negative"
            case .fractionalCount(let text): "'\(text)' counts a fraction of a unit"
            case .ambiguous(let text): "'\(text)' can be read more than one way"
            }
        }
    }

    /// Parses `text`; a text it cannot read with certainty is refused, never guessed.
    public static func parse(_ text: String) -> Result<PackSpec, Refusal> {
        Result { () throws(Refusal) in try read(text) }
    }
}

extension PackSpec {
    private enum Kind { case strength, volume, length, counted }

    /// Every spelling accepted, lower-cased, with the unit it is reported as and what it measures.
    private static let units: [String: (unit: String, kind: Kind)] = {
        var units: [String: (unit: String, kind: Kind)] = [
            "g": ("g", .strength), "克": ("g", .strength), "mg": ("mg", .strength), "毫克": ("mg", .strength),
            "μg": ("μg", .strength), "ug": ("μg", .strength), "mcg": ("μg", .strength), "微克": ("μg", .strength),
            "kg": ("kg", .strength), "u": ("U", .strength), "iu": ("IU", .strength), "单位": ("单位", .strength),
            "万单位": ("万单位", .strength), "万u": ("万U", .strength), "万iu": ("万IU", .strength), "%": ("%", .strength),
            "ml": ("ml", .volume), "毫升": ("ml", .volume), "l": ("l", .volume), "升": ("l", .volume),
            "mm": ("mm", .length), "cm": ("cm", .length), "m": ("m", .length), "fr": ("Fr", .length),
            "s": ("s", .counted),
        ]
        for word in countWords { units[word] = (word, .counted) }
        return units
    }()

    private static let countWords: Set<String> = [
        "片", "粒", "支", "袋", "瓶", "个", "板", "盒", "丸", "贴", "枚", "只", "根", "套", "条", "包", "喷", "揿",
        "颗", "张", "卷", "付", "副", "对", "块", "管",
    ]

    /// Count words that name a container rather than a dose: an outer counted level in one is the pack.
    private static let containers: Set<String> = ["板", "盒", "瓶", "袋", "包", "套"]

    /// One `*`-separated level, read.
    private enum Level {
        case strength(Quantity)
        case volume(Quantity)
        case ratio(strength: Quantity, volume: Quantity)
        case size(String, hasUnit: Bool)
        case counted(Decimal, unit: String)

        var isSize: Bool { if case .size = self { true } else { false } }
        var isCounted: Bool { if case .counted = self { true } else { false } }
    }

    private static func read(_ raw: String) throws(Refusal) -> PackSpec {
        let written = raw.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !written.isEmpty else { throw .empty }
        let text = try normalised(written)
        let halves = text.split(separator: "/", omittingEmptySubsequences: false)
        guard halves.count <= 2 else { throw .malformed(written) }
        guard text.contains(where: isDigit) else { throw .noQuantity(written) }

        var spec = PackSpec()
        var sizeLevels: [(text: String, hasUnit: Bool)] = []
        var countedUnits: [String] = []
        var previousWasSize = false
        for piece in halves[0].split(separator: "*", omittingEmptySubsequences: false).map(String.init) {
            guard !piece.isEmpty else { throw .malformed(written) }
            let level = try self.level(piece)
            if !level.isSize, let last = sizeLevels.last, !last.hasUnit {
                throw .ambiguous(sizeLevels.map(\.text).joined(separator: "*"))
            }
            if !level.isCounted, !countedUnits.isEmpty { throw .ambiguous(piece) }
            switch level {
            case .strength(let quantity):
                guard spec.strength == nil else { throw .ambiguous(piece) }
                spec.strength = quantity
            case .volume(let quantity):
                guard spec.volume == nil else { throw .ambiguous(piece) }
                spec.volume = quantity
            case .ratio(let strength, let volume):
                guard spec.strength == nil, spec.volume == nil else { throw .ambiguous(piece) }
                (spec.strength, spec.volume) = (strength, volume)
            case .size(let text, let hasUnit):
                // One run of size levels: `3.0*18mm`, not `3mm*5mg*4mm`.
                guard sizeLevels.isEmpty || previousWasSize else { throw .ambiguous(piece) }
                sizeLevels.append((text, hasUnit))
            case .counted(let count, let unit):
                spec.count = (spec.count ?? 1) * count
                countedUnits.append(unit)
            }
            previousWasSize = level.isSize
        }
        if let last = sizeLevels.last {
            guard last.hasUnit else { throw .ambiguous(sizeLevels.map(\.text).joined(separator: "*")) }
            spec.size = sizeLevels.map(\.text).joined(separator: "*")
        }

        if let base = countedUnits.first, base != "s" { spec.baseUnit = base }
        if halves.count == 2 {
            guard !halves[1].isEmpty else { throw .malformed(written) }
            spec.packUnit = try packUnit(String(halves[1]))
        } else if countedUnits.count > 1, let outer = countedUnits.last, containers.contains(outer) {
            spec.packUnit = outer
        }
        return spec
    }

    /// Folds the ways the same spec is written into one: see the type's rules.
    private static func normalised(_ written: String) throws(Refusal) -> String {
        var folded = String.UnicodeScalarView()
        for scalar in written.unicodeScalars where !scalar.properties.isWhitespace {
            switch scalar.value {
            case 0xFF01...0xFF5E: folded.append(Unicode.Scalar(scalar.value - 0xFEE0)!)  // full-width ASCII
            case 0x00D7, 0x2217: folded.append("*")  // × ∗
            case 0x2236: folded.append(":")  // ∶
            case 0x00B5: folded.append("μ")  // micro sign
            default: folded.append(scalar)
            }
        }
        var text = Substring(String(folded))
        if text.hasPrefix("规格") { text = text.dropFirst(2) }
        if text.hasPrefix(":") { text = text.dropFirst() }

        var kept = ""
        var remark: String?
        for character in text {
            switch (character, remark) {
            case ("(", nil): remark = ""
            case (")", let inside?):
                if inside.contains(where: isDigit) { throw .ambiguous("(\(inside))") }
                remark = nil
            case ("(", _?), (")", nil): throw .malformed(written)
            case (_, let inside?): remark = inside + String(character)
            case (_, nil): kept.append(character)
            }
        }
        guard remark == nil else { throw .malformed(written) }

        // `5mgx14片`, `3.0X18mm`: an x before a number multiplies.
        var result = ""
        var characters = kept.makeIterator()
        var next = characters.next()
        while let character = next {
            next = characters.next()
            let multiplies = (character == "x" || character == "X") && !result.isEmpty && next.map(isDigit) == true
            result.append(multiplies ? "*" : character)
        }
        return result
    }

    /// Reads one level: `number unit`, `volume:strength` (either order), or a bare number of a size.
    private static func level(_ piece: String) throws(Refusal) -> Level {
        let sides = piece.split(separator: ":", omittingEmptySubsequences: false)
        guard !sides.contains(where: \.isEmpty) else { throw .malformed(piece) }
        if sides.count == 2 {
            switch (try quantity(String(sides[0])), try quantity(String(sides[1]))) {
            case ((let volume, _, .volume?), (let strength, _, .strength?)), ((let strength, _, .strength?), (let volume, _, .volume?)):
                return .ratio(strength: strength, volume: volume)
            default: throw .ambiguous(piece)
            }
        }
        guard sides.count == 1 else { throw .malformed(piece) }
        let (quantity, digits, kind) = try quantity(piece)
        switch kind {
        case .strength?: return .strength(quantity)
        case .volume?: return .volume(quantity)
        case .length?: return .size(digits + quantity.unit, hasUnit: true)
        case nil: return .size(String(digits), hasUnit: false)
        case .counted?:
            if let fraction = digits.split(separator: ".").dropFirst().first, fraction.contains(where: { $0 != "0" }) {
                throw .fractionalCount(piece)
            }
            return .counted(quantity.value, unit: quantity.unit)
        }
    }

    /// `number unit` with a positive number: the quantity, its digits as written, and what the unit
    /// measures (nil for a bare number).
    private static func quantity(_ text: String) throws(Refusal) -> (Quantity, digits: Substring, kind: Kind?) {
        let negative = text.hasPrefix("-")
        let unsigned = text.dropFirst(negative ? 1 : 0)
        let digits = unsigned.prefix { isDigit($0) || $0 == "." }
        let unitText = String(unsigned.dropFirst(digits.count))
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard !digits.isEmpty, parts.count <= 2, parts.allSatisfy({ !$0.isEmpty }),
              let value = Decimal(string: String(digits), locale: Locale(identifier: "en_US_POSIX"))
        else { throw .malformed(text) }
        guard !negative, value > 0 else { throw .zeroOrNegative(text) }

        if unitText.isEmpty { return (Quantity(value: value, unit: ""), digits, nil) }
        if unitText == "G" {
            guard parts.count == 2 else { throw .ambiguous(text) }
            return (Quantity(value: value, unit: "g"), digits, .strength)
        }
        guard let known = units[unitText.lowercased()] else { throw .malformed(text) }
        return (Quantity(value: value, unit: known.unit), digits, known.kind)
    }

    /// The unit after `/`: a count word, no number.
    private static func packUnit(_ text: String) throws(Refusal) -> String {
        if text.contains(where: isDigit) { throw .ambiguous(text) }
        guard countWords.contains(text) else { throw .malformed(text) }
        return text
    }

    private static func isDigit(_ character: Character) -> Bool {
        character.isASCII && character.isNumber
    }
}
