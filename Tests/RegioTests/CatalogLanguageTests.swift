import Foundation
import RegioCore
@testable import RegioQuery
import Testing

/// The report catalog in both languages: every report, parameter and column carries its Chinese
/// and English texts, and every unit its Chinese.
@Suite("Report catalog in Chinese and English")
struct CatalogLanguageTests {
    /// Whether the text holds a CJK ideograph (the Chinese fields must).
    static func hasCJK(_ text: String) -> Bool {
        text.unicodeScalars.contains { scalar in
            switch scalar.value {
            case 0x3400...0x4DBF, 0x4E00...0x9FFF, 0xF900...0xFAFF, 0x20000...0x2FA1F: true
            default: false
            }
        }
    }

    @Test("every report has a Chinese description")
    func reportDescriptions() {
        for report in ReportCatalog.all {
            #expect(Self.hasCJK(report.descriptionZh), "\(report.id): descriptionZh")
            #expect(Self.hasCJK(report.titleZh), "\(report.id): titleZh")
            #expect(!report.titleEn.isEmpty && !Self.hasCJK(report.titleEn), "\(report.id): titleEn")
        }
    }

    @Test("every column has an English title and a Chinese title and definition")
    func columns() {
        for report in ReportCatalog.all {
            for column in report.columns {
                let at = "\(report.id).\(column.name)"
                #expect(Self.hasCJK(column.titleZh), "\(at): titleZh")
                #expect(!column.titleEn.trimmingCharacters(in: .whitespaces).isEmpty, "\(at): titleEn is empty")
                #expect(!Self.hasCJK(column.titleEn), "\(at): titleEn is not English")
                #expect(!column.definition.isEmpty, "\(at): definition")
                #expect(Self.hasCJK(column.definitionZh), "\(at): definitionZh")
            }
        }
    }

    @Test("every parameter has labels in both languages and a Chinese description")
    func parameters() {
        for report in ReportCatalog.all {
            for parameter in report.parameters {
                let at = "\(report.id)?\(parameter.name)"
                #expect(Self.hasCJK(parameter.labelZh), "\(at): labelZh")
                #expect(!parameter.labelEn.trimmingCharacters(in: .whitespaces).isEmpty, "\(at): labelEn is empty")
                #expect(!Self.hasCJK(parameter.labelEn), "\(at): labelEn is not English")
                #expect(Self.hasCJK(parameter.descriptionZh), "\(at): descriptionZh")
            }
        }
    }

    @Test("a parameter of the same name and kind has the same labels in every report")
    func parameterLabelsAgree() {
        var labels: [String: (zh: String, en: String, report: String)] = [:]
        for report in ReportCatalog.all {
            for parameter in report.parameters {
                let key = "\(parameter.name)/\(parameter.kind.rawValue)"
                if let seen = labels[key] {
                    #expect(seen.zh == parameter.labelZh && seen.en == parameter.labelEn,
                            "\(report.id)?\(parameter.name): labels differ from \(seen.report)'s")
                } else {
                    labels[key] = (parameter.labelZh, parameter.labelEn, report.id)
                }
            }
        }
    }

    @Test("every unit of the catalog has its Chinese")
    func units() {
        for report in ReportCatalog.all {
            for column in report.columns {
                guard let unit = column.unit else {
                    #expect(column.unitZh == nil, "\(report.id).\(column.name): unitZh without unit")
                    continue
                }
                #expect(ReportColumn.unitsZh[unit] != nil, "\(report.id).\(column.name): no Chinese for unit '\(unit)'")
                #expect(column.unitZh == ReportColumn.unitsZh[unit], "\(report.id).\(column.name): unitZh")
            }
        }
        #expect(ReportColumn.unitsZh["visits"] == "人次")
        #expect(ReportColumn.unitsZh["yuan"] == "元")
        #expect(ReportColumn.unitsZh.filter { $0.key != "%" && $0.key != "z" }.values.allSatisfy(Self.hasCJK))
    }

    @Test("the catalog JSON carries both languages")
    func json() throws {
        let report = try #require(ReportCatalog.report(id: "activity"))
        let data = try JSONEncoder().encode(CatalogEntry(report))
        let entry = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        #expect(entry["description"] as? String == report.description)
        #expect(entry["description_zh"] as? String == report.descriptionZh)
        let parameters = try #require(entry["parameters"] as? [[String: Any]])
        let level = try #require(parameters.first { $0["name"] as? String == "level" })
        #expect(level["label_zh"] as? String == "汇总层级")
        #expect(level["label_en"] as? String == "Level")
        #expect((level["description_zh"] as? String).map(Self.hasCJK) == true)
        #expect(level["description"] as? String == "facility (default), county, city or tier.")
        let columns = try #require(entry["columns"] as? [[String: Any]])
        let discharges = try #require(columns.first { $0["name"] as? String == "discharges" })
        #expect(discharges["title_zh"] as? String == "出院人次")
        #expect(discharges["title_en"] as? String == "Discharges")
        #expect(discharges["definition"] as? String == "Inpatient encounters ending in the month.")
        #expect(discharges["definition_zh"] as? String == "当月结束的住院就诊。")
        #expect(discharges["unit"] as? String == "discharges")
        #expect(discharges["unit_zh"] as? String == "人次")
        let month = try #require(columns.first { $0["name"] as? String == "month" })
        #expect(month["unit"] == nil && month["unit_zh"] == nil)
    }
}
