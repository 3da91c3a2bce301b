import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegioApp
import RegioCore
import RegioDB
import RegioPipeline
import Testing

/// Extracts written carelessly or with intent: what comes back must not carry personal data.
@Suite("Hostile input")
struct HostileInputTests {
    @Test("a quote left open does not carry the following rows' ID numbers into errors, rejected rows or responses",
          arguments: [true, false])
    func runawayQuote(closedLater: Bool) async throws {
        try await IngestScenario.run { s in
            let ids = (1...4).map { Extracts.rid("339901", "1980050\($0)", 100 + $0) }
            // Line 2's address opens a quote that only the address of line 5 closes (or nothing
            // does): lines 2–5 read as one record whose address holds the following rows.
            let patients = Extracts.patientsHeader + """
                P001,张三,1,1980-05-01,RID,\(ids[0]),13800000001,"清河区解放路1号
                P002,李四,2,1980-05-02,RID,\(ids[1]),13800000002,清河区延安路2号
                P003,王五,1,1980-05-03,RID,\(ids[2]),13800000003,清河区中山路3号
                P004,赵六,2,1980-05-04,RID,\(ids[3]),13800000004,\(closedLater ? "\"清河区人民路4号\"" : "清河区人民路4号")

                """
            let batch = try await s.upload(["patients.csv": patients])
            let token = try await s.token("H339901001")

            let issues = try await s.issues(batch.id)
            let runaway = try #require(issues.first { $0.code == "bad_csv" }, "\(issues)")
            #expect(runaway.line == 2, "reported at the line the quote opened")
            #expect(runaway.message.contains("opened on line 2 runs to line"), "\(runaway.message)")
            #expect(runaway.message.contains("清河区解放路1号"), "the start of the runaway field: \(runaway.message)")
            #expect(batch.status == .rejected, "the file has fewer rows than its manifest says: \(batch.reason ?? "")")

            var seen: [String] = []
            // Every table of the ingest schema, whole.
            let everyTable = try #require(try await s.value("""
                SELECT string_agg(format('SELECT string_agg(t::text, ''|'') FROM %I.%I t', schemaname, tablename), ' UNION ALL ')
                FROM pg_tables WHERE schemaname = 'ingest'
                """))
            seen.append(try await s.value("SELECT string_agg(x, '|') FROM (\(everyTable)) rows (x)") ?? "")
            for uri in ["/v1/batches/\(batch.id)/errors", "/v1/batches/\(batch.id)/errors?format=csv",
                        "/v1/batches/\(batch.id)/files/patients.csv/rejected"] {
                try await s.client.execute(uri: uri, method: .get, headers: Fixtures.bearer(token)) { response in
                    #expect(response.status == .ok, "\(uri)")
                    seen.append(String(buffer: response.body))
                }
            }
            for text in seen {
                for id in ids { #expect(!text.contains(id), "an ID number in \(text.prefix(300))") }
                #expect(!text.contains("13800000003"), "a following row's phone in \(text.prefix(300))")
            }
        }
    }

    @Test("a quote left open over rows with ID numbers: no ID number in the service's log or the upload client's output")
    func runawayQuoteNotLogged() async throws {
        try await withSeededDatabase { database, work in
            let (service, server) = try await work.readyIngestService(database, environment: ["REGIO_LOG_LEVEL": "trace"])
            let ids = (1...3).map { Extracts.rid("339901", "1980050\($0)", 100 + $0) }
            let folder = try work.extract(for: "H339901001")
            try Data((Extracts.patientsHeader + """
                P001,张三,1,1980-05-01,RID,\(ids[0]),13800000001,"清河区解放路1号
                P002,李四,2,1980-05-02,RID,\(ids[1]),13800000002,清河区延安路2号
                P003,王五,1,1980-05-03,RID,\(ids[2]),13800000003,清河区中山路3号

                """).utf8).write(to: folder.appendingPathComponent("patients.csv"))
            try LocalExtract.writeManifest(directory: folder.path, facility: "H339901001", businessDate: "2026-11-22", encoding: .utf8)
            let tokenFile = try await work.tokenFile(for: "H339901001", database)
            let upload = try RegioProcess.run(["upload", "--server", server, "--token-file", tokenFile.path, folder.path],
                                              environment: ["REGIO_LOG_LEVEL": "trace"])
            #expect(upload.stdout.contains("bad_csv"), "the upload's summary names the runaway quote: \(upload.stdout)")
            await service.stop()
            for (name, text) in [("service log", service.text), ("upload output", upload.stdout + upload.stderr)] {
                #expect(text.contains("batch"), "\(name) is not empty")
                for id in ids { #expect(!text.contains(id), "an ID number in the \(name):\n\(text)") }
            }
        }
    }

    @Test("a business date after tomorrow or before the region's earliest is refused when the batch is created")
    func businessDateBounds() async throws {
        try await IngestScenario.run { s in
            let token = try await s.token("H339901001")
            for (date, status, detail) in [("2999-12-31", HTTPResponse.Status.unprocessableContent, "after tomorrow"),
                                           ("1900-01-01", .unprocessableContent, "before the region's earliest business date 2010-01-01"),
                                           ("2026-11-22", .created, "")] {
                let directory = try s.folder(["patients.csv": Array(Extracts.patients.utf8)], facility: "H339901001", date: date)
                let manifest = try String(contentsOfFile: directory + "/manifest.json", encoding: .utf8)
                try await s.client.execute(uri: "/v1/batches", method: .post, headers: Fixtures.bearer(token),
                                           body: ByteBuffer(string: manifest)) { response in
                    #expect(response.status == status, "\(date)")
                    let json = try response.json()
                    if status != .created {
                        #expect((json["type"] as? String)?.hasSuffix("/business-date-out-of-range") == true)
                        #expect((json["detail"] as? String ?? "").contains(detail), "\(String(buffer: response.body))")
                    }
                }
            }
            #expect(try await s.count("ingest.batches") == 1, "only the plausible date made a batch")
        }
    }

    @Test("formula cells are escaped in exports unless plain numbers, bidi controls shown by code; the escape reads back off")
    func safeCells() {
        for (value, safe) in [("=CMD('calc')!A1", "'=CMD('calc')!A1"), ("@SUM(1+1)", "'@SUM(1+1)"), ("+1-2", "'+1-2"), ("-2+3", "'-2+3"),
                              ("\tx", "'\tx"), ("-12.5", "-12.5"), ("+3", "+3"), ("-", "'-"), ("清河区", "清河区"), ("", ""),
                              ("a\u{202E}b", "a<U+202E>b"), ("张\u{200B}三", "张<U+200B>三"), ("=\u{2066}x", "'=<U+2066>x")] {
            #expect(CSVWriter.safeCell(value) == safe, "\(value)")
            if value.firstFormatCharacter == nil { #expect(CSVWriter.safeCell(value).removingExportEscape() == value, "\(value)") }
        }
        #expect("'abc".removingExportEscape() == "'abc", "an apostrophe before anything else is the value's own")
    }

    @Test("the quick scan for format characters finds every scalar of category Cf and nothing else")
    func formatCharacterScan() {
        var missed: [String] = []
        for value in 0...0x10FFFF {
            guard let scalar = Unicode.Scalar(value) else { continue }
            if (String(scalar).firstFormatCharacter != nil) != (scalar.properties.generalCategory == .format) {
                missed.append(String(value, radix: 16))
            }
        }
        #expect(missed.isEmpty, "\(missed.prefix(20))")
    }

    @Test("invisible format characters in a text value are a warning: kept as sent, shown by their code in errors and downloads")
    func formatCharacters() async throws {
        try await IngestScenario.run { s in
            let patients = Extracts.patientsHeader + "P001,张\u{202E}三,1,1980-05-06,,,13800000001,清河区\u{200B}解放路1号\n"
            let batch = try await s.upload(["patients.csv": patients])
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            let issues = try await s.issues(batch.id)
            #expect(issues.map { "\($0.line ?? 0) \($0.column ?? "") \($0.code) \($0.severity) \($0.raw ?? "")" }
                    == ["2 name format_character warning 张<U+202E>三", "2 address format_character warning 清河区<U+200B>解放路1号"], "\(issues)")
            #expect(issues.first?.message.contains("<U+202E> (RIGHT-TO-LEFT OVERRIDE)") == true, "\(issues)")
            #expect(try await s.value("SELECT name FROM emr.patients WHERE patient_id = 'P001'") == "张\u{202E}三", "stored as sent")
            let token = try await s.token("H339901001")
            for uri in ["/v1/batches/\(batch.id)/errors", "/v1/batches/\(batch.id)/errors?format=csv"] {
                try await s.client.execute(uri: uri, method: .get, headers: Fixtures.bearer(token)) { response in
                    let body = String(buffer: response.body)
                    #expect(body.contains("<U+202E>") && body.firstFormatCharacter == nil, "\(uri): \(body)")
                }
            }
        }
    }

    @Test("report downloads escape formula cells too (a registry name an attacker could set)")
    func reportCSVEscaped() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await database.query(#"UPDATE registry.regions SET name = '=HYPERLINK("http://evil.example/","清河区")' WHERE code = '339901'"#)
            let token = try await CredentialStore(database: database).issue(role: .bureau, scope: nil, label: "test", expiresAt: nil, actor: "test").token
            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/v1/reports/registry-summary?format=csv", method: .get, headers: Fixtures.bearer(token)) { response in
                    #expect(response.status == .ok)
                    #expect(response.text.contains(#""'=HYPERLINK(""http://evil.example/"",""清河区"")""#), "\(response.text)")
                    #expect(!response.text.contains(#","=HYPERLINK"#) && !response.text.contains(#",=HYPERLINK"#), "\(response.text)")
                }
            }
        }
    }

    @Test("the errors and rejected-rows downloads escape formula cells, and a fixed rejected-rows file loads back as sent")
    func formulaCellsRoundTrip() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let patients = Extracts.patientsHeader + """
                P001,=CMD('calc')!A1,1,1980-05-06,,,@SUM(1+1),-2+3
                P002,+1-2,=9,1975-11-30,,,13800000002,\u{202E}清河区

                """
            let batch = try await s.upload(["patients.csv": patients])
            #expect(batch.status == .loaded)
            let token = try await s.token("H339901001")
            #expect(try await s.value("SELECT name || '|' || phone || '|' || address FROM emr.patients WHERE patient_id = 'P001'")
                    == "=CMD('calc')!A1|@SUM(1+1)|-2+3", "stored as sent")

            var errors = "", rejected = ""
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/errors?format=csv", method: .get, headers: Fixtures.bearer(token)) {
                errors = String(buffer: $0.body)
            }
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/files/patients.csv/rejected", method: .get, headers: Fixtures.bearer(token)) {
                rejected = String(buffer: $0.body)
            }
            #expect(errors.contains(",'=9\r\n") && !errors.contains(",=9"), "\(errors)")
            #expect(rejected.contains(",'+1-2,'=9,") && rejected.contains("<U+202E>清河区") && !rejected.contains("\u{202E}"), "\(rejected)")

            // The hospital fixes the sex in the downloaded file and sends it again.
            let fixed = rejected.replacingOccurrences(of: ",'=9,", with: ",2,")
            let again = try await s.upload(bytes: ["patients.csv": Array(fixed.utf8)], date: "2026-11-23")
            #expect(again.status == .loaded, "\(again.reason ?? "")")
            #expect(try await s.value("SELECT name || '|' || sex FROM emr.patients WHERE patient_id = 'P002'") == "+1-2|2",
                    "the escape read back off")
        }
    }

    @Test("a gzip bomb, a file longer than its manifest and a body over the limit are refused while they stream, and leave nothing staged")
    func refusedWhileStreaming() async throws {
        try await withSeededDatabase { database, work in
            let (service, server) = try await work.readyIngestService(database, environment: ["REGIO_LOG_LEVEL": "warning", "REGIO_MAX_BODY_MB": "1"])
            let http = HTTPSession(server: server)
            let token = try await work.token(for: "H339901001", database)

            let bombFolder = try Self.bomb(in: work)
            let bomb = try await http.create(bombFolder, token: token)
            let compressed = try Data(contentsOf: bombFolder.appendingPathComponent("patients.csv.gz"))
            let started = ContinuousClock.now
            let refused = try await http.send(.PUT, "/v1/batches/\(bomb)/files/patients.csv.gz", token: token,
                                              body: .bytes(ByteBuffer(data: compressed)))
            #expect(refused.status.code == 413, "\(refused.json)")
            #expect((refused.json["detail"] as? String ?? "").contains("REGIO_MAX_INFLATION_RATIO"), "\(refused.json)")
            #expect(ContinuousClock.now - started < .seconds(10))

            // A plain file with more rows than its manifest declares.
            let longFolder = try work.extract(for: "H339901001")
            let manifestURL = longFolder.appendingPathComponent("manifest.json")
            try Self.declare(rows: 1, of: "patients", in: manifestURL)
            let long = try await http.create(longFolder, token: token)
            let tooLong = try await http.send(.PUT, "/v1/batches/\(long)/files/patients.csv", token: token,
                                              body: .bytes(ByteBuffer(data: try Data(contentsOf: longFolder.appendingPathComponent("patients.csv")))))
            #expect(tooLong.status.code == 422, "\(tooLong.json)")
            #expect((tooLong.json["detail"] as? String ?? "").contains("more data rows than the manifest's 1"), "\(tooLong.json)")

            // A body whose Content-Length is over REGIO_MAX_BODY_MB: refused before it is read.
            let oversized = try await http.send(.PUT, "/v1/batches/\(long)/files/patients.csv", token: token,
                                                body: .bytes(ByteBuffer(repeating: UInt8(ascii: "x"), count: 2 << 20)))
            #expect(oversized.status.code == 413, "\(oversized.json)")
            #expect((oversized.json["detail"] as? String ?? "").contains("larger than 1 MiB, the limit (REGIO_MAX_BODY_MB)"), "\(oversized.json)")

            let peak = try service.peakMemoryMB()
            #expect(peak < 200, "the service's peak memory after the bomb and the long file: \(peak) MB")
            #expect(try await database.text("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'staging'") == "0", "nothing staged")
            #expect(try await database.text("SELECT count(*)::text FROM ingest.batch_files WHERE received_at IS NOT NULL") == "0",
                    "neither file counts as received")
            await service.stop()
        }
    }

    @Test("regio upload's own check stops at a gzip bomb or at rows beyond the manifest, with the server's message")
    func clientStopsEarly() async throws {
        let work = try ServiceWork()
        defer { work.remove() }
        let bomb = try Self.bomb(in: work)
        let started = ContinuousClock.now
        #expect { try LocalExtract.readAndVerify(directory: bomb.path) } throws: {
            "\($0)".contains("patients.csv.gz: too_large") && "\($0)".contains("REGIO_MAX_INFLATION_RATIO")
        }
        #expect(ContinuousClock.now - started < .seconds(5))

        // A file far longer than its manifest says (a small one is read whole, and its count reported).
        let long = try work.extract(for: "H339901001")
        let rows = (1...20_000).map { "P\($0),张三,1,1980-05-06,,,13800000001,清河区解放路1号\n" }.joined()
        try Data((Extracts.patientsHeader + rows).utf8).write(to: long.appendingPathComponent("patients.csv"))
        try LocalExtract.writeManifest(directory: long.path, facility: "H339901001", businessDate: "2026-11-22", encoding: .utf8)
        try Self.declare(rows: 1, of: "patients", in: long.appendingPathComponent("manifest.json"))
        #expect { try LocalExtract.readAndVerify(directory: long.path) } throws: {
            "\($0)".contains("patients.csv: manifest_mismatch: the file has more data rows than the manifest's 1; it was not read further")
        }
    }

    /// A folder holding `patients.csv.gz` — 32 MiB of one patient row over and over, which gzip
    /// packs into a few dozen KiB — and a manifest that declares it truly (measured without limits).
    static func bomb(in work: ServiceWork) throws -> URL {
        let folder = work.url.appendingPathComponent("bomb")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let plain = folder.appendingPathComponent("patients.csv")
        FileManager.default.createFile(atPath: plain.path, contents: Data(Extracts.patientsHeader.utf8))
        let handle = try FileHandle(forWritingTo: plain)
        handle.seekToEndOfFile()
        let block = Data(String(repeating: "P001,张三,1,1980-05-06,,,13800000001,清河区解放路1号\n", count: 16_000).utf8)
        for _ in 0..<(32 << 20) / block.count { handle.write(block) }
        try handle.close()
        _ = try Subprocess.run("/bin/gzip", ["-9", plain.path])
        let (rows, sha) = try LocalExtract.measure(path: folder.appendingPathComponent("patients.csv.gz").path, gzip: true, encoding: .utf8,
                                                   limits: StreamLimits(maxInflatedBytes: 1 << 40, maxInflationRatio: 1 << 20))
        let manifest: [String: Any] = [
            "format": "regio-extract/1", "facility_code": "H339901001", "business_date": "2026-11-22", "encoding": "UTF-8",
            "files": [["kind": "patients", "name": "patients.csv.gz", "rows": rows, "sha256": sha]],
        ]
        try JSONSerialization.data(withJSONObject: manifest).write(to: folder.appendingPathComponent("manifest.json"))
        return folder
    }

    /// Makes a manifest declare `rows` data rows for its file of `kind`.
    static func declare(rows: Int, of kind: String, in manifestURL: URL) throws {
        var manifest = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: manifestURL)) as? [String: Any])
        manifest["files"] = (manifest["files"] as? [[String: Any]] ?? []).map { file in
            var file = file
            if file["kind"] as? String == kind { file["rows"] = rows }
            return file
        }
        try JSONSerialization.data(withJSONObject: manifest).write(to: manifestURL)
    }

    @Test("an error's value is capped in length")
    func longValueCapped() {
        let issue = RowIssue(column: "name", code: .tooLong, severity: .error, message: "too long",
                             raw: String(repeating: "长", count: 5_000))
        #expect(issue.raw!.count <= RowIssue.maxRawCharacters + 1)
        #expect(issue.raw!.hasSuffix("…"))
    }
}
