import Foundation
import RegioApp
import RegioCore
import RegioDB
@testable import RegioPipeline
import Synchronization
import Testing

/// The hostile-input corpus (`Tests/corpus/`): each file is a hospital's `patients.csv` with two
/// good rows and a hostile one, sent through the upload client to the ingestion service as a
/// night of its own. What each gives — the batch's outcome, every issue with its code, line and
/// column, the rows stored, the hostile row's name as stored — is compared with
/// `Tests/expected/corpus.txt`, a reviewed file in the manner of PostgreSQL's expected output —
/// and, last, a manifest naming another facility than the token's.
/// `REGIO_UPDATE_EXPECTED=1 scripts/test.sh --filter HostileCorpusTests` rewrites it for review.
@Suite("Hostile-input corpus")
struct HostileCorpusTests {
    static let tests = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    static let corpus = tests.appendingPathComponent("corpus/patients")
    static let expectedFile = tests.appendingPathComponent("expected/corpus.txt")

    @Test("every file of the corpus gives its precise codes, lines and columns; the good rows beside it load; hostile text is stored as sent")
    func corpusOutcomes() async throws {
        let names = try FileManager.default.contentsOfDirectory(atPath: Self.corpus.path).filter { $0.hasSuffix(".csv") }.sorted()
        #expect(names.count >= 12)
        let outcomes = Mutex<[String]>([])
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            var day = 1
            for name in names {
                let bytes = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent(name)))
                let date = String(format: "2026-10-%02d", day)
                day += 1
                var outcome: String
                do {
                    let batch = try await s.upload(bytes: ["patients.csv": bytes], date: date)
                    let issues = try await s.issues(batch.id).map { "\($0.code)@\($0.line.map(String.init) ?? "-"):\($0.column ?? "-")" }
                    // Nothing else lost: every row received is inserted, updated, unchanged (the good
                    // rows, sent every night) or rejected with its issues.
                    let file = try #require(batch.files.first)
                    let rows = "received=\(file.receivedRows ?? -1) inserted=\(file.inserted ?? -1) updated=\(file.updated ?? -1) "
                        + "unchanged=\(file.unchanged ?? -1) rejected=\(file.rejected ?? -1)"
                    let hostile = try await s.value("""
                        SELECT name FROM emr.patients p JOIN ingest.batches b ON b.id = p.batch_id
                        WHERE b.business_date = '\(date)' AND p.patient_id LIKE 'H%' ORDER BY p.patient_id LIMIT 1
                        """)
                    outcome = "\(batch.status.rawValue) \(rows) issues=[\(issues.joined(separator: " "))]"
                    if let hostile { outcome += " name=\(hostile.debugDescription)" }
                } catch {
                    // Refused before anything was sent: the upload client's own check of the file.
                    outcome = "refused by the client: \(error)"
                }
                let line = "\(name): \(outcome)"
                outcomes.withLock { $0.append(line) }
            }

            // A manifest naming another facility, sent with this facility's token: refused before
            // any batch exists.
            let batches = try await s.count("ingest.batches")
            let good = try [UInt8](Data(contentsOf: Self.corpus.appendingPathComponent("formula.csv")))
                .split(separator: UInt8(ascii: "\n")).prefix(3).joined(separator: [UInt8(ascii: "\n")]) + [UInt8(ascii: "\n")]
            var outcome: String
            do {
                let batch = try await s.upload(bytes: ["patients.csv": Array(good)], facility: "H339902001",
                                               date: String(format: "2026-10-%02d", day), token: try await s.token("H339901001"))
                outcome = "accepted as batch \(batch.id) (\(batch.status.rawValue))"
            } catch {
                outcome = "refused: \(error)"
            }
            #expect(try await s.count("ingest.batches") == batches, "no batch made for a manifest naming another facility")
            outcomes.withLock { $0.append("manifest naming another facility: \(outcome)") }
        }
        let actual = outcomes.withLock { $0 }.joined(separator: "\n") + "\n"
        if ProcessInfo.processInfo.environment["REGIO_UPDATE_EXPECTED"] == "1" {
            try actual.write(to: Self.expectedFile, atomically: true, encoding: .utf8)
        }
        let expected = try String(contentsOf: Self.expectedFile, encoding: .utf8)
        #expect(actual == expected, "the corpus gave:\n\(actual)")
    }
}
