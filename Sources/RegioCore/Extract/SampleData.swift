/// Deterministic pseudo-random numbers (SplitMix64): the same seed gives the same sample region
/// on every machine, so generated extracts and the figures computed from them can be checked.
public struct SplitMix64: RandomNumberGenerator, Sendable {
    private var state: UInt64

    public init(seed: UInt64) { state = seed }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A generator derived from this seed and some labels, independent of how much of the
    /// stream was used: person 1234 is the same person whatever else was generated.
    public static func derived(_ seed: UInt64, _ labels: UInt64...) -> SplitMix64 {
        var mixer = SplitMix64(seed: seed)
        var value = mixer.next()
        for label in labels {
            var step = SplitMix64(seed: value ^ (label &* 0x9E37_79B9_7F4A_7C15))
            value = step.next()
        }
        return SplitMix64(seed: value)
    }

    public mutating func chance(_ probability: Double) -> Bool { Double.random(in: 0..<1, using: &self) < probability }

    public mutating func pick<T>(_ items: [T]) -> T { items[Int.random(in: 0..<items.count, using: &self)] }
}

/// Reference lists the generator draws from: names, diagnoses, exams, departments, suppliers.
enum SampleCatalog {
    static let surnames = Array("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤").map(String.init)
    static let givenCharacters = Array("伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉兰萍红玉梅建华建国志强海燕桂兰欣怡子轩浩然梓涵一诺宇轩雨桐思远晓东丽娟春梅国庆文博佳琪").map(String.init)
    static let streets = ["解放路", "延安路", "中山路", "庆春路", "凤起路", "建国路", "文一路", "莫干山路", "湖墅南路", "天目山路", "秋涛路", "之江路"]

    /// (ICD-10, typical for outpatients, typical for inpatients)
    static let outpatientDiagnoses = ["I10.x00", "J06.900", "E11.900", "K29.700", "M54.500", "J20.900", "N39.000", "L30.900", "H10.900", "R51.x00", "J02.900", "E78.500"]
    static let inpatientDiagnoses = ["J18.900", "I63.900", "I25.100", "I50.900", "K35.800", "S72.000", "O80.000", "C34.900", "K80.200", "N18.500", "J44.100", "E11.900"]

    struct Exam {
        var code: String, name: String, category: String, modality: String?, bodySite: String?, price: Double
    }
    static let exams = [
        Exam(code: "LAB0001", name: "血常规", category: "LAB", modality: nil, bodySite: nil, price: 25),
        Exam(code: "LAB0002", name: "肝功能", category: "LAB", modality: nil, bodySite: nil, price: 60),
        Exam(code: "LAB0003", name: "肾功能", category: "LAB", modality: nil, bodySite: nil, price: 45),
        Exam(code: "LAB0004", name: "空腹血糖", category: "LAB", modality: nil, bodySite: nil, price: 12),
        Exam(code: "LAB0005", name: "糖化血红蛋白", category: "LAB", modality: nil, bodySite: nil, price: 70),
        Exam(code: "LAB0006", name: "血脂四项", category: "LAB", modality: nil, bodySite: nil, price: 40),
        Exam(code: "IMG0101", name: "胸部正位X线", category: "IMAGING", modality: "DX", bodySite: "胸部", price: 60),
        Exam(code: "IMG0201", name: "头颅CT平扫", category: "IMAGING", modality: "CT", bodySite: "头部", price: 240),
        Exam(code: "IMG0202", name: "胸部CT平扫", category: "IMAGING", modality: "CT", bodySite: "胸部", price: 260),
        Exam(code: "IMG0301", name: "腰椎MR平扫", category: "IMAGING", modality: "MR", bodySite: "腰椎", price: 520),
        Exam(code: "IMG0401", name: "腹部彩超", category: "IMAGING", modality: "US", bodySite: "腹部", price: 150),
        Exam(code: "ECG0001", name: "十二导联心电图", category: "ECG", modality: "ECG", bodySite: nil, price: 30),
        Exam(code: "END0001", name: "电子胃镜检查", category: "ENDOSCOPY", modality: "ES", bodySite: "胃", price: 380),
        Exam(code: "PAT0001", name: "组织病理学检查", category: "PATHOLOGY", modality: nil, bodySite: nil, price: 300),
    ]

    /// Traditional forms of the sample names' characters, and given-name homophones (same pinyin).
    static let traditional: [Character: Character] = [
        "张": "張", "刘": "劉", "陈": "陳", "杨": "楊", "黄": "黃", "赵": "趙", "吴": "吳", "孙": "孫", "马": "馬", "罗": "羅",
        "郑": "鄭", "谢": "謝", "韩": "韓", "冯": "馮", "邓": "鄧", "叶": "葉", "苏": "蘇", "卢": "盧", "钟": "鍾", "陆": "陸",
        "伟": "偉", "丽": "麗", "军": "軍", "杰": "傑", "涛": "濤", "华": "華", "国": "國", "东": "東", "兰": "蘭", "红": "紅",
        "静": "靜", "娟": "娟", "艳": "艷", "强": "強", "庆": "慶", "轩": "軒", "浩": "浩", "涵": "涵", "诺": "諾", "桐": "桐",
    ]
    static let homophones: [Character: Character] = [
        "丽": "莉", "芳": "方", "伟": "玮", "杰": "洁", "军": "君", "明": "铭", "平": "萍", "涛": "滔", "霞": "侠", "敏": "闵",
    ]

    /// The name as another clerk wrote it: in traditional characters, or with a homophone for a
    /// given-name character.
    static func variant(of name: String, rng: inout SplitMix64) -> String {
        if rng.chance(0.5) { return String(name.map { traditional[$0] ?? $0 }) }
        var characters = Array(name)
        for index in characters.indices.dropFirst() {
            if let homophone = homophones[characters[index]] {
                characters[index] = homophone
                break
            }
        }
        return String(characters)
    }

    static let departments: [(code: String, name: String)] = [
        ("0301", "内科"), ("0401", "外科"), ("0501", "妇产科"), ("0701", "儿科"), ("1001", "急诊科"), ("5001", "中医科"), ("0201", "全科"),
    ]
    static let suppliers = ["华东医药股份有限公司", "国药控股浙江有限公司", "上海医药集团", "九州通医药集团"]
}
