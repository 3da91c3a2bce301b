import Crypto
import Foundation
import RegioCore
import Testing

@Suite("SQL script splitting")
struct SQLScriptTests {
    @Test("semicolons inside strings, identifiers, dollar quotes and comments do not split")
    func quoting() {
        let script = """
            -- a comment; not a statement
            CREATE TABLE "odd;name" (a text DEFAULT 'x;y''z');
            /* block; /* nested; */ still comment */
            CREATE FUNCTION f() RETURNS int LANGUAGE plpgsql AS $body$ BEGIN RETURN 1; END $body$;
            DO $$ BEGIN PERFORM 1; END $$;
            SELECT $1::int;
            -- trailing comment
            """
        let statements = SQLScript.statements(in: script)
        #expect(statements.count == 4)
        #expect(statements[0].hasSuffix("CREATE TABLE \"odd;name\" (a text DEFAULT 'x;y''z')"))
        #expect(statements[1].hasSuffix("AS $body$ BEGIN RETURN 1; END $body$"))
        #expect(statements[2] == "DO $$ BEGIN PERFORM 1; END $$")
        #expect(statements[3] == "SELECT $1::int")
    }

    @Test("a statement's command is its first keyword after leading comments")
    func command() {
        #expect(SQLScript.command(of: "-- why\n  -- and how\n\tdelete FROM t USING s") == "DELETE")
        #expect(SQLScript.command(of: "INSERT INTO t SELECT 1") == "INSERT")
        #expect(SQLScript.command(of: "WITH x AS (SELECT 1) UPDATE t SET a = 1") == "WITH")
        #expect(SQLScript.command(of: "-- only a comment") == "")
    }
}

@Suite("CSV parsing")
struct CSVParserTests {
    func parse(_ text: String, chunk: Int = 3) -> [CSVParser.Record] {
        var parser = CSVParser()
        var records: [CSVParser.Record] = []
        let bytes = Array(text.utf8)
        var start = 0
        while start < bytes.count {
            parser.feed(bytes[start..<min(start + chunk, bytes.count)]) { records.append($0) }
            start += chunk
        }
        parser.finish { records.append($0) }
        return records
    }

    @Test("quoted commas, doubled quotes, line breaks in quotes, CRLF and a BOM")
    func rfc4180() {
        let records = parse("\u{FEFF}a,b,c\r\n1,\"x, y\",\"say \"\"hi\"\"\"\r\n2,\"two\r\nlines\",z\r\n3,,\n")
        #expect(records.map(\.fields) == [
            ["a", "b", "c"], ["1", "x, y", "say \"hi\""], ["2", "two\r\nlines", "z"], ["3", "", ""],
        ])
        #expect(records.map(\.line) == [1, 2, 3, 5])
        #expect(records.allSatisfy { $0.problem == nil })
    }

    @Test("a last line without a line break is still a record; blank lines are skipped")
    func endings() {
        #expect(parse("a\n\n1\n2").map(\.fields) == [["a"], ["1"], ["2"]])
        #expect(parse("a\r1\r").map(\.fields) == [["a"], ["1"]])
    }

    @Test("malformed quoting is reported on its record and parsing goes on")
    func malformed() {
        let records = parse("a,b\n1,x\"y\n2,\"ok\"tail\n3,fine\n")
        #expect(records.count == 4)
        #expect(records[1].problem?.contains("quote inside an unquoted field") == true)
        #expect(records[2].problem?.contains("after the closing quote") == true)
        #expect(records[3].problem == nil)
        let open = parse("a\n\"never closed\n")
        #expect(open.last?.problem?.contains("never closed") == true)
    }

    @Test("a record keeps at most maxRecordBytes bytes and maxFields fields, and says so")
    func bounded() {
        // An unclosed quote early in a large file: one record from there to the end, held within
        // the bound, however much follows.
        let big = "a,b\n1,\"open\n" + String(repeating: "2,plain text that the open quote swallows\n", count: 60_000)
        let records = parse(big, chunk: 65_536)
        #expect(records.count == 2)
        #expect(records[1].fields.reduce(0) { $0 + $1.utf8.count } <= CSVParser.maxRecordBytes)
        #expect(records.allSatisfy { $0.byteCount == $0.fields.reduce(0) { $0 + $1.utf8.count } })
        #expect(records[1].problem?.contains("never closed") == true)
        // A long unquoted line: cut at the bound, reported, and the next line is read as usual.
        let long = "a\n" + String(repeating: "x", count: CSVParser.maxRecordBytes + 10) + "\nnext\n"
        let cut = parse(long, chunk: 4_096)
        #expect(cut.map { $0.fields.first?.utf8.count ?? 0 } == [1, CSVParser.maxRecordBytes, 4])
        #expect(cut[1].problem?.contains("longer than") == true)
        #expect(cut[2].problem == nil)
        // Too many fields: the rest are dropped.
        let wide = parse("a\n" + String(repeating: ",", count: 5_000) + "\n")
        #expect(wide[1].fields.count == CSVParser.maxFields)
        #expect(wide[1].problem?.contains("more than") == true)
    }

    @Test("CSV output quotes only what needs it")
    func writer() {
        #expect(CSVWriter.line(["plain", "a,b", "say \"x\"", "two\nlines", ""]) == "plain,\"a,b\",\"say \"\"x\"\"\",\"two\nlines\",\r\n")
    }
}

@Suite("Facility import file")
struct FacilityImportTests {
    @Test("a good file gives facilities with defaults for optional columns")
    func good() throws {
        let result = FacilityImport.parse("""
            name,code,tier,type,region_code,staffed_beds,grade
            甲医院,H0001,3,general_hospital,339901,900,A
            乙中心,P0001,1,community_centre,339902,,
            """)
        let facilities = try result.get()
        #expect(facilities.count == 2)
        #expect(facilities[0] == Facility(code: "H0001", name: "甲医院", tier: .tertiary, grade: .a, type: .generalHospital,
                                          regionCode: "339901", staffedBeds: 900))
        #expect(facilities[1].grade == .ungraded)
        #expect(facilities[1].staffedBeds == 0)
    }

    @Test("every problem is reported with line and column, and nothing is returned")
    func bad() {
        let result = FacilityImport.parse("""
            code,name,tier,type,region_code
            h1,小写,4,hospital,3399
            H0002,ok,2,general_hospital,339901
            H0002,dup,2,general_hospital,339901
            """)
        guard case .failure(let errors) = result else { Issue.record("expected failure"); return }
        let found = errors.problems.map { "\($0.line):\($0.column ?? "-")" }
        #expect(found == ["2:code", "2:tier", "2:type", "2:region_code", "4:code"])
    }

    @Test("a missing required column rejects the file")
    func missingColumn() {
        guard case .failure(let errors) = FacilityImport.parse("code,name,tier\nH0001,x,1\n") else {
            Issue.record("expected failure"); return
        }
        #expect(errors.problems.map(\.column) == ["type", "region_code"])
    }
}

@Suite("Exam catalogue import files")
struct ExamCatalogImportTests {
    @Test("codes: every problem with line and column; an empty window takes the category's default")
    func codes() throws {
        let good = try ExamCodeImport.parse("category,code,name,window_days\nlab,LAB0001,血常规,\nIMAGING,IMG0202,胸部CT平扫,45\n").get()
        #expect(good == [ExamCode(code: "LAB0001", name: "血常规", category: "LAB"),
                         ExamCode(code: "IMG0202", name: "胸部CT平扫", category: "IMAGING", windowDays: 45)])
        guard case .failure(let errors) = ExamCodeImport.parse("""
            code,name,category,window_days
            LAB0001,,BLOOD,-1
            LAB0002,肝功能,LAB,
            LAB0002,肝功能,LAB,7
            """) else { Issue.record("expected failure"); return }
        #expect(errors.problems.map { "\($0.line):\($0.column ?? "-")" } == ["2:name", "2:category", "2:window_days", "4:code"])
    }

    @Test("mappings: facility codes checked, duplicates refused, a missing column rejects the file")
    func mappings() {
        guard case .failure(let errors) = ExamMapImport.parse("facility,local_code,regional_code\nh1,X1,LAB0001\nH339901001,X2,\nH339901001,X2,LAB0002\n") else {
            Issue.record("expected failure"); return
        }
        #expect(errors.problems.map { "\($0.line):\($0.column ?? "-")" } == ["2:facility", "3:regional_code", "4:local_code"])
        guard case .failure(let missing) = ExamMapImport.parse("facility,local_code\n") else { Issue.record("expected failure"); return }
        #expect(missing.problems.map(\.column) == ["regional_code"])
    }
}

@Suite("Report parameters and scope")
struct ReportScopeTests {
    let report = ReportDefinition(
        id: "example", titleZh: "例", titleEn: "Example", description: "", roles: [.facility, .bureau],
        parameters: [
            ReportParameter("facility", .facility, "facility"),
            ReportParameter("month", .month, required: true, "month"),
        ],
        columns: [])
    let bureau = Identity(tokenID: 1, role: .bureau, label: "b")
    let facility = Identity(tokenID: 2, role: .facility, facilityCode: "H0001", label: "f")

    @Test("values are checked and bound in parameter order")
    func binds() throws {
        #expect(try report.binds(for: [("month", "2026-11"), ("facility", "H0002")], caller: bureau).get() == ["H0002", "2026-11"])
        #expect(try report.binds(for: [("month", "2026-11"), ("format", "csv")], caller: bureau).get() == [nil, "2026-11"])
    }

    @Test("bad, unknown and missing parameters are refused")
    func refused() {
        #expect(report.binds(for: [("month", "2026-13")], caller: bureau)
            == .failure(.badParameter(name: "month", message: "expected a month YYYY-MM, got '2026-13'")))
        #expect(report.binds(for: [("month", "2026-11"), ("colour", "red")], caller: bureau) == .failure(.unknownParameter("colour")))
        #expect(report.binds(for: [], caller: bureau) == .failure(.missingParameter("month")))
    }

    @Test("a facility caller is held to its own facility")
    func facilityScope() throws {
        #expect(try report.binds(for: [("month", "2026-11")], caller: facility).get() == ["H0001", "2026-11"])
        #expect(try report.binds(for: [("month", "2026-11"), ("facility", "H0001")], caller: facility).get() == ["H0001", "2026-11"])
        guard case .failure(.outOfScope) = report.binds(for: [("month", "2026-11"), ("facility", "H0002")], caller: facility) else {
            Issue.record("another facility's data must be out of scope"); return
        }
    }

    @Test("calendar values are real dates")
    func calendar() {
        #expect(CalendarDate("2024-02-29") != nil)
        #expect(CalendarDate("2023-02-29") == nil)
        #expect(CalendarDate("2026-04-31") == nil)
        #expect(CalendarMonth("2026-00") == nil)
        #expect(CalendarMonth("2026-12")?.description == "2026-12")
    }
}

@Suite("Tokens and pseudonyms")
struct SecretsTests {
    @Test("tokens are random, prefixed, and stored only as their hash")
    func tokens() {
        let a = AccessToken.generate()
        let b = AccessToken.generate()
        #expect(a != b)
        #expect(a.hasPrefix("rg_") && a.count == 46)
        #expect(AccessToken.hash(a).count == 64)
        #expect(AccessToken.hash(a) == AccessToken.hash(a))
    }

    @Test("pseudonyms are keyed: same key same value, other key other value")
    func pseudonyms() {
        // The same as swift-crypto's own HMAC, for short, block-sized and long keys.
        for secret in [Data(repeating: 1, count: 32), Data((0..<64).map { UInt8($0) }), Data(repeating: 9, count: 100)] {
            for value in ["RID:11010519491231002X", "", "PASSPORT:E12345678"] {
                #expect(Pseudonymizer(secret: secret).pseudonym(value)
                    == HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: secret)).hexString)
            }
        }
        let one = Pseudonymizer(secret: Data(repeating: 1, count: 32))
        let two = Pseudonymizer(secret: Data(repeating: 2, count: 32))
        let id = "11010519491231002X"
        #expect(one.pseudonym(id) == one.pseudonym(id))
        #expect(one.pseudonym(id) != two.pseudonym(id))
        #expect(!one.pseudonym(id).contains(id))
        // HMAC-SHA256 test vector (RFC 4231 case 2).
        #expect(Pseudonymizer(secret: Data("Jefe".utf8)).pseudonym("what do ya want for nothing?")
            == "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")
    }
}
