import PostgresNIO
import RegioCore
import RegioDB

/// The set-based checks over a batch's staged rows, after the duplicate keys (marked as each file
/// was staged, `ExtractFileLoader.markDuplicates`); rows they reject are marked and reported.
/// Checks of different kinds touch different staging tables, so each phase runs them side by
/// side, one connection per kind; the phases keep the order the checks depend on:
///
/// 1. `references`: each kind's patients must be known (and a referral's target registered).
///    These reject rows; the side transaction waits for those of its own kinds, the main one for all.
/// 2. `optionalReferences`: warnings; the rows are kept.
/// 3. `measure`: the quarantine of rejected rows, each file's counts and the data-quality
///    measures, which only read.
///
/// None of them writes the patients' staging table, which the merge is reading and marking
/// meanwhile, and they read the core tables as they were before the batch (the merge has not
/// committed). Each check the upload may have answered in memory is a `MemoryOrSQL`: one value
/// says both how memory answers it and which SQL file runs when memory cannot, so the two are
/// chosen in one place.
struct BatchChecks: Sendable {
    let database: Database

    /// A check that memory (`StagedKeys`) may settle before the database is asked.
    enum MemoryOrSQL {
        /// `kind`'s patients are known: sent in the batch or stored (`dangling_patients.sql`).
        case patients(ExtractKind)
        /// A referral's target is a registered facility (`dangling_referral_target.sql`).
        case referralTarget
        /// An encounter's referring facility is registered: a warning (`dangling_referral_from.sql`).
        case referralFrom
        /// An exam's encounter is known: a warning (`dangling_exam_encounter.sql`).
        case examEncounter

        /// The kind whose rows it checks.
        var kind: ExtractKind {
            switch self {
            case .patients(let kind): kind
            case .referralTarget: .referrals
            case .referralFrom: .encounters
            case .examEncounter: .exams
            }
        }

        /// The file run when memory cannot settle it, and the kind it is run for (`{staging}`).
        var sql: (path: String, kind: ExtractKind?) {
            switch self {
            case .patients(let kind): ("ingest/dangling_patients.sql", kind)
            case .referralTarget: ("ingest/dangling_referral_target.sql", .referrals)
            case .referralFrom: ("ingest/dangling_referral_from.sql", nil)
            case .examEncounter: ("ingest/dangling_exam_encounter.sql", nil)
            }
        }

        /// Whether the upload settled it: every value a key the batch itself sends, or a
        /// registered facility's code.
        func settled(_ batch: Batch, on connection: PostgresConnection) async throws -> Bool {
            switch self {
            case .patients(let kind): batch.remembered.allSent(kind, "patient_id")
            case .examEncounter: batch.remembered.allSent(.exams, "encounter_id")
            case .referralTarget:
                try await Self.registered(batch.remembered.facilityCodes(.referrals, "to_facility_code"), on: connection, batch)
            case .referralFrom:
                try await Self.registered(batch.remembered.facilityCodes(.encounters, "referral_from"), on: connection, batch)
            }
        }

        /// Runs the check for `batch`: answered in memory when it can be, otherwise by its SQL.
        func run(_ batch: Batch, on connection: PostgresConnection) async throws {
            guard batch.kinds.contains(kind), try await !settled(batch, on: connection) else { return }
            try await batch.run(sql.path, kind: sql.kind, on: connection)
        }

        /// Whether every one of `codes` is a registered facility's (false when they are not known).
        private static func registered(_ codes: Set<String>?, on connection: PostgresConnection, _ batch: Batch) async throws -> Bool {
            guard let codes else { return false }
            if codes.isEmpty { return true }
            for try await found in try await connection.query(
                "SELECT count(*)::int8 FROM registry.facilities WHERE code = ANY(\(Array(codes)))", logger: batch.logger
            ).decode(Int64.self) {
                return found == codes.count
            }
            return false
        }
    }

    /// Phase 1 for `kinds`: the references that reject rows.
    func references(_ batch: Batch, of kinds: [ExtractKind]) async throws {
        try await forEach(kinds.filter(batch.kinds.contains), of: batch) { kind, connection in
            try await batch.stages.measure("checks: references \(kind.rawValue)") {
                try await MemoryOrSQL.patients(kind).run(batch, on: connection)
                if kind == .referrals { try await MemoryOrSQL.referralTarget.run(batch, on: connection) }
            }
        }
    }

    /// Phase 2: warnings for optional references; the rows are kept.
    func optionalReferences(_ batch: Batch) async throws {
        try await batch.stages.measure("checks: optional references") {
            try await database.withConnection(writing: .facility(batch.facilityID)) { connection in
                try await MemoryOrSQL.referralFrom.run(batch, on: connection)
                try await MemoryOrSQL.examEncounter.run(batch, on: connection)
            }
        }
    }

    /// Phase 3: the quarantine of rejected rows, each file's counts, and the plausibility
    /// measures for the data-quality report, whatever the decision (a resumed batch measures
    /// again). A file without any row error (every rejected or warned row has one) has nothing to
    /// quarantine or count: its staging table is not scanned for them; nor for its quality
    /// checks, when the upload counted them (`RememberedFiles.quality`).
    func measure(_ batch: Batch) async throws {
        try await database.query("DELETE FROM ingest.batch_checks WHERE batch_id = \(batch.id)")
        try await forEach(batch.kinds, of: batch) { kind, connection in
            try await batch.stages.measure("checks: measures \(kind.rawValue)") {
                try await measure(kind, batch, on: connection)
            }
        }
    }

    /// One kind's part of `measure`.
    private func measure(_ kind: ExtractKind, _ batch: Batch, on connection: PostgresConnection) async throws {
        let table = StagingTable(batchID: batch.id, kind: kind)
        let logger = database.logger
        var issues = true
        for try await found in try await connection.query("""
            SELECT EXISTS (SELECT 1 FROM ingest.row_errors WHERE batch_id = \(batch.id) AND kind = \(kind.rawValue))
            """, logger: logger).decode(Bool.self) {
            issues = found
        }
        if issues {
            let quarantine = try PipelineSQL.load("ingest/quarantine.sql")
            try await connection.query(quarantine.query(try quarantine.render(table.fills), ["batch": batch.id, "kind": kind.rawValue]),
                                       logger: logger)
            try await connection.query("""
                UPDATE ingest.batch_files SET
                    rejected = (SELECT count(*) FROM \(unescaped: table.name) WHERE _rejected),
                    warnings = (SELECT count(*) FROM \(unescaped: table.name) s
                                WHERE NOT s._rejected AND EXISTS (
                                    SELECT 1 FROM ingest.row_errors e
                                    WHERE e.batch_id = \(batch.id) AND e.kind = \(kind.rawValue) AND e.line = s._line
                                      AND e.severity = 'warning'))
                WHERE batch_id = \(batch.id) AND kind = \(kind.rawValue)
                """, logger: logger)
        } else {
            try await connection.query("""
                UPDATE ingest.batch_files SET rejected = 0, warnings = 0 WHERE batch_id = \(batch.id) AND kind = \(kind.rawValue)
                """, logger: logger)
        }
        let checks = QualityChecks.ids(kind)
        if let tally = batch.remembered.quality(kind) {
            // Counted as the rows streamed: the staging table need not be read again.
            try await connection.query("""
                INSERT INTO ingest.batch_checks (batch_id, check_id, failing, applicable)
                SELECT \(batch.id), * FROM unnest(\(checks)::text[], \(tally.failing)::int8[], \(tally.applicable)::int8[])
                """, logger: logger)
        } else if !checks.isEmpty {
            try await batch.run("ingest/checks/\(kind.rawValue).sql", kind: kind, on: connection)
        }
    }

    /// The rejected-row threshold's verdict: the reason to reject the batch, or nil.
    func thresholdExceeded(_ batch: Batch) async throws -> String? {
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

    /// Runs `body` for each kind at once, each on a connection of its own that writes the batch's
    /// facility's rows (`WriteScope`); returns when all are done.
    private func forEach(_ kinds: [ExtractKind], of batch: Batch,
                         _ body: @escaping @Sendable (ExtractKind, PostgresConnection) async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for kind in kinds {
                group.addTask { try await database.withConnection(writing: .facility(batch.facilityID)) { try await body(kind, $0) } }
            }
            try await group.waitForAll()
        }
    }
}
