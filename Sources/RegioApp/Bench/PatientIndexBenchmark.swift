import Foundation
import RegioCore


/// `regio bench mpi`: a generated region of patients, each registered at one to four
/// facilities with the noise registration desks make, linked by `PersonMatcher` record by
/// record in arrival order, and scored against the truth: pairwise precision, recall and F1,
/// records per second, and the kinds of errors left.
public struct PatientIndexBenchmark {
    public var persons: Int
    public var seed: UInt64
    public var model: MatchModel

    public init(persons: Int = 50_000, seed: UInt64 = 7, model: MatchModel = .standard) {
        self.persons = persons
        self.seed = seed
        self.model = model
    }

    public struct Figures: Sendable {
        public var label: String
        public var records: Int
        public var persons: Int
        public var precision: Double
        public var recall: Double
        public var f1: Double
        public var recordsPerSecond: Double
        public var linkedByID: Int
        public var linkedByScore: Int
        public var reviews: Int
        /// Wrong links (records of different people joined) and missed links (one person's
        /// records apart), by the noise the record carried.
        public var falseLinks: [String: Int]
        public var missedLinks: [String: Int]
    }

    /// One generated record: what the facility sent, who it really is, and what noise it carries.
    struct Generated {
        var record: MatchRecord
        var person: Int
        var noise: [String]
    }

    /// Runs the linkage over the region, with ID numbers (`withIDs`) or without any.
    public func run(withIDs: Bool) -> Figures {
        let region = RegionGenerator(persons: persons, seed: seed, withIDs: withIDs).records()
        var matcher = PersonMatcher(model: model)
        var assigned: [Int] = []
        assigned.reserveCapacity(region.count)
        var byID = 0, byScore = 0, reviews = 0
        let started = ContinuousClock.now
        for generated in region {
            let (decision, person) = matcher.add(generated.record)
            assigned.append(person)
            switch decision {
            case .link(_, .id, _): byID += 1
            case .link(_, .probabilistic, _): byScore += 1
            case .review: reviews += 1
            case .new: break
            }
        }
        let seconds = Double((ContinuousClock.now - started).components.attoseconds) / 1e18
            + Double((ContinuousClock.now - started).components.seconds)
        var figures = Self.score(region, assigned)
        figures.label = withIDs ? "with ID numbers" : "without ID numbers"
        figures.recordsPerSecond = Double(region.count) / max(seconds, 1e-9)
        figures.linkedByID = byID
        figures.linkedByScore = byScore
        figures.reviews = reviews
        return figures
    }

    /// Pairwise precision and recall of the assigned persons against the true ones.
    static func score(_ region: [Generated], _ assigned: [Int]) -> Figures {
        func pairs(_ n: Int) -> Int { n * (n - 1) / 2 }
        var truth: [Int: Int] = [:], predicted: [Int: Int] = [:], both: [Pair: Int] = [:]
        for (generated, person) in zip(region, assigned) {
            truth[generated.person, default: 0] += 1
            predicted[person, default: 0] += 1
            both[Pair(a: generated.person, b: person), default: 0] += 1
        }
        let truePairs = truth.values.reduce(0) { $0 + pairs($1) }
        let predictedPairs = predicted.values.reduce(0) { $0 + pairs($1) }
        let correct = both.values.reduce(0) { $0 + pairs($1) }
        let precision = predictedPairs == 0 ? 1 : Double(correct) / Double(predictedPairs)
        let recall = truePairs == 0 ? 1 : Double(correct) / Double(truePairs)
        // Errors by noise: a record placed with someone else's records, or apart from its own.
        // Each error is labelled with the noise of both records: this one and the first one of the
        // person it should have joined (missed) or did join (false).
        var first: [Int: (assigned: Int, noise: [String])] = [:]  // true person → its first record
        var owner: [Int: (person: Int, noise: [String])] = [:]  // assigned person → its first record
        var falseLinks: [String: Int] = [:], missedLinks: [String: Int] = [:]
        func label(_ a: [String], _ b: [String]) -> String {
            let noise = Set(a + b).sorted()
            return noise.isEmpty ? "none" : noise.joined(separator: "+")
        }
        for (generated, person) in zip(region, assigned) {
            if let earlier = first[generated.person], earlier.assigned != person {
                missedLinks[label(generated.noise, earlier.noise), default: 0] += 1
            }
            if let earlier = owner[person], earlier.person != generated.person {
                falseLinks[label(generated.noise, earlier.noise), default: 0] += 1
            }
            first[generated.person] = first[generated.person] ?? (person, generated.noise)
            owner[person] = owner[person] ?? (generated.person, generated.noise)
        }
        return Figures(label: "", records: region.count, persons: truth.count, precision: precision, recall: recall,
                       f1: precision + recall == 0 ? 0 : 2 * precision * recall / (precision + recall),
                       recordsPerSecond: 0, linkedByID: 0, linkedByScore: 0, reviews: 0,
                       falseLinks: falseLinks, missedLinks: missedLinks)
    }

    struct Pair: Hashable {
        var a: Int
        var b: Int
    }
}

/// Persons of a region and their records at facilities, with labelled noise.
struct RegionGenerator {
    var persons: Int
    var seed: UInt64
    var withIDs: Bool

    /// Surnames by their share of China's population (the most common hundred or so, per mille),
    /// and a few compound ones.
    static let surnames: [(String, Int)] = [
        ("王", 71), ("李", 70), ("张", 67), ("刘", 54), ("陈", 45), ("杨", 31), ("黄", 22), ("赵", 20), ("吴", 20),
        ("周", 19), ("徐", 15), ("孙", 15), ("马", 13), ("朱", 13), ("胡", 12), ("郭", 11), ("何", 10), ("高", 10),
        ("林", 10), ("罗", 9), ("郑", 9), ("梁", 9), ("谢", 8), ("宋", 7), ("唐", 7), ("许", 7), ("韩", 7), ("冯", 7),
        ("邓", 7), ("曹", 7), ("彭", 6), ("曾", 6), ("肖", 6), ("田", 5), ("董", 5), ("袁", 5), ("潘", 5), ("于", 5),
        ("蒋", 5), ("蔡", 5), ("余", 5), ("杜", 5), ("叶", 4), ("程", 4), ("苏", 4), ("魏", 4), ("吕", 4), ("丁", 4),
        ("任", 4), ("沈", 4), ("姚", 4), ("卢", 4), ("姜", 4), ("崔", 4), ("钟", 4), ("谭", 3), ("陆", 3), ("汪", 3),
        ("范", 3), ("金", 3), ("石", 3), ("廖", 3), ("贾", 3), ("夏", 3), ("韦", 3), ("付", 3), ("方", 3), ("白", 3),
        ("邹", 3), ("孟", 3), ("熊", 3), ("秦", 3), ("邱", 3), ("江", 3), ("尹", 3), ("薛", 3), ("闫", 3), ("段", 3),
        ("雷", 3), ("侯", 3), ("龙", 3), ("史", 3), ("单", 1), ("解", 1), ("欧阳", 1), ("司马", 1), ("诸葛", 1),
    ]

    /// Characters of given names, common ones first (drawn with a bias to the front).
    static let givenCharacters = Array(
        "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红鹏辉玲建国建华春梅海燕丹志强雪梅"
        + "飞鑫波斌宇浩凯健俊帆帅旭宁龙林欣晨阳佳琪婷慧颖倩雪琳晶莹璐然博文轩睿泽宏毅思涵子怡雨萱梓浩一诺")

    /// Full names so common that many people of one birth year share them.
    static let commonNames = ["王伟", "张敏", "李娜", "王芳", "张伟", "王静", "李强", "刘洋", "张静", "李静", "王磊", "张丽"]

    /// Homophones and variant characters a desk may type instead (one reading, different characters).
    static let homophones: [[Character]] = [
        ["伟", "玮", "炜", "韦", "苇"], ["敏", "民", "闽", "珉"], ["丽", "莉", "俐", "立"], ["静", "婧", "靖", "净"],
        ["军", "君", "钧", "均"], ["华", "化", "桦"], ["明", "铭", "鸣"], ["强", "蔷", "墙"], ["芳", "方", "坊"],
        ["杰", "洁", "捷", "婕"], ["玲", "琳", "灵", "凌"], ["娜", "那", "纳"], ["红", "宏", "鸿", "虹"], ["平", "萍", "苹"],
        ["英", "瑛", "莹", "颖"], ["文", "雯", "闻"], ["斌", "彬", "滨"], ["涛", "滔", "韬"], ["勇", "永", "咏"],
        ["艳", "燕", "雁", "彦"], ["浩", "昊", "皓", "豪"], ["婷", "亭", "庭"], ["宇", "雨", "语", "羽"], ["佳", "嘉", "家"],
        ["欣", "新", "馨", "心"], ["琪", "琦", "淇", "祺"], ["晨", "辰", "臣"], ["梅", "玫", "媚"], ["磊", "蕾", "垒"],
    ]

    /// Traditional forms a record may be written in (a Hong Kong or Taiwan desk, an old system).
    static let traditional: [Character: Character] = [
        "伟": "偉", "张": "張", "刘": "劉", "陈": "陳", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳", "军": "軍",
        "华": "華", "丽": "麗", "红": "紅", "国": "國", "龙": "龍", "静": "靜", "马": "馬", "孙": "孫", "郑": "鄭",
        "罗": "羅", "冯": "馮", "邓": "鄧", "许": "許", "谢": "謝", "韩": "韓", "叶": "葉", "苏": "蘇", "钟": "鍾",
        "刚": "剛", "鹏": "鵬", "辉": "輝", "涛": "濤", "兰": "蘭", "玲": "玲", "燕": "燕", "飞": "飛", "宁": "寧",
        "东": "東", "凤": "鳳", "丹": "丹", "颖": "穎", "晓": "曉", "萧": "蕭", "欧": "歐", "阳": "陽", "诸": "諸",
    ]

    /// Nasal finals southern speakers merge (min/ming), typed as the other one.
    static let nasal: [Character: Character] = ["敏": "明", "民": "明", "林": "玲", "琳": "玲", "斌": "兵", "新": "星", "晨": "成"]

    static let streets = Array("解放人民中山建设和平胜利文化光明新华友谊幸福长江黄河朝阳东风红旗")
    static let districts = ["清河区", "西湖区", "上城区", "拱墅区", "滨江区", "余杭区", "萧山区", "临平区"]

    struct Person {
        var surname: String
        var given: String
        var sex: String
        var birth: CalendarDate
        var phone: String
        var address: String
        var id: String?
        var parentID: String?
        /// What makes the person hard to tell apart (`common_name`, `twin`), for the error counts.
        var tags: [String] = []
    }

    func records() -> [PatientIndexBenchmark.Generated] {
        var random = SplitMix(seed: seed)
        var people: [Person] = []
        people.reserveCapacity(persons)
        let surnameTotal = Self.surnames.reduce(0) { $0 + $1.1 }
        func surname() -> String {
            var pick = random.next(surnameTotal)
            for (name, weight) in Self.surnames {
                if pick < weight { return name }
                pick -= weight
            }
            return "王"
        }
        func givenCharacter() -> Character {
            // Biased to the front of the list: the most common characters.
            let r = random.nextDouble()
            return Self.givenCharacters[Int(r * r * Double(Self.givenCharacters.count))]
        }
        func phone() -> String { "13\(random.next(10))\(String(format: "%08d", random.next(100_000_000)))" }
        func address() -> String {
            let street = String((0..<2).map { _ in Self.streets[random.next(Self.streets.count)] })
            return "\(Self.districts[random.next(Self.districts.count)])\(street)路\(random.next(300) + 1)号\(random.next(30) + 1)幢\(random.next(6) + 1)0\(random.next(4) + 1)室"
        }
        while people.count < persons {
            let birth = CalendarDate(year: 1930 + random.next(93), month: random.next(12) + 1, day: random.next(28) + 1)!
            var person = Person(surname: surname(), given: "", sex: random.next(2) == 0 ? "1" : "2", birth: birth,
                                phone: phone(), address: address(), id: "ID\(people.count)")
            if random.next(100) < 3 {
                let common = Self.commonNames[random.next(Self.commonNames.count)]
                person.surname = String(common.prefix(1))
                person.given = String(common.dropFirst())
                person.tags.append("common_name")
            } else {
                person.given = String((0..<(random.next(10) < 3 ? 1 : 2)).map { _ in givenCharacter() })
            }
            // A child may be registered with a parent's ID card.
            if birth.year >= 2010, random.next(100) < 10, let parent = people.last { person.parentID = parent.id }
            // Twins: same surname, birth date, address and phone; another given name.
            let twins = random.next(100) < 1 && people.count + 1 < persons
            if twins { person.tags.append("twin") }
            people.append(person)
            if twins {
                var twin = person
                twin.id = "ID\(people.count)"
                twin.parentID = nil
                repeat {
                    twin.given = String(person.given.prefix(1)) + String(givenCharacter())
                } while twin.given == person.given
                twin.sex = random.next(2) == 0 ? "1" : "2"
                people.append(twin)
            }
        }
        var generated: [PatientIndexBenchmark.Generated] = []
        for (index, person) in people.enumerated() {
            let count = [1, 1, 1, 1, 1, 2, 2, 2, 3, 4][random.next(10)]
            for copy in 0..<count {
                generated.append(record(of: person, index: index, first: copy == 0, &random))
            }
        }
        // Arrival order: the facilities' nights interleave.
        for index in stride(from: generated.count - 1, to: 0, by: -1) {
            generated.swapAt(index, random.next(index + 1))
        }
        return generated
    }

    private func record(of person: Person, index: Int, first: Bool, _ random: inout SplitMix) -> PatientIndexBenchmark.Generated {
        var noise: [String] = []
        var name = Array(person.surname + person.given)
        var birth: CalendarDate? = person.birth
        var sex: String? = person.sex
        var phone: String? = person.phone
        var address: String? = person.address
        var id: String? = withIDs ? person.id : nil
        if !first {
            let roll = random.next(1000)
            let givenStart = person.surname.count
            if roll < 60, let position = (givenStart..<name.count).randomElement(using: &random),
               let group = Self.homophones.first(where: { $0.contains(name[position]) }) {
                name[position] = group[random.next(group.count)]
                noise.append("homophone")
            } else if roll < 90 {
                name = name.map { Self.traditional[$0] ?? $0 }
                noise.append("traditional")
            } else if roll < 100, let position = (givenStart..<name.count).first(where: { Self.nasal[name[$0]] != nil }) {
                name[position] = Self.nasal[name[position]]!
                noise.append("nasal")
            }
            let date = random.next(1000)
            if date < 25, person.birth.day <= 12, person.birth.day != person.birth.month {
                birth = CalendarDate(year: person.birth.year, month: person.birth.day, day: person.birth.month)
                noise.append("swapped_date")
            } else if date < 35 {
                // One digit mistyped: the day's last one, or the year's.
                var typo = person.birth
                if random.next(2) == 0 {
                    while typo.day == person.birth.day { typo.day = max(1, min(28, person.birth.day / 10 * 10 + random.next(10))) }
                } else {
                    typo.year += typo.year % 10 == 9 ? -1 : 1
                }
                birth = typo
                noise.append("date_typo")
            } else if date < 65 {
                birth = nil
                noise.append("no_date")
            }
            if random.next(100) < 1 { sex = "0" }
            let contact = random.next(100)
            if contact < 30 { phone = nil } else if contact < 50 {
                phone = "15\(random.next(10))\(String(format: "%08d", random.next(100_000_000)))"
                noise.append("new_phone")
            }
            let home = random.next(100)
            if home < 20 { address = nil } else if home < 35 {
                address = "\(RegionGenerator.districts[random.next(RegionGenerator.districts.count)])新村\(random.next(99) + 1)号"
                noise.append("moved")
            } else if home < 45, let full = address {
                address = String(full.dropFirst(3))  // the district left out
            }
        }
        if withIDs {
            let card = random.next(100)
            if card < 8 { id = nil } else if card < 10 {
                id = nil  // mistyped: its check digit fails, the ingestion keeps no hash
                noise.append("bad_id")
            }
            if let parent = person.parentID, random.next(100) < 50 {
                id = parent
                noise.append("parent_id")
            }
        }
        noise = person.tags + noise
        let record = MatchRecord(name: String(name), sex: sex, birthDate: birth, phone: phone, address: address, idHash: id)
        return .init(record: record, person: index, noise: noise)
    }
}

/// A small, fast, seeded generator (SplitMix64), so a benchmark's region is the same every run.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
    mutating func next(_ bound: Int) -> Int { Int(next() % UInt64(bound)) }
    mutating func nextDouble() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
