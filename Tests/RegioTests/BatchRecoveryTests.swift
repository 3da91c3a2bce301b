import Foundation
import PostgresNIO
@testable import RegioDB
@testable import RegioPipeline
import Testing

/// What a killed service or a crashed database leaves of a batch, and how it is recovered. A
/// crash's effects are made by hand here: PostgreSQL's crash recovery empties an unlogged staging
/// table (TRUNCATE does the same), and a killed process leaves its batch `validating` under an
/// instance whose lease no longer holds.
@Suite("Ingestion: recovery after a crash")
struct BatchRecoveryTests {
    static let night = ["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters]

    @Test("staged rows lost after the files were received: the batch asks for them again, never loads 0 rows, and the resume loads the night")
    func lostStagingIsSentAgain() async throws {
        try await IngestScenario.run { s in
            let staged = try await s.stage(Self.night)
            // What crash recovery does to the unlogged staging tables.
            try await s.database.query(PostgresQuery(unsafeSQL: "TRUNCATE staging.b\(staged.id)_patients, staging.b\(staged.id)_encounters"))
            try await s.commit(staged)
            let store = BatchStore(database: s.database)
            var batch = try #require(try await store.batch(id: staged.id))
            for _ in 0..<100 where batch.status != .receiving && !batch.status.isFinal {
                try await Task.sleep(for: .milliseconds(50))
                batch = try #require(try await store.batch(id: staged.id))
            }
            #expect(batch.status == .receiving, "\(batch.reason ?? "")")
            #expect(batch.reason?.contains("must be sent again") == true)
            #expect(batch.files.allSatisfy { $0.receivedAt == nil })
            #expect(try await s.count("emr.encounters") == 0)

            // The same extract sent again resumes the batch, sends both files, and loads them.
            let loaded = try await s.upload(Self.night)
            #expect(loaded.id == staged.id)
            #expect(loaded.status == .loaded, "\(loaded.reason ?? "")")
            #expect(try await s.count("emr.encounters") == 3)
            #expect(try await s.count("emr.patients") == 3)
        }
    }

    @Test("a resumed upload re-sends a received file whose staged rows were lost, instead of skipping it")
    func resumeResendsLostFile() async throws {
        try await IngestScenario.run { s in
            let staged = try await s.stage(Self.night)
            try await s.database.query(PostgresQuery(unsafeSQL: "TRUNCATE staging.b\(staged.id)_patients"))
            // Not committed: the client's resume finds patients.csv not received any more.
            let loaded = try await s.upload(Self.night)
            #expect(loaded.id == staged.id)
            #expect(loaded.status == .loaded, "\(loaded.reason ?? "")")
            #expect(loaded.file(named: "encounters.csv")?.rejected == 0)
            #expect(try await s.count("emr.patients") == 3)
        }
    }

    @Test("a batch left validating by a dead owner is taken up again within seconds; its earlier attempt's leftovers do not fail it")
    func abandonedBatchIsRequeued() async throws {
        try await IngestScenario.run { s in
            let bad = Extracts.encountersHeader + "E001,P001,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,120.50,60.00,5.00,\n"
                + "E009,P404,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,120.50,60.00,5.00,\n"
            let files = ["patients.csv": Extracts.patients, "encounters.csv": bad]
            try await s.rejectThreshold(100)
            let staged = try await s.stage(files)
            // A killed attempt: an owner that holds no lease, and the quarantine and errors it wrote.
            var dead: Int32 = 0
            for try await id in try await s.database.query(
                "INSERT INTO ingest.instances (host, pid) VALUES ('gone', 1) RETURNING id").decode(Int32.self) { dead = id }
            try await s.database.query("""
                UPDATE ingest.batches SET status = 'validating', committed_at = now(), started_at = now(), owner = \(dead), attempts = 1
                WHERE id = \(staged.id)
                """)
            try await s.database.query(PostgresQuery(unsafeSQL: "UPDATE staging.b\(staged.id)_encounters SET _rejected = true WHERE encounter_id = 'E009'"))
            try await s.database.query("""
                INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
                VALUES (\(staged.id), 'encounters', 3, 'patient_id', 'dangling_reference', 'error', 'patient P404 is not in this extract', 'P404')
                """)
            try await s.database.query("""
                INSERT INTO ingest.rejected_rows (batch_id, kind, line, fields) VALUES (\(staged.id), 'encounters', 3, '{"encounter_id": "E009"}')
                """)
            let batch = try await waitForDecision(s, staged.id)
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(try await s.value("SELECT attempts::text FROM ingest.batches WHERE id = \(staged.id)") == "2")
            #expect(try await s.count("emr.encounters") == 1)
            #expect(try await s.value("""
                SELECT count(*)::text FROM ingest.row_errors WHERE batch_id = \(staged.id) AND code = 'dangling_reference'
                """) == "1")
            #expect(try await s.value("SELECT count(*)::text FROM ingest.rejected_rows WHERE batch_id = \(staged.id)") == "1")
            #expect(try await s.stagingTables() == "0")
        }
    }

    @Test("a live owner's batch is never requeued; a dead owner's is, and its side transaction rolls back")
    func liveOwnerKeepsItsBatch() async throws {
        try await IngestScenario.run { s in
            let first = try await s.upload(["patients.csv": Extracts.patients])
            #expect(first.status == .loaded)
            let recovery = BatchRecovery(database: s.database)
            // An owner alive: it holds its lock on a session of its own, and has just beaten.
            let live = try await s.database.withConnection { connection -> Int32 in
                var live: Int32 = 0
                for try await id in try await connection.query(
                    "INSERT INTO ingest.instances (host, pid) VALUES ('live', 2) RETURNING id", logger: TestDatabase.logger).decode(Int32.self) {
                    live = id
                }
                try await connection.query("SELECT pg_advisory_lock(8, \(live))", logger: TestDatabase.logger)
                try await s.database.query("""
                    UPDATE ingest.batches SET status = 'validating', owner = \(live), attempts = attempts + 1 WHERE id = \(first.id)
                    """)
                let side = try await SideTransactionTests.sideName(s, batch: first.id)
                try await SideTransactionTests.leavePrepared(s, side)
                _ = try await recovery.settle()
                #expect(try await s.value("SELECT status FROM ingest.batches WHERE id = \(first.id)") == "validating")
                #expect(try await SideTransactionTests.prepared(s) == "1")
                try await connection.query("SELECT pg_advisory_unlock(8, \(live))", logger: TestDatabase.logger)
                return live
            }
            // The lock released, as a killed process's is: the batch goes back to the queue (this
            // settle's doing, or the scenario's worker's sweep), and the side transaction goes.
            _ = try await recovery.settle()
            // (The scenario's worker may have taken it up again at once, under its own lease.)
            #expect(try await s.value("""
                SELECT (status <> 'validating' OR owner IS DISTINCT FROM \(live))::text FROM ingest.batches WHERE id = \(first.id)
                """) == "true")
            #expect(try await SideTransactionTests.prepared(s) == "0")
        }
    }
}
