import PostgresNIO
import RegioCore
import RegioDB

/// The merge of a batch that passed its checks into the core tables, as two transactions side by
/// side that two-phase commit joins into one outcome:
///
/// - the **main** transaction merges persons and patients (starting while the checks still run:
///   it needs only the duplicates, marked at upload), then waits for every check and the
///   rejected-row threshold, merges exams and purchases (with the purchase rollups), and records
///   the batch's outcome;
/// - the **side** transaction merges the activity — encounters, census, referrals — and what
///   derives from it (the referral history, the rollups, the referral findings), once the
///   references of its own kinds are checked, and ends prepared (`PREPARE TRANSACTION`) once the
///   main one has done all but commit (`Meeting`);
/// - both insert the new exams, range by range (`SharedInsert`), so that they end together.
///
/// The main transaction commits, then the side one does; if the main one fails, the side one is
/// rolled back; a process that dies in between leaves it to `BatchRecovery`. Without prepared
/// transactions (`max_prepared_transactions` = 0, or `sideTransactions` off) the main transaction
/// merges everything, one kind after the other. A dry run does everything and rolls it all back.
struct BatchMerge: Sendable {
    let database: Database
    let outcome: BatchOutcome
    let kinds: KindMerge
    /// Where the crash tests kill the process (`REGIO_FAULT`); nowhere otherwise.
    let faults: FaultInjection

    init(database: Database, faults: FaultInjection) {
        self.database = database
        self.outcome = BatchOutcome(database: database)
        self.kinds = KindMerge(database: database)
        self.faults = faults
    }

    /// The activity: kinds whose merges, with the rollups and referral findings derived from
    /// them, read no core table the main transaction writes — except the patients' person links,
    /// which the referral matching then reads from the batch's staged patients (`batchPatients`).
    static let activityKinds: [ExtractKind] = [.encounters, .beds, .referrals]

    /// A staged file's rows were lost while the batch was being decided (`ingest.lost_files`).
    struct StagingLost: Error {}
    private struct DryRunRollback: Error {}
    private struct Rejection: Error {
        var reason: String
    }

    /// Merges the batch and records its outcome: loaded, validated (a dry run) or rejected (over
    /// the threshold). `activityReferences` and `examReferences` are the reference checks the
    /// side transaction and the shared exam insert wait for; `checks`, every check.
    func run(_ batch: Batch, activityReferences: Task<Void, any Error>, examReferences: Task<Void, any Error>,
             checks: Task<Void, any Error>) async throws {
        // With a side transaction, both insert the new exams (`SharedInsert`), once their
        // references have marked their rejected rows.
        let sharedExams = batch.side != nil && batch.kinds.contains(.exams)
            ? Task { try await examReferences.value; return try await kinds.share(.exams, batch) } : nil
        // The side transaction starts as soon as the reference checks of its kinds have marked
        // their rejected rows (the warnings, the quarantine and the measures only read them).
        let meeting = Meeting()
        let side = batch.side.map { side in
            Task { () -> [ExtractKind: BatchOutcome.Counts] in
                try await mergeSide(side, batch, after: activityReferences, sharing: sharedExams, meeting: meeting)
            }
        }
        var counts: [ExtractKind: BatchOutcome.Counts] = [:]
        var sideCounts: [ExtractKind: BatchOutcome.Counts]?
        do {
            try await database.withTransaction { connection in
                // Checked inside this transaction: staged rows lost before it began are found
                // here, and a crash that empties staging after it kills this transaction too.
                try await requireStagedRows(batch, on: connection)
                try await batch.enterMerge(on: connection)
                if batch.kinds.contains(.patients) {
                    counts[.patients] = try await batch.stages.measure("main: merge patients") {
                        try await kinds.merge(.patients, batch, lane: "main", on: connection)
                    }
                }
                try await batch.stages.measure("main: waiting for the checks") { try await checks.value }
                faults.reach(.afterChecks, logger: database.logger)
                if let reason = try await BatchChecks(database: database).thresholdExceeded(batch) {
                    throw Rejection(reason: reason)
                }
                for kind in batch.kinds where kind != .patients && !Self.activityKinds.contains(kind) {
                    let shared = kind == .exams ? try await sharedExams?.value : nil
                    let purchaseMonths = kind == .purchases ? try await purchaseTouchedMonths(batch, on: connection) : []
                    counts[kind] = try await batch.stages.measure("main: merge \(kind.rawValue)") {
                        try await kinds.merge(kind, batch, lane: "main", on: connection, sharing: shared)
                    }
                    if kind == .purchases {
                        try await batch.stages.measure("main: purchase rollups") {
                            try await ProcurementRollups.parseSpecs(in: StagingTable(batchID: batch.id, kind: .purchases).name,
                                                                    on: connection, logger: database.logger)
                            try await ProcurementRollups.refresh(purchaseMonths.map { (batch.facilityID, $0) }, on: connection,
                                                                 logger: database.logger)
                        }
                    }
                }
                if let side {
                    // The side transaction's counts are recorded with the others (the shared
                    // kind's added up). Kept across a retry of this transaction: the side one
                    // reports them once.
                    if sideCounts == nil {
                        sideCounts = try await batch.stages.measure("main: waiting for the side transaction") {
                            guard let worked = await meeting.sideWorked() else { return try await side.value }
                            return worked
                        }
                    }
                    counts.merge(sideCounts ?? [:]) { main, side in
                        (main.inserted + side.inserted, main.updated + side.updated, main.retracted + side.retracted)
                    }
                } else {
                    let touched = try await touchedMonths(batch, on: connection)
                    counts.merge(try await mergeActivity(batch, lane: "main", patientsMerged: true, touched: touched, on: connection)) { $1 }
                }
                if batch.dryRun { throw DryRunRollback() }
                try await outcome.recordCounts(batch, counts, status: .loaded, on: connection)
                // All but the commit is done. Alone, this transaction holds the readers' barrier
                // through its commit; with a side one, that one takes it now, prepares, and holds
                // it until it commits after this one (taking it here too would wait for it).
                if let side {
                    meeting.mainReady()
                    _ = try await batch.stages.measure("main: waiting for the side transaction to prepare") { try await side.value }
                } else {
                    try await BatchCommitBarrier.holdForCommit(on: connection, logger: database.logger)
                }
                faults.reach(.beforeMainCommit, logger: database.logger)
            }
        } catch {
            // The main transaction rolled back; the side one, once it has stopped, goes too —
            // without the new exams' ranges still left.
            meeting.mainFailed()
            if let shared = try? await sharedExams?.value { shared.stop() }
            if let side, let prepared = batch.side {
                _ = try? await side.value
                await settle(prepared, batch, commit: false)
            }
            switch error {
            case is DryRunRollback:
                try await database.withTransaction { connection in
                    try await outcome.recordCounts(batch, counts, status: .validated, on: connection)
                }
            case let rejection as Rejection:
                try await outcome.finish(batch.id, attempt: batch.attempt, status: .rejected, reason: rejection.reason)
            default:
                throw error
            }
            return
        }
        faults.reach(.afterMainCommit, logger: database.logger)
        if let side = batch.side {
            await batch.stages.measure("side: commit prepared") { await settle(side, batch, commit: true) }
            faults.reach(.afterSideCommit, logger: database.logger)
        }
    }

    /// Throws `StagingLost` when a received file's staged rows are gone (`ingest.lost_files`).
    private func requireStagedRows(_ batch: Batch, on connection: PostgresConnection) async throws {
        for try await lost in try await connection.query(
            "SELECT count(*)::int8 FROM ingest.lost_files(\(batch.id))", logger: database.logger).decode(Int.self) where lost > 0 {
            throw StagingLost()
        }
    }

    /// Where the two transactions of a merge wait for each other. The side transaction reports its
    /// work done, with its counts; then it waits until the main transaction has done all but
    /// commit before it takes the readers' barrier and prepares. A barrier holder must wait for
    /// nothing but its commit: a side transaction holding it while its main transaction still
    /// merged could wait, through that transaction, for another batch's row locks — and that
    /// batch for the barrier, before its own commit. Neither would ever go on.
    final class Meeting: Sendable {
        private let worked: AsyncStream<[ExtractKind: BatchOutcome.Counts]>
        private let reportWorked: AsyncStream<[ExtractKind: BatchOutcome.Counts]>.Continuation
        private let ready: AsyncStream<Void>
        private let reportReady: AsyncStream<Void>.Continuation

        init() {
            (worked, reportWorked) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
            (ready, reportReady) = AsyncStream.makeStream(bufferingPolicy: .unbounded)
        }

        /// The side transaction has done its work (nil: it failed first, or reported already).
        func sideWorked() async -> [ExtractKind: BatchOutcome.Counts]? {
            var reports = worked.makeAsyncIterator()
            return await reports.next()
        }

        func sideDone(_ counts: [ExtractKind: BatchOutcome.Counts]) {
            reportWorked.yield(counts)
            reportWorked.finish()
        }

        /// The side transaction's task ended: a main transaction still waiting for its work learns
        /// that it failed.
        func sideEnded() { reportWorked.finish() }

        /// The main transaction has done all but commit: the side one may prepare.
        func mainReady() { reportReady.yield() }

        /// The main transaction failed: a side transaction waiting to prepare rolls back.
        func mainFailed() { reportReady.finish() }

        /// Whether the side transaction may prepare: false when the main one failed.
        func mayPrepare() async -> Bool {
            var reports = ready.makeAsyncIterator()
            return await reports.next() != nil
        }
    }

    /// The main transaction failed before the side one prepared.
    private struct MainFailed: Error {}

    /// The side transaction: the activity (`mergeActivity`), on a connection of its own while the
    /// main transaction merges the rest. It ends prepared, once the main transaction has done all
    /// but commit (`Meeting`): on disk and sure to commit when told, but not yet visible. A dry
    /// run rolls it back at once.
    /// The touched months are taken while the reference checks still run, on a connection given
    /// back before waiting for them: the checks need connections too, and a connection held while
    /// waiting for them can leave none (two batches at once on a pool of four hung that way).
    /// `sharing`: a kind whose new rows both transactions insert; the side takes its share last.
    private func mergeSide(_ side: Batch.Side, _ batch: Batch, after references: Task<Void, any Error>,
                           sharing: Task<SharedInsert, any Error>?, meeting: Meeting) async throws -> [ExtractKind: BatchOutcome.Counts] {
        defer { meeting.sideEnded() }
        let touched = try await batch.stages.measure("side: touched months") {
            try await database.withConnection { try await touchedMonths(batch, on: $0) }
        }
        try await batch.stages.measure("side: waiting for its references") { try await references.value }
        return try await database.withConnection { connection in
            try await connection.query("BEGIN", logger: database.logger)
            do {
                try await batch.enterMerge(on: connection)
                var counts = try await mergeActivity(batch, lane: "side", patientsMerged: false, touched: touched, on: connection)
                if let shared = try await sharing?.value {
                    counts[shared.kind] = try await batch.stages.measure("side: insert \(shared.kind.rawValue)") {
                        (try await kinds.insert(shared, batch, lane: "side", on: connection), 0, 0)
                    }
                }
                if batch.dryRun {
                    try await connection.query("ROLLBACK", logger: database.logger)
                    meeting.sideDone(counts)
                } else {
                    meeting.sideDone(counts)
                    guard await batch.stages.measure("side: waiting for the main transaction", { await meeting.mayPrepare() }) else {
                        throw MainFailed()
                    }
                    faults.reach(.beforePrepare, logger: database.logger)
                    try await batch.stages.measure("side: prepare") {
                        // Held until the side transaction commits, after the main one: readers
                        // wait for both (`BatchCommitBarrier`).
                        try await BatchCommitBarrier.holdForCommit(on: connection, logger: database.logger)
                        try await connection.query(PostgresQuery(unsafeSQL: "PREPARE TRANSACTION '\(side.preparedName)'"),
                                                   logger: database.logger)
                    }
                    faults.reach(.afterPrepare, logger: database.logger)
                }
                return counts
            } catch {
                _ = try? await connection.query("ROLLBACK", logger: database.logger)
                throw error
            }
        }
    }

    /// Commits or rolls back a prepared side transaction, if it is there (one that failed before
    /// it was prepared, a dry run's, or one `BatchRecovery` settled meanwhile is not: PostgreSQL
    /// answers 42704). It is tried three times; should it still fail (the database gone, say), the
    /// batch's outcome stands and `BatchRecovery` settles the side transaction the same way later.
    private func settle(_ side: Batch.Side, _ batch: Batch, commit: Bool) async {
        for attempt in 1...3 {
            do {
                try await BatchRecovery.finishPrepared(side.preparedName, commit: commit, database: database)
                return
            } catch {
                database.logger.error("settling a side transaction failed", metadata: [
                    "batch": "\(batch.id)", "transaction": "\(side.preparedName)", "commit": "\(commit)",
                    "attempt": "\(attempt)", "error": "\(Database.logDescription(of: error))",
                ])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    /// The activity's merges (encounters, census, referrals), then the referral status history,
    /// the rollups and the referral findings — in the transaction of `connection`, so reports
    /// never see a half-loaded batch. `patientsMerged`: the batch's patients are merged in this
    /// transaction already; otherwise the referral matching reads them from staging. `touched`:
    /// the months whose rollups change, taken before the merge (`touchedMonths`).
    /// `lane`: which transaction it is, for the stages' names.
    private func mergeActivity(_ batch: Batch, lane: String, patientsMerged: Bool, touched: TouchedMonths,
                               on connection: PostgresConnection) async throws -> [ExtractKind: BatchOutcome.Counts] {
        let (months, referralMonths) = (touched.facility, touched.referral)
        let stages = batch.stages
        var counts: [ExtractKind: BatchOutcome.Counts] = [:]
        for kind in Self.activityKinds where batch.kinds.contains(kind) {
            counts[kind] = try await stages.measure("\(lane): merge \(kind.rawValue)") {
                try await kinds.merge(kind, batch, lane: lane, on: connection)
            }
        }
        if batch.kinds.contains(.referrals) {
            try await stages.measure("\(lane): referral history") {
                try await batch.run("ingest/referral_history.sql", kind: .referrals, on: connection)
            }
        }
        try await stages.measure("\(lane): facility rollups") {
            try await Rollups.refreshFacilityMonths(months.sorted().map { (batch.facilityID, $0) }, on: connection,
                                                    logger: database.logger)
        }
        var referralKeys = referralMonths.sorted().map { (facility: batch.facilityID, month: $0) }
        // Encounters, referrals and patient links (a person's records) decide completions.
        let matching = !Set(batch.kinds).isDisjoint(with: [.patients, .encounters, .referrals])
        if matching, let earliest = months.union(referralMonths).min() {
            let batchPatients = patientsMerged || !batch.kinds.contains(.patients) ? nil : Self.batchPatients(batch)
            referralKeys += try await stages.measure("\(lane): referral matching") {
                try await Rollups.matchReferrals(facility: batch.facilityID, touchedFrom: earliest,
                                                 batchPatients: batchPatients, on: connection, logger: database.logger)
            }
        }
        try await stages.measure("\(lane): referral rollups") {
            try await Rollups.refreshReferralMonths(referralKeys, on: connection, logger: database.logger)
        }
        return counts
    }

    /// The facility's patient records the batch sends — accepted, not older than the stored
    /// record — as `referral/match.sql` reads them when they are merged in the other transaction.
    static func batchPatients(_ batch: Batch) -> String {
        """
        (SELECT s.patient_id, s.id_hash, s._op AS op FROM \(StagingTable(batchID: batch.id, kind: .patients).name) s
         WHERE NOT s._rejected AND NOT EXISTS (
             SELECT 1 FROM emr.patients t JOIN ingest.batches n ON n.id = \(batch.id)
             WHERE t.facility_id = n.facility_id AND t.patient_id = s.patient_id AND t.as_of > n.business_date))
        """
    }

    /// The months whose purchase rollups the batch's purchase lines change, taken before they are
    /// merged: those of the lines sent and of the stored lines they replace or retract.
    private func purchaseTouchedMonths(_ batch: Batch, on connection: PostgresConnection) async throws -> [String] {
        var months: [String] = []
        try await batch.run("ingest/purchase_touched_months.sql", kind: .purchases, on: connection) { months.append(try $0.decode(String.self)) }
        return months
    }

    /// Months whose rollups a batch changes: the facility's (`facility`) and its referrals'
    /// (`referral`, by referral month), `YYYY-MM-01`.
    struct TouchedMonths {
        var facility = Set<String>()
        var referral = Set<String>()
    }

    /// The months whose rollups the batch changes, taken before the merge: those of the rows
    /// sent and of the stored rows they replace or retract (after it, the stored rows are the sent
    /// ones). Taken before the reference checks have marked their rejected rows, the months of
    /// a row they reject are refreshed too, to the same values.
    private func touchedMonths(_ batch: Batch, on connection: PostgresConnection) async throws -> TouchedMonths {
        var touched = TouchedMonths()
        try await batch.run("ingest/open_stay_months.sql", kind: nil, on: connection) { touched.facility.insert(try $0.decode(String.self)) }
        if batch.kinds.contains(.encounters) {
            try await batch.run("ingest/touched_months.sql", kind: .encounters, on: connection) {
                touched.facility.insert(try $0.decode(String.self))
            }
        }
        if batch.kinds.contains(.referrals) {
            try await batch.run("ingest/referral_touched_months.sql", kind: .referrals, on: connection) {
                touched.referral.insert(try $0.decode(String.self))
            }
        }
        return touched
    }
}
