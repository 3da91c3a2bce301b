import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB
import RegioQuery

/// `regio bench reports`: the alliance reports' latency on a year of the sample region's
/// purchases (SampleProcurement at `scale` times the demo's volume), with the cost of the rollup
/// they read — rebuilt whole, and refreshed for one facility and month as a nightly batch does.
public struct ReportBenchmark: Sendable {
    public var workDirectory: URL
    /// Volume of purchases against the demo's (about 4, 12 or 25 lines a day by tier).
    public var scale: Double = 4
    /// Runs of each report; the median and the fastest are printed.
    public var runs = 5
    let logger: Logger

    public init(workDirectory: URL, logger: Logger) {
        self.workDirectory = workDirectory
        self.logger = logger
    }

    /// The year: December 2025 to November 2026, one agreement cycle.
    static let first = CalendarDate("2025-12-01")!
    static let last = CalendarDate("2026-11-30")!

    public struct Figures: Sendable {
        public var lines = 0
        public var loadSeconds = 0.0
        public var rollupRows = 0
        public var rebuildSeconds = 0.0
        public var monthRefreshSeconds = 0.0
        public var timings: [(report: String, caller: String, rows: Int, median: Double, fastest: Double)] = []
    }

    public func run(databaseURL: DatabaseURL?) async throws -> Figures {
        try FileManager.default.createDirectory(at: workDirectory, withIntermediateDirectories: true)
        let (url, embedded) = try EmbeddedPostgres.unless(databaseURL, directory: workDirectory.appendingPathComponent("postgres"), logger: logger)
        defer { embedded?.stop() }
        return try await withDatabase(url, logger: logger) { database in
            var figures = Figures()
            try await MigrationRunner(migrations: try Migration.bundled()).apply(on: database)
            try await database.query("""
                TRUNCATE procurement.purchases, reports.purchase_month, procurement.commitments, procurement.agreed_prices,
                         procurement.listed_prices, procurement.item_map, procurement.item_map_rejections, procurement.pack_decisions
                """)
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "bench")
            let store = ProcurementStore(database: database)
            _ = try await store.importItems(SampleProcurement.catalogue, actor: "bench")
            _ = try await store.importMappings(SampleProcurement.itemMap(facilities: DemoRegion.facilities), actor: "bench")
            _ = try await store.importListedPrices(SampleProcurement.listedPrices(from: Self.first), actor: "bench")
            let generator = SampleProcurement(seed: 7, scale: scale)
            for (alliance, members) in [(DemoRegion.allianceCode, DemoRegion.allianceMembers),
                                        (DemoRegion.countyAllianceCode, DemoRegion.countyAllianceMembers)] {
                _ = try await store.importAgreedPrices(SampleProcurement.agreedPrices(alliance: alliance, from: Self.first), actor: "bench")
                _ = try await store.importCommitments(
                    generator.commitments(alliance: alliance, members: DemoRegion.facilities.filter { members.contains($0.code) }, start: Self.first),
                    actor: "bench")
            }

            print("loading a year of purchases (\(Self.first) to \(Self.last), \(scale) × the demo's volume)…")
            var ids: [String: Int] = [:]
            for try await (code, id) in try await database.query("SELECT code, id FROM registry.facilities").decode((String, Int).self) {
                ids[code] = id
            }
            let started = ContinuousClock.now
            for facility in DemoRegion.facilities where SampleProcurement.buys(facility) {
                var rows: [[String?]] = []
                for day in Self.first.dayNumber...Self.last.dayNumber {
                    for line in generator.day(facility, CalendarDate(dayNumber: day)) {
                        rows.append(line.row(id: "L\(day)-\(rows.count)"))
                    }
                }
                try await insert(rows, facility: ids[facility.code]!, on: database)
                figures.lines += rows.count
            }
            figures.loadSeconds = Self.seconds(ContinuousClock.now - started)
            try await database.query("ANALYZE procurement.purchases")

            let rebuild = ContinuousClock.now
            try await database.withTransaction { try await ProcurementRollups.refreshFacility(nil, on: $0, logger: logger) }
            figures.rebuildSeconds = Self.seconds(ContinuousClock.now - rebuild)
            try await database.query("ANALYZE reports.purchase_month")
            for try await count in try await database.query("SELECT count(*)::int FROM reports.purchase_month").decode(Int.self) {
                figures.rollupRows = count
            }
            let month = ContinuousClock.now
            try await database.withTransaction {
                try await ProcurementRollups.refresh([(ids[DemoRegion.facilities[0].code]!, "2026-06-01")], on: $0, logger: logger)
            }
            figures.monthRefreshSeconds = Self.seconds(ContinuousClock.now - month)

            let runner = try ReportRunner(database: database, reports: ReportCatalog.all)
            let callers = [
                ("alliance \(DemoRegion.allianceCode)", Identity(tokenID: 0, role: .alliance, allianceCode: DemoRegion.allianceCode, label: "bench")),
                ("bureau (every alliance)", Identity(tokenID: 0, role: .bureau, label: "bench")),
            ]
            for id in ["price-comparison", "price-outliers", "vbp-completion", "price-trend"] {
                let report = ReportCatalog.report(id: id)!
                let query = id == "vbp-completion" ? [("month", "2026-11")] : [("from", "2025-12"), ("to", "2026-11")]
                for (name, caller) in callers {
                    let binds = try report.binds(for: query, caller: caller).get()
                    var seconds: [Double] = []
                    var rows = 0
                    for _ in 0..<max(runs, 1) {
                        let start = ContinuousClock.now
                        rows = try await runner.run(report, binds: binds, scope: .region).rows.count
                        seconds.append(Self.seconds(ContinuousClock.now - start))
                    }
                    seconds.sort()
                    figures.timings.append((id, name, rows, seconds[seconds.count / 2], seconds[0]))
                }
            }
            return figures
        }
    }

    /// Inserts purchase lines as a loaded batch would have stored them (batch 0).
    private func insert(_ rows: [[String?]], facility: Int, on database: Database) async throws {
        for chunk in stride(from: 0, to: rows.count, by: 5_000).map({ Array(rows[$0..<min($0 + 5_000, rows.count)]) }) {
            func column(_ index: Int) -> [String] { chunk.map { $0[index] ?? "" } }
            try await database.query("""
                INSERT INTO procurement.purchases (facility_id, line_id, item_code, code_system, item_name, spec, manufacturer, purchase_unit,
                    pack_size, base_unit, unit_price, quantity, amount, supplier, purchase_date, invoice_no, vbp, row_hash, as_of, batch_id)
                SELECT \(facility), line_id, item_code, code_system, item_name, nullif(spec, ''), nullif(manufacturer, ''), purchase_unit,
                       pack_size::numeric, base_unit, unit_price::numeric, quantity::numeric, amount::numeric, supplier, purchase_date::date,
                       invoice_no, vbp = '1', 'bench', purchase_date::date, 0
                FROM unnest(\(column(0))::text[], \(column(1))::text[], \(column(2))::text[], \(column(3))::text[], \(column(4))::text[],
                            \(column(5))::text[], \(column(6))::text[], \(column(7))::text[], \(column(8))::text[], \(column(9))::text[],
                            \(column(10))::text[], \(column(11))::text[], \(column(12))::text[], \(column(13))::text[], \(column(14))::text[],
                            \(column(15))::text[])
                     AS l (line_id, item_code, code_system, item_name, spec, manufacturer, purchase_unit, pack_size, base_unit, unit_price,
                           quantity, amount, supplier, purchase_date, invoice_no, vbp)
                """)
        }
    }

    static func seconds(_ duration: Duration) -> Double {
        Double(duration.components.seconds) + Double(duration.components.attoseconds) / 1e18
    }
}
