import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

@Suite("Rollups and the activity report")
struct ActivityTests {
    /// Two nights of H339901001 with a stay across the month boundary, a discharge on the last day
    /// of a month, a retraction; and H339902001 with an admission only (zero visits).
    func load(_ s: IngestScenario) async throws {
        let october = Extracts.encountersHeader + """
            E1,P001,O,0301,内科,2026-10-31 10:00:00,2026-10-31 10:30:00,I10.x00,100.00,50.00,5.00,
            E2,P002,E,1001,急诊科,2026-10-31 23:30:00,,J06.900,300.00,100.00,20.00,
            E3,P003,I,0401,外科,2026-10-20 09:00:00,2026-10-31 14:00:00,K35.800,8000.00,2000.00,800.00,
            E4,P001,I,0301,内科,2026-10-28 16:00:00,,J18.900,1000.00,300.00,100.00,

            """
        let november = Extracts.encountersHeader + """
            E4,P001,I,0301,内科,2026-10-28 16:00:00,2026-11-02 10:00:00,J18.900,6000.00,2000.00,500.00,
            E5,P002,O,0301,内科,2026-11-02 09:00:00,2026-11-02 09:20:00,I10.x00,80.00,30.00,0,
            E1,,,,,,,,,,,D

            """
        #expect(try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": october], date: "2026-10-31").status == .loaded)
        #expect(try await s.upload(["encounters.csv": november], date: "2026-11-02").status == .loaded)
        let other = Extracts.encountersHeader + "E9,P001,I,0301,内科,2026-11-01 08:00:00,,J18.900,500.00,100.00,10.00,\n"
        #expect(try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": other], facility: "H339902001",
                                   date: "2026-11-01").status == .loaded)
    }

    func rows(_ s: IngestScenario, _ query: String) async throws -> [String] {
        let token = try await CredentialStore(database: s.database).issue(role: .bureau, scope: nil, label: "b", expiresAt: nil, actor: "t").token
        return try await Fixtures.queryApp(s.database).test(.router) { client in
            try await client.execute(uri: "/v1/reports/activity?format=csv&from=2026-10&to=2026-11&\(query)", method: .get,
                                     headers: Fixtures.bearer(token)) { response -> [String] in
                #expect(response.status == .ok)
                return Array(response.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }.dropFirst())
            }
        }
    }

    @Test("activity by facility: month boundaries, last-day discharges, retractions, zero visits")
    func byFacility() async throws {
        try await IngestScenario.run { s in
            try await load(s)
            let got = try await rows(s, "level=facility")
            #expect(got == [
                "facility,H339901001,清河市第一人民医院,2026-10,1,1,0,1,0",
                "facility,H339901001,清河市第一人民医院,2026-11,1,0,1,1,1",
                "facility,H339902001,清河市中医院,2026-11,0,0,0,0,",
            ], "\(got)")
            #expect(try await s.value("SELECT string_agg(to_char(month, 'MM') || ':' || inpatient_days, ' ' ORDER BY month) FROM reports.facility_month WHERE facility_id = (SELECT id FROM registry.facilities WHERE code = 'H339901001')") == "10:11 11:5")
            #expect(try await s.value("SELECT string_agg(to_char(month, 'MM') || ':' || inpatient_cost || '/' || drug_cost, ' ' ORDER BY month) FROM reports.facility_month WHERE facility_id = (SELECT id FROM registry.facilities WHERE code = 'H339901001')") == "10:8000.00/2100.00 11:6000.00/2030.00")
        }
    }

    @Test("activity sums counts over counties and cities and recomputes the ratio from its parts")
    func levels() async throws {
        try await IngestScenario.run { s in
            try await load(s)
            let city = try await rows(s, "level=city")
            #expect(city == [
                "city,339900,清河市,2026-10,1,1,0,1,0",
                "city,339900,清河市,2026-11,1,0,1,1,1",
            ], "\(city)")
            #expect(try await rows(s, "level=county&region=339902") == ["county,339902,东湖区,2026-11,0,0,0,0,"])
            #expect(try await rows(s, "level=tier&tier=3").count == 2)
        }
    }

    @Test("a row corrected into another month, or retracted, leaves the month it was in refreshed")
    func movedAndRetracted() async throws {
        for sideTransactions in [true, false] {
            try await IngestScenario.run(sideTransactions: sideTransactions) { s in
                let visits = "SELECT string_agg(month || ':' || outpatient_visits, ',' ORDER BY month) FROM reports.facility_month WHERE outpatient_visits > 0"
                let encounter = "E1,P001,O,0301,内科,%@ 10:00:00,%@ 10:30:00,I10.x00,100.00,50.00,5.00,\n"
                try await s.upload(["patients.csv": Extracts.patients,
                                    "encounters.csv": Extracts.encountersHeader + String(format: encounter, "2026-10-15", "2026-10-15")],
                                   date: "2026-11-20")
                #expect(try await s.value(visits) == "2026-10-01:1")
                // Only the moved row is sent: nothing else of October is in the batch.
                try await s.upload(["encounters.csv": Extracts.encountersHeader + String(format: encounter, "2026-11-18", "2026-11-18")],
                                   date: "2026-11-21")
                #expect(try await s.value(visits) == "2026-11-01:1", "side transactions: \(sideTransactions)")
                try await s.upload(["encounters.csv": Extracts.encountersHeader + "E1,,,,,,,,,,,D\n"], date: "2026-11-22")
                #expect(try await s.value(visits) == nil, "side transactions: \(sideTransactions)")
            }
        }
    }

    @Test("the incremental refresh equals a full rebuild after corrections and retractions")
    func incrementalEqualsRebuild() async throws {
        try await IngestScenario.run { s in
            try await load(s)
            let snapshot = "SELECT string_agg(concat_ws(',', facility_id, month, outpatient_visits, emergency_visits, admissions, discharges, inpatient_days, outpatient_cost, inpatient_cost, drug_cost, consumables_cost), ';' ORDER BY facility_id, month) FROM reports.facility_month"
            let incremental = try await s.value(snapshot)
            #expect(incremental != nil)
            try await Rollups.rebuildAll(s.database)
            #expect(try await s.value(snapshot) == incremental)
        }
    }
}
