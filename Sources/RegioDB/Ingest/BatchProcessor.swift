import Foundation
import Logging
import PostgresNIO
import RegioCore

/// Decides a committed batch: the set-based checks (references; duplicate keys were marked as each
/// file was staged), the rejected-row threshold, and the merge into the core tables — committed
/// together, so a batch is loaded whole or not at all. The merge's first step (the patients)
/// overlaps the checks it does not depend on, so a batch uses a second connection while its
/// transaction is open. The merge runs as two transactions side by side, which two-phase commit
/// joins into one outcome (see `mergeSide`): the main one merges persons, patients, exams and
/// purchases; the side one the activity — encounters, census, referrals — and what derives from
/// it (the rollups and the referral findings); both insert the new exams, range by range
/// (`SharedInsert`). A dry run does everything and rolls it all back.
public struct BatchProcessor: Sendable {
    public let database: Database
    /// Whether the side transactions may be used. Even when true, they are only if the server
    /// allows prepared transactions (`max_prepared_transactions` > 0); otherwise every kind is
    /// merged in the main transaction, one after the other.
    public let sideTransactions: Bool
    /// What the ingestion service's uploads kept of the files they staged (its `ExtractFileLoader`'s).
    let stagedKeys: StagedKeys
    /// Where the crash tests kill the process (`REGIO_FAULT`); nowhere otherwise.
    let faults: FaultInjection
    /// How long a decision runs before `BatchWatchdog` warns (`REGIO_SLOW_BATCH_SECONDS`).
    let slowBatch: Duration

    public init(database: Database, sideTransactions: Bool = true, stagedKeys: StagedKeys = StagedKeys(),
                faults: FaultInjection = .none, slowBatch: Duration = .seconds(120)) {
        self.database = database
        self.sideTransactions = sideTransactions
        self.stagedKeys = stagedKeys
        self.faults = faults
        self.slowBatch = slowBatch
    }

    /// The side transaction, when the batch has activity to merge.
    struct Side: Sendable {
        /// Its name once prepared (`PREPARE TRANSACTION`), unique in the cluster and to the
        /// attempt: `regio_<database oid>_batch_<batch id>_<attempt>` (see `BatchRecovery`).
        var preparedName: String
    }

    /// The activity: kinds whose merges, with the rollups and referral findings derived from
    /// them, read no core table the main transaction writes — except the patients' person links,
    /// which the referral matching then reads from the batch's staged patients (see
    /// referral/match.sql). Merged in the side transaction once the reference checks are done;
    /// the main transaction merges the rest (persons, patients, exams, purchases), and both take
    /// ranges of the new exams once their own work is done, so the two end together
    /// (see docs/benchmarks.md).
    static let activityKinds: [ExtractKind] = [.encounters, .beds, .referrals]

    struct Batch {
        var id: Int64
        /// This decision's number among the batch's attempts: its outcome is recorded only while
        /// it is the batch's current one (`recordOutcome`).
        var attempt: Int32
        var facilityID: Int
        var businessDate: String
        var contentKey: String
        var dryRun: Bool
        var kinds: [ExtractKind]
        var fileErrors: [String]
        /// Retractions each file sent, counted at upload (migration 0015 refuses a database with
        /// a received file that lacks the count).
        var retractionsSent: [ExtractKind: Int] = [:]
        /// The side transaction: nil when it is not used.
        var side: Side?
        /// The files this process staged and remembers, for the reference checks.
        var remembered = RememberedFiles()
        /// What the decision is doing, and how long each stage took.
        var stages: BatchStages
    }

    /// Takes the next queued batch, if any, under the lease `owner` (`IngestInstance`), and
    /// decides it. Returns the batch id it worked on. Batches of one facility are taken in
    /// business-date order, one at a time (a batch whose side transaction is not committed yet
    /// still counts as being decided); batches of different facilities run concurrently on
    /// different workers.
    public func processNext(owner: Int32) async throws -> Int64? {
        guard let (id, attempt) = try await claimNext(owner: owner) else { return nil }
        try await process(batchID: id, attempt: attempt)
        return id
    }

    func claimNext(owner: Int32) async throws -> (Int64, Int32)? {
        let rows = try await database.query("""
            UPDATE ingest.batches SET status = 'validating', started_at = now(), owner = \(owner), attempts = attempts + 1
            WHERE id = (
                SELECT b.id FROM ingest.batches b
                WHERE b.status = 'queued'
                  AND NOT EXISTS (
                      SELECT 1 FROM ingest.batches o
                      WHERE o.facility_id = b.facility_id AND o.id <> b.id
                        AND (o.status = 'validating' OR o.id IN (SELECT ingest.pending_side_batches())
                             OR (o.status = 'queued' AND (o.business_date, o.id) < (b.business_date, b.id))))
                ORDER BY b.committed_at, b.id
                LIMIT 1
                FOR UPDATE SKIP LOCKED)
            RETURNING id, attempts
            """)
        for try await row in rows.decode((Int64, Int32).self) { return row }
        return nil
    }

    /// This attempt is no longer the batch's current one: another took the batch up (its owner's
    /// lease was lost meanwhile), and this one's writes are rolled back.
    struct Superseded: Error {}

    /// A staged file's rows were lost while the batch was being decided (see `returnLostFiles`).
    struct StagingLost: Error {}

    /// Decides a claimed batch. An attempt ends in one of three ways: it records the batch's
    /// outcome (and drops its staging); it is interrupted — the database went away, or staged
    /// rows were lost — and the batch goes back to the queue, to be taken up again; or it finds
    /// another attempt has taken over, and stops.
    public func process(batchID: Int64, attempt: Int32) async throws {
        let logger = database.logger
        let started = ContinuousClock.now
        let metadata: Logger.Metadata = ["batch": "\(batchID)", "attempt": "\(attempt)"]
        let stages = BatchStages(batchID: batchID, logger: logger)
        let watchdog = Task { await BatchWatchdog(database: database, after: slowBatch).watch(stages, attempt: attempt) }
        defer { watchdog.cancel() }
        var decided = false
        do {
            // A side transaction still prepared for this batch is an earlier attempt's, whose
            // process died before settling it; it would hold rows this attempt writes.
            try await BatchRecovery(database: database).resolvePrepared()
            if try await returnLostFiles(batchID, attempt: attempt) { return }
            try await decide(try await load(batchID, attempt: attempt, stages: stages))
            decided = true
            logger.info("batch decided", metadata: metadata.merging([
                "seconds": "\(BatchStages.seconds(ContinuousClock.now - started))", "stages": "\(stages.summary)",
            ]) { $1 })
        } catch is Superseded {
            logger.warning("batch taken up by a later attempt; this one stops", metadata: metadata)
        } catch where error is StagingLost || BatchRecovery.isLostDatabase(error) {
            logger.warning("batch decision interrupted; the batch goes back to the queue", metadata: metadata.merging([
                "error": "\(error is StagingLost ? "staged rows lost" : Database.message(for: error))",
            ]) { $1 })
            // Should the database still be away, the lease went with it: BatchRecovery requeues.
            _ = try? await BatchRecovery.requeue(batchID, attempt: attempt, database: database)
        } catch {
            logger.error("batch failed", metadata: metadata.merging(["error": "\(String(reflecting: error))"]) { $1 })
            let reason = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
            do {
                try await finish(batchID, attempt: attempt, status: .failed, reason: "the platform could not load this batch: \(reason)")
                decided = true
            } catch is Superseded {
                logger.warning("batch taken up by a later attempt; this one stops", metadata: metadata)
            }
        }
        // Staging is scratch space: once the batch is decided, whatever the outcome, it goes.
        if decided { try? await StagingTable.drop(batchID: batchID, database: database) }
    }

    /// Staged rows the decision cannot do without are gone when PostgreSQL's crash recovery has
    /// emptied the unlogged staging tables (or a table was dropped): the batch cannot be decided
    /// on what is left. Those files go back to "to be sent" (`ingest.forget_lost_files`) and the
    /// batch back to `receiving`, so that the upload client's resume sends them again. Whether
    /// it did.
    private func returnLostFiles(_ id: Int64, attempt: Int32) async throws -> Bool {
        let lost = try await database.withTransaction { connection -> [String] in
            var names: [String] = []
            for try await name in try await connection.query(
                "SELECT ingest.forget_lost_files(\(id))", logger: database.logger).decode(String.self) {
                names.append(name)
            }
            guard !names.isEmpty else { return [] }
            let reason = "staged files were lost in a database restart and must be sent again: \(names.joined(separator: ", "))"
            try await recordOutcome("""
                UPDATE ingest.batches SET status = 'receiving', committed_at = NULL, started_at = NULL, owner = NULL,
                    reason = \(reason)
                WHERE id = \(id) AND attempts = \(attempt) AND status = 'validating'
                """, on: connection)
            try await AuditLog.record(actor: "ingest", action: "batch.reopened", subject: "\(id)", detail: ["reason": reason],
                                      on: connection, logger: database.logger)
            return names
        }
        guard !lost.isEmpty else { return false }
        _ = stagedKeys.take(batch: id)
        database.logger.warning("staged files lost; the batch waits for them to be sent again", metadata: [
            "batch": "\(id)", "files": "\(lost.joined(separator: ","))",
        ])
        return true
    }

    /// Runs a statement that records this attempt's outcome on the batch's row: it changes it
    /// only while the attempt is current (its `WHERE` asks for `attempts` and `validating`);
    /// otherwise a later attempt has taken the batch up, and this one's transaction rolls back.
    private func recordOutcome(_ statement: PostgresQuery, on connection: PostgresConnection) async throws {
        guard try await connection.changedRows(statement, logger: database.logger) == 1 else { throw Superseded() }
    }

    private func decide(_ batch: Batch) async throws {
        if !batch.fileErrors.isEmpty {
            try await finish(batch.id, attempt: batch.attempt, status: .rejected, reason: batch.fileErrors.joined(separator: "; "))
            return
        }
        if let original = try await loadedDuplicate(of: batch) {
            try await recordDuplicate(batch, of: original)
            return
        }
        // Each file's duplicate keys were marked when it was staged, so the merge's first step
        // (the patients, see `merge`) can start at once; the other checks run beside it. Whatever
        // happens to the merge, they are waited for, so none outlives the batch's decision.
        // The side transaction's kinds wait only for their own references; the main transaction
        // waits for every check.
        let activityReferences = Task { try await checkReferences(batch, of: [.encounters, .referrals]) }
        let examReferences = Task { try await checkReferences(batch, of: [.exams]) }
        let checks = Task {
            try await examReferences.value
            try await activityReferences.value
            try await batch.stages.measure("checks: optional references") {
                try await database.withConnection { connection in
                    try await checkOptionalReferences(batch, on: connection)
                }
            }
            try await measure(batch)
        }
        do {
            try await merge(batch, activityReferences: activityReferences, examReferences: examReferences, checks: checks)
        } catch {
            _ = try? await checks.value
            throw error
        }
    }

    private func load(_ id: Int64, attempt: Int32, stages: BatchStages) async throws -> Batch {
        var batch: Batch?
        var prepared: (allowed: Bool, database: Int64) = (false, 0)
        for try await row in try await database.query("""
            SELECT id, facility_id, business_date::text, content_key, dry_run,
                   current_setting('max_prepared_transactions')::int > 0,
                   (SELECT oid::int8 FROM pg_database WHERE datname = current_database())
            FROM ingest.batches WHERE id = \(id)
            """).decode((Int64, Int, String, String, Bool, Bool, Int64).self) {
            batch = Batch(id: row.0, attempt: attempt, facilityID: row.1, businessDate: row.2, contentKey: row.3, dryRun: row.4,
                          kinds: [], fileErrors: [], stages: stages)
            prepared = (row.5, row.6)
        }
        guard var batch else { throw BatchStore.Problem.notFound(id) }
        let remembered = stagedKeys.take(batch: id)
        for try await (kind, name, error, retractions, table) in try await database.query("""
            SELECT kind, name, file_error, retractions_sent, to_regclass(format('staging.b%s_%s', batch_id, kind))::oid::int8
            FROM ingest.batch_files WHERE batch_id = \(id)
            """).decode((String, String, String?, Int?, Int64?).self) {
            let kind = ExtractKind(rawValue: kind)!
            batch.kinds.append(kind)
            if let error { batch.fileErrors.append("\(name): \(error)") }
            batch.retractionsSent[kind] = retractions
            if let file = remembered[kind], file.table == table { batch.remembered.files[kind] = file }
        }
        batch.kinds.sort()
        if sideTransactions, prepared.allowed, !Set(Self.activityKinds).isDisjoint(with: batch.kinds) {
            batch.side = Side(preparedName: "regio_\(prepared.database)_batch_\(id)_\(attempt)")
        }
        return batch
    }

    private func loadedDuplicate(of batch: Batch) async throws -> Int64? {
        for try await id in try await database.query("""
            SELECT id FROM ingest.batches
            WHERE facility_id = \(batch.facilityID) AND content_key = \(batch.contentKey) AND status = 'loaded'
              AND id <> \(batch.id) AND NOT dry_run
            ORDER BY id LIMIT 1
            """).decode(Int64.self) { return id }
        return nil
    }

    /// The same content was loaded before: applying it again could undo later corrections, so
    /// nothing is merged; every accepted row counts as unchanged, and the batch says which it repeats.
    private func recordDuplicate(_ batch: Batch, of original: Int64) async throws {
        try await database.withTransaction { connection in
            try await connection.query("""
                UPDATE ingest.batch_files f SET inserted = 0, updated = 0, retracted = 0,
                    rejected = o.rejected, warnings = o.warnings, unchanged = f.received_rows - o.rejected
                FROM ingest.batch_files o
                WHERE f.batch_id = \(batch.id) AND o.batch_id = \(original) AND o.kind = f.kind
                """, logger: database.logger)
            // The errors found after staging — references, and duplicate keys of files staged
            // before migration 0007 — are the original's; those this batch's upload found already
            // (duplicate keys, since 0007) are not copied twice.
            try await connection.query("""
                INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message, raw_value)
                SELECT \(batch.id), e.kind, e.line, e.column_name, e.code, e.severity, e.message, e.raw_value
                FROM ingest.row_errors e
                WHERE e.batch_id = \(original) AND e.code IN ('duplicate_key', 'dangling_reference')
                  AND NOT EXISTS (SELECT 1 FROM ingest.row_errors m
                                  WHERE m.batch_id = \(batch.id) AND m.kind = e.kind AND m.line = e.line AND m.code = e.code)
                """, logger: database.logger)
            try await connection.query("""
                INSERT INTO ingest.rejected_rows (batch_id, kind, line, fields)
                SELECT \(batch.id), kind, line, fields FROM ingest.rejected_rows WHERE batch_id = \(original)
                """, logger: database.logger)
            try await recordOutcome("""
                UPDATE ingest.batches SET status = \(batch.dryRun ? "validated" : "loaded"), duplicate_of = \(original),
                    reason = \("identical to batch \(original), already loaded; nothing changed"), finished_at = now()
                WHERE id = \(batch.id) AND attempts = \(batch.attempt) AND status = 'validating'
                """, on: connection)
        }
    }

    private func staging(_ batch: Batch, _ kind: ExtractKind) -> String? {
        batch.kinds.contains(kind) ? StagingTable(batchID: batch.id, kind: kind).name : nil
    }

    /// `{patients}` (and the like) when the batch has no such file: an empty relation of the same shape.
    private func relation(_ batch: Batch, _ kind: ExtractKind) -> String {
        if let name = staging(batch, kind) { return name }
        let columns = StagingTable.stagingColumns(kind).map { "NULL::text AS \($0)" }.joined(separator: ", ")
        return "(SELECT 0 AS _line, 'U'::text AS _op, false AS _rejected, false AS _stored, \(columns) WHERE false)"
    }

    /// Fills a SQL file's placeholders; `{pages}` (merge/exams.sql) keeps a statement to a range of
    /// staging pages (`SharedInsert.condition`), or to all of them.
    private func render(_ sql: String, _ batch: Batch, kind: ExtractKind?, pages: String = "true") -> String {
        var text = sql.replacingOccurrences(of: "{pages}", with: pages)
        if let kind { text = StagingTable(batchID: batch.id, kind: kind).render(text) }
        for other in ExtractKind.allCases {
            text = text.replacingOccurrences(of: "{\(other.rawValue)}", with: relation(batch, other))
        }
        return text
    }

    /// Runs a SQL file's statements in order; `row` sees every row any of them returns.
    private func run(_ file: String, _ batch: Batch, kind: ExtractKind?, on connection: PostgresConnection,
                     row: (PostgresRow) throws -> Void = { _ in }) async throws {
        for statement in try statements(file, batch, kind: kind) {
            for try await result in try await connection.query(query(statement, batch), logger: database.logger) {
                try row(result)
            }
        }
    }

    private func statements(_ file: String, _ batch: Batch, kind: ExtractKind?) throws -> [String] {
        SQLScript.statements(in: render(try SQLFile.load(file), batch, kind: kind))
    }

    /// Runs a SQL file's statements, none of which returns rows, in order; the rows they changed.
    private func executeAll(_ file: String, _ batch: Batch, kind: ExtractKind, on connection: PostgresConnection) async throws -> Int {
        var changed = 0
        for statement in try statements(file, batch, kind: kind) {
            changed += try await execute(statement, batch, on: connection)
        }
        return changed
    }

    /// Parameters are positional: binds up to the highest one the statement uses.
    private func query(_ statement: String, _ batch: Batch) -> PostgresQuery {
        var bindings = PostgresBindings()
        let highest = statement.contains("$3") ? 3 : statement.contains("$2") ? 2 : statement.contains("$1") ? 1 : 0
        if highest >= 1 { bindings.append(batch.id) }
        if highest >= 2 { bindings.append(batch.facilityID) }
        if highest >= 3 { bindings.append(batch.businessDate) }
        return PostgresQuery(unsafeSQL: statement, binds: bindings)
    }

    /// Set-based checks over the staged rows; rows they reject are marked and reported. Checks of
    /// different kinds touch different staging tables, so each phase runs them side by side, one
    /// connection per kind; the phases keep the order the checks depend on (the warnings and the
    /// quarantine see every rejection). The duplicate keys, the only check that rejects patient
    /// rows, were marked when each file was staged (`ExtractFileLoader.markDuplicates`).
    ///
    /// First the references of `kinds`, which reject rows: each kind's patients must be known (and
    /// a referral's target registered). After them come the warnings for optional references
    /// (`checkOptionalReferences`), then the quarantine and the data-quality measures
    /// (`measure`), which only read. None of them writes the patients' staging table, which the
    /// merge is reading and marking meanwhile, and they read the core tables as they were before
    /// the batch (the merge has not committed). A check whose references the upload already
    /// settled — every one a key the batch sends, or a registered facility — is not run (see
    /// `StagedKeys`).
    private func checkReferences(_ batch: Batch, of kinds: [ExtractKind]) async throws {
        try await forEach(kinds.filter(batch.kinds.contains)) { kind, connection in
            try await batch.stages.measure("checks: references \(kind.rawValue)") {
                if !batch.remembered.allSent(kind, "patient_id") {
                    try await run("ingest/dangling_patients.sql", batch, kind: kind, on: connection)
                }
                if kind == .referrals,
                   try await !registered(batch.remembered.facilityCodes(.referrals, "to_facility_code"), on: connection) {
                    try await run("ingest/dangling_referral_target.sql", batch, kind: .referrals, on: connection)
                }
            }
        }
    }

    /// Warnings for optional references; the rows are kept.
    private func checkOptionalReferences(_ batch: Batch, on connection: PostgresConnection) async throws {
        if batch.kinds.contains(.encounters),
           try await !registered(batch.remembered.facilityCodes(.encounters, "referral_from"), on: connection) {
            try await run("ingest/dangling_referral_from.sql", batch, kind: nil, on: connection)
        }
        if batch.kinds.contains(.exams), !batch.remembered.allSent(.exams, "encounter_id") {
            try await run("ingest/dangling_exam_encounter.sql", batch, kind: nil, on: connection)
        }
    }

    /// Whether every one of `codes` is a registered facility's (false when they are not known).
    private func registered(_ codes: Set<String>?, on connection: PostgresConnection) async throws -> Bool {
        guard let codes else { return false }
        if codes.isEmpty { return true }
        for try await found in try await connection.query(
            "SELECT count(*)::int8 FROM registry.facilities WHERE code = ANY(\(Array(codes)))", logger: database.logger
        ).decode(Int64.self) {
            return found == codes.count
        }
        return false
    }

    /// The quarantine of rejected rows, each file's counts, and the plausibility measures for the
    /// data-quality report, whatever the decision (a resumed batch measures again). A file
    /// without any row error (every rejected or warned row has one) has nothing to quarantine
    /// or count: its staging table is not scanned for them; nor for its quality checks, when the
    /// upload counted them (`RememberedFiles.quality`).
    private func measure(_ batch: Batch) async throws {
        try await database.query("DELETE FROM ingest.batch_checks WHERE batch_id = \(batch.id)")
        try await forEach(batch.kinds) { kind, connection in
            try await batch.stages.measure("checks: measures \(kind.rawValue)") {
                try await measure(kind, batch, on: connection)
            }
        }
    }

    /// One kind's part of `measure`.
    private func measure(_ kind: ExtractKind, _ batch: Batch, on connection: PostgresConnection) async throws {
        let table = StagingTable(batchID: batch.id, kind: kind)
        let binds = ExtractFileLoader.binds(batch.id, kind.rawValue)
        var issues = true
        for try await found in try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT EXISTS (SELECT 1 FROM ingest.row_errors WHERE batch_id = $1 AND kind = $2)
            """, binds: binds), logger: database.logger).decode(Bool.self) {
            issues = found
        }
        if issues {
            try await connection.query(PostgresQuery(unsafeSQL: table.render(try SQLFile.load("ingest/quarantine.sql")), binds: binds),
                                       logger: database.logger)
        }
        try await connection.query(PostgresQuery(unsafeSQL: issues ? """
            UPDATE ingest.batch_files SET
                rejected = (SELECT count(*) FROM \(table.name) WHERE _rejected),
                warnings = (SELECT count(*) FROM \(table.name) s
                            WHERE NOT s._rejected AND EXISTS (
                                SELECT 1 FROM ingest.row_errors e
                                WHERE e.batch_id = $1 AND e.kind = $2 AND e.line = s._line AND e.severity = 'warning'))
            WHERE batch_id = $1 AND kind = $2
            """ : "UPDATE ingest.batch_files SET rejected = 0, warnings = 0 WHERE batch_id = $1 AND kind = $2",
            binds: binds), logger: database.logger)
        let checks = QualityChecks.ids(kind)
        if let tally = batch.remembered.quality(kind) {
            // Counted as the rows streamed: the staging table need not be read again.
            try await connection.query("""
                INSERT INTO ingest.batch_checks (batch_id, check_id, failing, applicable)
                SELECT \(batch.id), * FROM unnest(\(checks)::text[], \(tally.failing)::int8[], \(tally.applicable)::int8[])
                """, logger: database.logger)
        } else if !checks.isEmpty {
            try await run("ingest/checks/\(kind.rawValue).sql", batch, kind: kind, on: connection)
        }
    }

    /// Runs `body` for each kind at once, each on a connection of its own; returns when all are done.
    private func forEach(_ kinds: [ExtractKind],
                         _ body: @escaping @Sendable (ExtractKind, PostgresConnection) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for kind in kinds {
                group.addTask { try await database.withConnection { try await body(kind, $0) } }
            }
            try await group.waitForAll()
        }
    }

    private func thresholdExceeded(_ batch: Batch) async throws -> String? {
        let rows = try await database.query("""
            SELECT coalesce(sum(rejected), 0)::bigint, coalesce(sum(received_rows), 0)::bigint,
                   registry.setting_number('reject_threshold_percent', 5)::double precision
            FROM ingest.batch_files WHERE batch_id = \(batch.id)
            """)
        for try await (rejected, total, limit) in rows.decode((Int, Int, Double).self) {
            guard total > 0, Double(rejected) * 100 > limit * Double(total) else { return nil }
            let share = (Double(rejected) * 1000 / Double(total)).rounded() / 10
            return "\(rejected) of \(total) rows rejected (\(share) %), above the regional threshold of \(limit) %"
        }
        return nil
    }

    struct DryRunRollback: Error {}

    struct Rejection: Error {
        var reason: String
    }

    /// The main transaction, with the side transaction beside it; counts are recorded with the
    /// outcome. The patients' merge needs only their duplicates marked (done when their file was
    /// staged), so it starts while the checks still run on other connections; the main
    /// transaction waits for all of them (`checks`) before the rejected-row threshold and its
    /// other kinds, and a batch over the threshold is rolled back whole, like any failure.
    private func merge(_ batch: Batch, activityReferences: Task<Void, any Error>, examReferences: Task<Void, any Error>,
                       checks: Task<Void, any Error>) async throws {
        // With a side transaction, both insert the new exams (`SharedInsert`), once their
        // references have marked their rejected rows.
        let sharedExams = batch.side != nil && batch.kinds.contains(.exams)
            ? Task { try await examReferences.value; return try await shareInsert(.exams, batch) } : nil
        // The side transaction starts as soon as the reference checks of its kinds have marked
        // their rejected rows (the warnings, the quarantine and the measures only read them).
        let side = batch.side.map { side in
            Task { () -> [ExtractKind: Counts] in try await mergeSide(side, batch, after: activityReferences, sharing: sharedExams) }
        }
        var counts: [ExtractKind: Counts] = [:]
        do {
            try await database.withTransaction { connection in
                // Checked inside this transaction: staged rows lost before it began are found
                // here, and a crash that empties staging after it kills this transaction too.
                try await requireStagedRows(batch, on: connection)
                try await nameSession(batch, on: connection)
                if batch.kinds.contains(.patients) {
                    counts[.patients] = try await batch.stages.measure("main: merge patients") {
                        try await merge(.patients, batch, lane: "main", on: connection)
                    }
                }
                try await batch.stages.measure("main: waiting for the checks") { try await checks.value }
                faults.reach(.afterChecks, logger: database.logger)
                if let reason = try await thresholdExceeded(batch) { throw Rejection(reason: reason) }
                for kind in batch.kinds where kind != .patients && !Self.activityKinds.contains(kind) {
                    let shared = kind == .exams ? try await sharedExams?.value : nil
                    counts[kind] = try await batch.stages.measure("main: merge \(kind.rawValue)") {
                        try await merge(kind, batch, lane: "main", on: connection, sharing: shared)
                    }
                }
                if let side {
                    // The side transaction is prepared (a dry run's rolled back) before this one
                    // commits; its counts are recorded with the others (the shared kind's added up).
                    let sideCounts = try await batch.stages.measure("main: waiting for the side transaction") { try await side.value }
                    counts.merge(sideCounts) { main, side in
                        (main.inserted + side.inserted, main.updated + side.updated, main.retracted + side.retracted)
                    }
                } else {
                    let touched = try await touchedMonths(batch, on: connection)
                    counts.merge(try await mergeActivity(batch, lane: "main", patientsMerged: true, touched: touched, on: connection)) { $1 }
                }
                if batch.dryRun { throw DryRunRollback() }
                try await recordCounts(batch, counts, status: .loaded, on: connection)
            }
        } catch {
            // The main transaction rolled back; the side one, once it has stopped, goes too —
            // without the new exams' ranges still left.
            if let shared = try? await sharedExams?.value { shared.stop() }
            if let side, let prepared = batch.side {
                _ = try? await side.value
                await settle(prepared, batch, commit: false)
            }
            switch error {
            case is DryRunRollback:
                try await database.withTransaction { connection in
                    try await recordCounts(batch, counts, status: .validated, on: connection)
                }
            case let rejection as Rejection:
                try await finish(batch.id, attempt: batch.attempt, status: .rejected, reason: rejection.reason)
            default:
                throw error
            }
            return
        }
        faults.reach(.afterMainCommit, logger: database.logger)
        if let side = batch.side {
            await batch.stages.measure("side: commit prepared") { await settle(side, batch, commit: true) }
        }
    }

    /// Names the session of a batch's transaction after the batch, for `BatchWatchdog`; the name
    /// goes back to the pool's at the transaction's end.
    private func nameSession(_ batch: Batch, on connection: PostgresConnection) async throws {
        try await connection.query("SELECT set_config('application_name', \(BatchWatchdog.applicationName(batch.id)), true)",
                                   logger: database.logger)
    }

    /// Throws `StagingLost` when a received file's staged rows are gone (`ingest.lost_files`).
    private func requireStagedRows(_ batch: Batch, on connection: PostgresConnection) async throws {
        for try await lost in try await connection.query(
            "SELECT count(*)::int8 FROM ingest.lost_files(\(batch.id))", logger: database.logger).decode(Int.self) where lost > 0 {
            throw StagingLost()
        }
    }

    /// The activity's merges (encounters, census, referrals), then the referral status history,
    /// the rollups and the referral findings — in the transaction of `connection`, so reports
    /// never see a half-loaded batch. `patientsMerged`: the batch's patients are merged in this
    /// transaction already; otherwise the referral matching reads them from staging. `touched`:
    /// the months whose rollups change, taken before the merge (`touchedMonths`).
    /// `lane`: which transaction it is, for the stages' names.
    private func mergeActivity(_ batch: Batch, lane: String, patientsMerged: Bool, touched: TouchedMonths,
                               on connection: PostgresConnection) async throws -> [ExtractKind: Counts] {
        let (months, referralMonths) = (touched.facility, touched.referral)
        let stages = batch.stages
        var counts: [ExtractKind: Counts] = [:]
        for kind in Self.activityKinds where batch.kinds.contains(kind) {
            counts[kind] = try await stages.measure("\(lane): merge \(kind.rawValue)") {
                try await merge(kind, batch, lane: lane, on: connection)
            }
        }
        if batch.kinds.contains(.referrals) {
            try await stages.measure("\(lane): referral history") {
                try await run("referral/history.sql", batch, kind: .referrals, on: connection)
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
        try await run("ingest/open_stay_months.sql", batch, kind: nil, on: connection) { touched.facility.insert(try $0.decode(String.self)) }
        if batch.kinds.contains(.encounters) {
            try await run("ingest/touched_months.sql", batch, kind: .encounters, on: connection) {
                touched.facility.insert(try $0.decode(String.self))
            }
        }
        if batch.kinds.contains(.referrals) {
            try await run("referral/touched_months.sql", batch, kind: .referrals, on: connection) {
                touched.referral.insert(try $0.decode(String.self))
            }
        }
        return touched
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

    /// The side transaction: the activity (`mergeActivity`), on a connection of its own while the
    /// main transaction merges the rest. It ends prepared (`PREPARE TRANSACTION`: on disk and sure
    /// to commit when told, but not yet visible); the main transaction commits, then it does; if
    /// the main one fails instead, it is rolled back. A process that dies in between leaves it to
    /// `BatchRecovery`. A dry run rolls it back at once.
    /// The touched months are taken while the reference checks still run, on a connection given
    /// back before waiting for them: the checks need connections too, and a connection held while
    /// waiting for them can leave none (two batches at once on a pool of four hung that way).
    /// `sharing`: a kind whose new rows both transactions insert; the side takes its share last.
    private func mergeSide(_ side: Side, _ batch: Batch, after references: Task<Void, any Error>,
                           sharing: Task<SharedInsert, any Error>?) async throws -> [ExtractKind: Counts] {
        let touched = try await batch.stages.measure("side: touched months") {
            try await database.withConnection { try await touchedMonths(batch, on: $0) }
        }
        try await batch.stages.measure("side: waiting for its references") { try await references.value }
        return try await database.withConnection { connection in
            try await connection.query("BEGIN", logger: database.logger)
            do {
                try await nameSession(batch, on: connection)
                var counts = try await mergeActivity(batch, lane: "side", patientsMerged: false, touched: touched, on: connection)
                if let shared = try await sharing?.value {
                    counts[shared.kind] = try await batch.stages.measure("side: insert \(shared.kind.rawValue)") {
                        (try await insertShared(shared, batch, lane: "side", on: connection), 0, 0)
                    }
                }
                if batch.dryRun {
                    try await connection.query("ROLLBACK", logger: database.logger)
                } else {
                    faults.reach(.beforePrepare, logger: database.logger)
                    try await batch.stages.measure("side: prepare") {
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
    private func settle(_ side: Side, _ batch: Batch, commit: Bool) async {
        for attempt in 1...3 {
            do {
                try await BatchRecovery.finishPrepared(side.preparedName, commit: commit, database: database)
                return
            } catch {
                database.logger.error("settling a side transaction failed", metadata: [
                    "batch": "\(batch.id)", "transaction": "\(side.preparedName)", "commit": "\(commit)",
                    "attempt": "\(attempt)", "error": "\(String(reflecting: error))",
                ])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    typealias Counts = (inserted: Int, updated: Int, retracted: Int)

    /// One kind's rows into its core table, by the statements of `ingest/merge/<kind>.sql`, counted
    /// from their command tags. The sent keys already stored are marked first (the marking's own
    /// count says how many); an UPDATE is skipped when none is, a DELETE when no retraction was
    /// sent (counted as the file streamed). Beyond the saved time, a join with nothing to do cannot then be planned badly: a core
    /// table's statistics can be far from what the transaction has just written into it (the
    /// benchmark's night, which retracts nothing, once spent over twenty minutes in the exams'
    /// retraction DELETE).
    /// `sharing`: the kind's new rows are inserted by both transactions, range by range, and its
    /// stored keys were marked already (`shareInsert`).
    /// `lane`: which transaction it is, for the stages' names.
    private func merge(_ kind: ExtractKind, _ batch: Batch, lane: String, on connection: PostgresConnection,
                       sharing shared: SharedInsert? = nil) async throws -> Counts {
        var stored: Int?  // how many sent keys are stored; nil (the census): unknown, nothing is skipped
        var retractions = true
        let step = "\(lane): merge \(kind.rawValue):"
        if kind == .patients {
            try await batch.stages.measure("\(step) persons", step: true) { try await mergePersons(batch, on: connection) }
        }
        if kind != .beds {  // the census is keyed by department and date, not by a sent key
            if let shared {
                stored = shared.stored
            } else {
                stored = try await batch.stages.measure("\(step) mark stored", step: true) {
                    try await executeAll("ingest/mark_stored.sql", batch, kind: kind, on: connection)
                }
            }
            // Unknown (which migration 0015 rules out): the DELETE runs.
            retractions = batch.retractionsSent[kind].map { $0 > 0 } ?? true
        }
        var counts: Counts = (0, 0, 0)
        // What the statements replace is kept for the batch's retraction (migration 0013's triggers).
        try await connection.query("SELECT set_config('regio.superseding_batch', \(String(batch.id)), true)", logger: database.logger)
        for statement in try statements("ingest/merge/\(kind.rawValue).sql", batch, kind: kind) {
            let command = SQLScript.command(of: statement)
            if command == "UPDATE", stored == 0 { continue }
            if command == "DELETE", !retractions { continue }
            if command == "INSERT", let shared {
                counts.inserted += try await insertShared(shared, batch, lane: lane, on: connection)
                continue
            }
            let rows = try await batch.stages.measure("\(step) \(command)", step: true) {
                try await execute(statement, batch, on: connection)
            }
            switch command {
            case "INSERT":
                counts.inserted += rows
                if GrownTables.readAfterMerge.contains(kind) {
                    try await GrownTables.analyzeIfGrown(StagingTable(batchID: batch.id, kind: kind).target, inserted: rows,
                                                         on: connection, logger: database.logger)
                }
            case "UPDATE": counts.updated += rows
            case "DELETE": counts.retracted += rows
            default: preconditionFailure("ingest/merge/\(kind.rawValue).sql: \(command) is not a merge statement")
            }
        }
        try await connection.query("SELECT set_config('regio.superseding_batch', '', true)", logger: database.logger)
        return counts
    }

    /// Makes `kind`'s staging table final for the two transactions that share its new rows
    /// (`SharedInsert`): its stored keys are marked — committed, so both see them — and its pages
    /// counted. Its rejected rows are marked already (its reference check has run).
    private func shareInsert(_ kind: ExtractKind, _ batch: Batch) async throws -> SharedInsert {
        try await database.withConnection { connection in
            let stored = try await batch.stages.measure("\(kind.rawValue): mark stored for the shared insert") {
                try await executeAll("ingest/mark_stored.sql", batch, kind: kind, on: connection)
            }
            var pages = 0
            let table = StagingTable(batchID: batch.id, kind: kind).name
            for try await count in try await connection.query(PostgresQuery(unsafeSQL:
                "SELECT (pg_relation_size('\(table)') / current_setting('block_size')::int8)::int8"), logger: database.logger).decode(Int.self) {
                pages = count
            }
            return SharedInsert(kind: kind, stored: stored, pages: pages)
        }
    }

    /// Inserts the new rows of the page ranges of `shared` this transaction takes, until none is
    /// left; how many.
    private func insertShared(_ shared: SharedInsert, _ batch: Batch, lane: String, on connection: PostgresConnection) async throws -> Int {
        let file = "ingest/merge/\(shared.kind.rawValue).sql"
        let sql = try SQLFile.load(file)
        var inserted = 0
        while let pages = shared.take() {
            let statements = SQLScript.statements(in: render(sql, batch, kind: shared.kind, pages: SharedInsert.condition(pages)))
            guard let insert = statements.first(where: { SQLScript.command(of: $0) == "INSERT" }) else {
                preconditionFailure("\(file) has no INSERT")
            }
            inserted += try await batch.stages.measure("\(lane): insert \(shared.kind.rawValue): pages \(pages)", step: true) {
                try await execute(insert, batch, on: connection)
            }
        }
        return inserted
    }

    /// The batch's new persons, by a plain INSERT; should a batch of another facility have added
    /// one of them meanwhile (a unique violation), again from a savepoint with ON CONFLICT. The
    /// patients' merge reads them next (see `GrownTables`).
    private func mergePersons(_ batch: Batch, on connection: PostgresConnection) async throws {
        var inserted: Int
        try await connection.query("SAVEPOINT persons", logger: database.logger)
        do {
            inserted = try await executeAll("ingest/merge/persons.sql", batch, kind: .patients, on: connection)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            try await connection.query("ROLLBACK TO SAVEPOINT persons", logger: database.logger)
            inserted = try await executeAll("ingest/merge/persons_concurrent.sql", batch, kind: .patients, on: connection)
        }
        try await connection.query("RELEASE SAVEPOINT persons", logger: database.logger)
        try await GrownTables.analyzeIfGrown("emr.persons", inserted: inserted, on: connection, logger: database.logger)
    }

    /// Runs one statement that returns no rows; the rows it changed.
    private func execute(_ statement: String, _ batch: Batch, on connection: PostgresConnection) async throws -> Int {
        try await connection.changedRows(query(statement, batch), logger: database.logger)
    }

    private func recordCounts(_ batch: Batch, _ counts: [ExtractKind: Counts], status: BatchRecord.Status,
                              on connection: PostgresConnection) async throws {
        let logger = database.logger
        for (kind, count) in counts {
            try await connection.query("""
                UPDATE ingest.batch_files SET inserted = \(count.inserted), updated = \(count.updated),
                    retracted = \(count.retracted),
                    unchanged = received_rows - rejected - \(count.inserted) - \(count.updated) - \(count.retracted)
                WHERE batch_id = \(batch.id) AND kind = \(kind.rawValue)
                """, logger: logger)
        }
        try await recordOutcome("""
            UPDATE ingest.batches SET status = \(status.rawValue), finished_at = clock_timestamp(), reason = NULL
            WHERE id = \(batch.id) AND attempts = \(batch.attempt) AND status = 'validating'
            """, on: connection)
        if status == .loaded {
            // The rows the facility's batches replaced are kept for as long as they can be retracted.
            try await connection.query("""
                DELETE FROM ingest.superseded_rows WHERE batch_id IN (
                    SELECT id FROM ingest.batches WHERE facility_id = \(batch.facilityID) AND id <> \(batch.id)
                      AND finished_at < now() - make_interval(days => (SELECT value::int FROM registry.settings WHERE key = 'retraction_days')))
                """, logger: logger)
        }
        try await AuditLog.record(actor: "ingest", action: "batch.\(status.rawValue)", subject: "\(batch.id)",
                                  detail: ["business_date": batch.businessDate], on: connection, logger: logger)
    }

    private func finish(_ id: Int64, attempt: Int32, status: BatchRecord.Status, reason: String) async throws {
        try await database.withTransaction { connection in
            try await recordOutcome("""
                UPDATE ingest.batches SET status = \(status.rawValue), reason = \(reason), finished_at = now()
                WHERE id = \(id) AND attempts = \(attempt) AND status = 'validating'
                """, on: connection)
            try await AuditLog.record(actor: "ingest", action: "batch.\(status.rawValue)", subject: "\(id)",
                                      detail: ["reason": reason], on: connection, logger: database.logger)
        }
    }
}
