import Foundation
import RegioCore
import Testing

@Suite("Package specs (规格)")
struct PackSpecTests {
    /// `amount` is a decimal string, so the expected value is exact.
    static func quantity(_ amount: String, _ unit: String) -> PackSpec.Quantity {
        PackSpec.Quantity(value: Decimal(string: amount)!, unit: unit)
    }

    static func spec(_ strength: PackSpec.Quantity? = nil, volume: PackSpec.Quantity? = nil, size: String? = nil,
                     count: Int? = nil, base: String? = nil, pack: String? = nil) -> PackSpec {
        PackSpec(strength: strength, volume: volume, size: size, count: count.map { Decimal($0) }, baseUnit: base, packUnit: pack)
    }

    static let accepted: [(String, PackSpec)] = {
        let q = quantity
        return [
            ("0.25g*24片/盒", spec(q("0.25", "g"), count: 24, base: "片", pack: "盒")),
            ("10ml:0.5g*5支", spec(q("0.5", "g"), volume: q("10", "ml"), count: 5, base: "支")),
            ("5mg×7片×2板", spec(q("5", "mg"), count: 14, base: "片", pack: "板")),
            ("100ml/瓶", spec(volume: q("100", "ml"), pack: "瓶")),
            ("0.5g*10粒*2板/盒", spec(q("0.5", "g"), count: 20, base: "粒", pack: "盒")),
            ("75mg*7片", spec(q("75", "mg"), count: 7, base: "片")),
            ("1ml:10mg*10支/盒", spec(q("10", "mg"), volume: q("1", "ml"), count: 10, base: "支", pack: "盒")),
            ("3ml:300单位(笔芯)", spec(q("300", "单位"), volume: q("3", "ml"))),
            ("0.1g*100片/瓶", spec(q("0.1", "g"), count: 100, base: "片", pack: "瓶")),
            ("２０ｍｇ＊２８片", spec(q("20", "mg"), count: 28, base: "片")),
            ("1g*6袋", spec(q("1", "g"), count: 6, base: "袋")),
            ("250ml:12.5g", spec(q("12.5", "g"), volume: q("250", "ml"))),
            ("20mg*28s", spec(q("20", "mg"), count: 28)),
            ("80万单位*10支", spec(q("80", "万单位"), count: 10, base: "支")),
            ("5mg x 14片", spec(q("5", "mg"), count: 14, base: "片")),
            ("0.3g×12片×2板/盒", spec(q("0.3", "g"), count: 24, base: "片", pack: "盒")),
            ("10ml:1g", spec(q("1", "g"), volume: q("10", "ml"))),
            ("0.9%:100ml", spec(q("0.9", "%"), volume: q("100", "ml"))),
            ("规格：0.5g*20片", spec(q("0.5", "g"), count: 20, base: "片")),
            ("规格0.2g*12片", spec(q("0.2", "g"), count: 12, base: "片")),
            ("5ml", spec(volume: q("5", "ml"))),
            ("3.0×18mm", spec(size: "3.0*18mm")),
            ("17.5×9.5cm", spec(size: "17.5*9.5cm")),
            ("0.45×16mm*100支", spec(size: "0.45*16mm", count: 100, base: "支")),
            ("0.7X25MM", spec(size: "0.7*25mm")),
            ("7Fr", spec(size: "7Fr")),
            ("10cm×10cm*10片/盒", spec(size: "10cm*10cm", count: 10, base: "片", pack: "盒")),
            ("1.25cm×9.1m*1卷", spec(size: "1.25cm*9.1m", count: 1, base: "卷")),
            ("20ml*50支/盒", spec(volume: q("20", "ml"), count: 50, base: "支", pack: "盒")),
            ("500万U", spec(q("500", "万U"))),
            ("40万IU*1瓶", spec(q("40", "万IU"), count: 1, base: "瓶")),
            ("0.5g:10ml*1支", spec(q("0.5", "g"), volume: q("10", "ml"), count: 1, base: "支")),
            ("100μg*30片", spec(q("100", "μg"), count: 30, base: "片")),
            ("50mcg*60喷", spec(q("50", "μg"), count: 60, base: "喷")),
            ("400iu*30粒", spec(q("400", "IU"), count: 30, base: "粒")),
            ("2.5MG*14片", spec(q("2.5", "mg"), count: 14, base: "片")),
            ("5mL*10支", spec(volume: q("5", "ml"), count: 10, base: "支")),
            ("１０ｍｌ×１０支", spec(volume: q("10", "ml"), count: 10, base: "支")),
            ("10g/支", spec(q("10", "g"), pack: "支")),
            ("0.5G*12粒", spec(q("0.5", "g"), count: 12, base: "粒")),
            ("0.25克*24粒", spec(q("0.25", "g"), count: 24, base: "粒")),
            ("1L/袋", spec(volume: q("1", "l"), pack: "袋")),
            ("500ml(塑瓶)", spec(volume: q("500", "ml"))),
            ("100mg×30片（薄膜衣）", spec(q("100", "mg"), count: 30, base: "片")),
            ("1.0g(以头孢唑林计)*10瓶", spec(q("1.0", "g"), count: 10, base: "瓶")),
            ("0.2g*10片*2板*5盒", spec(q("0.2", "g"), count: 100, base: "片", pack: "盒")),
            ("0.9%*100ml*10瓶", spec(q("0.9", "%"), volume: q("100", "ml"), count: 10, base: "瓶")),
            (" 4mg * 10片 / 盒 ", spec(q("4", "mg"), count: 10, base: "片", pack: "盒")),
        ]
    }()

    static let refused: [(String, PackSpec.Refusal)] = [
        ("", .empty),
        ("   ", .empty),
        ("适量", .noQuantity("适量")),
        ("盒", .noQuantity("盒")),
        ("(带针)", .noQuantity("(带针)")),
        ("0.25*24", .ambiguous("0.25*24")),
        ("3*5mg", .ambiguous("3")),
        ("1.5片*10", .fractionalCount("1.5片")),
        ("0片", .zeroOrNegative("0片")),
        ("-5mg*7片", .zeroOrNegative("-5mg")),
        ("24片*0.25g", .ambiguous("0.25g")),
        ("5mg*10mg*7片", .ambiguous("10mg")),
        ("3mm*5mg*4mm", .ambiguous("4mm")),
        ("10ml:20ml", .ambiguous("10ml:20ml")),
        ("1:1000", .ambiguous("1:1000")),
        ("0.25g/24", .ambiguous("24")),
        ("0.25g/1盒", .ambiguous("1盒")),
        ("0.25g*10片(2板)", .ambiguous("(2板)")),
        ("20G*1支", .ambiguous("20G")),
        ("a/b/c", .malformed("a/b/c")),
        ("0.25g*24片/盒/箱", .malformed("0.25g*24片/盒/箱")),
        ("10ml:0.5g:3ml", .malformed("10ml:0.5g:3ml")),
        ("5mg**7片", .malformed("5mg**7片")),
        ("5mg*7片*", .malformed("5mg*7片*")),
        ("5mg/ml", .malformed("ml")),
        ("0.25g*24片)", .malformed("0.25g*24片)")),
        ("1..5g", .malformed("1..5g")),
        ("10abc", .malformed("10abc")),
    ]

    @Test("real specs read as their strength, volume, size, count and units", arguments: PackSpecTests.accepted)
    func reads(_ text: String, _ expected: PackSpec) {
        #expect(PackSpec.parse(text) == .success(expected))
    }

    @Test("a spec that cannot be read with certainty is refused, naming what is wrong", arguments: PackSpecTests.refused)
    func refuses(_ text: String, _ refusal: PackSpec.Refusal) {
        #expect(PackSpec.parse(text) == .failure(refusal))
    }

    @Test("a refusal's description names the offending text")
    func description() {
        #expect(PackSpec.Refusal.ambiguous("24片*0.25g").description.contains("24片*0.25g"))
        #expect(PackSpec.Refusal.fractionalCount("1.5片").description.contains("1.5片"))
    }
}
