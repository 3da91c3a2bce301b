import PostgresNIO
import RegioCore
import RegioDB

/// One kind's staged rows into its core table, in the transaction of the connection it is given,
/// by the statements of `ingest/merge/<kind>.sql`, counted from their command tags.
struct KindMerge: Sendable {
    let database: Database

    /// The sent keys already stored are marked first (the marking's own count says how many); an
    /// UPDATE is skipped when none is, a DELETE when no retraction was sent (counted as the file
    /// streamed). Beyond the saved time, a join with nothing to do cannot then be planned badly:
    /// a core table's statistics can be far from what the transaction has just written into it
    /// (the benchmark's night, which retracts nothing, once spent over twenty minutes in the
    /// exams' retraction DELETE).
    /// `sharing`: the kind's new rows are inserted by both transactions, range by range, and its
    /// stored keys were marked already (`share`).
    /// `lane`: which transaction it is, for the stages' names.
    func merge(_ kind: ExtractKind, _ batch: Batch, lane: String, on connection: PostgresConnection,
               sharing shared: SharedInsert? = nil) async throws -> BatchOutcome.Counts {
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
                    try await batch.executeAll("ingest/mark_stored.sql", kind: kind, on: connection)
                }
            }
            // Unknown (which migration 0015 rules out): the DELETE runs.
            retractions = batch.retractionsSent[kind].map { $0 > 0 } ?? true
        }
        var counts: BatchOutcome.Counts = (0, 0, 0)
        // What the statements replace is kept for the batch's retraction (migration 0013's triggers).
        try await connection.query("SELECT set_config('regio.superseding_batch', \(String(batch.id)), true)", logger: database.logger)
        let file = try PipelineSQL.load("ingest/merge/\(kind.rawValue).sql")
        for statement in try file.statements(batch.fills(kind: kind)) {
            let command = SQLScript.command(of: statement)
            if command == "UPDATE", stored == 0 { continue }
            if command == "DELETE", !retractions { continue }
            if command == "INSERT", let shared {
                counts.inserted += try await insert(shared, batch, lane: lane, on: connection)
                continue
            }
            let rows = try await batch.stages.measure("\(step) \(command)", step: true) {
                try await batch.execute(statement, of: file, on: connection)
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
            default: preconditionFailure("\(file.path): \(command) is not a merge statement")
            }
        }
        try await connection.query("SELECT set_config('regio.superseding_batch', '', true)", logger: database.logger)
        return counts
    }

    /// Makes `kind`'s staging table final for the two transactions that share its new rows
    /// (`SharedInsert`): its stored keys are marked — committed, so both see them — and its pages
    /// counted. Its rejected rows are marked already (its reference check has run).
    func share(_ kind: ExtractKind, _ batch: Batch) async throws -> SharedInsert {
        try await database.withConnection { connection in
            let stored = try await batch.stages.measure("\(kind.rawValue): mark stored for the shared insert") {
                try await batch.executeAll("ingest/mark_stored.sql", kind: kind, on: connection)
            }
            var pages = 0
            let table = StagingTable(batchID: batch.id, kind: kind).name
            for try await count in try await connection.query("""
                SELECT (pg_relation_size(\(table)::regclass) / current_setting('block_size')::int8)::int8
                """, logger: database.logger).decode(Int.self) {
                pages = count
            }
            return SharedInsert(kind: kind, stored: stored, pages: pages)
        }
    }

    /// Inserts the new rows of the page ranges of `shared` this transaction takes, until none is
    /// left; how many.
    func insert(_ shared: SharedInsert, _ batch: Batch, lane: String, on connection: PostgresConnection) async throws -> Int {
        let file = try PipelineSQL.load("ingest/merge/\(shared.kind.rawValue).sql")
        var inserted = 0
        while let pages = shared.take() {
            let statements = try file.statements(batch.fills(kind: shared.kind, pages: SharedInsert.condition(pages)))
            guard let insert = statements.first(where: { SQLScript.command(of: $0) == "INSERT" }) else {
                preconditionFailure("\(file.path) has no INSERT")
            }
            inserted += try await batch.stages.measure("\(lane): insert \(shared.kind.rawValue): pages \(pages)", step: true) {
                try await batch.execute(insert, of: file, on: connection)
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
            inserted = try await batch.executeAll("ingest/merge/persons.sql", kind: .patients, on: connection)
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23505" {
            try await connection.query("ROLLBACK TO SAVEPOINT persons", logger: database.logger)
            inserted = try await batch.executeAll("ingest/merge/persons_concurrent.sql", kind: .patients, on: connection)
        }
        try await connection.query("RELEASE SAVEPOINT persons", logger: database.logger)
        try await GrownTables.analyzeIfGrown("emr.persons", inserted: inserted, on: connection, logger: database.logger)
    }
}
