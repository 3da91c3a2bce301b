import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// A small region-month, loaded through the real ingestion service, whose every figure is worked
/// out by hand in the comments (all of county 339901 清河区):
///
/// - P339901001 (primary, 20 beds), night 2026-10-05: four outpatient visits of Q1 ×2, Q2, Q3
///   (cost 200, drugs 120) and three referrals: R1 Q1 → H339901001 (up 1→3), R2 Q2 → H339901002
///   (up 1→2), R3 Q3 → P339901002 (lateral). Night 2026-11-06: one visit V5 (cost 80, drugs 40)
///   naming H339901001's referral R9.
/// - H339901001 (tertiary, 1,200 beds), night 2026-11-04: T1 is Q1's person (same resident ID).
///   TE1 outpatient 2026-11-04 = day 30 after R1 → R1 completed (same person, 30 days).
///   TE2 stay 2026-10-20 → 11-02 (13 days; 12 October nights and 1 in November), TE3 a day case
///   discharged on 2026-10-31 (1 day, no night), TE4 admitted 11-03 and still in: nights of
///   11-03 and 11-04. R9 T2 → P339901001 (down 3→1) on 11-02, during TE2: inpatient origin;
///   completed by V5 on day 4 (named).
/// - H339901002 (secondary, 450 beds), night 2026-11-05: S2 is Q2's person; SE1 on 2026-11-05 =
///   day 31 after R2 → R2 not completed. A midnight census: 80 staffed, 60 occupied beds.
///   Night 2025-11-05: one visit of cost 100 (a year earlier; cost per visit 150 now: +50 %).
struct BureauScenario {
    static let a = Extracts.rid("339901", "19800506", 101)
    static let b = Extracts.rid("339901", "19751130", 202)
    static let c = Extracts.rid("339901", "19900101", 303)
    static let encounters = "encounter_id,patient_id,encounter_type,dept_code,dept_name,start_time,end_time,primary_dx,"
        + "total_cost,drug_cost,consumables_cost,referral_from,referral_id,op\n"
    static let referrals = "referral_id,patient_id,to_facility_code,referred_at,reason_dx,status,status_at,op\n"

    static func load(_ s: IngestScenario) async throws {
        try await expectLoaded(s, facility: "H339901002", date: "2025-11-05", [
            "patients.csv": Extracts.patientsHeader + "S2,钱二,2,1975-11-30,RID,\(b),,\n",
            "encounters.csv": encounters + "SE0,S2,O,0301,内科,2025-11-05 09:00:00,2025-11-05 09:30:00,E11.900,100.00,40.00,5.00,,,\n",
        ])
        try await expectLoaded(s, facility: "P339901001", date: "2026-10-05", [
            "patients.csv": Extracts.patientsHeader + """
                Q1,赵一,1,1980-05-06,RID,\(a),,
                Q2,钱二,2,1975-11-30,RID,\(b),,
                Q3,孙三,1,2001-01-15,,,,

                """,
            "encounters.csv": encounters + """
                V1,Q1,O,0301,全科,2026-10-05 09:00:00,2026-10-05 09:20:00,I10.x00,50.00,30.00,0,,,
                V2,Q2,O,0301,全科,2026-10-05 10:00:00,2026-10-05 10:20:00,E11.900,60.00,40.00,0,,,
                V3,Q3,O,0301,全科,2026-10-05 10:30:00,2026-10-05 10:40:00,J06.900,40.00,20.00,0,,,
                V4,Q1,O,0301,全科,2026-10-05 11:00:00,2026-10-05 11:10:00,I10.x00,50.00,30.00,0,,,

                """,
            "referrals.csv": referrals + """
                R1,Q1,H339901001,2026-10-05 11:30:00,I10.x00,SENT,2026-10-05 11:30:00,
                R2,Q2,H339901002,2026-10-05 12:00:00,E11.900,SENT,2026-10-05 12:00:00,
                R3,Q3,P339901002,2026-10-05 12:30:00,J06.900,SENT,,

                """,
        ])
        try await expectLoaded(s, facility: "H339901001", date: "2026-11-04", [
            "patients.csv": Extracts.patientsHeader + """
                T1,赵一,1,1980-05-06,RID,\(a),,
                T2,李红,2,1990-01-01,RID,\(c),,
                T3,周五,1,1950-03-03,,,,

                """,
            "encounters.csv": encounters + """
                TE1,T1,O,0301,内科,2026-11-04 09:00:00,2026-11-04 09:30:00,I10.x00,200.00,100.00,10.00,,,
                TE2,T2,I,0401,外科,2026-10-20 09:00:00,2026-11-02 10:00:00,K35.800,10000.00,4000.00,1500.00,,,
                TE3,T3,I,0301,内科,2026-10-31 08:00:00,2026-10-31 18:00:00,I10.x00,1000.00,200.00,100.00,,,
                TE4,T2,I,0301,内科,2026-11-03 10:00:00,,,3000.00,900.00,300.00,,,

                """,
            "referrals.csv": referrals + "R9,T2,P339901001,2026-11-02 09:00:00,K35.800,SENT,,\n",
        ])
        try await expectLoaded(s, facility: "H339901002", date: "2026-11-05", [
            "patients.csv": Extracts.patientsHeader + "S2,钱二,2,1975-11-30,RID,\(b),,\n",
            "encounters.csv": encounters + "SE1,S2,O,0301,内科,2026-11-05 09:00:00,2026-11-05 09:30:00,E11.900,150.00,50.00,5.00,,,\n",
            "beds.csv": "dept_code,staffed_beds,occupied_beds\n0301,50,40\n0401,30,20\n",
        ])
        try await expectLoaded(s, facility: "P339901001", date: "2026-11-06", [
            "patients.csv": Extracts.patientsHeader + "Q4,吴六,2,1990-01-01,RID,\(c),,\n",
            "encounters.csv": encounters + "V5,Q4,O,0301,全科,2026-11-06 09:00:00,2026-11-06 09:15:00,K35.800,80.00,40.00,0,H339901001,R9,\n",
        ])
    }

    static func expectLoaded(_ s: IngestScenario, facility: String, date: String, _ files: [String: String],
                             sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let batch = try await s.upload(files, facility: facility, date: date)
        #expect(batch.status == .loaded, "\(facility) \(date): \(batch.reason ?? "")", sourceLocation: sourceLocation)
    }

    /// A report as CSV lines without the header, run with a bureau token.
    static func csv(_ s: IngestScenario, _ report: String, _ query: String) async throws -> [String] {
        let token = try await CredentialStore(database: s.database).issue(role: .bureau, scope: nil, label: "b", expiresAt: nil, actor: "t").token
        return try await Fixtures.queryApp(s.database).test(.router) { client in
            try await client.execute(uri: "/v1/reports/\(report)?format=csv&\(query)", method: .get,
                                     headers: Fixtures.bearer(token)) { response -> [String] in
                #expect(response.status == .ok, "\(response.text)")
                return Array(response.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.dropFirst())
            }
        }
    }
}

@Suite("Referrals and the bureau's reports, on a hand-computed fixture")
struct BureauReportTests {
    @Test("referral direction from tiers, completion on day 30 but not 31, named completion, origin, history")
    func referralFindings() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            let findings = try await s.value("""
                SELECT string_agg(concat_ws(':', referral_id, origin, completion_method, completed_encounter_id, completion_days), ' '
                                  ORDER BY referral_id) FROM referral.referrals
                """)
            #expect(findings == "R1:outpatient:same_person:TE1:30 R2:outpatient R3:outpatient R9:inpatient:named:V5:4", "\(findings ?? "")")
            #expect(try await s.value("SELECT string_agg(referral_id || ':' || status, ' ' ORDER BY referral_id) FROM referral.status_history")
                    == "R1:SENT R2:SENT R3:SENT R9:SENT")
        }
    }

    @Test("referrals by facility: counts by direction, 下转患者人次数, rates, completion, median days, tier matrix")
    func referralsByFacility() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            let rows = try await BureauScenario.csv(s, "referrals", "level=facility&from=2026-10&to=2026-11")
            // Columns: sent, up, down, lateral, down outpatient, down inpatient, 下转患者人次数,
            // primary up, primary visits, up rate, upper-tier down, upper-tier discharges, down rate,
            // completed, completion rate, median days, then the tier matrix 1→1 … 3→3.
            #expect(rows == [
                "facility,H339901001,清河市第一人民医院,2026-10,0,0,0,0,0,0,0,0,0,,0,1,0,0,,,0,0,0,0,0,0,0,0,0",
                "facility,H339901001,清河市第一人民医院,2026-11,1,0,1,0,0,1,1,0,0,,1,1,100,1,100,4,0,0,0,0,0,0,1,0,0",
                "facility,H339901002,清河区人民医院,2026-11,0,0,0,0,0,0,0,0,0,,0,0,,0,,,0,0,0,0,0,0,0,0,0",
                "facility,P339901001,湖滨街道社区卫生服务中心,2026-10,3,2,0,1,0,0,0,2,4,50,0,0,,1,33.3,30,1,1,1,0,0,0,0,0,0",
                "facility,P339901001,湖滨街道社区卫生服务中心,2026-11,0,0,0,0,0,0,0,0,1,0,0,0,,0,,,0,0,0,0,0,0,0,0,0",
            ], "\(rows)")
        }
    }

    @Test("referrals sum over the county; the median comes from the summed histogram")
    func referralsByCounty() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            let rows = try await BureauScenario.csv(s, "referrals", "level=county&from=2026-10&to=2026-11")
            #expect(rows == [
                "county,339901,清河区,2026-10,3,2,0,1,0,0,0,2,4,50,0,1,0,1,33.3,30,1,1,1,0,0,0,0,0,0",
                "county,339901,清河区,2026-11,1,0,1,0,0,1,1,0,1,0,1,1,100,1,100,4,0,0,0,0,0,0,1,0,0",
            ], "\(rows)")
        }
    }

    @Test("primary-care share per county: primary visits ÷ all visits")
    func primaryCareShare() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            // October: 4 primary of 4; November: V5 of V5, TE1, SE1.
            #expect(try await BureauScenario.csv(s, "primary-care-share", "from=2026-10&to=2026-11") == [
                "county,339901,清河区,2026-10,4,4,100,65",
                "county,339901,清河区,2026-11,1,3,33.3,65",
            ])
        }
    }

    @Test("efficiency: stays across the month boundary, a last-day discharge, an open stay, census beds, year-on-year")
    func efficiency() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            let rows = try await BureauScenario.csv(s, "efficiency", "from=2026-10&to=2026-11&region=339901")
            // Without a row a year earlier the prior-year columns are empty, not zero.
            #expect(rows == [
                // October: TE3 discharged (1 day); bed-days: TE2's 12 October nights; 1,200 beds × 31.
                "facility,H339901001,清河市第一人民医院,2026-10,1,1,1,stays,12,37200,0,1200,0,1000,200,20,100,10,0,0,,1000,1000,,,,,,",
                // November: TE2 discharged (13 days); bed-days: TE2 1 + TE4 2; 1,200 × 30.
                // Drugs 100 + 4000 of 200 + 10000; consumables 10 + 1500.
                "facility,H339901001,清河市第一人民医院,2026-11,1,13,13,stays,3,36000,0,1200,0,10200,4100,40.2,1510,14.8,1,200,200,10000,10000,,,,,,",
                // The census: 60 of 80 beds on one night. Cost per visit 150 against 100 a year earlier.
                "facility,H339901002,清河区人民医院,2026-11,0,0,,census,60,80,75,80,0,150,50,33.3,5,3.3,1,150,150,0,,1,100,50,0,0,",
                // Primary centres without stays or a census: 20 beds × 31 and × 30 nights, none occupied.
                "facility,P339901001,湖滨街道社区卫生服务中心,2026-10,0,0,,stays,0,620,0,20,0,200,120,60,0,0,4,200,50,0,,,,,,,",
                "facility,P339901001,湖滨街道社区卫生服务中心,2026-11,0,0,,stays,0,600,0,20,0,80,40,50,0,0,1,80,80,0,,,,,,,",
            ], "\(rows)")
        }
    }

    @Test("alerts: bureau thresholds, editable over the admin API, and peers by modified z-score")
    func alerts() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            // Five more primary centres of 清河区 with one visit each in November, drug shares 10–12 %:
            // with P339901001's 50 % the tier's median is 11 and the MAD 1, so its z is 0.6745 × 39.
            for (index, drugs) in [10, 11, 12, 10, 11].enumerated() {
                try await BureauScenario.expectLoaded(s, facility: "P33990100\(index + 2)", date: "2026-11-06", [
                    "patients.csv": Extracts.patientsHeader + "X1,某人,1,1970-01-01,,,,\n",
                    "encounters.csv": BureauScenario.encounters + "X1,X1,O,0301,全科,2026-11-06 09:00:00,,I10.x00,100.00,\(drugs).00,0,,,\n",
                ])
            }
            let rows = try await BureauScenario.csv(s, "alerts", "from=2026-11&to=2026-11")
            #expect(rows == [
                "H339901001,清河市第一人民医院,3,339901,2026-11,drug_share,threshold,40.2,30,40.2,1,,4100,10200",
                "H339901002,清河区人民医院,2,339901,2026-11,cost_per_visit_growth,threshold,50,10,,,,50,100",
                "H339901002,清河区人民医院,2,339901,2026-11,drug_share,threshold,33.33,30,33.33,1,,50,150",
                "P339901001,湖滨街道社区卫生服务中心,1,339901,2026-11,drug_share,peer,50,3.5,11,6,26.31,40,80",
                "P339901001,湖滨街道社区卫生服务中心,1,339901,2026-11,drug_share,threshold,50,30,11,6,,40,80",
            ], "\(rows)")

            // The bureau raises the drug-share threshold to 45 %: only P339901001's alerts remain.
            let tokens = try await DemoRegion.issueTokens(credentials: CredentialStore(database: s.database), actor: "test")
            let bureau = try #require(tokens.first { $0.0 == .bureau }?.2)
            let facility = try #require(tokens.first { $0.0 == .facility }?.2)
            try await Fixtures.queryApp(s.database).test(.router) { client in
                let body = ByteBuffer(string: #"{"threshold": 45}"#)
                try await client.execute(uri: "/v1/admin/thresholds/alert/drug_share", method: .put,
                                         headers: Fixtures.bearer(facility), body: body) { #expect($0.status == .forbidden) }
                try await client.execute(uri: "/v1/admin/thresholds/alert/no_such", method: .put,
                                         headers: Fixtures.bearer(bureau), body: body) { #expect($0.status == .notFound) }
                try await client.execute(uri: "/v1/admin/thresholds/alert/drug_share", method: .put,
                                         headers: Fixtures.bearer(bureau), body: ByteBuffer(string: "{}")) { #expect($0.status == .badRequest) }
                try await client.execute(uri: "/v1/admin/thresholds/alert/drug_share", method: .put,
                                         headers: Fixtures.bearer(bureau), body: body) { response throws in
                    #expect(response.status == .ok)
                    #expect(try response.json()["threshold"] as? Double == 45)
                }
                try await client.execute(uri: "/v1/admin/thresholds", method: .get, headers: Fixtures.bearer(bureau)) { response throws in
                    let list = try #require(try response.json()["thresholds"] as? [[String: Any]])
                    #expect(list.count == 14)
                }
            }
            let after = try await BureauScenario.csv(s, "alerts", "from=2026-11&to=2026-11&tier=1")
            #expect(after.map { $0.components(separatedBy: ",")[6] } == ["peer", "threshold"], "\(after)")
            #expect(try await s.value("SELECT detail->>'threshold' FROM audit.events WHERE action = 'threshold.set'") == "45")
        }
    }

    @Test("data quality: expected, loaded and on-time extracts, rejected rows by code, checks against thresholds")
    func dataQuality() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(50)
            try await BureauScenario.load(s)
            // One bad start time in H339901003's night: 1 of 3 rows rejected, the batch still loads.
            try await BureauScenario.expectLoaded(s, facility: "H339901003", date: "2026-11-04", [
                "patients.csv": Extracts.patientsHeader + "M1,某甲,2,1990-02-02,,,,\n",
                "encounters.csv": BureauScenario.encounters + """
                    M1,M1,O,0301,妇科,2026-11-04 09:00:00,,N76.000,100.00,20.00,5.00,,,
                    M2,M1,O,0301,妇科,2026-11-04 25:00:00,,N76.000,100.00,20.00,5.00,,,

                    """,
            ])
            // Received at 05:30 the next morning (on time) and at 07:00 (late).
            try await s.database.query("""
                UPDATE ingest.batches b SET created_at = CASE f.code WHEN 'H339901001' THEN '2026-11-05 05:30:00+08'::timestamptz
                                                                     ELSE '2026-11-05 07:00:00+08'::timestamptz END
                FROM registry.facilities f WHERE f.id = b.facility_id AND b.business_date = '2026-11-04'
                """)
            let facility = try await BureauScenario.csv(s, "data-quality", "facility=H339901001&from=2026-11-03&to=2026-11-04")
            #expect(facility == [
                "facility,H339901001,清河市第一人民医院,2026-11-03,1,0,0,0,0,0,0,0,,,0,0,",
                // TE4 has no diagnosis, T3 no resident ID, and T2's ID number says male (a warning).
                "facility,H339901001,清河市第一人民医院,2026-11-04,1,1,1,1,100,100,8,0,0,,7,3,"
                    + "\"encounters_without_diagnosis 25.0% > 5%, patients_without_resident_id 33.3% > 30%, warning_rows 12.5% > 10%\"",
            ], "\(facility)")
            // 清河区 has 11 active facilities; two sent 2026-11-04, one of them late.
            let county = try await BureauScenario.csv(s, "data-quality", "level=county&region=339901&from=2026-11-04&to=2026-11-04")
            #expect(county.count == 1)
            #expect(county.first?.hasPrefix("county,339901,清河区,2026-11-04,11,2,2,1,18.2,9.1,11,1,9.09,bad_date 1,") == true, "\(county)")
            // Above facility level each failed check names its facility.
            #expect(county.first?.contains("\"H339901001 encounters_without_diagnosis 25.0% > 5%, H339901001 patients_without_resident_id") == true,
                    "\(county)")
            let checks = try await BureauScenario.csv(s, "data-quality-checks", "facility=H339901003&from=2026-11-04&to=2026-11-04")
            #expect(checks.contains { $0.contains(",rejected_rows,") && $0.hasSuffix(",1,3,33.33,> 5,fail") }, "\(checks)")
            #expect(checks.contains { $0.contains(",stays_over_60_days,") && $0.hasSuffix(",0,0,,> 2,n/a") }, "\(checks)")
        }
    }

    @Test("publication output shows small person counts as <5 and suppresses the ratios built on them")
    func suppression() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            let open = try await BureauScenario.csv(s, "primary-care-share", "from=2026-11&to=2026-11")
            #expect(open == ["county,339901,清河区,2026-11,1,3,33.3,65"])
            let published = try await BureauScenario.csv(s, "primary-care-share", "from=2026-11&to=2026-11&publication=true")
            #expect(published == ["county,339901,清河区,2026-11,<5,<5,,65"])
            // Zero discloses nobody and stays; a ratio whose parts are not small stays too.
            try await s.database.query("UPDATE registry.settings SET value = '2' WHERE key = 'small_cell_threshold'")
            let referrals = try await BureauScenario.csv(s, "referrals", "level=county&from=2026-10&to=2026-10&publication=true")
            #expect(referrals == ["county,339901,清河区,2026-10,3,2,0,<2,0,0,0,2,4,50,0,<2,,<2,,,<2,<2,<2,0,0,0,0,0,0"], "\(referrals)")
        }
    }

    @Test("the incremental refresh equals a full rebuild after corrections, retractions and late completions")
    func incrementalEqualsRebuild() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            // H339901001 retracts TE1 (R1 loses its completion) and corrects TE2's discharge.
            try await BureauScenario.expectLoaded(s, facility: "H339901001", date: "2026-11-07", [
                "encounters.csv": BureauScenario.encounters + """
                    TE1,,,,,,,,,,,,,D
                    TE2,T2,I,0401,外科,2026-10-20 09:00:00,2026-11-01 10:00:00,K35.800,9000.00,3500.00,1500.00,,,

                    """,
            ])
            let snapshot = """
                SELECT (SELECT string_agg(concat_ws(',', facility_id, month, outpatient_visits, emergency_visits, admissions, discharges,
                                                   inpatient_days, outpatient_cost, inpatient_cost, drug_cost, consumables_cost,
                                                   stay_bed_days, census_nights, census_occupied_bed_days, census_staffed_bed_days),
                                         ';' ORDER BY facility_id, month) FROM reports.facility_month)
                    || ' | ' || (SELECT string_agg(concat_ws(',', facility_id, month, from_tier, to_tier, origin, referrals, completed,
                                                            completed_named, completion_days::text), ';'
                                                  ORDER BY facility_id, month, to_tier, origin) FROM reports.referral_month)
                    || ' | ' || (SELECT string_agg(concat_ws(',', referral_id, origin, completion_method, completion_days), ';'
                                                  ORDER BY referral_id) FROM referral.referrals)
                """
            let incremental = try #require(try await s.value(snapshot))
            #expect(incremental.contains("R1,outpatient;"), "R1 is no longer completed: \(incremental)")
            try await Rollups.rebuildAll(s.database)
            #expect(try await s.value(snapshot) == incremental)
        }
    }
}
