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

/// Procurement alliances over real HTTP into a real PostgreSQL: purchase lines uploaded by members,
/// the catalogue, agreements and stewards' decisions, and the four alliance reports checked against
/// figures worked out by hand below.
@Suite("Procurement: comparable prices, agreements, the alliance reports")
struct ProcurementTests {
    static let alliance = DemoRegion.allianceCode
    /// Members of the demo alliance.
    static let (first, second, third, fourth, fifth) = ("H339901001", "H339902001", "H339901002", "H339901003", "H339902002")
    /// A community centre outside the demo alliance, member of another alliance.
    static let outsider = "P339901001"
    /// Two products of one generic group: the selected one (A, 28 per box) and another (B, 7 per box).
    static let (itemA, itemB) = ("XC08CAA096A001010102104", "XC08CAA096B001010107777")

    static let catalogue = """
        national_code,category,generic_name,generic_group,dosage_form,strength,spec,pack_size,pack_unit,base_unit,manufacturer
        \(itemA),drug,苯磺酸氨氯地平片,amlodipine-5mg-oral,片剂,5mg,5mg*28片/盒,28,盒,片,辉瑞制药
        \(itemB),drug,苯磺酸氨氯地平片,amlodipine-5mg-oral,片剂,5mg,5mg*7片/盒,7,盒,片,京新药业

        """

    static let purchasesHeader = "line_id,item_code,code_system,item_name,spec,manufacturer,purchase_unit,pack_size,base_unit,unit_price,quantity,amount,supplier,purchase_date,invoice_no,vbp,op\n"

    /// A purchase line of item A (a box of 28 unless told) or B (a box of 7).
    static func line(_ id: String, _ item: String, price: String, quantity: Int, date: String, unit: String = "盒",
                     pack: Int? = nil, spec: String? = nil, system: String = "NHSA", name: String = "苯磺酸氨氯地平片",
                     op: String = "") -> String {
        let isA = item == itemA || system == "LOCAL"
        let pack = pack ?? (isA ? 28 : 7)
        let spec = spec ?? (isA ? "5mg*28片/盒" : "5mg*7片/盒")
        return "\(id),\(item),\(system),\(name),\(spec),辉瑞制药,\(unit),\(pack),片,\(price),\(quantity),,国药控股,\(date),,0,\(op)\n"
    }

    /// Item A: October, each member's price per 片 — first 0.5 and 0.6 (0.55 weighted), second 0.7,
    /// third 0.4, fourth 0.6 (a case of 10 boxes: another pack, the same price per 片), fifth's line
    /// flagged (bought per box at pack size 1 against a spec of 28 per box). November (agreed price
    /// 0.45 in force): first 0.45, second 0.55. December (no agreement): the same.
    /// Item B (7 per box), October and November: first 1.00 × 3 lines, second 1.02 × 2, third 0.98,
    /// fourth 2.00 in October and 1.30 in November.
    static func extracts() -> [(facility: String, lines: String)] {
        [
            (first, line("L1", itemA, price: "14.00", quantity: 10, date: "2026-10-05")
                + line("L2", itemA, price: "16.80", quantity: 10, date: "2026-10-20")
                + line("L7", itemA, price: "12.60", quantity: 10, date: "2026-11-05")
                + line("L9", itemA, price: "12.60", quantity: 10, date: "2026-12-01")
                + (1...3).map { line("B1\($0)", itemB, price: "7.00", quantity: 10, date: "2026-10-0\($0)") }.joined()
                + (1...3).map { line("B2\($0)", itemB, price: "7.00", quantity: 10, date: "2026-11-0\($0)") }.joined()),
            (second, line("L3", itemA, price: "19.60", quantity: 10, date: "2026-10-06")
                + line("L8", itemA, price: "15.40", quantity: 10, date: "2026-11-06")
                + line("L10", itemA, price: "15.40", quantity: 10, date: "2026-12-02")
                + (1...2).map { line("B1\($0)", itemB, price: "7.14", quantity: 10, date: "2026-10-1\($0)") }.joined()
                + (1...2).map { line("B2\($0)", itemB, price: "7.14", quantity: 10, date: "2026-11-1\($0)") }.joined()),
            (third, line("L4", itemA, price: "11.20", quantity: 20, date: "2026-10-07")
                + line("B11", itemB, price: "6.86", quantity: 10, date: "2026-10-15")
                + line("B21", itemB, price: "6.86", quantity: 10, date: "2026-11-15")),
            (fourth, line("L5", itemA, price: "168.00", quantity: 2, date: "2026-10-08", unit: "件", pack: 280)
                + line("B11", itemB, price: "14.00", quantity: 10, date: "2026-10-16")
                + line("B21", itemB, price: "9.10", quantity: 10, date: "2026-11-16")),
            (fifth, line("L6", itemA, price: "14.00", quantity: 3, date: "2026-10-09", pack: 1)),
            (outsider, line("L1", itemA, price: "25.20", quantity: 10, date: "2026-10-05")),
        ]
    }

    /// The catalogue, a second alliance of the outsider, the agreed price of A for November 2026
    /// and commitments to A over October 2026 – March 2027; then every member's purchases.
    static func seed(_ s: IngestScenario) async throws {
        let store = ProcurementStore(database: s.database)
        _ = try await store.importItems(try CatalogItemImport.parse(catalogue).get(), actor: "test")
        let registry = RegistryStore(database: s.database)
        try await registry.upsertAlliance(code: "NS-ALLIANCE", name: "南山社区联盟", actor: "test")
        try await registry.addMembers(alliance: "NS-ALLIANCE", facilities: [outsider], actor: "test")
        _ = try await store.importAgreedPrices(try AgreedPriceImport.parse("""
            alliance,national_code,price,valid_from,valid_to
            \(alliance),\(itemA),0.45,2026-11-01,2026-11-30

            """).get(), actor: "test")
        _ = try await store.importCommitments(try CommitmentImport.parse("""
            alliance,member,national_code,cycle_start,cycle_end,committed_base_units
            \(alliance),\(first),\(itemA),2026-10-01,2027-03-31,1200
            \(alliance),\(second),\(itemA),2026-10-01,2027-03-31,3000

            """).get(), actor: "test")
        for (facility, lines) in extracts() {
            let batch = try await s.upload(["purchases.csv": purchasesHeader + lines], facility: facility, date: "2026-12-05")
            #expect(batch.status == .loaded, "\(facility): \(batch)")
        }
    }

    /// Runs a report over HTTP and returns its rows, the values as text.
    static func rows(_ client: some TestClientProtocol, _ report: String, _ query: String, token: String) async throws -> [[String: String]] {
        try await client.execute(uri: "/v1/reports/\(report)?\(query)", method: .get, headers: Fixtures.bearer(token)) { response in
            #expect(response.status == .ok, "\(report)?\(query): \(response.text)")
            let rows = try #require(try response.json()["rows"] as? [[String: Any]])
            return rows.map { $0.compactMapValues { value in value is NSNull ? nil : "\(value)" } }
        }
    }

    static func decimal(_ text: String) -> Decimal { Decimal(string: text)! }

    /// `value` rounded half away from zero to `places`, as PostgreSQL's round() does, as text.
    static func rounded(_ value: Decimal, _ places: Int) -> String {
        var value = value, result = Decimal()
        NSDecimalRound(&result, &value, places, .plain)
        return "\(result)"
    }

    @Test("price-comparison: weighted member prices, quantiles, CV, reference by validity, ratios and savings equal the hand-worked figures")
    func priceComparison() async throws {
        try await IngestScenario.run { s in
            try await Self.seed(s)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            try await Fixtures.queryApp(s.database).test(.router) { client in
                let october = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10&item=\(Self.itemA)",
                                                  token: tokens[.alliance]!)
                // Member prices per 片 (Σ amount ÷ Σ base units), by hand: first (140 + 168) ÷ 560,
                // second 196 ÷ 280, third 224 ÷ 560, fourth 336 ÷ 560; the fifth's line is flagged.
                let prices = [Self.third: Self.decimal("0.4"), Self.first: Self.decimal("0.55"), Self.fourth: Self.decimal("0.6"),
                              Self.second: Self.decimal("0.7")]
                #expect(october.map { $0["member_code"] } == [Self.third, Self.first, Self.fourth, Self.second])
                #expect(october.map { $0["member_rank"] } == ["1", "2", "3", "4"])
                let sorted = prices.values.sorted()
                // Interpolated quantiles of four values: position (n − 1) × p.
                func quantile(_ p: Decimal) -> Decimal {
                    let h = Decimal(sorted.count - 1) * p
                    var floor = Decimal(), copy = h
                    NSDecimalRound(&floor, &copy, 0, .down)
                    let lower = Int(truncating: floor as NSNumber)
                    return sorted[lower] + (h - floor) * (sorted[min(lower + 1, sorted.count - 1)] - sorted[lower])
                }
                let median = quantile(0.5)
                let mean = sorted.reduce(0, +) / 4
                let variance = sorted.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / 4
                let cv = sqrt(Double(truncating: variance as NSNumber)) / Double(truncating: mean as NSNumber) * 100
                for row in october {
                    #expect(row["members"] == "4")
                    #expect(row["min_price"].map(Self.decimal) == quantile(0))
                    #expect(row["p25_price"].map(Self.decimal) == quantile(0.25))
                    #expect(row["median_price"].map(Self.decimal) == median)
                    #expect(row["p75_price"].map(Self.decimal) == quantile(0.75))
                    #expect(row["max_price"].map(Self.decimal) == quantile(1))
                    #expect(row["cv"] == String(format: "%.2f", cv))
                    #expect(row["reference_source"] == "median" && row["reference_price"].map(Self.decimal) == median)
                    let member = row["member_code"]!
                    #expect(row["price"].map(Self.decimal) == prices[member])
                    #expect(row["price_ratio"] == Self.rounded(prices[member]! / median, 3))
                }
                // Savings: the lines above the reference (0.575): first's 0.6 × 280, second's 0.7 × 280,
                // fourth's 0.6 × 560.
                let savings = [Self.first: (Self.decimal("0.6") - median) * 280, Self.second: (Self.decimal("0.7") - median) * 280,
                               Self.third: 0, Self.fourth: (Self.decimal("0.6") - median) * 560]
                for row in october {
                    #expect(row["savings_potential"].map(Self.decimal) == savings[row["member_code"]!], "\(row)")
                    #expect(row["item_savings_potential"].map(Self.decimal) == savings.values.reduce(0, +))
                }
                #expect(october.first { $0["member_code"] == Self.first }?["base_units"] == "560")
                #expect(october.first { $0["member_code"] == Self.first }?["amount"].map(Self.decimal) == 308)

                // The agreed price is in force in November only: the reference changes at its edges.
                let all = try await Self.rows(client, "price-comparison", "from=2026-09&to=2026-12&item=\(Self.itemA)", token: tokens[.alliance]!)
                let references = Dictionary(all.map { ($0["month"]!, "\($0["reference_source"]!) \($0["reference_price"]!)") }) { first, _ in first }
                #expect(references == ["2026-10": "median 0.575", "2026-11": "agreed 0.45", "2026-12": "median 0.5"])
                #expect(all.filter { $0["month"] == "2026-11" }.map { $0["price_ratio"] } == ["1", "1.222"])

                // The member filter picks rows; the statistics stay the alliance's.
                let one = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10&item=\(Self.itemA)&member=\(Self.second)",
                                              token: tokens[.alliance]!)
                #expect(one.count == 1 && one.first?["median_price"].map(Self.decimal) == median && one.first?["member_rank"] == "4")
                // The flagged line is counted beside its member's row only when the member has one: the fifth has none.
                #expect(!october.contains { $0["member_code"] == Self.fifth })
            }
        }
    }

    @Test("price-outliers by tolerance and by modified z-score; vbp-completion at the cycle's start, middle and end; price-trend")
    func outliersCompletionTrend() async throws {
        try await IngestScenario.run { s in
            try await Self.seed(s)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            let token = tokens[.alliance]!
            try await Fixtures.queryApp(s.database).test(.router) { client in
                let outliers = try await Self.rows(client, "price-outliers", "from=2026-10&to=2026-11", token: token)
                let found = outliers.map { "\($0["month"]!) \($0["national_code"] == Self.itemA ? "A" : "B") \($0["member_code"]!) \($0["price"]!) \($0["rule"]!)" }
                // A, October: reference 0.575, the second's 0.7 is 21.7 % above. A, November: agreed 0.45,
                // the second's 0.55 is 22.2 % above. B, October: member prices 0.98, 1.00, 1.02, 2.00 —
                // median 1.01, and among the lines (0.98, 1.00 × 3, 1.02 × 2, 2.00) median 1.00, MAD 0.02:
                // the fourth's 2.00 breaks both rules. B, November (members' median reference 1.01): the
                // fourth's 1.30 is 28.7 % above, and z = 0.6745 × 0.30 ÷ 0.02 = 10.12.
                #expect(found == [
                    "2026-10 A \(Self.second) 0.7 tolerance",
                    "2026-10 B \(Self.fourth) 2 tolerance, z-score",
                    "2026-11 A \(Self.second) 0.55 tolerance",
                    "2026-11 B \(Self.fourth) 1.3 tolerance, z-score",
                ], "\(outliers)")
                let bOctober = try #require(outliers.first { $0["month"] == "2026-10" && $0["national_code"] == Self.itemB })
                #expect(bOctober["modified_z"] == "33.73" && bOctober["median_line_price"] == "1")
                #expect(bOctober["excess_cost"].map(Self.decimal) == (2 - Self.decimal("1.01")) * 70)
                let aNovember = try #require(outliers.first { $0["month"] == "2026-11" && $0["national_code"] == Self.itemA })
                #expect(aNovember["excess_percent"] == "22.2" && aNovember["excess_cost"] == "28" && aNovember["reference_source"] == "agreed")
                // A wider tolerance keeps only what the z-score finds.
                let wide = try await Self.rows(client, "price-outliers", "from=2026-10&to=2026-11&tolerance=120", token: token)
                #expect(wide.map { "\($0["month"]!) \($0["rule"]!)" } == ["2026-10 z-score", "2026-11 z-score"])

                // Completion of A, October 2026 – March 2027 (6 months): first committed 1,200 片 and
                // bought 560 + 280 + 280; second 3,000 and bought 280 × 3.
                func completion(_ month: String) async throws -> [String] {
                    try await Self.rows(client, "vbp-completion", "month=\(month)", token: token).map {
                        "\($0["member_code"]!) \($0["purchased_base_units"]!) \($0["completion"]!) \($0["elapsed_share"]!) \($0["on_track"]!)"
                    }
                }
                #expect(try await completion("2026-10") == ["\(Self.first) 560 46.7 16.7 yes", "\(Self.second) 280 9.3 16.7 no"])
                #expect(try await completion("2026-12") == ["\(Self.first) 1120 93.3 50 yes", "\(Self.second) 840 28 50 no"])
                #expect(try await completion("2027-03") == ["\(Self.first) 1120 93.3 100 no", "\(Self.second) 840 28 100 no"])
                #expect(try await completion("2026-09").isEmpty, "no cycle in force before it starts")
                // Non-selected: the first bought 420 片 of B over October – December beside 1,120 of A.
                let first = try #require(try await Self.rows(client, "vbp-completion", "month=2026-12&member=\(Self.first)", token: token).first)
                #expect(first["nonselected_base_units"] == "420" && first["nonselected_share"] == Self.rounded(Self.decimal("42000") / 1540, 1))

                // Trend of A: the lines' median and the agreed price line where it is in force.
                let trend = try await Self.rows(client, "price-trend", "from=2026-10&to=2026-12&item=\(Self.itemA)", token: token)
                #expect(trend.map { "\($0["month"]!) \($0["median_price"]!) \($0["agreed_price"] ?? "-")" }
                        == ["2026-10 0.6 -", "2026-11 0.5 0.45", "2026-12 0.5 -"], "\(trend)")
            }
        }
    }

    @Test("an alliance sees only its members; the bureau sees every alliance; publication shows members by rank; CSV carries the same rows")
    func scoping() async throws {
        try await IngestScenario.run { s in
            try await Self.seed(s)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            let other = try await CredentialStore(database: s.database).issue(role: .alliance, scope: "NS-ALLIANCE", label: "test",
                                                                             expiresAt: nil, actor: "test").token
            try await Fixtures.queryApp(s.database).test(.router) { client in
                let own = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10&item=\(Self.itemA)", token: tokens[.alliance]!)
                #expect(!own.contains { $0["member_code"] == Self.outsider } && own.allSatisfy { $0["alliance_code"] == Self.alliance })
                let theirs = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10", token: other)
                #expect(theirs.map { $0["member_code"] } == [Self.outsider], "\(theirs)")
                #expect(theirs.first?["price"] == "0.9" && theirs.first?["members"] == "1")
                for report in ["price-comparison", "price-outliers", "vbp-completion", "price-trend"] {
                    try await client.execute(uri: "/v1/reports/\(report)?alliance=\(Self.alliance)", method: .get,
                                             headers: Fixtures.bearer(other)) { response in
                        #expect(response.status == .forbidden, "\(report)")
                        #expect(!response.text.contains(Self.second))
                    }
                    try await client.execute(uri: "/v1/reports/\(report)", method: .get, headers: Fixtures.bearer(tokens[.facility]!)) { response in
                        #expect(response.status == .forbidden, "\(report): a facility token")
                    }
                }
                let bureau = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10&item=\(Self.itemA)", token: tokens[.bureau]!)
                #expect(Set(bureau.map { $0["alliance_code"]! }) == [Self.alliance, "NS-ALLIANCE"])

                let published = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10&item=\(Self.itemA)&publication=true",
                                                    token: tokens[.alliance]!)
                #expect(published.map { $0["member_rank"] } == ["1", "2", "3", "4"])
                #expect(published.allSatisfy { $0["member_code"] == nil && $0["member_name"] == nil })
                try await client.execute(uri: "/v1/reports/price-comparison?from=2026-10&to=2026-10&item=\(Self.itemA)&format=csv",
                                         method: .get, headers: Fixtures.bearer(tokens[.alliance]!)) { response in
                    let lines = response.text.split(whereSeparator: \.isNewline)
                    #expect(lines.count == 5 && lines[0].hasPrefix("alliance_code,month,national_code,generic_name,spec,base_unit,member_rank"))
                    #expect(lines[1].contains(",\(Self.third),清河区人民医院,"))
                }
            }
        }
    }

    @Test("a correction and a retraction of purchase lines change the reports; the rollup equals a rebuild")
    func correctionRetractionRebuild() async throws {
        try await IngestScenario.run { s in
            try await Self.seed(s)
            let tokens = try await Fixtures.seedDemoTokens(s.database)
            // The second corrects its October price of A to 0.5; the fourth retracts its case.
            _ = try await s.upload(["purchases.csv": Self.purchasesHeader + Self.line("L3", Self.itemA, price: "14.00", quantity: 10, date: "2026-10-06")],
                                   facility: Self.second, date: "2026-12-05")
            _ = try await s.upload(["purchases.csv": Self.purchasesHeader
                                        + Self.line("L5", Self.itemA, price: "168.00", quantity: 2, date: "2026-10-08", unit: "件", pack: 280, op: "D")],
                                   facility: Self.fourth, date: "2026-12-05")
            try await Fixtures.queryApp(s.database).test(.router) { client in
                let october = try await Self.rows(client, "price-comparison", "from=2026-10&to=2026-10&item=\(Self.itemA)", token: tokens[.alliance]!)
                // Prices 0.4, 0.5, 0.55: median 0.5.
                #expect(october.map { "\($0["member_code"]!) \($0["price"]!)" } == ["\(Self.third) 0.4", "\(Self.second) 0.5", "\(Self.first) 0.55"])
                #expect(october.allSatisfy { $0["median_price"] == "0.5" && $0["members"] == "3" })
            }
            let rollup = "SELECT string_agg(concat_ws(' ', facility_id, month, national_code, supplier, base_unit_price, pack_check, lines, base_units, amount), '; ' ORDER BY facility_id, month, national_code, supplier, base_unit_price, pack_check) FROM reports.purchase_month"
            let incremental = try await s.value(rollup)
            #expect(incremental?.contains("pack_spec") == true, "the flagged line is rolled up as flagged")
            try await Rollups.rebuildAll(s.database)
            #expect(try await s.value(rollup) == incremental)
        }
    }

    @Test("an unmapped LOCAL code is listed with ranked suggestions and counts once mapped; a flagged pack counts once confirmed")
    func stewardsWorkList() async throws {
        try await IngestScenario.run { s in
            let store = ProcurementStore(database: s.database)
            _ = try await store.importItems(try CatalogItemImport.parse(Self.catalogue).get(), actor: "test")
            _ = try await s.upload(["purchases.csv": Self.purchasesHeader
                                        + Self.line("M1", "YP-0042", price: "14.00", quantity: 10, date: "2026-10-05", system: "LOCAL",
                                                    name: "氨氯地平片(络活喜)")
                                        + Self.line("M2", Self.itemA, price: "14.00", quantity: 3, date: "2026-10-06", pack: 1)],
                                   facility: Self.third, date: "2026-12-05")
            let unmapped = try await store.unmappedItems()
            #expect(unmapped.map(\.localCode) == ["YP-0042"])
            #expect(unmapped.first?.suggestions.first?.nationalCode == Self.itemA, "the same spec and manufacturer rank first: \(unmapped)")
            #expect(try await s.value("SELECT count(*)::text FROM reports.purchase_month") == "1", "only the flagged NHSA line")

            try await store.rejectSuggestion(facility: Self.third, localCode: "YP-0042", nationalCode: Self.itemA, actor: "steward")
            #expect(try await store.unmappedItems().first?.suggestions.map(\.nationalCode) == [Self.itemB])
            _ = try await store.importMappings([ItemMapping(facility: Self.third, localCode: "YP-0042", nationalCode: Self.itemA)], actor: "steward")
            #expect(try await store.unmappedItems().isEmpty)
            #expect(try await s.value("SELECT string_agg(pack_check || ':' || trim_scale(base_units), ' ' ORDER BY pack_check) FROM reports.purchase_month")
                    == "ok:280 pack_spec:3")

            let issues = try await store.packIssues()
            #expect(issues.map { "\($0.itemCode) \($0.check) \($0.packSize) \($0.specCount.map { "\($0)" } ?? "-")" } == ["\(Self.itemA) pack_spec 1 28"])
            let lines = try await store.decidePack(.init(facility: Self.third, itemCode: Self.itemA, spec: "5mg*28片/盒", purchaseUnit: "盒",
                                                         packSize: 1, decision: .confirmed), actor: "steward")
            #expect(lines == 1)
            #expect(try await store.packIssues().isEmpty)
            #expect(try await s.value("SELECT string_agg(pack_check || ':' || trim_scale(base_units), ' ' ORDER BY pack_check) FROM reports.purchase_month")
                    == "confirmed:3 ok:280")
            #expect(try await s.value("SELECT count(*)::text FROM audit.events WHERE action LIKE 'procurement.%'") == "4")
        }
    }

    @Test("agreement imports refuse unknown alliances, members and items, overlapping periods and periods not of whole months")
    func agreementImports() async throws {
        #expect(throws: CSVImportErrors.self) {
            try AgreedPriceImport.parse("alliance,national_code,price,valid_from,valid_to\nQH,\(Self.itemA),0.45,2026-11-02,2026-11-30\n").get()
        }
        #expect(throws: CSVImportErrors.self) {
            try CommitmentImport.parse("alliance,member,national_code,cycle_start,cycle_end,committed_base_units\nQH,\(Self.first),\(Self.itemA),2026-10-01,2027-03-30,10\n").get()
        }
        #expect(throws: CSVImportErrors.self) {
            try CatalogItemImport.parse("national_code,category,generic_name,generic_group,spec,pack_size,pack_unit,base_unit\n\(Self.itemA),drug,x,g,5mg*28片/盒,30,盒,片\n").get()
        }
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let store = ProcurementStore(database: database)
            _ = try await store.importItems(try CatalogItemImport.parse(Self.catalogue).get(), actor: "test")
            _ = try await store.importAgreedPrices(try AgreedPriceImport.parse("""
                alliance,national_code,price,valid_from,valid_to
                \(Self.alliance),\(Self.itemA),0.45,2026-11-01,2026-12-31

                """).get(), actor: "test")
            do {
                _ = try await store.importAgreedPrices(try AgreedPriceImport.parse("""
                    alliance,national_code,price,valid_from,valid_to
                    \(Self.alliance),\(Self.itemA),0.40,2026-12-01,
                    NOPE,\(Self.itemA),0.40,2026-12-01,
                    \(Self.alliance),XX0000000000,0.40,2026-12-01,

                    """).get(), actor: "test")
                Issue.record("an overlapping period was stored")
            } catch let refused as ProcurementStore.Refused {
                #expect(refused.problems.map(\.line) == [2, 3, 4], "\(refused)")
                #expect(refused.description.contains("line 2, column valid_from: overlaps the agreed price valid from 2026-11-01"))
            }
            await #expect(throws: ProcurementStore.Refused.self) {
                _ = try await store.importCommitments(try CommitmentImport.parse("""
                    alliance,member,national_code,cycle_start,cycle_end,committed_base_units
                    \(Self.alliance),\(Self.outsider),\(Self.itemA),2026-10-01,2027-03-31,10

                    """).get(), actor: "test")
            }
            #expect(try await store.agreements(alliance: Self.alliance).agreedPrices.map(\.price) == [Self.decimal("0.45")])
        }
    }

    @Test("agreements and stewards' decisions over HTTP, written as the deployed writer role: who may change what, refusals, audit")
    func agreementsOverHTTP() async throws {
        try await IngestScenario.run { s in
            let database = s.database
            let (read, write) = try await Fixtures.deployedQueryRoles(database)
            _ = try await ProcurementStore(database: database).importItems(try CatalogItemImport.parse(Self.catalogue).get(), actor: "test")
            _ = try await s.upload(["purchases.csv": Self.purchasesHeader
                                        + Self.line("M1", "YP-0042", price: "14.00", quantity: 10, date: "2026-10-05", system: "LOCAL")],
                                   facility: Self.third, date: "2026-12-05")
            let credentials = CredentialStore(database: database)
            let analyst = try await credentials.issue(role: .alliance, scope: Self.alliance, label: "analyst", expiresAt: nil, actor: "test").token
            let manager = try await credentials.issue(role: .alliance, scope: Self.alliance, label: "采购办", expiresAt: nil,
                                                      managesAgreements: true, actor: "test").token
            let admin = try await credentials.issue(role: .admin, scope: nil, label: "ops", expiresAt: nil, actor: "test").token
            let steward = try await credentials.issue(role: .steward, scope: nil, label: "王", expiresAt: nil, actor: "test").token
            try await RegistryStore(database: database).upsertAlliance(code: "NS-ALLIANCE", name: "南山社区联盟", actor: "test")
            let price = ByteBuffer(string: #"{"national_code": "\#(Self.itemA)", "price": "0.45", "valid_from": "2026-11-01", "valid_to": null}"#)
            try await withDatabase(read, name: "reader", poolSize: 2, logger: TestDatabase.logger) { reader in
                try await withDatabase(write, name: "writer", poolSize: 2, logger: TestDatabase.logger) { writer in
                    try await Fixtures.queryApp(reader, writes: writer).test(.router) { client in
                        let path = "/v1/alliances/\(Self.alliance)/agreed-prices"
                        try await client.execute(uri: path, method: .post, headers: Fixtures.bearer(analyst), body: price) {
                            #expect($0.status == .forbidden, "an analyst reads agreements, does not change them")
                        }
                        try await client.execute(uri: "/v1/alliances/NS-ALLIANCE/agreed-prices", method: .post, headers: Fixtures.bearer(manager),
                                                 body: price) {
                            #expect($0.status == .forbidden, "another alliance's")
                        }
                        try await client.execute(uri: path, method: .post, headers: Fixtures.bearer(manager), body: price) { response in
                            #expect(response.status == .created, "\(response.text)")
                            #expect(response.text.contains(#""valid_from":"2026-11-01""#))
                        }
                        try await client.execute(uri: path, method: .post, headers: Fixtures.bearer(admin), body: ByteBuffer(
                            string: #"{"national_code": "\#(Self.itemA)", "price": 0.4, "valid_from": "2026-12-01", "valid_to": "2027-01-30"}"#)) {
                            #expect($0.status == .badRequest, "not a whole month")
                        }
                        // What the columns cannot store exactly, and text PostgreSQL cannot store at all, is the caller's
                        // mistake (400), not a failure of the server.
                        for (target, body) in [
                            (path, #"{"national_code": "\#(Self.itemA)", "price": 1e9, "valid_from": "2030-01-01"}"#),
                            (path, #"{"national_code": "\#(Self.itemA)", "price": "0.0000001", "valid_from": "2030-01-01"}"#),
                            ("/v1/alliances/\(Self.alliance)/commitments",
                             #"{"member": "\#(Self.first)", "national_code": "\#(Self.itemA)", "cycle_start": "2030-01-01", "cycle_end": "2030-12-31", "committed_base_units": 1e15}"#),
                            ("/v1/steward/items/packs",
                             #"{"facility": "\#(Self.third)", "item_code": "YP-0042", "spec": "", "purchase_unit": "盒", "pack_size": 1e20, "decision": "confirmed"}"#),
                            ("/v1/steward/items/map", #"{"facility": "\#(Self.third)", "local_code": "YP\u0000", "national_code": "\#(Self.itemA)"}"#),
                            ("/v1/steward/items/map", #"{"facility": "\#(Self.third)", "local_code": "\#(String(repeating: "长", count: 65))", "national_code": "\#(Self.itemA)"}"#),
                        ] {
                            try await client.execute(uri: target, method: .post, headers: Fixtures.bearer(admin), body: ByteBuffer(string: body)) {
                                #expect($0.status == .badRequest, "\(target) \(body): \($0.text)")
                            }
                        }
                        for list in ["/v1/steward/items/unmapped", "/v1/steward/items/packs"] {
                            try await client.execute(uri: "\(list)?facility=h%00", method: .get, headers: Fixtures.bearer(admin)) {
                                #expect($0.status == .badRequest, "\(list)")
                            }
                        }
                        try await client.execute(uri: path, method: .post, headers: Fixtures.bearer(admin), body: ByteBuffer(
                            string: #"{"national_code": "\#(Self.itemA)", "price": 0.4, "valid_from": "2026-06-01"}"#)) { response in
                            #expect(response.status == .conflict && response.text.contains("overlaps"), "\(response.text)")
                        }
                        let id = try #require(try await s.value("SELECT id::text FROM procurement.agreed_prices"))
                        try await client.execute(uri: "/v1/alliances/\(Self.alliance)/agreements", method: .get, headers: Fixtures.bearer(analyst)) {
                            #expect($0.status == .ok && $0.text.contains(#""price":0.45"#), "\($0.text)")
                        }
                        try await client.execute(uri: "/v1/alliances/NS-ALLIANCE/agreements", method: .get, headers: Fixtures.bearer(analyst)) {
                            #expect($0.status == .forbidden)
                        }
                        try await client.execute(uri: "/v1/alliances/\(Self.alliance)/commitments", method: .post, headers: Fixtures.bearer(admin),
                                                 body: ByteBuffer(string: #"{"member": "\#(Self.first)", "national_code": "\#(Self.itemA)", "cycle_start": "2026-10-01", "cycle_end": "2027-09-30", "committed_base_units": 5000}"#)) {
                            #expect($0.status == .created, "\($0.text)")
                        }
                        try await client.execute(uri: "\(path)/\(id)", method: .delete, headers: Fixtures.bearer(manager)) {
                            #expect($0.status == .noContent)
                        }
                        try await client.execute(uri: "\(path)/\(id)", method: .delete, headers: Fixtures.bearer(manager)) {
                            #expect($0.status == .notFound)
                        }

                        // The steward maps the LOCAL code the list suggests; the line counts at once.
                        try await client.execute(uri: "/v1/steward/items/unmapped", method: .get, headers: Fixtures.bearer(analyst)) {
                            #expect($0.status == .forbidden)
                        }
                        let suggested = try await client.execute(uri: "/v1/steward/items/unmapped", method: .get, headers: Fixtures.bearer(steward)) { response in
                            let items = try #require(try response.json()["items"] as? [[String: Any]])
                            let suggestions = try #require(items.first?["suggestions"] as? [[String: Any]])
                            return try #require(suggestions.first?["national_code"] as? String)
                        }
                        #expect(suggested == Self.itemA)
                        try await client.execute(uri: "/v1/steward/items/map", method: .post, headers: Fixtures.bearer(steward), body: ByteBuffer(
                            string: #"{"facility": "\#(Self.third)", "local_code": "YP-0042", "national_code": "\#(suggested)"}"#)) {
                            #expect($0.status == .ok, "\($0.text)")
                        }
                    }
                }
            }
            #expect(try await s.value("SELECT string_agg(national_code || ':' || pack_check, ' ') FROM reports.purchase_month") == "\(Self.itemA):ok")
            #expect(try await s.value("""
                SELECT string_agg(actor || ' ' || action, ', ' ORDER BY id) FROM audit.events WHERE action LIKE 'procurement.%' AND actor <> 'test'
                """) == "alliance:采购办 procurement.agreed_prices, admin:ops procurement.commitments, alliance:采购办 procurement.agreed_prices.delete, steward:王 procurement.item_map")
        }
    }

    @Test("the sample catalogue shipped for the demo is the generator's, and reads back as it")
    func shippedCatalogue() throws {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/demo/procurement-items.csv")
        let shipped = try String(contentsOf: file, encoding: .utf8)
        #expect(shipped == SampleProcurement.catalogueCSV(), "deploy/demo/procurement-items.csv should read:\n\(SampleProcurement.catalogueCSV())")
        #expect(try CatalogItemImport.parse(shipped).get() == SampleProcurement.catalogue)
        for item in SampleProcurement.catalogue {
            if case .success(let parsed) = PackSpec.parse(item.spec ?? "") {
                #expect(parsed.count == nil || parsed.count == item.packSize, "\(item.nationalCode): \(item.spec ?? "")")
            }
        }
    }

    @Test("the catalog commands: the shipped catalogue, agreements all or none with every problem by line, the listings")
    func commandLine() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let url = database.url
            let shipped = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("../../deploy/demo/procurement-items.csv")
            var result = try RegioProcess.run(["catalog", "import", "items", shipped.path], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("\(SampleProcurement.catalogue.count) added, 0 updated, 0 unchanged"))

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("agreed-\(UUID()).csv")
            try """
                alliance,national_code,price,valid_from,valid_to
                \(Self.alliance),\(Self.itemA),0.15,2026-01-01,
                \(Self.alliance),\(Self.itemA),0.14,2026-06-01,2026-06-15
                NOPE,\(Self.itemA),abc,2026-01-01,

                """.write(to: file, atomically: true, encoding: .utf8)
            result = try RegioProcess.run(["catalog", "import", "agreed-prices", file.path], database: url)
            #expect(result.status == 1)
            #expect(result.stderr.contains("line 3, column valid_to: must be the last day of a month, got 2026-06-15"), "\(result.stderr)")
            #expect(result.stderr.contains("line 4, column price: must be a number above 0"))
            #expect(result.stderr.contains("nothing was imported"))
            try """
                alliance,national_code,price,valid_from,valid_to
                \(Self.alliance),\(Self.itemA),0.15,2026-01-01,
                \(Self.alliance),\(Self.itemA),0.14,2026-06-01,2026-06-30

                """.write(to: file, atomically: true, encoding: .utf8)
            result = try RegioProcess.run(["catalog", "import", "agreed-prices", file.path], database: url)
            #expect(result.status == 1)
            #expect(result.stderr.contains("line 2, column valid_from: overlaps the agreed price valid from 2026-06-01"), "\(result.stderr)")
            #expect(try await database.text("SELECT count(*)::text FROM procurement.agreed_prices") == "0")
            try "alliance,national_code,price,valid_from,valid_to\n\(Self.alliance),\(Self.itemA),0.15,2026-01-01,\n"
                .write(to: file, atomically: true, encoding: .utf8)
            result = try RegioProcess.run(["catalog", "import", "agreed-prices", file.path], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            result = try RegioProcess.run(["catalog", "agreements", "--alliance", Self.alliance], database: url)
            #expect(result.stdout.contains("agreed-price,1,\(Self.alliance),,\(Self.itemA),苯磺酸氨氯地平片,0.15,2026-01-01,"), "\(result.stdout)")
            #expect(try await database.text("SELECT actor FROM audit.events WHERE action = 'procurement.agreed_prices'") == "cli:tester")

            result = try RegioProcess.run(["catalog", "unmapped-items"], database: url)
            #expect(result.status == 0 && result.stdout.hasPrefix("facility,local_code,national_code,name"))
            result = try RegioProcess.run(["catalog", "decide-pack", "maybe", Self.first, Self.itemA, "--purchase-unit", "盒", "--pack-size", "1"],
                                          database: url)
            #expect(result.status == 1 && result.stderr.contains("decision must be confirmed or rejected"))
        }
    }
}
