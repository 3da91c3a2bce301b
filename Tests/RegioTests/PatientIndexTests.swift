import Foundation
import PostgresNIO
import RegioCore
import RegioDB
import Testing

@testable import RegioPipeline

/// The patient index in the database: records of different facilities linked after their batch
/// loads, over real HTTP into a real PostgreSQL.
@Suite("Patient index: linking stored records")
struct PatientIndexTests {
    static let (first, second) = ("H339901001", "H339902001")

    static func patients(_ rows: String) -> [String: String] {
        ["patients.csv": Extracts.patientsHeader + rows + "\n"]
    }

    static func person(_ s: IngestScenario, _ facility: String, _ patient: String) async throws -> String? {
        try await s.value("""
            SELECT p.person_id::text FROM emr.patients p JOIN registry.facilities f ON f.id = p.facility_id
            WHERE f.code = '\(facility)' AND p.patient_id = '\(patient)'
            """)
    }

    @Test("records without ID numbers are linked across facilities, with method, score and each field's part; the batch says when")
    func linkedWithoutIDNumbers() async throws {
        try await IngestScenario.run { s in
            let a = try await s.upload(Self.patients("A1,王小明,1,1970-03-04,,,13900001111,清河区解放路1号"), facility: Self.first)
            let b = try await s.upload(Self.patients("B7,王小明,1,1970-03-04,,,13900001111,清河区解放路1号"), facility: Self.second)
            #expect(a.status == .loaded && b.status == .loaded)
            let personA = try await Self.person(s, Self.first, "A1")
            #expect(personA != nil)
            #expect(try await Self.person(s, Self.second, "B7") == personA)
            #expect(try await s.value("SELECT string_agg(method, ',' ORDER BY id) FROM emr.person_links") == "new,probabilistic")
            let parts = try #require(try await s.value("""
                SELECT contributions::text FROM emr.person_links WHERE patient_id = 'B7'
                """))
            for field in ["\"name\": {\"level\": \"exact\"", "\"birth_date\": {\"level\": \"exact\"", "\"phone\": {\"level\": \"exact\"",
                          "\"sex\": {\"level\": \"agree\"", "\"address\": {\"level\": \"same\""] {
                #expect(parts.contains(field), "\(parts)")
            }
            #expect(try await s.value("SELECT (score >= 15)::text FROM emr.person_links WHERE patient_id = 'B7'") == "true")
            // The batch shows when its records were linked, in the API too.
            #expect(try await s.value("SELECT count(*)::text FROM ingest.batches WHERE linked_at >= finished_at") == "2")
            let shown = try await BatchStore(database: s.database).batch(id: b.id)
            #expect(shown?.linkedAt != nil)
        }
    }

    @Test("one person in simplified and in traditional characters is linked; two people with one name and birth date are kept apart, for review")
    func simplifiedTraditionalAndNamesakes() async throws {
        try await IngestScenario.run { s in
            try await s.upload(Self.patients("""
                A1,张伟,1,1980-05-06,,,13800000001,清河区解放路1号
                A2,陈敏,2,1962-10-09,,,13800000002,清河区人民路8号
                """), facility: Self.first)
            try await s.upload(Self.patients("""
                B1,張偉,1,1980-05-06,,,13800000001,清河区解放路1号
                B2,陈敏,2,1962-10-09,,,13977776666,西湖区文化路88号
                """), facility: Self.second)
            #expect(try await Self.person(s, Self.second, "B1") == (try await Self.person(s, Self.first, "A1")))
            // The same name and birth date, nothing else alike: another person, and a review.
            #expect(try await Self.person(s, Self.second, "B2") != (try await Self.person(s, Self.first, "A2")))
            #expect(try await s.value("""
                SELECT r.reason || ' ' || (r.candidate_person = a.person_id)::text FROM emr.link_reviews r
                JOIN emr.patients a ON a.patient_id = 'A2' WHERE r.patient_id = 'B2' AND r.decided_at IS NULL
                """) == "score true")
        }
    }

    @Test("a correction re-links the record, and its history says who it was linked to at any time")
    func relinkAfterCorrection() async throws {
        try await IngestScenario.run { s in
            try await s.upload(Self.patients("A1,李娜,2,1990-02-03,,,13811112222,清河区解放路9号"), facility: Self.first)
            try await s.upload(Self.patients("B1,李娜,2,1990-02-03,,,13811112222,清河区解放路9号"), facility: Self.second, date: "2026-11-22")
            let shared = try #require(try await Self.person(s, Self.first, "A1"))
            #expect(try await Self.person(s, Self.second, "B1") == shared)
            let linkedAt = try #require(try await s.value("SELECT max(linked_at)::text FROM emr.person_links WHERE patient_id = 'B1'"))
            try await Task.sleep(for: .milliseconds(20))
            // The facility corrects the record: another patient was meant.
            try await s.upload(Self.patients("B1,李雪,2,2001-07-21,,,13655556666,西湖区文化路3号"), facility: Self.second, date: "2026-11-23")
            let now = try #require(try await Self.person(s, Self.second, "B1"))
            #expect(now != shared)
            #expect(try await Self.person(s, Self.first, "A1") == shared, "the other record keeps its person")
            // Who was B1 linked to then, and now?
            let asOf = { (time: String) in
                try await s.value("""
                    SELECT person_id::text FROM emr.person_links WHERE patient_id = 'B1' AND linked_at <= '\(time)'
                    ORDER BY linked_at DESC, id DESC LIMIT 1
                    """)
            }
            #expect(try await asOf(linkedAt) == shared)
            #expect(try await asOf("infinity") == now)
            #expect(try await s.value("SELECT string_agg(method, ',' ORDER BY id) FROM emr.person_links WHERE patient_id = 'B1'")
                    == "probabilistic,new")
            // The history cannot be edited.
            await #expect(throws: (any Error).self) {
                try await s.database.query("UPDATE emr.person_links SET person_id = NULL")
            }
            await #expect(throws: (any Error).self) {
                try await s.database.query("TRUNCATE emr.person_links")
            }
        }
    }

    @Test("a child registered with a parent's ID card keeps the card's person, and goes to review")
    func parentsCard() async throws {
        try await IngestScenario.run { s in
            let card = Extracts.rid("339901", "19850302", 11)
            try await s.upload(Self.patients("A1,李强,1,1985-03-02,RID,\(card),13800000001,清河区解放路1号"), facility: Self.first)
            let child = try await s.upload(Self.patients("B1,李子涵,2,2016-09-21,RID,\(card),13800000001,清河区解放路1号"),
                                           facility: Self.second)
            #expect(child.status == .loaded)
            #expect(try await Self.person(s, Self.second, "B1") == (try await Self.person(s, Self.first, "A1")), "linked by the number")
            #expect(try await s.value("SELECT reason FROM emr.link_reviews WHERE patient_id = 'B1' AND decided_at IS NULL") == "id_conflict")
            #expect(try await s.value("SELECT method FROM emr.person_links WHERE patient_id = 'B1'") == "id")
        }
    }

    @Test("a link found after the batch loaded completes the referral it decides")
    func referralCompletedByLink() async throws {
        try await IngestScenario.run { s in
            // The first facility refers a patient without an ID number to the second …
            try await s.upload([
                "patients.csv": Extracts.patientsHeader + "A1,赵建国,1,1958-12-01,,,13700001234,清河区解放路5号\n",
                "referrals.csv": "referral_id,patient_id,to_facility_code,referred_at,reason_dx,status,status_at,op\n"
                    + "F1,A1,\(Self.second),2026-11-22 09:10:00,I10.x00,SENT,2026-11-22 09:10:00,\n",
            ], facility: Self.first)
            #expect(try await s.value("SELECT coalesce(completed_encounter_id, '-') FROM referral.referrals WHERE referral_id = 'F1'") == "-")
            // … which sees him the next day under its own id, also without one.
            try await s.upload([
                "patients.csv": Extracts.patientsHeader + "B9,赵建国,1,1958-12-01,,,13700001234,清河区解放路5号\n",
                "encounters.csv": Extracts.encountersHeader
                    + "EB1,B9,O,0301,内科,2026-11-23 08:30:00,2026-11-23 09:00:00,I10.x00,120.50,60.00,5.00,\n",
            ], facility: Self.second, date: "2026-11-23")
            #expect(try await Self.person(s, Self.second, "B9") == (try await Self.person(s, Self.first, "A1")))
            #expect(try await s.value("SELECT completed_encounter_id FROM referral.referrals WHERE referral_id = 'F1'") == "EB1")
            // The referral rollups count the completion, as a rebuild from the core tables does.
            let snapshot = """
                SELECT string_agg(concat_ws(',', facility_id, month, from_tier, to_tier, origin, referrals, completed,
                                            completed_named, completion_days::text), ';' ORDER BY facility_id, month, to_tier, origin)
                FROM reports.referral_month
                """
            let incremental = try #require(try await s.value(snapshot))
            #expect(incremental.contains(",outpatient,1,1,0,"), "one referral, completed (not by name): \(incremental)")
            try await Rollups.rebuildAll(s.database)
            #expect(try await s.value(snapshot) == incremental)
        }
    }

    @Test("relinking after a change of thresholds decides every record again and keeps the history")
    func relinkAfterRuleChange() async throws {
        try await IngestScenario.run { s in
            let a = try await s.upload(Self.patients("A1,孙丽,2,1983-08-14,,,13512345678,清河区胜利路7号"), facility: Self.first)
            let b = try await s.upload(Self.patients("B1,孙莉,2,1983-08-14,,,,"), facility: Self.second)
            let shared = try #require(try await Self.person(s, Self.first, "A1"))
            #expect(try await Self.person(s, Self.second, "B1") == shared, "a homophone, the same birth date and sex")
            // The region raises the bar: a homophone and a birth date are no longer enough.
            try await s.database.query("UPDATE registry.settings SET value = '25' WHERE key = 'link_threshold'")
            #expect(try await PersonLinker(database: s.database).resetForRelink(actor: "test") == 2)
            try await s.waitUntilLinked(a.id)
            try await s.waitUntilLinked(b.id)
            #expect(try await Self.person(s, Self.first, "A1") == shared, "the first record keeps its person")
            let apart = try #require(try await Self.person(s, Self.second, "B1"))
            #expect(apart != shared)
            #expect(try await s.value("SELECT string_agg(method || ':' || (person_id = \(shared))::text, ',' ORDER BY id) FROM emr.person_links WHERE patient_id = 'B1'")
                    == "probabilistic:true,new:false")
            #expect(try await s.value("SELECT reason FROM emr.link_reviews WHERE patient_id = 'B1' AND decided_at IS NULL") == "score")
            #expect(try await s.value("SELECT count(*)::text FROM audit.events WHERE action = 'mpi.relink'") == "1")
        }
    }

    @Test("a region's own m and u (emr.match_weights) decide the links after a relink")
    func regionWeights() async throws {
        try await IngestScenario.run { s in
            let a = try await s.upload(Self.patients("A1,孙丽,2,1983-08-14,,,13512345678,清河区胜利路7号"), facility: Self.first)
            let b = try await s.upload(Self.patients("B1,孙莉,2,1983-08-14,,,13512345678,清河区胜利路7号"), facility: Self.second)
            let shared = try #require(try await Self.person(s, Self.first, "A1"))
            #expect(try await Self.person(s, Self.second, "B1") == shared, "a homophone, the same birth date, phone and address")
            // The region judges a homophone of the given name to say nothing of a match, a shared
            // phone little more, and an address nothing.
            try await s.database.query("""
                INSERT INTO emr.match_weights (field, level, m, u) VALUES
                    ('name', 'homophone', 0.01, 0.5), ('phone', 'exact', 0.05, 0.04), ('address', 'same', 0.05, 0.05), ('name', 'nonsense', 0.5, 0.5)
                """)
            let model = try await s.database.withConnection { try await PersonLinker(database: s.database).model(on: $0) }
            #expect(model.level(.name, "homophone").weight < 0)
            #expect(model.levels.count == MatchModel.standard.levels.count, "a row naming no level is ignored")
            _ = try await PersonLinker(database: s.database).resetForRelink(actor: "test")
            try await s.waitUntilLinked(a.id)
            try await s.waitUntilLinked(b.id)
            #expect(try await Self.person(s, Self.second, "B1") != shared)
        }
    }
}
