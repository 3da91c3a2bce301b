import Foundation
import Synchronization

/// A person's name in the forms the patient index compares: written in Han characters, its
/// simplified form and its toneless pinyin, so that traditional and variant characters and
/// homophones (伟/玮/炜, 敏/民) still agree; written in Latin letters, upper-cased without
/// diacritics, its words in order. Built once per record.
public struct PersonName: Sendable, Hashable {
    /// Han: the simplified characters; Latin: the words, sorted, joined by one space.
    public let simplified: String
    /// Han: one toneless syllable per character (the surname read as a surname); Latin: the words.
    public let syllables: [String]
    public let isHan: Bool

    /// The surname's reading (Han: the first one or two characters, `HanReadings.surnameLength`),
    /// or the first Latin word as written.
    public let surnameKey: String
    /// Han: how many characters the surname takes (1 or 2); Latin: 0.
    public let surnameLength: Int

    /// The whole name as one toneless pinyin string (`wangwei`), or the sorted Latin words.
    public var pinyinKey: String { isHan ? syllables.joined() : simplified }

    public init(_ written: String) {
        // The middle dot of transliterated names (阿卜杜·热合曼) and spaces carry no meaning here.
        let scalars = written.unicodeScalars.filter { !$0.properties.isWhitespace && $0 != "·" && $0 != "•" && $0 != "." }
        let hanCount = scalars.filter(HanReadings.isHan).count
        if hanCount > 0, hanCount * 2 >= scalars.count {
            isHan = true
            var simplified = String.UnicodeScalarView()
            var syllables: [String] = []
            let characters = Array(scalars.filter(HanReadings.isHan))
            let surname = HanReadings.surnameLength(characters)
            for scalar in characters {
                let reading = HanReadings.shared.reading(of: scalar)
                simplified.append(reading.simplified)
                syllables.append(reading.pinyin)
            }
            HanReadings.readSurname(&syllables, simplified: simplified, length: surname)
            self.simplified = String(simplified)
            self.syllables = syllables
            self.surnameLength = surname
            self.surnameKey = syllables.prefix(surname).joined()
        } else {
            isHan = false
            // The words as written: the first is the surname (Chinese names are written in pinyin
            // surname first); compared, they are sorted.
            let words = String(String.UnicodeScalarView(written.unicodeScalars.map { $0.properties.isAlphabetic ? $0 : " " }))
                .applyingTransform(.stripDiacritics, reverse: false)?.uppercased().split(separator: " ").map(String.init) ?? []
            let sorted = words.sorted()
            self.simplified = sorted.joined(separator: " ")
            self.syllables = sorted
            self.surnameLength = 0
            self.surnameKey = words.first ?? ""
        }
    }
}

/// Simplified forms and pinyin of Han characters, by ICU's transforms (Foundation on Linux has
/// them), one character at a time and remembered: a region's names use a few thousand
/// characters, and a transform costs tens of microseconds. Surnames read differently from the
/// same character elsewhere (曾 zēng, not céng; 单 shàn, not dān) come from a small table.
public final class HanReadings: Sendable {
    /// The process's table: a cache of pure functions of the character, safe to share.
    public static let shared = HanReadings()

    struct Reading: Sendable {
        var simplified: Unicode.Scalar
        var pinyin: String
    }

    private let known = Mutex<[Unicode.Scalar: Reading]>([:])

    static func isHan(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar.value {
        case 0x4E00...0x9FFF, 0x3400...0x4DBF, 0xF900...0xFAFF, 0x20000...0x2EBEF, 0x30000...0x3134F: true
        default: false
        }
    }

    /// Two-character surnames (复姓), simplified; a name starting with one has a two-character surname.
    static let compoundSurnames: Set<String> = [
        "欧阳", "司马", "诸葛", "上官", "东方", "皇甫", "尉迟", "长孙", "令狐", "慕容", "夏侯", "万俟", "司徒",
        "公孙", "轩辕", "宇文", "端木", "澹台", "西门", "南宫", "呼延", "闻人", "独孤", "申屠", "太史", "钟离", "单于",
    ]

    /// Characters whose reading as a one-character surname differs from their common reading
    /// (toneless).
    static let surnameReadings: [Unicode.Scalar: String] = [
        "曾": "zeng", "单": "shan", "解": "xie", "区": "ou", "仇": "qiu", "朴": "piao", "查": "zha", "盖": "ge",
        "乐": "yue", "折": "she", "种": "chong", "繁": "po", "员": "yun", "覃": "qin", "缪": "miao", "召": "shao",
        "秘": "bi", "翟": "zhai", "柏": "bai", "尉": "wei", "沈": "shen", "石": "shi", "贾": "jia", "葛": "ge",
        "华": "hua", "任": "ren", "纪": "ji", "冼": "xian", "洗": "xian", "句": "gou", "阚": "kan", "隗": "wei",
        "重": "chong", "相": "xiang", "能": "nai", "都": "du", "藏": "zang", "黑": "he", "宓": "fu", "卜": "bu",
        "燕": "yan", "过": "guo", "蕃": "pi", "薄": "bo", "莘": "shen", "訾": "zi", "晁": "chao", "长": "chang",
    ]

    /// Compound surnames whose reading differs from their characters' common readings.
    static let compoundReadings: [String: [String]] = [
        "万俟": ["mo", "qi"], "尉迟": ["yu", "chi"], "长孙": ["zhang", "sun"], "澹台": ["tan", "tai"],
        "令狐": ["ling", "hu"], "单于": ["chan", "yu"],
    ]

    /// How many of the leading characters are the surname: 2 for a compound surname, else 1.
    static func surnameLength(_ characters: [Unicode.Scalar]) -> Int {
        guard characters.count >= 3 else { return min(1, characters.count) }
        let first = shared.reading(of: characters[0]).simplified, second = shared.reading(of: characters[1]).simplified
        var pair = String.UnicodeScalarView()
        pair.append(first)
        pair.append(second)
        return compoundSurnames.contains(String(pair)) ? 2 : 1
    }

    /// Gives the surname — the first `length` characters of `simplified` — its own reading.
    static func readSurname(_ syllables: inout [String], simplified: String.UnicodeScalarView, length: Int) {
        if length == 1, let first = simplified.first, let reading = surnameReadings[first] {
            syllables[0] = reading
        } else if length == 2, let readings = compoundReadings[String(String.UnicodeScalarView(simplified.prefix(2)))] {
            syllables[0] = readings[0]
            syllables[1] = readings[1]
        }
    }

    func reading(of scalar: Unicode.Scalar) -> Reading {
        if let known = known.withLock({ $0[scalar] }) { return known }
        let character = String(scalar)
        let simplified = character.applyingTransform(StringTransform("Traditional-Simplified"), reverse: false)?
            .unicodeScalars.first ?? scalar
        let latin = String(simplified).applyingTransform(.mandarinToLatin, reverse: false)?
            .applyingTransform(.stripDiacritics, reverse: false)?.lowercased() ?? character
        let reading = Reading(simplified: simplified, pinyin: latin.filter { $0.isLetter })
        known.withLock { $0[scalar] = reading }
        return reading
    }
}
