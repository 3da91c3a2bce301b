import Foundation
@testable import RegioCore
import Testing

@Suite("Extract row validation")
struct ExtractValidationTests {
    let context = ValidationContext(businessDate: CalendarDate("2026-11-22")!, pseudonymizer: Pseudonymizer(secret: Data(repeating: 7, count: 32)))

    func validator(_ kind: ExtractKind, _ header: String) -> RowValidator {
        RowValidator(spec: kind.spec, header: header.components(separatedBy: ","), context: context)
    }

    func issues(_ kind: ExtractKind, _ header: String, _ row: String) -> [String] {
        validator(kind, header).validate(row.components(separatedBy: ",")).issues.map {
            "\($0.severity.rawValue) \($0.code.rawValue) \($0.column ?? "-")"
        }
    }

    let encounterHeader = "encounter_id,patient_id,encounter_type,start_time,end_time,primary_dx,total_cost,drug_cost,consumables_cost"

    @Test("a manifest's row counts are between 0 and a billion, and its free text holds no NUL")
    func manifestRows() throws {
        func problems(_ rows: String, source: String = "HIS 5.2") -> [String] {
            let json = """
                {"format": "regio-extract/1", "facility_code": "H339901001", "business_date": "2026-11-22",
                 "encoding": "UTF-8", "source_system": "\(source)", "files": [{"kind": "patients", "name": "patients.csv", "rows": \(rows),
                 "sha256": "\(String(repeating: "0", count: 64))"}]}
                """
            switch ExtractManifest.parse(Data(json.utf8)) {
            case .success: return []
            case .failure(let error): return error.problems
            }
        }
        #expect(problems("1000000000").isEmpty)
        #expect(problems("-1") == ["patients.csv: rows must be ≥ 0"])
        #expect(problems("9223372036854775807") == ["patients.csv: rows must be at most 1000000000"],
                "a count the service would overflow sizing its memory by")
        #expect(problems("1", source: "HIS\\u0000") == ["source_system may not contain NUL (\\u0000)"], "jsonb refuses it")
    }

    @Test("fields are trimmed of exactly Unicode's White_Space, checked over every code point")
    func whitespace() {
        var differing: [UInt32] = []
        for value in UInt32(0)...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }  // surrogates
            if String.isWhitespace(scalar) != scalar.properties.isWhitespace { differing.append(value) }
        }
        #expect(differing.isEmpty)
        #expect("\u{3000}王小明\u{00A0}".trimmingWhitespace() == "王小明")
        #expect(" 王 小明\t".trimmingWhitespace() == "王 小明")
        #expect("王小明".trimmingWhitespace() == "王小明")
    }

    @Test("timestamps are ordered by the instant they name, whatever their offsets")
    func timestampOrder() {
        #expect(RowValidator.precedes("2026-11-22 08:30:00+08:00", "2026-11-22 09:10:00+08:00"))
        #expect(!RowValidator.precedes("2026-11-22 09:10:00+08:00", "2026-11-22 08:30:00+08:00"))
        #expect(!RowValidator.precedes("2026-11-22 08:30:00+08:00", "2026-11-22 08:30:00+08:00"))
        // 09:00 in Beijing is 01:00 UTC: before 02:00 UTC, though its text sorts after.
        #expect(RowValidator.precedes("2026-11-22 09:00:00+08:00", "2026-11-22 02:00:00+00:00"))
        #expect(!RowValidator.precedes("2026-11-22 02:00:00+00:00", "2026-11-22 09:00:00+08:00"))
        #expect(RowValidator.precedes("2026-11-21 23:59:59+08:00", "2026-11-22 00:00:00+08:00"))
    }

    @Test("decimals are normalised: no leading zeros, no bare dot, trailing zeros kept")
    func decimals() {
        let cases: [(String, String, Int64)] = [
            ("12.50", "12.50", 12_500_000), ("012.50", "12.50", 12_500_000), ("0.05", "0.05", 50_000), ("00.5", "0.5", 500_000),
            (".5", "0.5", 500_000), ("5.", "5", 5_000_000), ("0", "0", 0), ("000", "0", 0), ("1.000001", "1.000001", 1_000_001),
            ("999999999999.999999", "999999999999.999999", 999_999_999_999_999_999),
        ]
        for (text, normal, micros) in cases {
            let result = FieldChecks.decimal(text, maxScale: 6)
            #expect(result?.text == normal, "\(text)")
            #expect(result?.micros == micros, "exact, in millionths: \(text)")
        }
        for bad in ["", ".", "1.2.3", "-1", "1e3", "12.3456789", "１２"] {
            #expect(FieldChecks.decimal(bad, maxScale: 6) == nil, "\(bad)")
        }
    }

    @Test("a good encounter has no issues and is normalised")
    func goodEncounter() {
        let row = validator(.encounters, encounterHeader)
            .validate("E1,P1,O,2026-11-22 08:30:00,2026-11-22T09:10:00+08:00,J18.900,012.50,5,1.5".components(separatedBy: ","))
        #expect(row.issues.isEmpty)
        #expect(!row.rejected)
        let columns = validator(.encounters, encounterHeader).stagingColumns
        func value(_ name: String) -> String? { row.values[columns.firstIndex(of: name)!] }
        #expect(value("start_time") == "2026-11-22 08:30:00+08:00")
        #expect(value("end_time") == "2026-11-22 09:10:00+08:00")
        #expect(value("total_cost") == "12.50")
        #expect(value("dept_code") == nil)
    }

    @Test("each row rule reports its code, column and severity")
    func rules() {
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,,,,1,1,0") == ["error missing_required start_time"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026/11/22,,,1,1,0") == ["error bad_date start_time"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-22 08:00:00,,,-1,0,0") == ["error bad_number total_cost"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-22 08:00:00,,,1.234,0,0") == ["error bad_number total_cost"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,X,2026-11-22 08:00:00,,,1,0,0") == ["error unknown_code encounter_type"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-22 08:00:00,,高血压,1,0,0") == ["warning unknown_code primary_dx"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-22 08:00:00,,,10,8,3") == ["error implausible total_cost"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-23 08:00:00,,,1,0,0") == ["error implausible start_time"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-22 08:00:00,2026-11-22 07:00:00,,1,0,0") == ["error implausible end_time"])
        #expect(issues(.encounters, encounterHeader, "E1,P1,O,2026-11-22 08:00:00,,,1,0").first == "error bad_csv -")
        let long = String(repeating: "x", count: 65)
        #expect(issues(.encounters, encounterHeader, "\(long),P1,O,2026-11-22 08:00:00,,,1,0,0") == ["error too_long encounter_id"])
    }

    @Test("the header: missing required columns reject the file, unknown ones warn")
    func header() {
        let check = validator(.encounters, "encounter_id,patient_id,colour")
        #expect(!check.headerIsUsable)
        let found = check.headerIssues.map { "\($0.severity.rawValue) \($0.code.rawValue) \($0.column ?? "-")" }
        #expect(found.contains("warning unknown_column colour"))
        #expect(found.contains("error missing_column start_time"))
        #expect(found.contains("error missing_column total_cost"))
    }

    @Test("a retraction needs only its key")
    func retraction() {
        let row = validator(.encounters, encounterHeader + ",op").validate("E1,,,,,,,,,D".components(separatedBy: ","))
        #expect(row.op == "D")
        #expect(row.issues.isEmpty)
        #expect(issues(.encounters, encounterHeader + ",op", "E1,,,,,,,,,X").contains("error unknown_code op"))
    }

    let patientHeader = "patient_id,name,sex,birth_date,id_type,id_number"

    @Test("resident IDs: GB 11643 check character, legacy numbers, agreement with the row")
    func residentIDs() throws {
        // The standard's own example number.
        #expect(FieldChecks.checkCharacter(Array("11010519491231002".utf8)) == UInt8(ascii: "X"))
        let resident = try FieldChecks.residentID("11010519491231002X").get()
        #expect(resident.birthDate == CalendarDate("1949-12-31"))
        #expect(resident.sex == "2")
        #expect(FieldChecks.residentID("110105194912310021") == .failure(.checkDigit))
        #expect(FieldChecks.residentID("11010519491331002X") == .failure(.checkDigit))
        #expect(FieldChecks.residentID("12345") == .failure(.shape))

        #expect(issues(.patients, patientHeader, "P1,张三,2,1949-12-31,RID,11010519491231002X").isEmpty)
        #expect(issues(.patients, patientHeader, "P1,张三,2,1949-12-31,RID,110105194912310021") == ["warning bad_checksum id_number"])
        #expect(issues(.patients, patientHeader, "P1,张三,1,1950-01-01,RID,11010519491231002X") == [
            "warning implausible birth_date", "warning implausible sex",
        ])
        // A legacy 15-digit number is the same person as its 18-character form.
        let v = validator(.patients, patientHeader)
        let legacy = v.validate("P1,李四,1,1949-12-31,RID,110105491231001".components(separatedBy: ","))
        let upgraded = RowValidator.upgradeLegacyID("110105491231001")
        let modern = v.validate("P1,李四,1,1949-12-31,RID,\(upgraded)".components(separatedBy: ","))
        #expect(upgraded.count == 18)
        #expect(legacy.issues.isEmpty)
        let hash = v.stagingColumns.firstIndex(of: "id_hash")!
        #expect(legacy.values[hash] != nil && legacy.values[hash] == modern.values[hash])
    }

    @Test("an ID number is never kept or echoed in clear, not even in a rejected row")
    func idNeverInClear() {
        let v = validator(.patients, patientHeader)
        let good = v.validate("P1,张三,2,1949-12-31,RID,11010519491231002X".components(separatedBy: ","))
        #expect(!good.values.contains { $0?.contains("11010519491231002X") == true })
        let rejected = v.validate("P1,,2,1949-12-31,RID,11010519491231002X".components(separatedBy: ","))
        #expect(rejected.rejected)
        #expect(!rejected.values.contains { $0?.contains("1101051949") == true })
        let badID = v.validate("P1,张三,2,1949-12-31,RID,110105194912310021".components(separatedBy: ","))
        #expect(badID.issues.allSatisfy { $0.raw == nil || !$0.raw!.contains("1101") })
    }

    @Test("birth dates: missing warns, future or over 120 years ago is dropped with a warning")
    func birthDates() {
        #expect(issues(.patients, patientHeader, "P1,张三,1,,,") == ["warning missing_required birth_date"])
        #expect(issues(.patients, patientHeader, "P1,张三,1,2030-01-01,,") == ["warning implausible birth_date"])
        #expect(issues(.patients, patientHeader, "P1,张三,1,1890-01-01,,") == ["warning implausible birth_date"])
        #expect(issues(.patients, patientHeader, "P1,张三,M,1990-01-01,,") == ["error unknown_code sex"])
    }

    @Test("purchases: amount must be price × quantity; sizes must be positive")
    func purchases() {
        let header = "line_id,item_code,code_system,item_name,purchase_unit,pack_size,base_unit,unit_price,quantity,amount,supplier,purchase_date"
        #expect(issues(.purchases, header, "L1,X1,NHSA,药,盒,30,片,12.50,4,50.00,供应商,2026-11-22").isEmpty)
        #expect(issues(.purchases, header, "L1,X1,NHSA,药,盒,30,片,12.50,4,51.00,供应商,2026-11-22") == ["warning implausible amount"])
        // Exactly 0.01 off is within 0.01: in floating point 100000.01 − 100000 is 0.0100000000093.
        #expect(issues(.purchases, header, "L1,X1,NHSA,药,盒,30,片,100000,1,100000.01,供应商,2026-11-22").isEmpty)
        #expect(issues(.purchases, header, "L1,X1,NHSA,药,盒,30,片,100000,1,100000.02,供应商,2026-11-22") == ["warning implausible amount"])
        #expect(issues(.purchases, header, "L1,X1,NHSA,药,盒,30,片,99999999.999999,99999999.999999,999999.99,供应商,2026-11-22")
                == ["warning implausible amount"], "the largest price × quantity, without overflow")
        #expect(issues(.purchases, header, "L1,X1,NHSA,药,盒,0,片,12.50,4,,供应商,2026-11-22") == ["error bad_number pack_size"])
        #expect(issues(.purchases, header, "L1,X1,WHO,药,盒,30,片,12.50,4,,供应商,2026-11-22") == ["error unknown_code code_system"])
    }
}

@Suite("Text transcoding")
struct TranscoderTests {
    func decode(_ bytes: [UInt8], _ encoding: TextEncoding, chunk: Int = 1) throws -> [UInt8] {
        let transcoder = try #require(try Transcoder(encoding))
        var out: [UInt8] = []
        var start = 0
        while start < bytes.count {
            transcoder.feed(bytes[start..<min(start + chunk, bytes.count)]) { out += $0 }
            start += chunk
        }
        transcoder.finish { out += $0 }
        return out
    }

    @Test("GB18030 round-trips, even when characters are cut between chunks")
    func gb18030() throws {
        let text = "张三,清河市第一人民医院,𠀀\n"
        let encoder = try #require(try Transcoder(.gb18030, encoding: true))
        var encoded: [UInt8] = []
        encoder.feed(Array(text.utf8)) { encoded += $0 }
        #expect(encoded.count != Array(text.utf8).count)
        for chunk in [1, 2, 3, 7, 1000] {
            #expect(String(decoding: try decode(encoded, .gb18030, chunk: chunk), as: UTF8.self) == text)
        }
    }

    @Test("GBK takes 0x80 as the euro sign; an undecodable byte becomes invalid UTF-8 on its line")
    func gbkAndGarbage() throws {
        #expect(String(decoding: try decode([0x41, 0x80, 0x42], .gbk), as: UTF8.self) == "A€B")
        let out = try decode([0x41, 0xFF, 0x42, 0x0A, 0x43], .gb18030)
        #expect(String(validating: out, as: UTF8.self) == nil)
        #expect(out.contains(0x0A) && out.last == 0x43)
    }

    @Test("the CSV parser flags a line with invalid UTF-8 and only that line")
    func badEncodingLine() {
        var parser = CSVParser()
        var records: [CSVParser.Record] = []
        parser.feed([0x61, 0x0A, 0x62, 0xFF, 0x0A, 0x63, 0x0A]) { records.append($0) }
        parser.finish { records.append($0) }
        #expect(records.map(\.badEncoding) == [false, true, false])
    }
}

@Suite("Sample extract generator")
struct SampleGeneratorTests {
    func generate(seed: UInt64) throws -> [String: String] {
        var files: [String: String] = [:]
        var generator = SampleExtractGenerator(
            facilities: Array(RegioCoreSampleFacilities.list), options: .init(firstNight: CalendarDate("2026-11-20")!, nights: 2, seed: seed))
        try generator.generate { facility, night, kind, line in files["\(facility)/\(night)/\(kind.rawValue)", default: ""] += line }
        return files
    }

    @Test("the same seed gives the same files; another seed other files")
    func deterministic() throws {
        let a = try generate(seed: 1)
        #expect(a == (try generate(seed: 1)))
        #expect(a != (try generate(seed: 2)))
        #expect(a.keys.contains("H0000001/2026-11-20/encounters"))
    }

    @Test("generated rows mostly validate, with a small share of deliberate errors")
    func mostlyValid() throws {
        let context = ValidationContext(businessDate: CalendarDate("2026-11-21")!, pseudonymizer: Pseudonymizer(secret: Data(count: 32)))
        var rows = 0, rejected = 0, validRIDs = 0
        for (key, text) in try generate(seed: 3) where key.hasSuffix("/encounters") || key.hasSuffix("/patients") {
            let kind = ExtractKind(rawValue: String(key.split(separator: "/").last!))!
            var parser = CSVParser()
            var records: [CSVParser.Record] = []
            parser.feed(text.utf8) { records.append($0) }
            parser.finish { records.append($0) }
            let validator = RowValidator(spec: kind.spec, header: records[0].fields, context: context)
            #expect(validator.headerIsUsable)
            for record in records.dropFirst() {
                rows += 1
                if validator.validate(record.fields).rejected { rejected += 1 }
                if kind == .patients, record.fields[4] == "RID", case .success = FieldChecks.residentID(record.fields[5]) { validRIDs += 1 }
            }
        }
        #expect(rows > 1000)
        #expect(rejected > 0)
        #expect(Double(rejected) / Double(rows) < 0.03)
        #expect(validRIDs > 0)
    }
}

/// Three facilities of three tiers in one county, for generator tests.
enum RegioCoreSampleFacilities {
    static let list = [
        Facility(code: "H0000001", name: "甲", tier: .tertiary, type: .generalHospital, regionCode: "339901", staffedBeds: 600),
        Facility(code: "H0000002", name: "乙", tier: .secondary, type: .generalHospital, regionCode: "339901", staffedBeds: 200),
        Facility(code: "P0000001", name: "丙", tier: .primary, type: .communityCentre, regionCode: "339901", staffedBeds: 20),
    ]
}
