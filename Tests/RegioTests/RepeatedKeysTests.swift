import Foundation
import NIOCore
import PostgresNIO
import RegioApp
import RegioCore
@testable import RegioDB
@testable import RegioPipeline
import Testing

@Suite("Repeated keys found while a file streams, checked in the database")
struct RepeatedKeysTests {
    @Test("keys seen twice become candidates; the memory they took is given back")
    func candidates() {
        let memory = KeyMemory(bytes: 1_000)
        do {
            let keys = RepeatedKeys(rows: 10, memory: memory)
            for key in ["E1", "E2", "E1", nil, nil, "E3", "E2", "E1"] { keys.add(key) }
            #expect(!keys.checkInDatabase)
            #expect(keys.candidates == ["E1", "E2"], "a missing key never repeats")
            #expect(!memory.take(1_000 - 10 * RepeatedKeys.bytesPerKey + 1), "the file's share is taken")
        }
        #expect(memory.take(1_000), "and given back when the file is done")
    }

    @Test("the whole file goes to the database: too little memory, more rows than declared, too many repeats")
    func fallback() {
        let memory = KeyMemory(bytes: 1_000)
        #expect(RepeatedKeys(rows: 100, memory: memory).checkInDatabase, "100 keys do not fit in 1,000 bytes")
        #expect(RepeatedKeys(rows: .max / 2, memory: memory).checkInDatabase, "nor a count whose size overflows")

        let undeclared = RepeatedKeys(rows: 2, memory: memory)
        for key in ["P1", "P2", "P3", "P1"] { undeclared.add(key) }
        #expect(undeclared.checkInDatabase, "a third row in a file declared with two")
        #expect(undeclared.candidates.isEmpty)

        let many = RepeatedKeys(rows: 30_000, memory: KeyMemory(bytes: 1 << 20))
        for round in 0..<2 {
            for index in 0...RepeatedKeys.candidateLimit { many.add("R\(index)") }
            #expect(many.checkInDatabase == (round == 1), "more than \(RepeatedKeys.candidateLimit) repeated keys")
        }
    }

    @Test("a file checked in the database gets the same duplicate_key errors, and its batch loads without them")
    func databaseCheck() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let patients = Extracts.patients + "P004,赵六,1,1990-01-01,,,,\nP002,钱七,2,1991-02-02,,,,\n"  // lines 5 and 6
            let staged = try await s.stage(["patients.csv": patients], send: false)
            let batchID = staged.id
            let manifestData = try Data(contentsOf: URL(fileURLWithPath: staged.directory + "/manifest.json"))
            let manifest = try ExtractManifest.parse(manifestData).get()
            // No memory for keys at all: the file is checked whole in the database. Loaded as the
            // service's role, which the staged table then belongs to.
            let file = try #require(manifest.file(named: "patients.csv"))
            let context = ValidationContext(businessDate: try #require(CalendarDate("2026-11-22")), pseudonymizer: Fixtures.pseudonymizer)
            let receipt = try await withDatabase(TestDatabase.ingestURL(of: s.database), name: "ingest", poolSize: 2,
                                                 logger: TestDatabase.logger) { service in
                let loader = ExtractFileLoader(database: service, keyMemory: KeyMemory(bytes: 0), stagedKeys: StagedKeys())
                let body = AsyncStream<ByteBuffer> { continuation in
                    for chunk in patients.utf8.chunked(into: 7) { continuation.yield(ByteBuffer(bytes: chunk)) }
                    continuation.finish()
                }
                return try await loader.load(batchID: batchID, file: file, encoding: .utf8, context: context, body: body)
            }
            #expect(receipt.rows == 5)
            #expect(receipt.rejected == 2, "both lines of P002")
            let marked = try await s.issues(batchID).filter { $0.code == "duplicate_key" }.map { $0.line ?? 0 }.sorted()
            #expect(marked == [3, 6])

            try await s.commit(staged)
            let batch = try await waitForDecision(s, batchID)
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(try await s.value("SELECT string_agg(patient_id, ',' ORDER BY patient_id) FROM emr.patients") == "P001,P003,P004")
        }
    }
}

extension Sequence {
    /// The elements in arrays of `size` (the last one shorter).
    func chunked(into size: Int) -> [[Element]] {
        var chunks: [[Element]] = []
        var chunk: [Element] = []
        for element in self {
            chunk.append(element)
            if chunk.count == size { chunks.append(chunk); chunk = [] }
        }
        if !chunk.isEmpty { chunks.append(chunk) }
        return chunks
    }
}
