import Foundation
import RegioApp
import RegioCore
import RegioDB
import RegioPipeline
import Synchronization
import Testing

/// Many facilities at once, as a real night brings them: twenty facilities upload their extracts
/// at the same moment, night after night, and one sends the same extract twice at once. The
/// oracle is the same extracts loaded one at a time into another database.
@Suite("Concurrency: twenty facilities at once")
struct ConcurrencyTests {
    static let nightDates = ["2026-11-20", "2026-11-21", "2026-11-22"]
    static let nights = nightDates.count
    static let firstNight = nightDates[0]

    /// The sample region's extracts for three nights: its facilities that send them (twenty or fewer).
    static func extracts(into directory: URL) throws -> (facilities: [String], folder: @Sendable (String, Int) -> URL) {
        var options = SampleExtractGenerator.Options(firstNight: CalendarDate(firstNight)!, nights: nights, seed: 7)
        options.purchaseHistoryDays = 2
        let facilities = Array(DemoRegion.facilities.map(\.code).prefix(20))
        options.only = Set(facilities)
        let output = directory.appendingPathComponent("extracts")
        _ = try SampleExtractWriter(output: output).write(facilities: DemoRegion.facilities, options: options)
        let sent = facilities.filter {
            FileManager.default.fileExists(atPath: output.appendingPathComponent($0).appendingPathComponent(firstNight).path)
        }
        return (sent, { facility, night in
            output.appendingPathComponent(facility).appendingPathComponent(nightDates[night])
        })
    }

    /// Uploads a folder as the facility's nightly client does, and waits until it is linked.
    static func send(_ s: IngestScenario, _ folder: URL, facility: String) async throws -> BatchRecord {
        var uploader = UploadClient(server: s.server, token: try await s.token(facility), logger: TestDatabase.logger)
        uploader.pollInterval = .milliseconds(50)
        let batch = try await uploader.upload(directory: folder.path)
        try await s.waitUntilLinked(batch.id)
        return batch
    }

    /// Rows per facility in each core table, the persons with records, and the loaded batches.
    static func counts(_ s: IngestScenario) async throws -> [String] {
        var lines: [String] = []
        for table in ["emr.patients", "emr.encounters", "emr.exams", "emr.bed_census", "procurement.purchases", "referral.referrals",
                      "emr.exam_registry"] {
            lines.append("\(table) " + (try await s.value("""
                SELECT string_agg(code || '=' || n, ' ' ORDER BY code) FROM (
                    SELECT f.code, count(*) AS n FROM \(table) t JOIN registry.facilities f ON f.id = t.facility_id GROUP BY f.code) c
                """) ?? "-"))
        }
        lines.append("persons " + (try await s.value("""
            SELECT count(*)::text FROM emr.persons p WHERE EXISTS (SELECT 1 FROM emr.patients t WHERE t.person_id = p.id)
            """) ?? "-"))
        lines.append("rollup " + (try await s.value("""
            SELECT md5(string_agg(f.code || m.month::text || m.outpatient_visits::text, ',' ORDER BY f.code, m.month))
            FROM reports.facility_month m JOIN registry.facilities f ON f.id = m.facility_id
            """) ?? "-"))
        return lines
    }

    @Test("twenty facilities upload at once, three nights running, and one sends the same extract twice at once: every count is a one-at-a-time load's, and the doubled extract is one batch, loaded once")
    func twentyFacilitiesAtOnce() async throws {
        let work = FileManager.default.temporaryDirectory.appendingPathComponent("regio-concurrency-\(UUID())")
        defer { try? FileManager.default.removeItem(at: work) }
        let (facilities, folder) = try Self.extracts(into: work)
        #expect(facilities.count == 20, "the sample region's senders: \(facilities)")

        let reference = Mutex<[String]>([])
        try await IngestScenario.run { s in
            // The sample's deliberately broken rows (1 %) may pass a small facility's 5 % threshold.
            try await s.rejectThreshold(100)
            for night in 0..<Self.nights {
                for facility in facilities {
                    let batch = try await Self.send(s, folder(facility, night), facility: facility)
                    #expect(batch.status == .loaded, "\(facility) night \(night): \(batch.reason ?? "")")
                }
            }
            let counted = try await Self.counts(s)
            reference.withLock { $0 = counted }
        }
        let expected = reference.withLock { $0 }

        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let doubled = facilities[0]
            for night in 0..<Self.nights {
                let batches = try await withThrowingTaskGroup(of: BatchRecord.self) { group in
                    for facility in facilities {
                        group.addTask { try await Self.send(s, folder(facility, night), facility: facility) }
                    }
                    // The first night, one facility's client runs twice at once on the same extract.
                    if night == 0 { group.addTask { try await Self.send(s, folder(doubled, night), facility: doubled) } }
                    var batches: [BatchRecord] = []
                    for try await batch in group { batches.append(batch) }
                    return batches
                }
                #expect(batches.count == facilities.count + (night == 0 ? 1 : 0))
                // The doubled client's two runs answer with one batch: the second took up the first's.
                #expect(Set(batches.map(\.id)).count == facilities.count, "night \(night): \(batches.map(\.id).sorted())")
                for batch in batches { #expect(batch.status == .loaded, "night \(night), batch \(batch.id): \(batch.reason ?? "")") }
            }
            let actual = try await Self.counts(s)
            #expect(actual == expected, "concurrent:\n\(actual.joined(separator: "\n"))\none at a time:\n\(expected.joined(separator: "\n"))")
            // The doubled extract is one batch, loaded once.
            let loads = try await s.value("""
                SELECT count(*) FILTER (WHERE b.duplicate_of IS NULL)::text || '/' || count(*)::text
                FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id
                WHERE f.code = '\(doubled)' AND b.business_date = '\(Self.firstNight)' AND b.status = 'loaded'
                """)
            let batchesOfDoubled = try await s.value("""
                SELECT string_agg(b.id || ' ' || b.status || ' dup=' || coalesce(b.duplicate_of::text, '-') || ' ' || coalesce(b.reason, ''), '; ')
                FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id
                WHERE f.code = '\(doubled)' AND b.business_date = '\(Self.firstNight)'
                """)
            #expect(loads == "1/1", "\(batchesOfDoubled ?? "")")
        }
    }
}
