import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
@testable import RegioPipeline
import RegioIngest
import Testing

@Suite("Ingestion: batches over real HTTP into a real PostgreSQL")
struct IngestionTests {
    @Test("a clean extract loads: counts per file, core rows, pseudonymised IDs")
    func clean() async throws {
        try await IngestScenario.run { s in
            let batch = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters])
            #expect(batch.status == .loaded)
            #expect(batch.file(named: "patients.csv")?.inserted == 3)
            #expect(batch.file(named: "encounters.csv")?.inserted == 3)
            #expect(batch.file(named: "encounters.csv")?.rejected == 0)
            #expect(try await s.count("emr.encounters") == 3)
            #expect(try await s.value("SELECT address FROM emr.patients WHERE patient_id = 'P002'") == "清河区延安路2号,3单元")
            #expect(try await s.value("SELECT total_cost::text FROM emr.encounters WHERE encounter_id = 'E002'") == "8600.00")
            #expect(try await s.value("SELECT to_char(start_time AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI') FROM emr.encounters WHERE encounter_id = 'E001'") == "2026-11-22 00:30")
            // Two people enter the regional index by their ID number (the number itself is
            // nowhere); the third, without one, by the patient index after the batch loaded.
            #expect(try await s.count("emr.persons") == 3)
            #expect(try await s.value("SELECT count(*)::text FROM emr.persons WHERE id_hash IS NOT NULL") == "2")
            #expect(try await s.value("SELECT method FROM emr.person_links WHERE patient_id = 'P003'") == "new")
            let id = Extracts.rid("339901", "19800506", 101)
            #expect(try await s.value("SELECT id_hash FROM emr.patients WHERE patient_id = 'P001'") == Fixtures.pseudonymizer.pseudonym("RID:" + id))
            #expect(try await s.value("SELECT count(*)::text FROM emr.patients WHERE id_hash LIKE '%\(id)%' OR address LIKE '%\(id)%'") == "0")
            // Staging is dropped once the batch is decided.
            #expect(try await s.stagingTables() == "0")
        }
    }

    @Test("every row error code is reported with file, line and column; good rows still load")
    func everyCode() async throws {
        try await IngestScenario.run { s in
            // Enough bad rows to pass the regional threshold: raise it for this test.
            try await s.rejectThreshold(100)
            let long = String(repeating: "长", count: 101)
            var encounters = Array((Extracts.encountersHeader + """
                E100,P001,O,0301,内科,2026-11-22 08:30:00,,I10.x00,100.00,10.00,1.00,
                E101,P001,O,0301,内科,,,I10.x00,100.00,10.00,1.00,
                E102,P001,O,0301,内科,2026-11-31 08:00:00,,I10.x00,100.00,10.00,1.00,
                E103,P001,O,0301,内科,2026-11-22 08:00:00,,I10.x00,abc,10.00,1.00,
                E104,P001,Z,0301,内科,2026-11-22 08:00:00,,I10.x00,100.00,10.00,1.00,
                E105,P001,O,0301,内科,2026-11-22 08:00:00,,I10.x00,100.00,90.00,20.00,
                E106,NOBODY,O,0301,内科,2026-11-22 08:00:00,,I10.x00,100.00,10.00,1.00,
                E107,P001,O,0301,内科,2026-11-22 08:00:00,,I10.x00,100.00,10.00,1.00,
                E107,P001,O,0301,内科,2026-11-22 09:00:00,,I10.x00,100.00,10.00,1.00,
                E108,P001,O,0301,"内"科,2026-11-22 08:00:00,,I10.x00,100.00,10.00,1.00,
                E109,P001,O,0301,

                """).utf8)
            // Line 13: bytes that are not UTF-8.
            encounters += Array("E110,P001,O,0301,".utf8) + [0xC3, 0x28] + Array(",2026-11-22 08:00:00,,I10.x00,100.00,10.00,1.00,\n".utf8)
            let goodID = Extracts.rid("339901", "19800506", 101)
            let badID = String(goodID.prefix(17)) + (goodID.hasSuffix("1") ? "2" : "1")
            let patients = Extracts.patientsHeader + """
                P001,张三,1,1980-05-06,RID,\(Extracts.rid("339901", "19800506", 101)),13800000001,清河区解放路1号
                P010,\(long),1,1980-05-06,,,,
                P011,赵六,1,1980-05-06,RID,\(badID),,

                """
            let batch = try await s.upload(bytes: ["patients.csv": Array(patients.utf8), "encounters.csv": encounters,
                                                   "exams.csv": Array("report_id,patient_id,colour\n".utf8)])
            #expect(batch.status == .rejected)  // exams.csv lacks required columns: a structural problem
            let issues = try await s.issues(batch.id)
            func has(_ kind: String, _ line: Int?, _ column: String?, _ code: String, _ severity: String = "error") -> Bool {
                issues.contains { $0.kind == kind && $0.line == line && $0.column == column && $0.code == code && $0.severity == severity }
            }
            #expect(has("patients", 3, "name", "too_long"))
            #expect(has("patients", 4, "id_number", "bad_checksum", "warning"))
            #expect(has("encounters", 3, "start_time", "missing_required"))
            #expect(has("encounters", 4, "start_time", "bad_date"))
            #expect(has("encounters", 5, "total_cost", "bad_number"))
            #expect(has("encounters", 6, "encounter_type", "unknown_code"))
            #expect(has("encounters", 7, "total_cost", "implausible"))
            #expect(has("encounters", 8, "patient_id", "dangling_reference") == false)  // set-based checks run only for batches that can load
            #expect(has("encounters", 11, nil, "bad_csv"))
            #expect(has("encounters", 12, nil, "bad_csv"))
            #expect(has("encounters", 13, nil, "bad_encoding"))
            #expect(has("exams", 1, "colour", "unknown_column", "warning"))
            #expect(has("exams", 1, "exam_code", "missing_column"))
            #expect(batch.reason?.contains("exams.csv") == true)
            #expect(try await s.count("emr.encounters") == 0)

            // Without the broken exams file the same rows load, with the set-based codes too.
            let second = try await s.upload(bytes: ["patients.csv": Array(patients.utf8), "encounters.csv": encounters])
            #expect(second.status == .loaded)
            let loaded = try await s.issues(second.id)
            #expect(loaded.contains { $0.kind == "encounters" && $0.line == 8 && $0.code == "dangling_reference" && $0.column == "patient_id" })
            #expect(loaded.filter { $0.kind == "encounters" && $0.code == "duplicate_key" }.map(\.line) == [9, 10])
            #expect(loaded.contains { $0.kind == "encounters" && $0.line == 2 && $0.code == "implausible" && $0.column == "start_time" } == false)
            #expect(try await s.value("SELECT string_agg(encounter_id, ',' ORDER BY encounter_id) FROM emr.encounters") == "E100")
            #expect(second.file(named: "encounters.csv")?.rejected == 11)
            #expect(second.file(named: "patients.csv")?.rejected == 1)
            #expect(second.file(named: "patients.csv")?.warnings == 1)
        }
    }

    @Test("a NUL byte in a field is a bad_encoding error on its line, not a failed upload")
    func nulByte() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            // Line 5: a NUL inside dept_name, which PostgreSQL cannot store in text.
            let encounters = Array(Extracts.encounters.utf8) + Array("E004,P001,O,0301,内".utf8) + [0x00]
                + Array("科,2026-11-22 10:00:00,,I10.x00,50.00,10.00,1.00,\n".utf8)
            let batch = try await s.upload(bytes: ["patients.csv": Array(Extracts.patients.utf8), "encounters.csv": encounters])
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(batch.file(named: "encounters.csv")?.inserted == 3)
            #expect(batch.file(named: "encounters.csv")?.rejected == 1)
            #expect(try await s.issues(batch.id).contains { $0.kind == "encounters" && $0.line == 5 && $0.code == "bad_encoding" })
            // The rejected row can be downloaded as sent, the byte it could not keep shown as U+FFFD.
            let rejected = try await BatchStore(database: s.database).rejectedRows(batch: batch.id, kind: .encounters)
            #expect(rejected.map(\.line) == [5])
            #expect(rejected.first?.fields["dept_name"] == "内\u{FFFD}科")
        }
    }

    @Test("dates after the business date are implausible")
    func futureDates() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let batch = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters], date: "2026-11-21")
            #expect(batch.status == .loaded)
            let issues = try await s.issues(batch.id)
            #expect(issues.filter { $0.code == "implausible" }.map { "\($0.kind):\($0.line ?? 0):\($0.column ?? "")" }.sorted()
                    == ["encounters:2:end_time", "encounters:2:start_time", "encounters:3:end_time", "encounters:4:start_time"])
            #expect(try await s.count("emr.encounters") == 0)
        }
    }

    @Test("GB18030 and GBK files are decoded; names arrive intact")
    func chineseEncodings() async throws {
        try await IngestScenario.run { s in
            let encoder = try #require(try Transcoder(.gb18030, encoding: true))
            var gb: [UInt8] = []
            encoder.feed(Array(Extracts.patients.utf8)) { gb += $0 }
            #expect(String(validating: gb, as: UTF8.self) == nil)  // really not UTF-8
            let batch = try await s.upload(bytes: ["patients.csv": gb], encoding: .gb18030)
            #expect(batch.status == .loaded)
            #expect(try await s.value("SELECT name FROM emr.patients WHERE patient_id = 'P002'") == "李四")

            // GBK (code page 936): 0x80 is the euro sign.
            let gbk = Array("patient_id,name,sex,address\nP100,".utf8) + [0xD5, 0xC5, 0xC8, 0xFD] + Array(",1,".utf8) + [0x80] + Array("5\n".utf8)
            let second = try await s.upload(bytes: ["patients.csv": gbk], encoding: .gbk)
            #expect(second.status == .loaded)
            #expect(try await s.value("SELECT name || '|' || address FROM emr.patients WHERE patient_id = 'P100'") == "张三|€5")
        }
    }

    @Test("UTF-8 with a BOM, CRLF line ends, quoted line breaks, and gzip")
    func csvDialects() async throws {
        try await IngestScenario.run { s in
            let exams = "report_id,patient_id,exam_code,code_system,exam_name,category,performed_at,summary,document_ref\r\n"
                + "R1,P001,LAB0001,REGIONAL,血常规,LAB,2026-11-22 09:00:00,\"第一行\r\n第二行, 含逗号 \"\"引号\"\"\",his://H339901001/R1\r\n"
            let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
            let patients = bom + Array(Extracts.patients.replacingOccurrences(of: "\n", with: "\r\n").utf8)
            let gzipped = try gzip(Array(Extracts.encounters.utf8))
            let batch = try await s.upload(bytes: ["patients.csv": patients, "encounters.csv.gz": gzipped, "exams.csv": Array(exams.utf8)])
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(batch.file(named: "patients.csv")?.inserted == 3)
            #expect(batch.file(named: "encounters.csv.gz")?.inserted == 3)
            #expect(try await s.value("SELECT summary FROM emr.exams WHERE report_id = 'R1'") == "第一行\r\n第二行, 含逗号 \"引号\"")
            #expect(try await s.value("SELECT name FROM emr.patients WHERE patient_id = 'P001'") == "张三")
        }
    }

    @Test("a file that does not match its manifest rejects the batch and changes nothing; one with more rows is refused at once")
    func manifestMismatch() async throws {
        try await IngestScenario.run { s in
            let directory = try s.folder(["patients.csv": Array(Extracts.patients.utf8)], facility: "H339901001", date: "2026-11-22")
            let manifest = try String(contentsOfFile: directory + "/manifest.json", encoding: .utf8)
            let token = try await s.token("H339901001")
            let before = try await s.coreFingerprint()
            var batchID: Int64 = 0
            try await s.client.execute(uri: "/v1/batches", method: .post, headers: Fixtures.bearer(token), body: ByteBuffer(string: manifest)) { response in
                #expect(response.status == .created)
                batchID = try #require(try response.json()["batch"] as? [String: Any])["id"] as! Int64
            }
            // The file changes after the manifest was written: one row more. It is refused as it
            // streams, past the declared count, and counts as not sent.
            let longer = Extracts.patients + "P004,孙七,2,1990-02-02,,,,\n"
            try await s.client.execute(uri: "/v1/batches/\(batchID)/files/patients.csv", method: .put, headers: Fixtures.bearer(token),
                                       body: ByteBuffer(string: longer)) { response in
                #expect(response.status == .unprocessableContent)
                let detail = try response.json()["detail"] as? String
                #expect(detail?.contains("manifest_mismatch: the file has more data rows than the manifest's 3") == true, "\(detail ?? "")")
            }
            try await s.client.execute(uri: "/v1/batches/\(batchID)/commit", method: .post, headers: Fixtures.bearer(token)) {
                #expect($0.status == .conflict, "the refused file is still to be sent")
            }
            #expect(try await s.value("SELECT count(*)::text FROM pg_tables WHERE schemaname = 'staging'") == "0")

            // The same number of rows, one value changed: read to the end, then the digest differs.
            let changed = Extracts.patients.replacingOccurrences(of: "P003,王五", with: "P003,王六")
            try await s.client.execute(uri: "/v1/batches/\(batchID)/files/patients.csv", method: .put, headers: Fixtures.bearer(token),
                                       body: ByteBuffer(string: changed)) { response in
                #expect(response.status == .ok)
                let receipt = try response.json()
                #expect(receipt["rows"] as? Int == 3)
                #expect((receipt["file_error"] as? String)?.contains("SHA-256") == true)
            }
            try await s.client.execute(uri: "/v1/batches/\(batchID)/commit", method: .post, headers: Fixtures.bearer(token)) {
                #expect($0.status == .accepted)
            }
            let batch = try await waitForDecision(s, batchID)
            #expect(batch.status == .rejected)
            #expect(batch.reason?.contains("SHA-256") == true)
            #expect(try await s.issues(batchID).contains { $0.code == "manifest_mismatch" })
            #expect(try await s.coreFingerprint() == before)
        }
    }

    @Test("a file's duplicate keys are counted in its upload receipt, and the decision keeps them")
    func duplicatesAtUpload() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let patients = Extracts.patients + "P004,赵六,1,1990-01-01,,,,\nP004,赵六,1,1990-01-01,,,,\n"  // lines 5 and 6
            let encounters = Extracts.encounters + "E001,P001,O,0301,内科,2026-11-22 10:00:00,,I10.x00,50.00,10.00,1.00,\n"  // E001 again, line 5
            let staged = try await s.stage(["patients.csv": patients, "encounters.csv": encounters])
            let batchID = staged.id
            #expect(staged.rejected == ["patients.csv": 2, "encounters.csv": 2], "both lines of each repeated key")
            let marked = try await s.issues(batchID).filter { $0.code == "duplicate_key" }.map { "\($0.kind):\($0.line ?? 0)" }.sorted()
            #expect(marked == ["encounters:2", "encounters:5", "patients:5", "patients:6"], "\(marked)")

            try await s.commit(staged)
            let batch = try await waitForDecision(s, batchID)
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(batch.file(named: "encounters.csv")?.rejected == 2)
            #expect(batch.file(named: "patients.csv")?.rejected == 2)
            #expect(try await s.issues(batchID).filter { $0.code == "duplicate_key" }.map { "\($0.kind):\($0.line ?? 0)" }.sorted()
                    == ["encounters:2", "encounters:5", "patients:5", "patients:6"])
            #expect(try await s.value("SELECT string_agg(encounter_id, ',' ORDER BY encounter_id) FROM emr.encounters") == "E002,E003")
            #expect(try await s.value("SELECT string_agg(patient_id, ',' ORDER BY patient_id) FROM emr.patients") == "P001,P002,P003")
        }
    }

    @Test("a staged file's table is scratch: unlogged, analyzed once staged, never autovacuumed")
    func stagingIsScratch() async throws {
        try await IngestScenario.run { s in
            let batch = try await s.stage(["patients.csv": Extracts.patients])
            #expect(try await s.value("""
                SELECT relpersistence::text || ' ' || reltuples::text || ' ' || array_to_string(reloptions, ',')
                FROM pg_class WHERE oid = 'staging.b\(batch.id)_patients'::regclass
                """) == "u 3 autovacuum_enabled=false")
        }
    }

    @Test("the same extract twice changes nothing and says so, with the same row errors")
    func idempotent() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            // A key twice (found as the file is staged) and a patient nobody sent (found at the decision).
            let encounters = Extracts.encounters
                + "E003,P003,E,1001,急诊科,2026-11-22 23:10:00,,J06.900,300.00,100.00,20.00,\n"
                + "E004,NOBODY,O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,\n"
            let files = ["patients.csv": Extracts.patients, "encounters.csv": encounters]
            let first = try await s.upload(files)
            let after = try await s.coreFingerprint()
            let second = try await s.upload(files)
            #expect(first.status == .loaded && second.status == .loaded)
            #expect(second.duplicateOf == first.id)
            #expect(second.reason?.contains("nothing changed") == true)
            #expect(second.files.allSatisfy { $0.inserted == 0 && $0.updated == 0 && $0.unchanged == ($0.receivedRows ?? 0) - ($0.rejected ?? 0) })
            #expect(try await s.coreFingerprint() == after)
            func errors(_ batch: Int64) async throws -> [String] {
                try await s.issues(batch).map { "\($0.line ?? 0) \($0.code)" }.sorted()
            }
            #expect(try await errors(first.id) == ["4 duplicate_key", "5 duplicate_key", "6 dangling_reference"])
            #expect(try await errors(second.id) == errors(first.id))
        }
    }

    @Test("a corrected row replaces the old one, a retraction removes it, and a late older extract does not overwrite")
    func correctionAndRetraction() async throws {
        try await IngestScenario.run { s in
            try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters], date: "2026-11-22")
            let next = Extracts.encountersHeader + """
                E001,P001,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,130.50,60.00,5.00,
                E003,,,,,,,,,,,D
                E004,P001,O,0301,内科,2026-11-23 08:00:00,2026-11-23 08:20:00,I10.x00,50.00,10.00,0,

                """
            let batch = try await s.upload(["encounters.csv": next], date: "2026-11-23")
            let file = try #require(batch.file(named: "encounters.csv"))
            #expect(batch.status == .loaded)
            #expect(file.inserted == 1 && file.updated == 1 && file.retracted == 1 && file.unchanged == 0)
            #expect(try await s.value("SELECT total_cost::text FROM emr.encounters WHERE encounter_id = 'E001'") == "130.50")
            #expect(try await s.value("SELECT count(*)::text FROM emr.encounters WHERE encounter_id = 'E003'") == "0")
            #expect(try await s.value("SELECT string_agg(kind || ':' || retractions_sent, ',') FROM ingest.batch_files WHERE batch_id = \(batch.id)")
                    == "encounters:1", "counted as the file streamed")

            // An extract for 11-21 that arrives late says E001 cost 99: the 11-23 value stands.
            let late = Extracts.encountersHeader + "E001,P001,O,0301,内科,2026-11-21 08:30:00,2026-11-21 09:00:00,I10.x00,99.00,60.00,5.00,\n"
            let lateBatch = try await s.upload(["encounters.csv": late], date: "2026-11-21")
            #expect(lateBatch.file(named: "encounters.csv")?.updated == 0)
            #expect(try await s.value("SELECT total_cost::text FROM emr.encounters WHERE encounter_id = 'E001'") == "130.50")
        }
    }

    @Test("a census sent again for the same night takes the changed departments and adds new ones")
    func censusResent() async throws {
        try await IngestScenario.run { s in
            let first = try await s.upload(["beds.csv": "dept_code,staffed_beds,occupied_beds\n0301,50,40\n0401,30,20\n"])
            #expect(first.file(named: "beds.csv").map { ($0.inserted, $0.updated) } ?? (0, 0) == (2, 0))
            let second = try await s.upload(["beds.csv": "dept_code,staffed_beds,occupied_beds\n0301,50,41\n0401,30,20\n0501,10,2\n"])
            let file = try #require(second.file(named: "beds.csv"))
            #expect(second.status == .loaded)
            #expect(file.inserted == 1 && file.updated == 1 && file.unchanged == 1)
            #expect(try await s.value("SELECT string_agg(dept_code || ':' || occupied_beds, ',' ORDER BY dept_code) FROM emr.bed_census")
                    == "0301:41,0401:20,0501:2")
        }
    }

    @Test("a failure in the middle of the merge leaves the database exactly as it was")
    func atomicity() async throws {
        try await IngestScenario.run { s in
            // A real failure inside the transaction, after patients are merged: one encounter refused.
            try await s.injectFailure("BEFORE INSERT", on: "emr.encounters", when: "NEW.encounter_id = 'BOOM'",
                                      message: "'injected failure'")
            let before = try await s.coreFingerprint()
            let encounters = Extracts.encounters + "BOOM,P001,O,0301,内科,2026-11-22 10:00:00,,I10.x00,1.00,0,0,\n"
            let batch = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": encounters])
            #expect(batch.status == .failed)
            #expect(batch.reason?.contains("injected failure") == true)
            #expect(try await s.coreFingerprint() == before)
            #expect(try await s.count("emr.patients") == 0)
            #expect(try await s.stagingTables() == "0")
        }
    }

    @Test("a loaded batch's finish time is when its transaction ended, not when it began")
    func finishTime() async throws {
        try await IngestScenario.run { s in
            // One slow row inside the merge: the finish time must come after it.
            try await s.database.query("""
                CREATE FUNCTION public.slow_row() RETURNS trigger LANGUAGE plpgsql AS $$
                BEGIN PERFORM pg_sleep(1); RETURN NEW; END $$
                """)
            try await s.database.query("""
                CREATE TRIGGER slow BEFORE INSERT ON emr.encounters FOR EACH ROW
                WHEN (NEW.encounter_id = 'E001') EXECUTE FUNCTION public.slow_row()
                """)
            let batch = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters])
            #expect(batch.status == .loaded)
            let seconds = try await s.value("SELECT extract(epoch FROM finished_at - started_at)::float8::text FROM ingest.batches WHERE id = \(batch.id)")
            #expect((seconds.flatMap(Double.init) ?? 0) >= 1)
        }
    }

    @Test("too many rejected rows reject the batch whole")
    func threshold() async throws {
        try await IngestScenario.run { s in
            let before = try await s.coreFingerprint()
            let encounters = Extracts.encountersHeader + "E9,P001,O,0301,内科,,,I10.x00,1.00,0,0,\n" + Extracts.encounters.dropFirst(Extracts.encountersHeader.count)
            let batch = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": encounters])
            #expect(batch.status == .rejected)
            #expect(batch.reason?.contains("above the regional threshold of 5") == true)
            #expect(try await s.coreFingerprint() == before)
        }
    }

    @Test("a dry run reports everything and changes no core table")
    func dryRun() async throws {
        try await IngestScenario.run { s in
            let before = try await s.coreFingerprint()
            // Exams and purchases too: they are merged in a side transaction (SideTransactionTests).
            let batch = try await s.upload(SideTransactionTests.night, dryRun: true)
            #expect(batch.status == .validated)
            #expect(batch.file(named: "encounters.csv")?.inserted == 3)
            #expect(batch.file(named: "exams.csv")?.inserted == 2)
            #expect(batch.file(named: "purchases.csv")?.inserted == 1)
            #expect(try await s.coreFingerprint() == before)
            #expect(try await s.value("SELECT count(*)::text FROM pg_prepared_xacts WHERE database = current_database()") == "0")
        }
    }

    @Test("two facilities upload at once; one facility's nights load in business-date order")
    func concurrentFacilities() async throws {
        try await IngestScenario.run { s in
            async let a = s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters], facility: "H339901001")
            async let b = s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters], facility: "H339902001")
            let (first, second) = try await (a, b)
            #expect(first.status == .loaded && second.status == .loaded)
            #expect(try await s.count("emr.encounters") == 6)
            // Same people at two hospitals: one person each in the regional index — by ID number,
            // and for P003, who has none, by the patient index.
            #expect(try await s.count("emr.persons") == 3)
            #expect(try await s.value("SELECT count(DISTINCT person_id)::text FROM emr.patients WHERE person_id IS NOT NULL") == "3")
            #expect(try await s.value("SELECT count(DISTINCT person_id)::text FROM emr.patients WHERE patient_id = 'P003'") == "1")
        }
    }

    @Test("a person another facility's batch adds while this batch adds the same one is linked, not refused")
    func concurrentPerson() async throws {
        try await IngestScenario.run { s in
            // Another batch's transaction has added P001's person and not committed yet.
            let hash = Fixtures.pseudonymizer.pseudonym("RID:" + Extracts.rid("339901", "19800506", 101))
            try await s.database.withConnection { other in
                try await other.query("BEGIN", logger: TestDatabase.logger)
                try await other.query("INSERT INTO emr.persons (id_hash) VALUES (\(hash))", logger: TestDatabase.logger)
                async let uploaded = s.upload(["patients.csv": Extracts.patients])
                // This batch's insert of the same person waits for that transaction: then it commits.
                var waited = false
                for _ in 0..<600 where !waited {
                    waited = try await s.value("""
                        SELECT count(*)::text FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'
                        """) != "0"
                    if !waited { try await Task.sleep(for: .milliseconds(50)) }
                }
                #expect(waited)
                try await other.query("COMMIT", logger: TestDatabase.logger)
                let batch = try await uploaded
                #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            }
            // P001 and P002 by their ID numbers, P003 (none) by the patient index.
            #expect(try await s.count("emr.persons") == 3)
            #expect(try await s.value("""
                SELECT (pa.person_id = pe.id)::text FROM emr.patients pa, emr.persons pe
                WHERE pa.patient_id = 'P001' AND pe.id_hash = '\(hash)'
                """) == "true")
        }
    }

    @Test("a facility's token cannot touch another facility's batch, nor learn that it exists")
    func crossFacility() async throws {
        try await IngestScenario.run { s in
            let batch = try await s.upload(["patients.csv": Extracts.patients], facility: "H339902001")
            let other = try await s.token("H339901001")
            let missing = batch.id + 1000
            for (path, method) in [("", HTTPRequest.Method.get), ("/errors", .get), ("/commit", .post), ("/files/patients.csv", .put),
                                   ("/files/patients.csv/rejected", .get)] {
                // Another facility's batch is answered exactly as a batch that does not exist.
                var answers: [String] = []
                for id in [batch.id, missing] {
                    try await s.client.execute(uri: "/v1/batches/\(id)\(path)", method: method, headers: Fixtures.bearer(other),
                                               body: ByteBuffer(string: "x")) { response in
                        #expect(response.status == .notFound, "\(method) \(id)\(path)")
                        answers.append(response.text.replacingOccurrences(of: "\(id)", with: "ID"))
                    }
                }
                #expect(answers.count == 2 && answers[0] == answers[1], "\(answers)")
            }
            try await s.client.execute(uri: "/v1/batches?facility=H339902001", method: .get, headers: Fixtures.bearer(other)) {
                #expect($0.status == .forbidden)
            }
            try await s.client.execute(uri: "/v1/batches", method: .get, headers: Fixtures.bearer(other)) { response in
                let batches = try #require(try response.json()["batches"] as? [[String: Any]])
                #expect(batches.isEmpty)
            }
            let owner = try await s.token("H339902001")
            try await s.client.execute(uri: "/v1/batches", method: .get, headers: Fixtures.bearer(owner)) { response in
                let batches = try #require(try response.json()["batches"] as? [[String: Any]])
                #expect(batches.map { $0["id"] as? Int64 } == [batch.id])
                #expect((batches.first?["files"] as? [[String: Any]])?.first?["inserted"] as? Int == 3)
            }
            let manifest = try LocalExtract.readAndVerify(directory: s.folder(["patients.csv": Array(Extracts.patients.utf8)], facility: "H339902001", date: "2026-11-22"))
            try await s.client.execute(uri: "/v1/batches", method: .post, headers: Fixtures.bearer(other),
                                       body: ByteBuffer(data: try manifest.encoded())) { #expect($0.status == .forbidden) }
            let bureau = try await CredentialStore(database: s.database).issue(role: .bureau, scope: nil, label: "b", expiresAt: nil, actor: "t").token
            try await s.client.execute(uri: "/v1/batches/\(batch.id)", method: .get, headers: Fixtures.bearer(bureau)) {
                #expect($0.status == .forbidden)
            }
            try await s.client.execute(uri: "/v1/batches/999999", method: .get, headers: Fixtures.bearer(other)) {
                #expect($0.status == .notFound)
            }
            // A steward sees every facility's batches, or one facility's; a facility filter must be a facility code.
            let steward = try await CredentialStore(database: s.database).issue(role: .steward, scope: nil, label: "s", expiresAt: nil, actor: "t").token
            for (query, expected) in [("", [batch.id]), ("?facility=H339902001", [batch.id]), ("?facility=H339901001", [])] {
                try await s.client.execute(uri: "/v1/batches\(query)", method: .get, headers: Fixtures.bearer(steward)) { response in
                    #expect(response.status == .ok, "\(query)")
                    let batches = try #require(try response.json()["batches"] as? [[String: Any]])
                    #expect(batches.map { $0["id"] as? Int64 } == expected, "\(query)")
                }
            }
            try await s.client.execute(uri: "/v1/batches?facility=h%00", method: .get, headers: Fixtures.bearer(steward)) {
                #expect($0.status == .badRequest)
            }
        }
    }

    @Test("an interrupted upload resumes the same batch without duplicating anything")
    func resume() async throws {
        try await IngestScenario.run { s in
            let directory = try s.folder(["patients.csv": Array(Extracts.patients.utf8), "encounters.csv": Array(Extracts.encounters.utf8)],
                                         facility: "H339901001", date: "2026-11-22")
            let token = try await s.token("H339901001")
            // The first attempt creates the batch and sends one file, then the line drops.
            let manifest = try String(contentsOfFile: directory + "/manifest.json", encoding: .utf8)
            var batchID: Int64 = 0
            try await s.client.execute(uri: "/v1/batches", method: .post, headers: Fixtures.bearer(token), body: ByteBuffer(string: manifest)) {
                batchID = try #require(try $0.json()["batch"] as? [String: Any])["id"] as! Int64
            }
            try await s.client.execute(uri: "/v1/batches/\(batchID)/files/patients.csv", method: .put, headers: Fixtures.bearer(token),
                                       body: ByteBuffer(string: Extracts.patients)) { #expect($0.status == .ok) }
            // The nightly job runs again.
            var uploader = UploadClient(server: s.server, token: token, logger: TestDatabase.logger)
            uploader.pollInterval = .milliseconds(50)
            let lines = LinesBox()
            let batch = try await uploader.upload(directory: directory) { lines.append($0) }
            #expect(batch.id == batchID)
            #expect(lines.all.contains("resuming batch \(batchID)"))
            #expect(lines.all.contains("  patients.csv: already received"))
            #expect(batch.status == .loaded)
            #expect(try await s.count("ingest.batches") == 1)
            #expect(try await s.count("emr.patients") == 3)
        }
    }

    @Test("rejected rows and row errors can be downloaded to fix and resend, as CSV and paged JSON")
    func downloads() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let patients = Extracts.patientsHeader + "P001,,1,1980-05-06,RID,\(Extracts.rid("339901", "19800506", 101)),139,\"地址,含逗号\"\nP002,李四,X,,,,,\nP003,王五,1,1990-01-01,,,,\n"
            let batch = try await s.upload(["patients.csv": patients])
            #expect(batch.status == .loaded)
            let token = try await s.token("H339901001")
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/files/patients.csv/rejected", method: .get, headers: Fixtures.bearer(token)) { response in
                #expect(response.status == .ok)
                #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
                let lines = response.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
                #expect(lines[0] == "line,patient_id,name,sex,birth_date,id_type,phone,address,op,errors")
                #expect(lines[1] == "2,P001,,1,1980-05-06,RID,139,\"地址,含逗号\",U,missing_required (name): name is required")
                #expect(lines[2].hasPrefix("3,P002,李四,X,"))
                #expect(lines.count == 3)
                #expect(!response.text.contains("19800506"))
            }
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/errors?format=csv", method: .get, headers: Fixtures.bearer(token)) { response in
                #expect(response.text.hasPrefix("file,line,column,code,severity,message,value\r\n"))
                #expect(response.text.contains("patients.csv,2,name,missing_required,error,name is required,"))
            }
            try await s.client.execute(uri: "/v1/batches/\(batch.id)/errors?per_page=1&page=2", method: .get, headers: Fixtures.bearer(token)) { response in
                let body = try response.json()
                #expect(body["total"] as? Int == 3)  // name, sex, and the missing birth date warning
                #expect((body["errors"] as? [[String: Any]])?.count == 1)
                #expect(response.headers[.init("X-Total-Count")!] == "3")
                #expect(response.headers[.init("Link")!]?.contains("page=3") == true)
            }
        }
    }

    @Test("upload-history shows a facility its batches and the nights with no extract")
    func uploadHistory() async throws {
        try await IngestScenario.run { s in
            try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters], date: "2026-11-22")
            let token = try await s.token("H339901001")
            try await Fixtures.queryApp(s.database).test(.router) { query in
                try await query.execute(uri: "/v1/reports/upload-history?from=2026-11-20&to=2026-11-22&format=csv", method: .get,
                                        headers: Fixtures.bearer(token)) { response in
                    #expect(response.status == .ok)
                    let lines = response.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
                    #expect(lines.count == 4)
                    #expect(lines[1].hasPrefix("H339901001,清河市第一人民医院,2026-11-20,,missing,"))
                    #expect(lines[2].hasPrefix("H339901001,清河市第一人民医院,2026-11-21,,missing,"))
                    #expect(lines[3].contains(",2026-11-22,1,loaded,"))
                    #expect(lines[3].contains(",patients:3 encounters:3,6,6,0,0,0,0,"))
                }
                try await query.execute(uri: "/v1/reports/upload-history?facility=H339902001", method: .get, headers: Fixtures.bearer(token)) {
                    #expect($0.status == .forbidden)
                }
            }
        }
    }

    @Test("every path and method in openapi.yaml is routed")
    func openAPIRoutes() async throws {
        // Paths are the two-space-indented keys under `paths:`, methods the four-space keys below them.
        var found: [(String, String)] = []
        var path: String?
        for line in try OpenAPIDocument.load().components(separatedBy: "\n") {
            if line.hasPrefix("  /"), line.hasSuffix(":") {
                path = String(line.dropFirst(2).dropLast())
            } else if !line.hasPrefix("   "), !line.isEmpty {
                path = line.hasPrefix("  ") ? nil : path.flatMap { _ in nil }
            } else if let current = path, line.hasPrefix("    "), !line.hasPrefix("     "),
                      let method = ["get", "post", "put", "delete", "patch"].first(where: { line == "    \($0):" }) {
                found.append((method, current))
            }
        }
        let routes = found
        #expect(routes.count >= 12)
        try await TestDatabase.with { database throws in
            try await Fixtures.ingestApp(database).test(.router) { client in
                for (method, path) in routes {
                    let uri = path.replacingOccurrences(of: "{id}", with: "1").replacingOccurrences(of: "{name}", with: "patients.csv")
                    try await client.execute(uri: uri, method: HTTPRequest.Method(method.uppercased())!) { response in
                        // Routed: answered by a handler or by the auth middleware, never "no such route".
                        #expect(response.status != .notFound && response.status != .methodNotAllowed, "\(method) \(path)")
                    }
                }
            }
        }
    }
}

func waitForDecision(_ s: IngestScenario, _ id: Int64) async throws -> BatchRecord {
    for _ in 0..<400 {
        if let batch = try await BatchStore(database: s.database).batch(id: id), batch.status.isFinal { return batch }
        try await Task.sleep(for: .milliseconds(50))
    }
    throw TestSetupError("batch \(id) was not decided in time")
}

func gzip(_ bytes: [UInt8]) throws -> [UInt8] {
    let path = FileManager.default.temporaryDirectory.appendingPathComponent("gz-\(UUID())").path
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    _ = try Subprocess.run("/bin/gzip", ["-9", path])
    return Array(try Data(contentsOf: URL(fileURLWithPath: path + ".gz")))
}

final class LinesBox: @unchecked Sendable {
    private let lock = NSLock()
    private var lines: [String] = []
    func append(_ line: String) { lock.withLock { lines.append(line) } }
    var all: [String] { lock.withLock { lines } }
}

