import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegioApp
import RegioCore
import RegioDB
import RegioQuery
import Testing

@Suite("Report catalog and registry-summary")
struct ReportTests {
    @Test("the catalog lists what the caller may run, with titles, parameters and column definitions")
    func catalog() async throws {
        try await TestDatabase.with { database throws in
            let tokens = try await Fixtures.seedDemo(database)
            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/v1/reports", method: .get, headers: Fixtures.bearer(tokens[.bureau]!)) { response in
                    #expect(response.status == .ok)
                    let reports = try #require(try response.json()["reports"] as? [[String: Any]])
                    let summary = try #require(reports.first { $0["id"] as? String == "registry-summary" })
                    let title = try #require(summary["title"] as? [String: String])
                    #expect(title["zh"] == "机构与床位概况")
                    #expect(title["en"] == "Facilities and staffed beds")
                    let columns = try #require(summary["columns"] as? [[String: Any]])
                    #expect(columns.map { $0["name"] as? String } == ["city_code", "city_name", "county_code", "county_name", "tier", "facilities", "staffed_beds"])
                    #expect(columns.last?["unit"] as? String == "beds")
                    #expect(columns.allSatisfy { ($0["definition"] as? String)?.isEmpty == false })
                    let parameters = try #require(summary["parameters"] as? [[String: Any]])
                    #expect(parameters.map { $0["name"] as? String } == ["region", "tier"])
                }
                try await client.execute(uri: "/v1/reports", method: .get, headers: Fixtures.bearer(tokens[.facility]!)) { response in
                    let reports = try #require(try response.json()["reports"] as? [[String: Any]])
                    #expect(!reports.contains { $0["id"] as? String == "registry-summary" })
                }
            }
        }
    }

    /// What registry-summary should say, computed here from the seed list rather than by SQL.
    func expected(tier: FacilityTier? = nil, county: String? = nil) -> [String: (facilities: Int, beds: Int)] {
        var totals: [String: (facilities: Int, beds: Int)] = [:]
        for facility in DemoRegion.facilities
        where (tier == nil || facility.tier == tier) && (county == nil || facility.regionCode == county) {
            let key = "\(facility.regionCode)/\(facility.tier.rawValue)"
            let current = totals[key] ?? (0, 0)
            totals[key] = (current.facilities + 1, current.beds + facility.staffedBeds)
        }
        return totals
    }

    @Test("registry-summary in JSON matches the registry, with region and tier filters")
    func json() async throws {
        try await TestDatabase.with { database throws in
            let tokens = try await Fixtures.seedDemo(database)
            try await Fixtures.queryApp(database).test(.router) { client in
                for (query, tier, county) in [("", nil, nil), ("?tier=1", FacilityTier.primary, nil),
                                              ("?region=339921", nil, "339921"), ("?region=339900&tier=3", .tertiary, nil)] as [(String, FacilityTier?, String?)] {
                    try await client.execute(uri: "/v1/reports/registry-summary\(query)", method: .get,
                                             headers: Fixtures.bearer(tokens[.bureau]!)) { response in
                        #expect(response.status == .ok)
                        #expect(response.headers[.contentType] == "application/json; charset=utf-8")
                        let rows = try #require(try response.json()["rows"] as? [[String: Any]])
                        var actual: [String: (facilities: Int, beds: Int)] = [:]
                        for row in rows {
                            #expect(row["city_name"] as? String == "清河市")
                            let key = "\(row["county_code"] as! String)/\(row["tier"] as! Int)"
                            actual[key] = (row["facilities"] as! Int, row["staffed_beds"] as! Int)
                        }
                        let wanted = expected(tier: tier, county: county)
                        #expect(actual.count == wanted.count, "\(query)")
                        for (key, value) in wanted {
                            #expect(actual[key]?.facilities == value.facilities && actual[key]?.beds == value.beds, "\(query) \(key)")
                        }
                    }
                }
            }
        }
    }

    @Test("registry-summary in CSV has a header and one line per county and tier")
    func csv() async throws {
        try await TestDatabase.with { database throws in
            let tokens = try await Fixtures.seedDemo(database)
            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/v1/reports/registry-summary?format=csv", method: .get,
                                         headers: Fixtures.bearer(tokens[.bureau]!)) { response in
                    #expect(response.status == .ok)
                    #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
                    let lines = response.text.components(separatedBy: "\r\n").filter { !$0.isEmpty }
                    #expect(lines.first == "city_code,city_name,county_code,county_name,tier,facilities,staffed_beds")
                    #expect(lines.count == 1 + expected().count)
                    #expect(lines.contains("339900,清河市,339901,清河区,3,1,1200"))
                }
                // Asking by Accept header works too.
                try await client.execute(uri: "/v1/reports/registry-summary", method: .get,
                                         headers: [.authorization: "Bearer \(tokens[.steward]!)", .accept: "text/csv"]) { response in
                    #expect(response.headers[.contentType] == "text/csv; charset=utf-8")
                }
            }
        }
    }

    @Test("unknown reports, parameters and formats are problems, not 500s; other roles get 403")
    func errors() async throws {
        try await TestDatabase.with { database throws in
            let tokens = try await Fixtures.seedDemo(database)
            try await Fixtures.queryApp(database).test(.router) { client in
                let bureau = Fixtures.bearer(tokens[.bureau]!)
                let cases: [(String, HTTPResponse.Status, String)] = [
                    ("/v1/reports/no-such-report", .notFound, "no report 'no-such-report'"),
                    ("/v1/reports/registry-summary?colour=red", .badRequest, "unknown parameter 'colour'"),
                    ("/v1/reports/registry-summary?tier=4", .badRequest, "parameter 'tier': expected 1, 2 or 3, got '4'"),
                    ("/v1/reports/registry-summary?region=abc", .badRequest, "parameter 'region'"),
                    ("/v1/reports/registry-summary?format=xml", .badRequest, "format must be json or csv"),
                ]
                for (uri, status, detail) in cases {
                    try await client.execute(uri: uri, method: .get, headers: bureau) { response in
                        let body = try response.json()
                        #expect(response.status == status, "\(uri)")
                        #expect(response.headers[.contentType] == "application/problem+json")
                        #expect((body["detail"] as? String)?.contains(detail) == true, "\(uri): \(response.text)")
                        #expect(body["status"] as? Int == Int(status.code))
                    }
                }
                for role in [Role.facility, .alliance] {
                    try await client.execute(uri: "/v1/reports/registry-summary", method: .get, headers: Fixtures.bearer(tokens[role]!)) {
                        #expect($0.status == .forbidden)
                    }
                }
                for role in [Role.bureau, .steward, .admin] {
                    try await client.execute(uri: "/v1/reports/registry-summary", method: .get, headers: Fixtures.bearer(tokens[role]!)) {
                        #expect($0.status == .ok)
                    }
                }
            }
        }
    }

    @Test("every catalog entry's SQL returns exactly its declared columns")
    func columnsMatch() async throws {
        try await IngestScenario.run { s in
            try await BureauScenario.load(s)
            // The same person's blood count at two facilities three days apart: a repeat.
            try await SharedEMRTests.codes(s.database)
            try await s.upload(["exams.csv": SharedEMRTests.examsHeader + SharedEMRTests.exam("XR1", "Q1", "LAB0001", "LAB", "2026-10-06 09:00:00")],
                               facility: "P339901001", date: "2026-10-06")
            try await s.upload(["exams.csv": SharedEMRTests.examsHeader + SharedEMRTests.exam("XR2", "T1", "LAB0001", "LAB", "2026-10-09 09:00:00")],
                               facility: "H339901001", date: "2026-11-05")
            // Purchases, the catalogue and agreements, for the alliance reports.
            try await ProcurementTests.seed(s)
            let runner = try ReportRunner(database: s.database, reports: ReportCatalog.all)
            let admin = Identity(tokenID: 0, role: .admin, label: "test")
            for report in ReportCatalog.all {
                let binds = try report.binds(for: [], caller: admin).get()
                let result = try await runner.run(report, binds: binds, scope: .region)
                #expect(!result.rows.isEmpty, "\(report.id) returned no rows on the demo region")
            }
        }
    }
}
