import Foundation

/// The sample region's procurement: its item catalogue, how its facilities buy, and what its
/// alliances agree on — made so that every alliance report has something to show. Products of a
/// generic group come selected (won the volume-based procurement, cheap) and not selected (brand,
/// dear); most facilities buy the selected product at about its agreed price, some pay well above
/// it (`overpaying`), some still buy many non-selected products (`laggards`); one hospital's
/// system sends its own item codes (`localCodes`); a few lines carry a pack size that contradicts
/// their spec. Everything is derived from the seed, facility, product and date, so the demo's
/// commitments can be set from the volumes the generator will produce.
public struct SampleProcurement: Sendable {
    public struct Product: Sendable {
        public var item: CatalogItem
        /// Yuan per base unit around which facilities pay.
        public var basePrice: Double
        /// Won the volume-based procurement: the alliances agree a price and commit volumes.
        public var selected: Bool
        /// The code `localCodes` hospitals use for it.
        public var localCode: String
    }

    static func drug(_ code: String, _ name: String, _ group: String, _ form: String, _ strength: String, count: Int, base: String,
                     pack: String = "盒", _ manufacturer: String, price: Double, selected: Bool, local: String) -> Product {
        Product(item: CatalogItem(nationalCode: code, category: .drug, genericName: name, genericGroup: group, dosageForm: form,
                                  strength: strength, spec: "\(strength)*\(count)\(base)/\(pack)", packSize: Decimal(count),
                                  packUnit: pack, baseUnit: base, manufacturer: manufacturer),
                basePrice: price, selected: selected, localCode: local)
    }

    static func device(_ code: String, _ name: String, _ group: String, spec: String, count: Int, base: String, pack: String,
                       _ manufacturer: String, price: Double, selected: Bool, local: String) -> Product {
        Product(item: CatalogItem(nationalCode: code, category: .consumable, genericName: name, genericGroup: group, spec: spec,
                                  packSize: Decimal(count), packUnit: pack, baseUnit: base, manufacturer: manufacturer),
                basePrice: price, selected: selected, localCode: local)
    }

    /// National-code-shaped codes (NHSA drug codes: X + ATC-like letters and digits, 23 characters;
    /// consumables: C + 19 digits).
    public static let products: [Product] = [
        drug("XA10BAE054A001010101445", "二甲双胍片", "metformin-0.5g-oral", "片剂", "0.5g", count: 30, base: "片", "石药集团欧意药业", price: 0.05,
             selected: true, local: "YP1001"),
        drug("XA10BAE054A001010201882", "盐酸二甲双胍片(格华止)", "metformin-0.5g-oral", "片剂", "0.5g", count: 20, base: "片", "中美上海施贵宝制药",
             price: 0.24, selected: false, local: "YP1002"),
        drug("XC09CAA138A001010104218", "缬沙坦胶囊", "valsartan-80mg-oral", "胶囊剂", "80mg", count: 28, base: "粒", "浙江华海药业", price: 0.35,
             selected: true, local: "YP1003"),
        drug("XC09CAA138A001010302215", "缬沙坦胶囊(代文)", "valsartan-80mg-oral", "胶囊剂", "80mg", count: 7, base: "粒", "北京诺华制药", price: 2.9,
             selected: false, local: "YP1004"),
        drug("XC10AAA199A001010103652", "阿托伐他汀钙片", "atorvastatin-20mg-oral", "片剂", "20mg", count: 7, base: "片", "齐鲁制药", price: 0.28,
             selected: true, local: "YP1005"),
        drug("XC10AAA199A001010204107", "阿托伐他汀钙片(立普妥)", "atorvastatin-20mg-oral", "片剂", "20mg", count: 7, base: "片", "辉瑞制药",
             price: 6.4, selected: false, local: "YP1006"),
        drug("XC08CAA096A001010102104", "苯磺酸氨氯地平片", "amlodipine-5mg-oral", "片剂", "5mg", count: 28, base: "片", "浙江京新药业", price: 0.15,
             selected: true, local: "YP1007"),
        drug("XC08CAA096A001010301933", "苯磺酸氨氯地平片(络活喜)", "amlodipine-5mg-oral", "片剂", "5mg", count: 7, base: "片", "辉瑞制药",
             price: 2.2, selected: false, local: "YP1008"),
        drug("XJ01DDT145A001010101232", "注射用头孢曲松钠", "ceftriaxone-1g-injection", "注射剂", "1.0g", count: 10, base: "支", "上海罗氏制药",
             price: 4.8, selected: true, local: "YP1009"),
        drug("XJ01CAA040A001010201776", "阿莫西林胶囊", "amoxicillin-0.25g-oral", "胶囊剂", "0.25g", count: 24, base: "粒", "联邦制药", price: 0.09,
             selected: false, local: "YP1010"),
        drug("XA02BCA211A001010100989", "奥美拉唑肠溶胶囊", "omeprazole-20mg-oral", "胶囊剂", "20mg", count: 14, base: "粒", "阿斯利康制药",
             price: 0.42, selected: true, local: "YP1011"),
        drug("XB01ACA056A001010102301", "阿司匹林肠溶片", "aspirin-100mg-oral", "片剂", "100mg", count: 30, base: "片", "拜耳医药", price: 0.5,
             selected: false, local: "YP1012"),
        drug("XN02BEA013A001010300412", "对乙酰氨基酚片", "paracetamol-0.5g-oral", "片剂", "0.5g", count: 100, base: "片", pack: "瓶", "华润双鹤",
             price: 0.05, selected: false, local: "YP1013"),
        drug("XA10AEI230B002010100537", "甘精胰岛素注射液", "insulin-glargine-300u", "注射剂", "3ml:300单位", count: 1, base: "支", "赛诺菲",
             price: 72.0, selected: true, local: "YP1014"),
        device("C03010100100000012345", "一次性使用无菌注射器", "syringe-5ml", spec: "5ml", count: 100, base: "支", pack: "盒", "山东威高集团",
               price: 0.32, selected: false, local: "HC2001"),
        device("C02010500200000056781", "医用外科口罩", "surgical-mask", spec: "17.5×9.5cm", count: 50, base: "个", pack: "盒", "稳健医疗",
               price: 0.28, selected: false, local: "HC2002"),
        device("C08010200300000024681", "冠脉药物洗脱支架", "coronary-stent-des", spec: "3.0×18mm", count: 1, base: "个", pack: "个", "乐普医疗",
               price: 700, selected: true, local: "HC2003"),
        device("C08010200300000024699", "冠脉药物洗脱支架(进口)", "coronary-stent-des", spec: "3.0×18mm", count: 1, base: "个", pack: "个",
               "美敦力", price: 9800, selected: false, local: "HC2004"),
        device("C04010300400000013571", "一次性使用输液器", "infusion-set", spec: "带针", count: 200, base: "套", pack: "箱", "江西洪达医疗",
               price: 1.1, selected: false, local: "HC2005"),
    ]

    public static var catalogue: [CatalogItem] { products.map(\.item) }

    /// The generic groups, in catalogue order: a day's line picks a group, then a product of it.
    static let groups: [String] = products.reduce(into: []) { groups, product in
        if !groups.contains(product.item.genericGroup) { groups.append(product.item.genericGroup) }
    }

    /// Pay 25–40 % above the agreed price for selected products.
    public static let overpaying: Set<String> = ["H339902002", "H339921002"]
    /// Buy non-selected products for almost half of what they buy of a generic.
    public static let laggards: Set<String> = ["H339902001", "H339921001"]
    /// Its hospital information system sends its own item codes (code system LOCAL).
    public static let localCodes: Set<String> = ["H339921002"]
    /// Local codes the demo leaves unmapped: the stewards' list has them to suggest for.
    public static let unmappedLocalCodes: Set<String> = ["YP1012", "HC2005"]

    public var seed: UInt64
    public var scale: Double

    public init(seed: UInt64, scale: Double = 1) {
        self.seed = seed
        self.scale = scale
    }

    /// Whether a facility buys: hospitals and township centres do.
    public static func buys(_ facility: Facility) -> Bool {
        facility.tier != .primary || facility.type == .townshipCentre
    }

    /// One purchase line, before it has an id.
    public struct Line: Sendable {
        public var product: Product
        public var local: Bool
        public var purchaseUnit: String
        public var packSize: Int
        /// Yuan per purchase unit, in cents.
        public var unitPriceCents: Int
        public var quantity: Int
        public var supplier: String
        public var date: CalendarDate
        /// Its pack size contradicts its spec: a clerk's slip the platform flags.
        public var misTyped = false

        /// Base units the line says it bought.
        public var baseUnits: Int { packSize * quantity }

        /// The extract's purchases row, with its id.
        public func row(id: String) -> [String?] {
            let item = product.item
            let name = local ? "\(item.genericName)[\(item.manufacturer ?? "")]" : item.genericName
            let cents = unitPriceCents * quantity
            return [id, local ? product.localCode : item.nationalCode, local ? "LOCAL" : "NHSA", name, item.spec, item.manufacturer,
                    purchaseUnit, String(packSize), item.baseUnit, Self.yuan(unitPriceCents), String(quantity), Self.yuan(cents),
                    supplier, date.description, "INV" + id.dropFirst(), product.selected ? "1" : "0", nil]
        }

        static func yuan(_ cents: Int) -> String { "\(cents / 100).\(cents % 100 < 10 ? "0" : "")\(cents % 100)" }
    }

    /// What a facility buys on a day: most days some lines, about 4, 12 or 25 by tier (× scale).
    public func day(_ facility: Facility, _ date: CalendarDate) -> [Line] {
        guard Self.buys(facility) else { return [] }
        var rng = SplitMix64.derived(seed, 11, UInt64(facility.code.hashValueStable), UInt64(date.dayNumber))
        guard rng.chance(0.85) else { return [] }
        let count = max(1, Int((Double(facility.tier == .primary ? 4 : facility.tier == .secondary ? 12 : 25) * scale).rounded()))
        return (0..<count).map { _ in line(facility, date, &rng) }
    }

    private func line(_ facility: Facility, _ date: CalendarDate, _ rng: inout SplitMix64) -> Line {
        // Coronary stents are for hospitals with a cath lab, not for primary care.
        let group = rng.pick(facility.tier == .primary ? Self.groups.filter { !$0.hasPrefix("coronary-stent") } : Self.groups)
        let candidates = Self.products.filter { $0.item.genericGroup == group }
        let nonSelectedShare = Self.laggards.contains(facility.code) ? 0.45 : 0.08
        let product = candidates.count == 1 ? candidates[0]
            : rng.chance(nonSelectedShare) ? candidates.first { !$0.selected } ?? candidates[0] : candidates.first { $0.selected } ?? candidates[0]
        let boxCount = NSDecimalNumber(decimal: product.item.packSize).intValue
        let boxCents = Int((product.basePrice * Double(boxCount) * priceFactor(facility, product, date) * 100).rounded())
        let quantity = product.basePrice * Double(boxCount) > 200 ? Int.random(in: 1...3, using: &rng) : Int.random(in: 2...40, using: &rng)
        var supplierPick = SplitMix64.derived(seed, 12, UInt64(facility.code.hashValueStable), UInt64(product.item.nationalCode.hashValueStable))
        var line = Line(product: product, local: Self.localCodes.contains(facility.code), purchaseUnit: product.item.packUnit,
                        packSize: boxCount, unitPriceCents: boxCents, quantity: quantity,
                        supplier: supplierPick.pick(SampleCatalog.suppliers), date: date)
        let roll = Double.random(in: 0..<1, using: &rng)
        if roll < 0.10, boxCount > 1 {
            // A case of ten boxes: another pack size, the same price per base unit.
            (line.purchaseUnit, line.packSize, line.unitPriceCents, line.quantity) = ("件", boxCount * 10, boxCents * 10, max(1, quantity / 10))
        } else if roll > 0.985, boxCount > 1 {
            // The clerk typed the base units per box as 1: contradicts the spec (or the catalogue).
            line.packSize = 1
            line.misTyped = true
        }
        return line
    }

    /// Where a facility's price for a product sits against its base price this month: selected
    /// products near it (25–40 % above at `overpaying` facilities), others within ±10 %, moving
    /// by a step of 2 % some months.
    func priceFactor(_ facility: Facility, _ product: Product, _ date: CalendarDate) -> Double {
        var level = SplitMix64.derived(seed, 13, UInt64(facility.code.hashValueStable), UInt64(product.item.nationalCode.hashValueStable))
        let base = product.selected
            ? (Self.overpaying.contains(facility.code) ? Double.random(in: 1.25...1.40, using: &level) : Double.random(in: 0.97...1.06, using: &level))
            : Double.random(in: 0.92...1.10, using: &level)
        var month = SplitMix64.derived(seed, 14, UInt64(facility.code.hashValueStable), UInt64(product.item.nationalCode.hashValueStable),
                                       UInt64(date.year * 12 + date.month))
        return base * (1 + 0.02 * Double(Int.random(in: -1...1, using: &month)))
    }

    // MARK: Agreements

    /// The agreed price of every selected product per base unit, from `from` on; amlodipine's was
    /// cut three months later (its earlier price ends the month before), so a validity boundary shows.
    public static func agreedPrices(alliance: String, from: CalendarDate) -> [AgreedPrice] {
        products.filter(\.selected).flatMap { product -> [AgreedPrice] in
            let price = Self.decimal(product.basePrice)
            guard product.item.genericGroup == "amlodipine-5mg-oral" else {
                return [AgreedPrice(alliance: alliance, nationalCode: product.item.nationalCode, price: price, validFrom: from, validTo: nil)]
            }
            let cut = from.addingMonths(3)
            return [
                AgreedPrice(alliance: alliance, nationalCode: product.item.nationalCode, price: Self.decimal(product.basePrice * 1.2),
                            validFrom: from, validTo: cut.adding(days: -1)),
                AgreedPrice(alliance: alliance, nationalCode: product.item.nationalCode, price: price, validFrom: cut, validTo: nil),
            ]
        }
    }

    /// The provincial platform's listed prices: a quarter above the base price.
    public static func listedPrices(from: CalendarDate) -> [ListedPrice] {
        products.map { ListedPrice(nationalCode: $0.item.nationalCode, price: decimal($0.basePrice * 1.25), validFrom: from, validTo: nil) }
    }

    /// Each member's commitment to each selected product over a 12-month cycle from `start`: the
    /// base units the generator will have it buy over the cycle, times 0.8 (it runs ahead) for
    /// most, 1.6 for laggards (behind), 1.2 for the overpaying (behind, less so).
    public func commitments(alliance: String, members: [Facility], start: CalendarDate) -> [VolumeCommitment] {
        let end = start.addingMonths(12).adding(days: -1)
        var commitments: [VolumeCommitment] = []
        for member in members where Self.buys(member) {
            var volume: [String: Int] = [:]
            for day in start.dayNumber...end.dayNumber {
                for line in self.day(member, CalendarDate(dayNumber: day)) where line.product.selected && !line.misTyped {
                    volume[line.product.item.nationalCode, default: 0] += line.baseUnits
                }
            }
            let factor = Self.laggards.contains(member.code) ? 1.6 : Self.overpaying.contains(member.code) ? 1.2 : 0.8
            for product in Self.products where product.selected {
                guard let units = volume[product.item.nationalCode], units > 0 else { continue }
                commitments.append(VolumeCommitment(alliance: alliance, member: member.code, nationalCode: product.item.nationalCode,
                                                    cycleStart: start, cycleEnd: end,
                                                    committedUnits: Decimal((Double(units) * factor / 10).rounded() * 10)))
            }
        }
        return commitments
    }

    /// The mapping of the local codes `localCodes` hospitals send, but those left for stewards.
    public static func itemMap(facilities: [Facility]) -> [ItemMapping] {
        facilities.filter { localCodes.contains($0.code) }.flatMap { facility in
            products.filter { !unmappedLocalCodes.contains($0.localCode) }.map {
                ItemMapping(facility: facility.code, localCode: $0.localCode, nationalCode: $0.item.nationalCode)
            }
        }
    }

    /// A price in yuan to four decimals, exactly.
    static func decimal(_ value: Double) -> Decimal {
        Decimal(string: String(format: "%.4f", value), locale: Locale(identifier: "en_US_POSIX"))!
    }

    /// The catalogue as `regio catalog import items` reads it (`deploy/demo/procurement-items.csv`).
    public static func catalogueCSV() -> String {
        let header = ["national_code", "category", "generic_name", "generic_group", "dosage_form", "strength", "spec", "pack_size",
                      "pack_unit", "base_unit", "manufacturer"]
        let rows = catalogue.map { item in
            [item.nationalCode, item.category.rawValue, item.genericName, item.genericGroup, item.dosageForm ?? "", item.strength ?? "",
             item.spec ?? "", "\(item.packSize)", item.packUnit, item.baseUnit, item.manufacturer ?? ""]
        }
        return ([header] + rows).map { $0.map(CSVWriter.field).joined(separator: ",") + "\n" }.joined()
    }
}

extension CalendarDate {
    /// The same day `months` months later (the first of a month stays the first).
    public func addingMonths(_ months: Int) -> CalendarDate {
        let index = year * 12 + (month - 1) + months
        let (y, m) = (index / 12, index % 12 + 1)
        return CalendarDate(year: y, month: m, day: min(day, CalendarDate.daysIn(month: m, year: y)))!
    }

    /// The first day of this date's month.
    public var firstOfMonth: CalendarDate { CalendarDate(year: year, month: month, day: 1)! }
}
