import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// Decides committed batches, one attempt at a time: takes the next queued batch under the
/// worker's lease, reads it (`Batch`), and settles it — a file error or a repeat of loaded
/// content ends it at once; otherwise the checks (`BatchChecks`) run beside the merge
/// (`BatchMerge`), which records the outcome (`BatchOutcome`), so that a batch is loaded whole or
/// not at all. A decision interrupted by the database going away goes back to the queue;
/// `BatchRecovery` settles what a dead process left.
public struct BatchProcessor: Sendable {
    public let database: Database
    /// Whether the side transactions may be used. Even when true, they are only if the server
    /// allows prepared transactions (`max_prepared_transactions` > 0); otherwise every kind is
    /// merged in the main transaction, one after the other.
    public let sideTransactions: Bool
    /// What the ingestion service's uploads kept of the files they staged (its `ExtractFileLoader`'s).
    let stagedKeys: StagedKeys
    /// How long a decision runs before `BatchWatchdog` warns (`REGIO_SLOW_BATCH_SECONDS`).
    let slowBatch: Duration
    let outcome: BatchOutcome
    let checks: BatchChecks
    let merge: BatchMerge

    public init(database: Database, sideTransactions: Bool = true, stagedKeys: StagedKeys = StagedKeys(),
                faults: FaultInjection = .none, slowBatch: Duration = .seconds(120)) {
        self.database = database
        self.sideTransactions = sideTransactions
        self.stagedKeys = stagedKeys
        self.slowBatch = slowBatch
        self.outcome = BatchOutcome(database: database)
        self.checks = BatchChecks(database: database)
        self.merge = BatchMerge(database: database, faults: faults)
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
        } catch is BatchOutcome.Superseded {
            logger.warning("batch taken up by a later attempt; this one stops", metadata: metadata)
        } catch where error is BatchMerge.StagingLost || BatchRecovery.isLostDatabase(error) {
            logger.warning("batch decision interrupted; the batch goes back to the queue", metadata: metadata.merging([
                "error": "\(error is BatchMerge.StagingLost ? "staged rows lost" : Database.message(for: error))",
            ]) { $1 })
            // Should the database still be away, the lease went with it: BatchRecovery requeues.
            _ = try? await BatchRecovery.requeue(batchID, attempt: attempt, database: database)
        } catch {
            logger.error("batch failed", metadata: metadata.merging(["error": "\(Database.logDescription(of: error))"]) { $1 })
            let reason = (error as? PSQLError)?.serverInfo?[.message] ?? "\(error)"
            do {
                try await outcome.finish(batchID, attempt: attempt, status: .failed, reason: "the platform could not load this batch: \(reason)")
                decided = true
            } catch is BatchOutcome.Superseded {
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
        let lost = try await database.withTransaction(writing: .batch(id)) { connection -> [String] in
            var names: [String] = []
            for try await name in try await connection.query(
                "SELECT ingest.forget_lost_files(\(id))", logger: database.logger).decode(String.self) {
                names.append(name)
            }
            guard !names.isEmpty else { return [] }
            let reason = "staged files were lost in a database restart and must be sent again: \(names.joined(separator: ", "))"
            try await outcome.record("""
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

    private func decide(_ batch: Batch) async throws {
        if !batch.fileErrors.isEmpty {
            try await outcome.finish(batch.id, attempt: batch.attempt, status: .rejected, reason: batch.fileErrors.joined(separator: "; "))
            return
        }
        if let original = try await outcome.loadedDuplicate(of: batch) {
            try await outcome.recordDuplicate(batch, of: original)
            return
        }
        // Each file's duplicate keys were marked when it was staged, so the merge's first step
        // (the patients) can start at once; the other checks run beside it. Whatever happens to
        // the merge, they are waited for, so none outlives the batch's decision. The side
        // transaction's kinds wait only for their own references; the main transaction waits
        // for every check.
        let checks = self.checks
        let activityReferences = Task { try await checks.references(batch, of: [.encounters, .referrals]) }
        let examReferences = Task { try await checks.references(batch, of: [.exams]) }
        let all = Task {
            try await examReferences.value
            try await activityReferences.value
            try await checks.optionalReferences(batch)
            try await checks.measure(batch)
        }
        do {
            try await merge.run(batch, activityReferences: activityReferences, examReferences: examReferences, checks: all)
        } catch {
            _ = try? await all.value
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
                          kinds: [], fileErrors: [], stages: stages, logger: database.logger)
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
        if sideTransactions, prepared.allowed, !Set(BatchMerge.activityKinds).isDisjoint(with: batch.kinds) {
            batch.side = Batch.Side(preparedName: "regio_\(prepared.database)_batch_\(id)_\(attempt)")
        }
        return batch
    }
}
