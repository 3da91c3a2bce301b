import Foundation
import PostgresNIO
@testable import RegioDB
@testable import RegioPipeline
import Testing

/// The activity (encounters, census, referrals) and what derives from it are merged in a side
/// transaction, prepared and committed with the batch's main transaction (two-phase commit), so that
/// a batch still loads whole or not at all.
@Suite("Ingestion: the merge's side transaction")
struct SideTransactionTests {
    static let exams = "report_id,patient_id,encounter_id,exam_code,code_system,exam_name,category,performed_at,summary,document_ref\n"
        + "R1,P001,E001,LAB0001,REGIONAL,血常规,LAB,2026-11-22 08:40:00,正常,his://H339901001/R1\n"
        + "R2,P002,E002,IMG0201,REGIONAL,头颅CT平扫,IMAGING,2026-11-19 09:00:00,未见明显异常,his://H339901001/R2\n"
    static let purchases = "line_id,item_code,code_system,item_name,purchase_unit,pack_size,base_unit,unit_price,quantity,amount,supplier,purchase_date\n"
        + "L1,X1,NHSA,药,盒,30,片,12.50,4,50.00,供应商,2026-11-22\n"
    static let night = ["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters,
                        "exams.csv": exams, "purchases.csv": purchases]

    /// Side transactions this test's database has left prepared.
    static func prepared(_ s: IngestScenario) async throws -> String? {
        try await s.value("SELECT count(*)::text FROM pg_prepared_xacts WHERE database = current_database()")
    }

    /// Makes every INSERT into `tables` note, in `public.<log>` (noted, xact), `value` (a PL/pgSQL
    /// expression: `TG_TABLE_NAME`, `NEW.<column>`) and the transaction it ran in, for `each`
    /// statement or row.
    static func noteTransactions(_ s: IngestScenario, in log: String, noting value: String, each: String,
                                 of tables: [String]) async throws {
        try await s.database.query(PostgresQuery(unsafeSQL: "CREATE TABLE public.\(log) (noted text, xact text)"))
        // The trigger runs as the ingestion service's role.
        try await s.database.query(PostgresQuery(unsafeSQL: "GRANT INSERT ON public.\(log) TO regio_ingest"))
        try await s.database.query(PostgresQuery(unsafeSQL: """
            CREATE FUNCTION public.note_\(log)() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN INSERT INTO public.\(log) VALUES (\(value), pg_current_xact_id()::text); RETURN NULL; END $$
            """))
        for table in tables {
            try await s.database.query(PostgresQuery(unsafeSQL:
                "CREATE TRIGGER note_\(log) AFTER INSERT ON \(table) FOR EACH \(each) EXECUTE FUNCTION public.note_\(log)()"))
        }
    }

    /// The name a batch's side transaction is prepared under by the batch's current attempt (Batch.Side).
    static func sideName(_ s: IngestScenario, batch: Int64) async throws -> String {
        let database = try #require(try await s.value("SELECT oid::text FROM pg_database WHERE datname = current_database()"))
        let attempt = try #require(try await s.value("SELECT attempts::text FROM ingest.batches WHERE id = \(batch)"))
        return "regio_\(database)_batch_\(batch)_\(attempt)"
    }

    /// What a process leaves between preparing a batch's side transaction and settling it: a
    /// transaction prepared under `name`, which runs `statement` first if there is one.
    static func leavePrepared(_ s: IngestScenario, _ name: String, running statement: PostgresQuery? = nil) async throws {
        try await s.database.withConnection { connection in
            try await connection.query("BEGIN", logger: TestDatabase.logger)
            if let statement { try await connection.query(statement, logger: TestDatabase.logger) }
            try await connection.query(PostgresQuery(unsafeSQL: "PREPARE TRANSACTION '\(name)'"), logger: TestDatabase.logger)
        }
    }

    @Test("encounters commit with the batch from a transaction of their own; without prepared transactions, from the main one",
          arguments: [true, false])
    func sideTransaction(side: Bool) async throws {
        try await IngestScenario.run(sideTransactions: side) { s in
            // Each merge INSERT notes the transaction it ran in.
            try await Self.noteTransactions(s, in: "merge_xacts", noting: "TG_TABLE_NAME", each: "STATEMENT",
                                            of: ["emr.patients", "emr.encounters", "emr.exams", "procurement.purchases"])
            let batch = try await s.upload(Self.night)
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(batch.file(named: "exams.csv")?.inserted == 2)
            #expect(batch.file(named: "purchases.csv")?.inserted == 1)
            #expect(try await s.count("emr.exams") == 2)
            #expect(try await s.count("procurement.purchases") == 1)
            #expect(try await s.value("SELECT count(DISTINCT xact)::text FROM public.merge_xacts") == (side ? "2" : "1"))
            // The new exams are inserted by either transaction (SharedInsert), so they are not asked.
            #expect(try await s.value("""
                SELECT count(DISTINCT xact)::text FROM public.merge_xacts WHERE noted IN ('patients', 'purchases')
                """) == "1")
            #expect(try await s.value("""
                SELECT count(DISTINCT xact)::text FROM public.merge_xacts WHERE noted = 'encounters'
                """) == "1")
            // Persons were added with the patients and linked to them (P003, without an ID
            // number, by the patient index once the batch loaded).
            #expect(try await s.value("SELECT count(*)::text FROM emr.patients p JOIN emr.persons pe ON pe.id = p.person_id") == "3")
            #expect(try await Self.prepared(s) == "0")
            #expect(try await s.stagingTables() == "0")
        }
    }

    @Test("the referral matching sees the records the batch sends, whichever transaction merges the patients",
          arguments: [true, false])
    func matchingSeesBatchPatients(side: Bool) async throws {
        try await IngestScenario.run(sideTransactions: side) { s in
            let (a, c) = (BureauScenario.a, BureauScenario.c)
            // P339901001 refers Q1 (resident ID a) up to H339901001 on 10-05.
            try await BureauScenario.expectLoaded(s, facility: "P339901001", date: "2026-10-05", [
                "patients.csv": Extracts.patientsHeader + "Q1,赵一,1,1980-05-06,RID,\(a),,\n",
                "referrals.csv": BureauScenario.referrals + "R1,Q1,H339901001,2026-10-05 11:30:00,I10.x00,SENT,,\n",
            ])
            // H339901001 holds a record T1 of the same person, without a visit yet.
            try await BureauScenario.expectLoaded(s, facility: "H339901001", date: "2026-10-06", [
                "patients.csv": Extracts.patientsHeader + "T1,赵一,1,1980-05-06,RID,\(a),,\n",
            ])
            let finding = "SELECT concat_ws(':', completion_method, completed_encounter_id, completion_days) FROM referral.referrals WHERE referral_id = "
            #expect(try await s.value(finding + "'R1'") == "")
            // Its next night corrects T1 to another person's ID and adds T2, the referred person:
            // T1's visit at 09:00 must not complete R1 (T1 is no longer that person); T2's at 10:00 does.
            try await BureauScenario.expectLoaded(s, facility: "H339901001", date: "2026-10-07", [
                "patients.csv": Extracts.patientsHeader + "T1,赵一,1,1990-01-01,RID,\(c),,\nT2,赵一,1,1980-05-06,RID,\(a),,\n",
                "encounters.csv": BureauScenario.encounters
                    + "TE1,T1,O,0301,内科,2026-10-07 09:00:00,2026-10-07 09:30:00,I10.x00,200.00,100.00,10.00,,,\n"
                    + "TE2,T2,O,0301,内科,2026-10-07 10:00:00,2026-10-07 10:30:00,I10.x00,200.00,100.00,10.00,,,\n",
            ])
            #expect(try await s.value(finding + "'R1'") == "same_person:TE2:2")
            // A referral sent in the same batch as its patient's first record there: P339901002
            // refers Z1 (resident ID a) at 09:30 on 10-07, before TE2.
            try await BureauScenario.expectLoaded(s, facility: "P339901002", date: "2026-10-08", [
                "patients.csv": Extracts.patientsHeader + "Z1,赵一,1,1980-05-06,RID,\(a),,\n",
                "referrals.csv": BureauScenario.referrals + "R2,Z1,H339901001,2026-10-07 09:30:00,I10.x00,SENT,,\n",
            ])
            #expect(try await s.value(finding + "'R2'") == "same_person:TE2:0")
        }
    }

    @Test("the new exams are inserted by both transactions, range by range, each once; stored ones corrected and retracted",
          arguments: [true, false])
    func sharedExams(side: Bool) async throws {
        try await IngestScenario.run(sideTransactions: side) { s in
            try await Self.noteTransactions(s, in: "exam_xacts", noting: "NEW.report_id", each: "ROW", of: ["emr.exams"])
            let header = "report_id,patient_id,encounter_id,exam_code,code_system,exam_name,category,performed_at,summary,document_ref,op\n"
            func exam(_ number: Int, _ summary: String = "正常", op: String = "") -> String {
                "R\(number),P001,E001,LAB0001,REGIONAL,血常规,LAB,2026-11-22 08:40:00,\(summary),his://H339901001/R\(number),\(op)\n"
            }
            // 3,000 exams: about a hundred staging pages, so several ranges.
            let first = try await s.upload(["patients.csv": Extracts.patients, "encounters.csv": Extracts.encounters,
                                            "exams.csv": header + (1...3_000).map { exam($0) }.joined()])
            #expect(first.status == .loaded, "\(first.reason ?? "")")
            #expect(first.file(named: "exams.csv")?.inserted == 3_000)
            #expect(try await s.value("SELECT count(DISTINCT noted)::text || '/' || count(*) FROM public.exam_xacts") == "3000/3000")
            let counted = try await s.value("SELECT count(DISTINCT xact)::text FROM public.exam_xacts")
            let transactions = try #require(counted.flatMap { Int($0) })
            #expect(transactions >= 1 && transactions <= (side ? 2 : 1))

            // The next night corrects ten, retracts five and adds a thousand (with activity, so that
            // the side transaction is used).
            let next = (1...10).map { exam($0, "复查异常") }.joined() + (11...15).map { exam($0, op: "D") }.joined()
                + (3_001...4_000).map { exam($0) }.joined()
            let second = try await s.upload(["encounters.csv": Extracts.encounters, "exams.csv": header + next], date: "2026-11-23")
            #expect(second.status == .loaded, "\(second.reason ?? "")")
            let file = try #require(second.file(named: "exams.csv"))
            #expect([file.inserted, file.updated, file.retracted] == [1_000, 10, 5])
            #expect(try await s.count("emr.exams") == 3_995)
            #expect(try await s.value("SELECT count(*)::text FROM emr.exams WHERE summary = '复查异常'") == "10")
            #expect(try await Self.prepared(s) == "0")
            #expect(try await s.stagingTables() == "0")
        }
    }

    @Test("a failure in the side transaction leaves the database exactly as it was")
    func sideFailure() async throws {
        try await IngestScenario.run { s in
            try await s.injectFailure("BEFORE INSERT", on: "emr.encounters", when: "NEW.encounter_id = 'E002'",
                                      message: "'injected failure in the encounters'")
            let before = try await s.coreFingerprint()
            let batch = try await s.upload(Self.night)
            #expect(batch.status == .failed)
            #expect(batch.reason?.contains("injected failure in the encounters") == true)
            #expect(try await s.coreFingerprint() == before)
            #expect(try await s.count("emr.patients") == 0)
            #expect(try await Self.prepared(s) == "0")
            #expect(try await s.stagingTables() == "0")
        }
    }

    @Test("a failure in the main transaction's commit after the side one was prepared rolls both back")
    func mainFailureAfterPrepare() async throws {
        try await IngestScenario.run { s in
            // The main transaction marks the batch loaded: refuse it at its commit, saying whether
            // the side transaction was prepared by then.
            try await s.injectFailure("AFTER UPDATE", on: "ingest.batches", when: "NEW.status = 'loaded'", message: """
                'injected failure; side transactions prepared: '
                    || (SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database())
                """, atCommit: true)
            let before = try await s.coreFingerprint()
            let batch = try await s.upload(Self.night)
            #expect(batch.status == .failed)
            #expect(batch.reason?.contains("injected failure; side transactions prepared: 1") == true, "\(batch.reason ?? "")")
            #expect(try await s.coreFingerprint() == before)
            #expect(try await s.count("emr.encounters") == 0)
            #expect(try await s.count("emr.exams") == 0)
            #expect(try await s.count("emr.persons") == 0)
            #expect(try await Self.prepared(s) == "0")
        }
    }

    @Test("the side transaction takes the readers' barrier and prepares only once the main one has done all but commit: while the main one waits for a lock, nothing holds the barrier and readers read")
    func barrierTakenLast() async throws {
        try await IngestScenario.run { s in
            // A session holding the purchases: the main transaction's merge of them waits for it,
            // after the side transaction has merged the encounters.
            let blocker = try await s.database.dedicatedConnection(name: "blocker")
            do {
                try await blocker.query("BEGIN", logger: TestDatabase.logger)
                try await blocker.query("LOCK TABLE procurement.purchases IN SHARE MODE", logger: TestDatabase.logger)
                let staged = try await s.stage(Self.night)
                try await s.commit(staged)
                let waiting = try await eventually(within: .seconds(30)) {
                    try await s.value("""
                        SELECT count(*)::text FROM pg_stat_activity
                        WHERE application_name = 'regio batch \(staged.id)' AND wait_event_type = 'Lock'
                        """) == "1"
                }
                #expect(waiting, "the main transaction waits for the purchases")
                let sideDone = try await eventually(within: .seconds(30)) {
                    try await s.value("""
                        SELECT count(*)::text FROM pg_stat_activity
                        WHERE application_name = 'regio batch \(staged.id)' AND state = 'idle in transaction'
                        """) == "1"
                }
                #expect(sideDone, "the side transaction has merged the encounters and waits")
                // Time it would take to prepare, were it to.
                try await Task.sleep(for: .seconds(1))
                #expect(try await Self.prepared(s) == "0", "the side transaction prepared while the main one still merged")
                let (high, low) = (BatchCommitBarrier.key >> 32, BatchCommitBarrier.key & 0xFFFF_FFFF)
                #expect(try await s.value("""
                    SELECT count(*)::text FROM pg_locks
                    WHERE locktype = 'advisory' AND classid = \(high) AND objid = \(low) AND objsubid = 1 AND granted
                      AND mode = 'ExclusiveLock' AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                    """) == "0", "the barrier is held while the main transaction still merges")
                let read = try await s.database.withScope(.region) { connection in
                    for try await count in try await connection.query("SELECT count(*)::int FROM emr.patients", logger: TestDatabase.logger)
                        .decode(Int.self) {
                        return count
                    }
                    return -1
                }
                #expect(read == 0, "a reader reads meanwhile, and sees none of the batch")
                try await blocker.query("ROLLBACK", logger: TestDatabase.logger)
                let loaded = try await eventually(within: .seconds(30)) {
                    try await s.value("SELECT status FROM ingest.batches WHERE id = \(staged.id)") == "loaded"
                }
                #expect(loaded)
                #expect(try await s.count("emr.encounters") == 3)
                #expect(try await s.count("procurement.purchases") == 1)
                #expect(try await Self.prepared(s) == "0")
            } catch {
                try? await blocker.close()
                throw error
            }
            try await blocker.close()
        }
    }

    @Test("a side transaction left prepared by a stopped process commits if its batch loaded, else rolls back; one being decided is kept")
    func resolveLeftovers() async throws {
        try await IngestScenario.run { s in
            let batch = try await s.upload(["patients.csv": Extracts.patients])
            #expect(batch.status == .loaded)
            try await s.database.query("CREATE TABLE public.side_rows (tag text)")
            func leavePrepared(_ tag: String) async throws {
                let name = try await Self.sideName(s, batch: batch.id)
                try await Self.leavePrepared(s, name, running: "INSERT INTO public.side_rows VALUES (\(tag))")
            }
            let processor = BatchRecovery(database: s.database)
            func tags() async throws -> String? { try await s.value("SELECT coalesce(string_agg(tag, ',' ORDER BY tag), '') FROM public.side_rows") }

            // Prepared while the batch was being loaded, and the batch loaded: it commits.
            try await leavePrepared("loaded")
            try await processor.resolvePrepared()
            #expect(try await tags() == "loaded")
            #expect(try await Self.prepared(s) == "0")

            // The batch was taken up again after it was prepared: an earlier attempt's, rolled back.
            let earlier = try await Self.sideName(s, batch: batch.id)
            try await s.database.query("UPDATE ingest.batches SET attempts = attempts + 1 WHERE id = \(batch.id)")
            try await Self.leavePrepared(s, earlier, running: "INSERT INTO public.side_rows VALUES ('stale')")
            try await processor.resolvePrepared()
            #expect(try await tags() == "loaded")
            #expect(try await Self.prepared(s) == "0")

            // The batch is being decided: its worker settles it, not this; once it has failed, rollback.
            try await s.database.query("UPDATE ingest.batches SET status = 'validating', started_at = now() - interval '1 minute' WHERE id = \(batch.id)")
            try await leavePrepared("deciding")
            try await processor.resolvePrepared()
            #expect(try await Self.prepared(s) == "1")
            try await s.database.query("UPDATE ingest.batches SET status = 'failed' WHERE id = \(batch.id)")
            try await processor.resolvePrepared()
            #expect(try await Self.prepared(s) == "0")
            #expect(try await tags() == "loaded")
        }
    }

    @Test("between the two commits a batch reads as validating, and its facility's next batch waits")
    func betweenCommits() async throws {
        try await IngestScenario.run { s in
            let first = try await s.upload(["patients.csv": Extracts.patients])
            #expect(first.status == .loaded)
            // The moment after the main transaction committed, before the side one is: a
            // transaction prepared under the first batch's side name.
            let name = try await Self.sideName(s, batch: first.id)
            try await Self.leavePrepared(s, name)
            let store = BatchStore(database: s.database)
            #expect(try await store.batch(id: first.id)?.status == .validating)

            // The next night of the same facility is committed meanwhile: it is not taken.
            let staged = try await s.stage(["patients.csv": Extracts.patientsHeader + "P009,孙九,1,1960-06-06,,,,\n"], date: "2026-11-23")
            let next = staged.id
            try await s.commit(staged)
            try await Task.sleep(for: .seconds(1))
            #expect(try await store.batch(id: next)?.status == .queued, "the worker polls every 0.2 s: it had five chances")

            // Once the side transaction is committed, both are loaded.
            try await s.database.query(PostgresQuery(unsafeSQL: "COMMIT PREPARED '\(name)'"))
            #expect(try await store.batch(id: first.id)?.status == .loaded)
            #expect(try await waitForDecision(s, next).status == .loaded)
        }
    }

    @Test("two workers settling the same leftovers at once both go on; each leftover is settled once")
    func resolveConcurrently() async throws {
        try await IngestScenario.run { s in
            let first = try await s.upload(["patients.csv": Extracts.patients])
            #expect(first.status == .loaded)
            // Thirty more loaded batches, each with a side transaction left prepared (by the
            // scenario's live worker, whose periodic sweep leaves them to it for a minute).
            try await s.database.query("""
                INSERT INTO ingest.batches (facility_id, business_date, manifest, content_key, encoding, status, committed_at, started_at, finished_at,
                                            owner, attempts)
                SELECT facility_id, business_date - n, manifest, content_key || n, encoding, 'loaded', now(), now() - interval '1 hour', now(),
                       owner, attempts
                FROM ingest.batches, generate_series(1, 30) AS n WHERE id = \(first.id)
                """)
            try await s.database.query("CREATE TABLE public.side_rows (tag text)")
            var ids: [Int64] = []
            for try await id in try await s.database.query("SELECT id FROM ingest.batches ORDER BY id").decode(Int64.self) { ids.append(id) }
            for id in ids {
                try await Self.leavePrepared(s, try await Self.sideName(s, batch: id), running: "INSERT INTO public.side_rows VALUES (\(String(id)))")
            }
            #expect(try await Self.prepared(s) == "31")

            // Both list the same transactions; whichever comes second to one finds it gone.
            async let one = BatchRecovery(database: s.database).resolvePrepared()
            async let other = BatchRecovery(database: s.database).resolvePrepared()
            _ = try await one
            _ = try await other
            #expect(try await Self.prepared(s) == "0")
            #expect(try await s.value("SELECT count(*)::text FROM public.side_rows") == "31")
        }
    }
}

@Suite("Ingestion: the page ranges two transactions share")
struct SharedInsertTests {
    @Test("the ranges cover every page once, the last one open", arguments: [0, 1, 15, 16, 17, 100, 1_000])
    func ranges(pages: Int) {
        let shared = SharedInsert(kind: .exams, stored: 0, pages: pages)
        var taken: [Range<Int>] = []
        while let range = shared.take() { taken.append(range) }
        #expect(taken.count <= SharedInsert.pieces)
        #expect(taken.first?.lowerBound == 0)
        #expect(taken.last?.upperBound == Int.max)
        #expect(zip(taken, taken.dropFirst()).allSatisfy { $0.upperBound == $1.lowerBound })
        #expect(shared.take() == nil)
    }

    @Test("stopped, no range is left to take")
    func stopped() {
        let shared = SharedInsert(kind: .exams, stored: 0, pages: 100)
        #expect(shared.take() == 0..<7)
        shared.stop()
        #expect(shared.take() == nil)
    }

    @Test("a range as a condition on the staging rows")
    func condition() {
        #expect(SharedInsert.condition(7..<14) == "s.ctid >= '(7,0)'::tid AND s.ctid < '(14,0)'::tid")
        #expect(SharedInsert.condition(14..<Int.max) == "s.ctid >= '(14,0)'::tid")
    }
}
