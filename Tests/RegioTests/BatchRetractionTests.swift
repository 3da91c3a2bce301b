import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegioApp
import RegioCore
import RegioDB
@testable import RegioPipeline
import Testing

/// A wrong batch taken back: the core tables, referral statuses and rollups as they were before
/// it, and the facility's corrected night loading afterwards.
@Suite("Batch retraction")
struct BatchRetractionTests {
    static let facility = "H339901001"

    static let exams = "report_id,patient_id,exam_code,code_system,exam_name,category,performed_at,summary,document_ref\n"
    static let purchases = "line_id,item_code,code_system,item_name,purchase_unit,pack_size,base_unit,unit_price,quantity,amount,supplier,purchase_date\n"
    static let beds = "dept_code,staffed_beds,occupied_beds\n"
    static let referrals = "referral_id,patient_id,to_facility_code,referred_at,reason_dx,status,status_at,op\n"

    /// The night every other is measured against.
    static let firstNight: [String: String] = [
        "patients.csv": Extracts.patients,
        "encounters.csv": Extracts.encounters,
        "exams.csv": exams + """
            R1,P001,LAB0001,REGIONAL,血常规,LAB,2026-11-22 09:00:00,正常,his://H339901001/R1
            R2,P002,RAD0001,REGIONAL,胸部CT,IMAGING,2026-11-20 09:00:00,未见异常,his://H339901001/R2

            """,
        "purchases.csv": purchases + "L1,X1,NHSA,药,盒,30,片,12.50,4,50.00,供应商,2026-11-22\nL2,X2,NHSA,药,盒,10,片,8.00,2,16.00,供应商,2026-11-22\n",
        "beds.csv": beds + "0301,50,40\n0401,30,20\n",
        "referrals.csv": referrals + "F1,P001,H339902001,2026-11-22 09:10:00,I10.x00,SENT,2026-11-22 09:10:00,\n",
    ]

    /// A night sent wrong: every kind changes a stored row, retracts one or adds one.
    static let wrongNight: [String: String] = [
        "patients.csv": Extracts.patients.replacingOccurrences(of: "P001,张三", with: "P001,张叁") + "P004,赵六,2,1990-02-02,,,,\n",
        "encounters.csv": Extracts.encountersHeader + """
            E001,P001,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,999.00,60.00,5.00,
            E003,P003,E,1001,急诊科,2026-11-22 23:10:00,,J06.900,300.00,100.00,20.00,D
            E004,P004,O,0301,内科,2026-11-29 08:30:00,2026-11-29 09:00:00,I10.x00,80.00,30.00,0.00,

            """,
        "exams.csv": exams + "R1,P001,LAB0001,REGIONAL,血常规,LAB,2026-11-22 09:00:00,白细胞偏高,his://H339901001/R1\n",
        "purchases.csv": purchases + "L1,X1,NHSA,药,盒,30,片,99.50,4,398.00,供应商,2026-11-22\n",
        "beds.csv": beds + "0301,50,49\n",
        "referrals.csv": referrals + """
            F1,P001,H339902001,2026-11-22 09:10:00,I10.x00,CANCELLED,2026-11-29 10:00:00,
            F2,P004,H339902001,2026-11-29 09:10:00,I10.x00,SENT,2026-11-29 09:10:00,

            """,
    ]

    @Test("a retracted batch leaves the core tables, referral statuses and rollups as before it; the corrected night then loads")
    func retractAndCorrect() async throws {
        try await IngestScenario.run { s in
            let first = try await s.upload(Self.firstNight, date: "2026-11-22")
            let firstIssues = try await s.issues(first.id)
            #expect(first.status == .loaded, "\(first.reason ?? "") \(firstIssues)")
            let before = try await s.coreFingerprint()
            let rollupsBefore = try await Self.rollups(s)
            let historyBefore = try await s.value("SELECT string_agg(concat_ws(':', referral_id, status), ' ' ORDER BY referral_id, status) FROM referral.status_history")

            let wrong = try await s.upload(Self.wrongNight, date: "2026-11-30")
            #expect(wrong.status == .loaded, "\(wrong.reason ?? "")")
            #expect(try await s.coreFingerprint() != before)
            #expect(try await Self.rollups(s) != rollupsBefore, "the wrong night changes the rollups")
            #expect(try await s.value("SELECT count(*)::text FROM ingest.superseded_rows WHERE batch_id = \(wrong.id)") != "0",
                    "the rows the wrong night replaced are kept")

            // Only a steward or an admin retracts, and says why.
            let facilityToken = try await s.token(Self.facility)
            let steward = try await CredentialStore(database: s.database).issue(role: .steward, scope: nil, label: "质控科", expiresAt: nil, actor: "test").token
            try await s.client.execute(uri: "/v1/batches/\(wrong.id)/retract", method: .post, headers: Fixtures.bearer(facilityToken),
                                       body: ByteBuffer(string: #"{"reason": "wrong"}"#)) { #expect($0.status == .forbidden) }
            try await s.client.execute(uri: "/v1/batches/\(wrong.id)/retract", method: .post, headers: Fixtures.bearer(steward),
                                       body: ByteBuffer(string: "{}")) { #expect($0.status == .badRequest) }
            try await s.client.execute(uri: "/v1/batches/\(wrong.id)/retract", method: .post, headers: Fixtures.bearer(steward),
                                       body: ByteBuffer(string: #"{"reason": "sent with the wrong business date"}"#)) { response in
                #expect(response.status == .ok, "\(String(buffer: response.body))")
                let tables = try #require(try response.json()["tables"] as? [[String: Any]])
                let counts = Dictionary(uniqueKeysWithValues: tables.map { ($0["table"] as! String, "\($0["removed"]!)/\($0["restored"]!)") })
                #expect(counts["emr.patients"] == "2/1", "P001 changed (its old version back), P004 new: \(counts)")
                #expect(counts["emr.encounters"] == "2/2", "E001 changed, E004 new; E001 and the retracted E003 back: \(counts)")
                #expect(counts["emr.exams"] == "1/1", "\(counts)")
                #expect(counts["procurement.purchases"] == "1/1", "\(counts)")
                #expect(counts["emr.bed_census"] == "1/0", "the wrong night's census is its own: \(counts)")
                #expect(counts["referral.referrals"] == "2/1", "\(counts)")
            }

            #expect(try await s.coreFingerprint() == before, "every core table as before the wrong night")
            let rollupsAfter = try await Self.rollups(s)
            #expect(rollupsAfter == rollupsBefore, "the rollups as before the wrong night")
            try await Rollups.rebuildAll(s.database)
            let rebuilt = try await Self.rollups(s)
            #expect(rebuilt == rollupsBefore, "and as a full rebuild makes them: \(rollupsBefore) | \(rollupsAfter) | \(rebuilt)")
            #expect(try await s.value("SELECT string_agg(concat_ws(':', referral_id, status), ' ' ORDER BY referral_id, status) FROM referral.status_history")
                    == historyBefore)
            #expect(try await s.value("SELECT count(*)::text FROM ingest.superseded_rows WHERE batch_id = \(wrong.id)") == "0")
            #expect(try await s.value("SELECT status || ' ' || reason FROM ingest.batches WHERE id = \(wrong.id)")
                    == "retracted retracted by steward:质控科: sent with the wrong business date")
            #expect(try await s.value("SELECT actor || ' ' || action FROM audit.events WHERE subject = '\(wrong.id)' AND action = 'batch.retracted'")
                    == "steward:质控科 batch.retracted")
            try await s.client.execute(uri: "/v1/batches/\(wrong.id)/retract", method: .post, headers: Fixtures.bearer(steward),
                                       body: ByteBuffer(string: #"{"reason": "again"}"#)) { response in
                let detail = try response.json()["detail"] as? String ?? ""
                #expect(response.status == .conflict)
                #expect(detail.contains("is retracted; only a loaded batch"), "\(detail)")
            }

            // The corrected night, for an earlier date than the wrong one, is no longer "older".
            let corrected = try await s.upload(["patients.csv": Extracts.patients.replacingOccurrences(of: "P001,张三", with: "P001,张三丰")],
                                               date: "2026-11-23")
            #expect(corrected.status == .loaded)
            #expect(corrected.files.first?.updated == 1, "\(corrected.files)")
            #expect(try await s.value("SELECT name FROM emr.patients WHERE patient_id = 'P001'") == "张三丰")

            // Newest first: the first night waits for the correction to be retracted.
            try await s.client.execute(uri: "/v1/batches/\(first.id)/retract", method: .post, headers: Fixtures.bearer(steward),
                                       body: ByteBuffer(string: #"{"reason": "test"}"#)) { response in
                let detail = try response.json()["detail"] as? String ?? ""
                #expect(response.status == .conflict)
                #expect(detail.contains("retract \(corrected.id) first"), "\(detail)")
            }
            // From the command line, as an administrator would.
            let cli = try RegioProcess.run(["batch", "retract", "\(corrected.id)", "--reason", "test of the command"], database: s.database.url)
            #expect(cli.status == 0, "\(cli.stdout)\(cli.stderr)")
            #expect(cli.stdout.contains("batch \(corrected.id) of \(Self.facility) for 2026-11-23 retracted"), "\(cli.stdout)")
            #expect(cli.stdout.contains("emr.patients: 1 rows removed, 1 restored"), "\(cli.stdout)")
            #expect(try await s.coreFingerprint() == before)
            #expect(try await s.value("SELECT actor FROM audit.events WHERE subject = '\(corrected.id)' AND action = 'batch.retracted'") == "cli:tester")
        }
    }

    @Test("the rows a batch replaced are kept for the region's retraction_days, then dropped; an older batch cannot be retracted")
    func retentionWindow() async throws {
        try await IngestScenario.run { s in
            let first = try await s.upload(Self.firstNight, date: "2026-11-22")
            let second = try await s.upload(Self.wrongNight, date: "2026-11-30")
            #expect(second.status == .loaded)
            // The second night decided long ago: the next loaded batch of the facility drops what it kept.
            try await s.database.query("UPDATE ingest.batches SET finished_at = now() - interval '40 days' WHERE id IN (\(first.id), \(second.id))")
            #expect(try await s.value("SELECT count(*)::text FROM ingest.superseded_rows WHERE batch_id = \(second.id)") != "0")
            let third = try await s.upload(["patients.csv": Extracts.patients], date: "2026-12-01")
            #expect(third.status == .loaded)
            #expect(try await s.value("SELECT count(*)::text FROM ingest.superseded_rows WHERE batch_id = \(second.id)") == "0")
            _ = try await BatchRetraction(database: s.database).retract(id: third.id, actor: "test", reason: "test")
            await #expect(throws: BatchRetraction.Problem.tooOld(second.id, days: 31)) {
                try await BatchRetraction(database: s.database).retract(id: second.id, actor: "test", reason: "test")
            }
        }
    }

    /// Every rollup row (but when it was refreshed) and every referral finding, as one text.
    static func rollups(_ s: IngestScenario) async throws -> String {
        var parts: [String] = []
        for table in ["reports.facility_month", "reports.referral_month"] {
            parts.append(try await s.value("""
                SELECT coalesce(string_agg(r::text, '|' ORDER BY r::text), '-') FROM (SELECT to_jsonb(t) - 'refreshed_at' AS r FROM \(table) t) x
                """) ?? "-")
        }
        parts.append(try await s.value("""
            SELECT coalesce(string_agg(concat_ws(':', referral_id, origin, completion_method, completed_encounter_id, completion_days), ' '
                                       ORDER BY referral_id), '-') FROM referral.referrals
            """) ?? "-")
        return parts.joined(separator: " ")
    }
}
