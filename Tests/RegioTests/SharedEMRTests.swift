import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

@testable import RegioPipeline

/// The shared EMR over real HTTP into a real PostgreSQL: the exam registry and its duplicate-exam
/// figures, the cross-facility lookup and its audit, stewards' decisions.
@Suite("Shared EMR: exam registry, lookup, stewards")
struct SharedEMRTests {
    static let (first, second, third) = ("H339901001", "H339902001", "H339901002")
    static let examsHeader = "report_id,patient_id,encounter_id,exam_code,code_system,exam_name,category,modality,body_site,performed_at,reported_at,summary,document_ref,price,op\n"

    /// An exam row: code system REGIONAL unless the code starts with `X` (a facility's own).
    static func exam(_ id: String, _ patient: String, _ code: String, _ category: String, _ at: String,
                     site: String = "", price: String = "50.00") -> String {
        let system = code.hasPrefix("X") ? "LOCAL" : "REGIONAL"
        return "\(id),\(patient),,\(code),\(system),检查\(code),\(category),,\(site),\(at),\(at),未见异常,his://x/\(id),\(price),\n"
    }

    static func codes(_ database: Database) async throws {
        let codes = try ExamCodeImport.parse("""
            code,name,category,window_days
            LAB0001,血常规,LAB,
            LAB0002,肝功能,LAB,
            LAB0003,肾功能,LAB,
            IMG0202,胸部CT平扫,IMAGING,

            """).get()
        _ = try await ExamCatalogStore(database: database).importCodes(codes, actor: "test")
    }

    /// What the duplicate-exam rollup holds, as `facility category month exams/coded/repeats/cost`.
    static func examMonths(_ s: IngestScenario) async throws -> String? {
        try await s.value("""
            SELECT string_agg(concat_ws(' ', f.code, m.category, m.month, m.exams || '/' || m.coded_exams || '/' || m.repeats || '/' || m.avoidable_cost),
                              '; ' ORDER BY f.code, m.category, m.month)
            FROM reports.exam_month m JOIN registry.facilities f ON f.id = m.facility_id
            """)
    }

    @Test("a repeat is counted on day W of the window and not on day W + 1, for imaging only at the same body site, for local codes once mapped; a steward's split, a retraction and a rebuild agree")
    func duplicateExamsAtTheWindowEdges() async throws {
        try await IngestScenario.run { s in
            try await Self.codes(s.database)
            let card = Extracts.rid("339901", "19700304", 17)
            try await s.upload([
                "patients.csv": Extracts.patientsHeader + "A1,周建华,1,1970-03-04,RID,\(card),13900001111,清河区解放路1号\n",
                "exams.csv": Self.examsHeader
                    + Self.exam("RA1", "A1", "LAB0001", "LAB", "2026-11-01 09:00:00")
                    + Self.exam("RA2", "A1", "LAB0002", "LAB", "2026-11-01 09:00:00")
                    + Self.exam("RA3", "A1", "IMG0202", "IMAGING", "2026-11-01 09:30:00", site: "胸部")
                    + Self.exam("RA4", "A1", "LAB0003", "LAB", "2026-11-01 09:00:00"),
            ], facility: Self.first)
            let second = try await s.upload([
                "patients.csv": Extracts.patientsHeader + "B1,周建华,1,1970-03-04,RID,\(card),13900001111,清河区解放路1号\n",
                "exams.csv": Self.examsHeader
                    // Day 7 of a 7-day window, late in the day: a repeat.
                    + Self.exam("RB1", "B1", "LAB0001", "LAB", "2026-11-08 23:30:00", price: "25.00")
                    // Day 8: recognised no longer.
                    + Self.exam("RB2", "B1", "LAB0002", "LAB", "2026-11-09 00:10:00", price: "60.00")
                    // Imaging of another body site, then of the same one.
                    + Self.exam("RB3", "B1", "IMG0202", "IMAGING", "2026-11-02 10:00:00", site: "头部", price: "240.00")
                    + Self.exam("RB4", "B1", "IMG0202", "IMAGING", "2026-11-03 10:00:00", site: "胸部", price: "260.00")
                    // A local code, not mapped yet.
                    + Self.exam("RB5", "B1", "XLAB0003", "LAB", "2026-11-02 08:00:00", price: "45.00"),
            ], facility: Self.second, date: "2026-11-23")
            #expect(try await s.value("""
                SELECT string_agg(report_id || ':' || coalesce(repeat_of_report, '-') || ':' || coalesce(days_after::text, '-'), ' ' ORDER BY report_id)
                FROM emr.exam_registry WHERE facility_id = (SELECT id FROM registry.facilities WHERE code = '\(Self.second)')
                """) == "RB1:RA1:7 RB2:-:- RB3:-:- RB4:RA3:2 RB5:-:-")
            #expect(try await Self.examMonths(s)?.contains("H339902001 LAB 2026-11-01 3/2/1/25.00") == true)
            #expect(try await Self.examMonths(s)?.contains("H339902001 IMAGING 2026-11-01 2/2/1/260.00") == true)

            // The local code, mapped: its exam becomes a recognised repeat; the steward's list empties.
            let catalog = ExamCatalogStore(database: s.database)
            #expect(try await catalog.unmapped().map { "\($0.facility) \($0.localCode) \($0.exams)" } == ["H339902001 XLAB0003 1"])
            await #expect(throws: ExamCatalogStore.Refused.self) {
                try await catalog.importMappings(try ExamMapImport.parse("facility,local_code,regional_code\nH339902001,XLAB0003,NOPE\n").get(),
                                                 actor: "test")
            }
            let mapped = try await catalog.importMappings(
                try ExamMapImport.parse("facility,local_code,regional_code\nH339902001,XLAB0003,LAB0003\n").get(), actor: "test")
            #expect(mapped.inserted == 1 && mapped.exams == 1)
            #expect(try await catalog.unmapped().isEmpty)
            #expect(try await Self.examMonths(s)?.contains("H339902001 LAB 2026-11-01 3/3/2/70.00") == true)

            // A narrower window for lab results: the day-7 repeat no longer counts.
            _ = try await catalog.setDefaultWindow(category: "LAB", days: 6, actor: "test")
            #expect(try await Self.examMonths(s)?.contains("H339902001 LAB 2026-11-01 3/3/1/45.00") == true)
            _ = try await catalog.setDefaultWindow(category: "LAB", days: 7, actor: "test")

            // The report reads the rollup; the rollup is what a rebuild from the core tables gives.
            let incremental = try await Self.examMonths(s)
            try await Rollups.rebuildAll(s.database)
            #expect(try await Self.examMonths(s) == incremental)
            let bureau = try await CredentialStore(database: s.database).issue(role: .bureau, scope: nil, label: "科长", expiresAt: nil, actor: "test").token
            try await Fixtures.queryApp(s.database).test(.router) { client in
                try await client.execute(uri: "/v1/reports/duplicate-exams?format=csv&facility=\(Self.second)&from=2026-11&to=2026-11",
                                         method: .get, headers: Fixtures.bearer(bureau)) { response in
                    #expect(response.status == .ok)
                    #expect(response.text.contains("facility,H339902001,清河市中医院,2026-11,LAB,3,3,2,66.67,70"), "\(response.text)")
                }
            }

            // A steward splits the second facility's record off the person: its exams repeat nothing.
            let person = try #require(try await s.value("SELECT person_id::text FROM emr.patients WHERE patient_id = 'B1'"))
            let facility = try #require(try await s.value("SELECT id::text FROM registry.facilities WHERE code = '\(Self.second)'"))
            try await s.database.query(PostgresQuery(unsafeSQL: """
                INSERT INTO emr.steward_actions (kind, person_id, records, reason, actor)
                VALUES ('split', \(person), '[{"facility_id": \(facility), "patient_id": "B1"}]', 'two people', 'steward:test')
                """))
            // Carried out here or by the service's worker, whichever takes the linking lock.
            #expect(try await eventually(within: .seconds(10)) {
                try await PersonLinker(database: s.database).applyStewardActions()
                return try await s.value("SELECT status FROM emr.steward_actions") == "done"
            })
            #expect(try await Self.examMonths(s)?.contains("H339902001 LAB 2026-11-01 3/3/0/0.00") == true)
            #expect(try await Self.examMonths(s)?.contains("H339902001 IMAGING 2026-11-01 2/2/0/0.00") == true)
            let afterSplit = try await Self.examMonths(s)
            try await Rollups.rebuildAll(s.database)
            #expect(try await Self.examMonths(s) == afterSplit)

            // The second facility's batch taken back: its exams, and their repeats, are gone.
            _ = try await BatchRetraction(database: s.database).retract(id: second.id, actor: "test", reason: "wrong night")
            #expect(try await Self.examMonths(s)?.contains("H339902001") == false)
            let afterRetraction = try await Self.examMonths(s)
            try await Rollups.rebuildAll(s.database)
            #expect(try await Self.examMonths(s) == afterRetraction)
        }
    }

    /// A date (China time) `days` before today, `YYYY-MM-DD`.
    static func daysAgo(_ days: Int) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "Asia/Shanghai")!
        let date = calendar.date(byAdding: .day, value: -days, to: Date())!
        let parts = calendar.dateComponents([.year, .month, .day], from: date)
        return String(format: "%04d-%02d-%02d", parts.year!, parts.month!, parts.day!)
    }

    static func lookup(_ client: some TestClientProtocol, token: String, _ body: String,
                       _ check: @escaping @Sendable (TestResponse) throws -> Void) async throws {
        try await client.execute(uri: "/v1/lookup", method: .post, headers: Fixtures.bearer(token) + [.contentType: "application/json"],
                                 body: ByteBuffer(string: body)) { response in
            #expect(response.headers[.cacheControl] == "no-store", "\(response.status)")
            try check(response)
        }
    }

    @Test("a facility looks up its patient's reports at other facilities, newest first, flagged within their window; no relationship is 403; every lookup is audited; other roles are refused")
    func crossFacilityLookup() async throws {
        try await IngestScenario.run { s in
            try await Self.codes(s.database)
            let night = Self.daysAgo(1)
            let card = Extracts.rid("339901", "19800506", 31)
            // The first facility knows her without an ID number; the second with one.
            try await s.upload([
                "patients.csv": Extracts.patientsHeader + "A1,吴晓燕,2,1980-05-06,,,13900002222,清河区解放路3号\n",
                "exams.csv": Self.examsHeader
                    + Self.exam("RA1", "A1", "LAB0001", "LAB", "\(night) 09:00:00")
                    + Self.exam("RA2", "A1", "IMG0202", "IMAGING", "\(Self.daysAgo(40)) 10:00:00", site: "胸部"),
            ], facility: Self.first, date: night)
            try await s.upload([
                "patients.csv": Extracts.patientsHeader + "B7,吴晓燕,2,1980-05-06,RID,\(card),13900002222,清河区解放路3号\n",
                "exams.csv": Self.examsHeader + Self.exam("RB1", "B7", "LAB0002", "LAB", "\(night) 11:00:00"),
            ], facility: Self.second, date: night)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            let second = try await s.token(Self.second)
            let third = try await s.token(Self.third)

            try await Fixtures.queryApp(s.database).test(.router) { client in
                // Her own facility's id: the first facility's reports, not the second's own.
                try await Self.lookup(client, token: second, #"{"patient_id": "B7", "purpose": "treatment: 复诊"}"#) { response in
                    #expect(response.status == .ok)
                    let reports = try #require(try response.json()["reports"] as? [[String: Any]])
                    #expect(reports.map { $0["document_ref"] as? String } == ["his://x/RA1", "his://x/RA2"])
                    #expect(reports.map { $0["within_window"] as? Bool } == [true, false])
                    #expect(reports.first?["facility"] as? String == Self.first)
                    #expect(reports.first?["name"] as? String == "血常规", "the catalogue's name")
                    #expect(reports.first?["recognised_until"] as? String == Self.daysAgo(-6))
                }
                // By the resident ID number the second facility holds.
                try await Self.lookup(client, token: second, #"{"resident_id": "\#(card)", "purpose": "treatment"}"#) { response throws in
                    #expect(response.status == .ok)
                    #expect(try response.json()["patient_id"] as? String == "B7")
                }
                // A facility that holds no record of her: refused, by number; its own id space has no B7.
                try await Self.lookup(client, token: third, #"{"resident_id": "\#(card)", "purpose": "treatment"}"#) { response in
                    #expect(response.status == .forbidden)
                    #expect(!response.text.contains("RA1"))
                }
                try await Self.lookup(client, token: third, #"{"patient_id": "B7", "purpose": "treatment"}"#) { response in
                    #expect(response.status == .notFound)
                }
                // No purpose, or both ways of naming the patient: refused before anything is read.
                try await Self.lookup(client, token: second, #"{"patient_id": "B7"}"#) { #expect($0.status == .badRequest) }
                try await Self.lookup(client, token: second, #"{"patient_id": "B7", "resident_id": "\#(card)", "purpose": "x y"}"#) {
                    #expect($0.status == .badRequest)
                }
                // Aggregate roles see no patient.
                for role in [Role.bureau, .alliance, .steward] {
                    try await Self.lookup(client, token: tokens[role]!, #"{"patient_id": "B7", "purpose": "treatment"}"#) { response in
                        #expect(response.status == .forbidden, "\(role)")
                    }
                }
            }
            #expect(try await s.value("""
                SELECT string_agg(f.code || ' ' || coalesce(l.patient_id, '-') || ' ' || l.by_resident_id || ' ' || l.result || ' '
                                  || coalesce(l.reports::text, '-') || ' ' || (l.person_id IS NOT NULL) || ' ' || l.purpose, '; ' ORDER BY l.id)
                FROM audit.lookups l JOIN registry.facilities f ON f.id = l.facility_id
                """) == "H339902001 B7 false allowed 2 true treatment: 复诊; H339902001 B7 true allowed 2 true treatment; "
                        + "H339901002 - true refused - false treatment; H339901002 B7 false not_found - false treatment")

            // An audit row that cannot be written: the lookup fails closed (503) and shows nothing.
            try await s.database.query("ALTER TABLE audit.lookups ADD CONSTRAINT refuse_for_test CHECK (false) NOT VALID")
            try await Fixtures.queryApp(s.database).test(.router) { client in
                try await Self.lookup(client, token: second, #"{"patient_id": "B7", "purpose": "treatment"}"#) { response in
                    #expect(response.status == .serviceUnavailable)
                    #expect(!response.text.contains("RA1") && !response.text.contains("his://"))
                }
            }
            #expect(try await s.value("SELECT count(*)::text FROM audit.lookups") == "4")
        }
    }

    @Test("emergency access: a facility with no record of a person looks up by ID number with a coded purpose and a reason; the grant covers that person, lasts 3 hours, is audited, and is listed for the facilities holding the records")
    func emergencyAccess() async throws {
        try await IngestScenario.run { s in
            try await Self.codes(s.database)
            let night = Self.daysAgo(1)
            let (card, other) = (Extracts.rid("339901", "19800506", 31), Extracts.rid("339901", "19750101", 12))
            try await s.upload([
                "patients.csv": Extracts.patientsHeader + "A1,吴晓燕,2,1980-05-06,RID,\(card),13900002222,清河区解放路3号\n"
                    + "A2,钱伟,1,1975-01-01,RID,\(other),13900004444,清河区解放路5号\n",
                "exams.csv": Self.examsHeader + Self.exam("RA1", "A1", "LAB0001", "LAB", "\(night) 09:00:00"),
            ], facility: Self.first, date: night)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            let (first, third) = (try await s.token(Self.first), try await s.token(Self.third))
            // The lookups read and write through the deployed lookup role.
            try await s.database.query("""
                DO $$ BEGIN CREATE ROLE regio_lookup LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
                """)
            try await MigrationRunner.grantServiceRoles(on: s.database)
            var url = s.database.url
            url.username = "regio_lookup"
            let emergency = #""emergency": {"code": "unconscious", "reason": "送入急诊时昏迷，需查既往检验"}"#
            try await withDatabase(url, name: "lookup", poolSize: 2, logger: TestDatabase.logger) { lookups in
                try await Fixtures.queryApp(s.database, lookups: lookups).test(.router) { client in
                    // Without the emergency: no relationship, refused.
                    try await Self.lookup(client, token: third, #"{"resident_id": "\#(card)", "purpose": "treatment"}"#) {
                        #expect($0.status == .forbidden)
                    }
                    // A bad code, a reason too short, or by the facility's own patient id: refused before anything is read.
                    for body in [#"{"resident_id": "\#(card)", "purpose": "treatment", "emergency": {"code": "curious", "reason": "只是想看看这个患者"}}"#,
                                 #"{"resident_id": "\#(card)", "purpose": "treatment", "emergency": {"code": "unconscious", "reason": "急"}}"#,
                                 #"{"patient_id": "A1", "purpose": "treatment", \#(emergency)}"#] {
                        try await Self.lookup(client, token: third, body) { #expect($0.status == .badRequest, "\(body)") }
                    }
                    // With it: the person's reports, and the grant.
                    try await Self.lookup(client, token: third, #"{"resident_id": "\#(card)", "purpose": "急诊", \#(emergency)}"#) { response in
                        #expect(response.status == .ok, "\(response.text)")
                        let json = try response.json()
                        #expect((json["reports"] as? [[String: Any]])?.map { $0["document_ref"] as? String } == ["his://x/RA1"])
                        #expect((json["emergency"] as? [String: Any])?["code"] as? String == "unconscious")
                        #expect(json["patient_id"] == nil)
                    }
                    // Within the grant, again without a new reason; another person is still refused.
                    try await Self.lookup(client, token: third, #"{"resident_id": "\#(card)", "purpose": "急诊复核"}"#) {
                        #expect($0.status == .ok)
                    }
                    try await Self.lookup(client, token: third, #"{"resident_id": "\#(other)", "purpose": "急诊"}"#) {
                        #expect($0.status == .forbidden)
                    }
                    // The facility holding her record sees the grant, under its own patient id; others see none.
                    try await client.execute(uri: "/v1/lookup/emergency-access", method: .get, headers: Fixtures.bearer(first)) { response in
                        let grants = try #require(try response.json()["grants"] as? [[String: Any]])
                        #expect(grants.count == 1)
                        #expect(grants.first?["by_facility"] as? String == Self.third && grants.first?["patient_id"] as? String == "A1")
                        #expect(grants.first?["reason"] as? String == "送入急诊时昏迷，需查既往检验")
                        #expect(response.headers[.cacheControl] == "no-store")
                    }
                    try await client.execute(uri: "/v1/lookup/emergency-access", method: .get, headers: Fixtures.bearer(third)) { response in
                        let grants = try response.json()["grants"] as? [[String: Any]]
                        #expect(grants?.isEmpty == true)
                    }
                    try await client.execute(uri: "/v1/lookup/emergency-access", method: .get, headers: Fixtures.bearer(tokens[.bureau]!)) {
                        #expect($0.status == .forbidden)
                    }
                }
                // A grant past its time no longer opens the record (moved back by the owner, past the triggers).
                try await s.database.withConnection { connection in
                    try await connection.query("SET session_replication_role = replica", logger: s.database.logger)
                    try await connection.query("UPDATE emr.emergency_grants SET granted_at = granted_at - interval '4 hours', expires_at = expires_at - interval '4 hours'",
                                               logger: s.database.logger)
                    try await connection.query("SET session_replication_role = DEFAULT", logger: s.database.logger)
                }
                try await Fixtures.queryApp(s.database, lookups: lookups).test(.router) { client in
                    try await Self.lookup(client, token: third, #"{"resident_id": "\#(card)", "purpose": "急诊"}"#) {
                        #expect($0.status == .forbidden)
                    }
                }
                await #expect(throws: (any Error).self) { try await lookups.query("DELETE FROM emr.emergency_grants") }
            }
            #expect(try await s.value("""
                SELECT string_agg(l.result || ' ' || coalesce(l.reports::text, '-'), '; ' ORDER BY l.id) FROM audit.lookups l
                """) == "refused -; emergency 1; emergency 1; refused -; refused -")
            #expect(try await s.value("SELECT count(*)::text || ' ' || min(code) || ' ' || min(actor) FROM emr.emergency_grants")
                    == "1 unconscious facility:test")
            #expect(try await s.value("SELECT round(extract(epoch from expires_at - granted_at) / 3600)::text FROM emr.emergency_grants") == "3")
        }
    }

    @Test("the lookup's deployed role may read emr and write lookup audit rows, nothing more")
    func lookupRole() async throws {
        try await IngestScenario.run { s in
            try await s.upload(["patients.csv": Extracts.patientsHeader + "A1,郑丽,2,1988-01-02,,,13900003333,清河区解放路4号\n"],
                               facility: Self.first)
            try await s.database.query("""
                DO $$ BEGIN CREATE ROLE regio_lookup LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
                """)
            try await MigrationRunner.grantServiceRoles(on: s.database)
            var url = s.database.url
            url.username = "regio_lookup"
            let token = try await s.token(Self.first)
            try await withDatabase(url, name: "lookup", poolSize: 2, logger: TestDatabase.logger) { lookups in
                try await Fixtures.queryApp(s.database, lookups: lookups).test(.router) { client in
                    try await Self.lookup(client, token: token, #"{"patient_id": "A1", "purpose": "treatment"}"#) { response in
                        #expect(response.status == .ok, "\(response.text)")
                    }
                }
                for statement in ["SELECT 1 FROM registry.facilities", "SELECT 1 FROM audit.events", "SELECT 1 FROM ingest.batches",
                                  "UPDATE emr.patients SET name = name", "INSERT INTO emr.persons (id_hash) VALUES (NULL)",
                                  "DELETE FROM audit.lookups", "SELECT 1 FROM audit.lookups"] {
                    await #expect(throws: (any Error).self, "\(statement)") {
                        try await lookups.query(PostgresQuery(unsafeSQL: statement))
                    }
                }
            }
            #expect(try await s.value("SELECT actor || ' ' || result FROM audit.lookups") == "facility:test allowed")
        }
    }

    static func post(_ client: some TestClientProtocol, _ token: String, _ uri: String, _ body: String) async throws
        -> (HTTPResponse.Status, [String: Any]) {
        try await client.execute(uri: uri, method: .post, headers: Fixtures.bearer(token) + [.contentType: "application/json"],
                                 body: ByteBuffer(string: body)) { ($0.status, try $0.json()) }
    }

    @Test("stewards link from the review queue, keep apart, split and merge; each is audited, in the history, and survives a relink")
    func stewardDecisions() async throws {
        try await IngestScenario.run { s in
            try await s.upload(PatientIndexTests.patients("""
                A2,陈敏,2,1962-10-09,,,13800000002,清河区人民路8号
                A3,林芳,2,1975-04-04,,,13800000003,清河区人民路9号
                """), facility: Self.first)
            let batch = try await s.upload(PatientIndexTests.patients("""
                B2,陈敏,2,1962-10-09,,,13977776666,西湖区文化路88号
                B3,林芳,2,1975-04-04,,,13977775555,西湖区文化路99号
                """), facility: Self.second)
            let a2 = try #require(try await PatientIndexTests.person(s, Self.first, "A2"))
            let a3 = try #require(try await PatientIndexTests.person(s, Self.first, "A3"))
            #expect(try await PatientIndexTests.person(s, Self.second, "B2") != a2)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            let steward = tokens[.steward]!
            try await Fixtures.queryApp(s.database).test(.router) { client in
                // The queue: each record beside the candidate's records, with the fields' parts.
                let reviews = try await client.execute(uri: "/v1/steward/reviews", method: .get, headers: Fixtures.bearer(steward)) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.cacheControl] == "no-store")
                    return try #require(try response.json()["reviews"] as? [[String: Any]])
                }
                #expect(reviews.count == 2)
                #expect(reviews.allSatisfy { Self.isTimestamp($0["created_at"]) }, "RFC 3339, as the API document says")
                let b2 = try #require(reviews.first { ($0["record"] as? [String: Any])?["patient_id"] as? String == "B2" })
                #expect(((b2["candidate_records"] as? [[String: Any]])?.first?["patient_id"]) as? String == "A2")
                #expect((b2["contributions"] as? [String: Any])?["birth_date"] != nil)
                let b3 = try #require(reviews.first { ($0["record"] as? [String: Any])?["patient_id"] as? String == "B3" })
                // A facility is not a steward.
                try await client.execute(uri: "/v1/steward/reviews", method: .get, headers: Fixtures.bearer(try await s.token(Self.first))) {
                    #expect($0.status == .forbidden)
                }

                var (status, action) = try await Self.post(client, steward, "/v1/steward/reviews/\(b2["id"]!)", #"{"decision": "link", "reason": "同一人，电话已更换"}"#)
                #expect(status == .ok && action["status"] as? String == "done", "\(action)")
                #expect(Self.isTimestamp(action["requested_at"]), "\(action)")
                #expect(try await PatientIndexTests.person(s, Self.second, "B2") == a2)
                (status, action) = try await Self.post(client, steward, "/v1/steward/reviews/\(b2["id"]!)", #"{"decision": "keep_apart", "reason": "again"}"#)
                #expect(status == .conflict, "decided already")

                (status, action) = try await Self.post(client, steward, "/v1/steward/reviews/\(b3["id"]!)", #"{"decision": "keep_apart", "reason": "不同人"}"#)
                #expect(status == .ok, "\(action)")
                #expect(try await PatientIndexTests.person(s, Self.second, "B3") != a3)

                // Split B2 off again, then merge the two persons back.
                (status, action) = try await Self.post(client, steward, "/v1/steward/persons/\(a2)/split",
                                                  #"{"records": [{"facility": "\#(Self.second)", "patient_id": "B2"}], "reason": "误合并"}"#)
                #expect(status == .ok, "\(action)")
                let split = try #require(try await PatientIndexTests.person(s, Self.second, "B2"))
                #expect(split != a2)
                (status, action) = try await Self.post(client, steward, "/v1/steward/persons/\(a2)/split",
                                                  #"{"records": [{"facility": "\#(Self.first)", "patient_id": "A2"}], "reason": "all of it"}"#)
                #expect(status == .conflict, "a split leaves a record behind: \(action)")
                (status, action) = try await Self.post(client, steward, "/v1/steward/persons/\(split)/merge", #"{"into": \#(a2), "reason": "核实为同一人"}"#)
                #expect(status == .ok, "\(action)")
                #expect(try await PatientIndexTests.person(s, Self.second, "B2") == a2)

                try await client.execute(uri: "/v1/steward/persons/\(a2)", method: .get, headers: Fixtures.bearer(steward)) { response in
                    let history = try #require(try response.json()["history"] as? [[String: Any]])
                    #expect(history.filter { $0["patient_id"] as? String == "B2" }.map { $0["method"] as? String }
                            == ["new", "steward", "steward", "steward"])
                    #expect(history.allSatisfy { Self.isTimestamp($0["linked_at"]) }, "\(history)")
                }
            }
            #expect(try await s.value("SELECT string_agg(action, ',' ORDER BY id) FROM audit.events WHERE action LIKE 'mpi.steward.%'")
                    == "mpi.steward.link,mpi.steward.keep_apart,mpi.steward.split,mpi.steward.split,mpi.steward.merge")
            #expect(try await s.value("SELECT count(*)::text FROM emr.link_reviews WHERE decided_at IS NULL") == "0")

            // A relink decides the records again; the stewards' decisions stand.
            _ = try await PersonLinker(database: s.database).resetForRelink(actor: "test")
            try await s.waitUntilLinked(batch.id)
            #expect(try await PatientIndexTests.person(s, Self.second, "B2") == a2)
            #expect(try await PatientIndexTests.person(s, Self.second, "B3") != a3)
            // The patient-index rollup follows, as a rebuild gives it.
            let snapshot = "SELECT string_agg(concat_ws(',', person_id, facilities, records, by_id, probabilistic, by_steward, first_records), ';' ORDER BY person_id) FROM reports.person_index"
            let incremental = try await s.value(snapshot)
            #expect(try await s.value("SELECT count(*)::text FROM reports.person_index WHERE facilities = 2") == "1")
            try await Rollups.rebuildAll(s.database)
            #expect(try await s.value(snapshot) == incremental)
        }
    }
}

extension SharedEMRTests {
    /// An RFC 3339 date-time (`2026-11-22T08:30:00+08:00`, fractional seconds allowed): what the
    /// API document promises, and what `+08` alone is not.
    static func isTimestamp(_ value: Any?) -> Bool {
        guard let text = value as? String else { return false }
        let plain = ISO8601DateFormatter()
        let fractional = ISO8601DateFormatter()
        fractional.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        return plain.date(from: text) != nil || fractional.date(from: text) != nil
    }
}
