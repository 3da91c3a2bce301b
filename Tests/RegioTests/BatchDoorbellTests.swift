import Foundation
@testable import RegioDB
@testable import RegioPipeline
import Testing

@Suite("A committed batch wakes the idle batch worker")
struct BatchDoorbellTests {
    @Test("a ring wakes a waiting worker, or the next one to wait; without one, the wait times out")
    func doorbell() async {
        let doorbell = BatchDoorbell()
        let clock = ContinuousClock()
        #expect(await clock.measure { await doorbell.wait(upTo: .milliseconds(50)) } >= .milliseconds(50))
        doorbell.ring()
        #expect(await clock.measure { await doorbell.wait(upTo: .seconds(30)) } < .seconds(5), "rung before the wait")
        async let woken: Duration = clock.measure { await doorbell.wait(upTo: .seconds(30)) }
        try? await Task.sleep(for: .milliseconds(100))
        doorbell.ring()
        #expect(await woken < .seconds(5), "rung during the wait")
    }

    @Test("a batch is decided as soon as it is committed, not at the worker's next poll of the queue")
    func takenAtOnce() async throws {
        try await IngestScenario.run(idle: .seconds(60)) { s in
            let batch = try await s.upload(["patients.csv": Extracts.patients])
            #expect(batch.status == .loaded)
            // From the commit to the worker taking the batch, as the database recorded them: the
            // next poll would come almost a minute after the worker's first. (The whole upload's
            // time depends on how loaded the machine is; this does not.)
            let waited = try #require(try await s.value("""
                SELECT extract(epoch FROM started_at - committed_at)::text FROM ingest.batches WHERE id = \(batch.id)
                """).flatMap(Double.init))
            #expect(waited < 10, "taken \(waited) s after the commit")
        }
    }
}
