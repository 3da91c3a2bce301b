import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// A batch being decided: what the decision reads of it once, when it takes it up
/// (`BatchProcessor.load`), and how its SQL files are run — every placeholder and parameter they
/// declare is filled from it.
struct Batch: Sendable {
    var id: Int64
    /// This decision's number among the batch's attempts: its outcome is recorded only while it
    /// is the batch's current one (`BatchOutcome.record`).
    var attempt: Int32
    var facilityID: Int
    var businessDate: String
    var contentKey: String
    var dryRun: Bool
    var kinds: [ExtractKind]
    var fileErrors: [String]
    /// Retractions each file sent, counted at upload (migration 0015 refuses a database with a
    /// received file that lacks the count).
    var retractionsSent: [ExtractKind: Int] = [:]
    /// The side transaction: nil when it is not used (`BatchMerge`).
    var side: Side?
    /// The files this process staged and remembers, for the checks (`BatchChecks`).
    var remembered = RememberedFiles()
    /// What the decision is doing, and how long each stage took.
    var stages: BatchStages
    var logger: Logger

    /// The side transaction, when the batch has activity to merge.
    struct Side: Sendable {
        /// Its name once prepared (`PREPARE TRANSACTION`), unique in the cluster and to the
        /// attempt: `regio_<database oid>_batch_<batch id>_<attempt>` (see `BatchRecovery`).
        var preparedName: String
    }

    /// The parameters the pipeline's files declare, by name.
    var values: [String: (any PostgresDynamicTypeEncodable)?] {
        ["batch": id, "facility": facilityID, "business_date": businessDate]
    }

    /// The placeholders the pipeline's files declare: `kind`'s staging table and what goes with it
    /// (`StagingTable.fills`; nil: a file of no one kind), every kind's relation by its name
    /// (`{patients}` …), and `{pages}`, a range of staging pages (`SharedInsert.condition`) or all.
    func fills(kind: ExtractKind?, pages: String = "true") -> [String: String] {
        var fills = ["pages": pages]
        if let kind { fills.merge(StagingTable(batchID: id, kind: kind).fills) { $1 } }
        for other in ExtractKind.allCases { fills[other.rawValue] = relation(other) }
        return fills
    }

    /// A kind's staging table, or, when the batch has no such file, an empty relation of its shape.
    func relation(_ kind: ExtractKind) -> String {
        if kinds.contains(kind) { return StagingTable(batchID: id, kind: kind).name }
        let columns = StagingTable.stagingColumns(kind).map { "NULL::text AS \($0)" }.joined(separator: ", ")
        return "(SELECT 0 AS _line, 'U'::text AS _op, false AS _rejected, false AS _stored, \(columns) WHERE false)"
    }

    /// Runs a file's statements in order; `row` sees every row any of them returns.
    func run(_ path: String, kind: ExtractKind?, on connection: PostgresConnection,
             row: (PostgresRow) throws -> Void = { _ in }) async throws {
        let file = try PipelineSQL.load(path)
        for statement in try file.statements(fills(kind: kind)) {
            for try await result in try await connection.query(file.query(statement, values), logger: logger) {
                try row(result)
            }
        }
    }

    /// Runs a file's statements, none of which returns rows, in order; the rows they changed.
    func executeAll(_ path: String, kind: ExtractKind, on connection: PostgresConnection) async throws -> Int {
        let file = try PipelineSQL.load(path)
        var changed = 0
        for statement in try file.statements(fills(kind: kind)) {
            changed += try await execute(statement, of: file, on: connection)
        }
        return changed
    }

    /// Runs one statement of `file` that returns no rows; the rows it changed.
    func execute(_ statement: String, of file: SQLFile, on connection: PostgresConnection) async throws -> Int {
        try await connection.changedRows(file.query(statement, values), logger: logger)
    }

    /// Readies one of the batch's merge transactions: names its session after the batch, for
    /// `BatchWatchdog`, and lets it write the batch's facility's rows (`WriteScope`). Both go back
    /// to the pool's at the transaction's end.
    func enterMerge(on connection: PostgresConnection) async throws {
        try await connection.query("SELECT set_config('application_name', \(BatchWatchdog.applicationName(id)), true)",
                                   logger: logger)
        try await WriteScope.facility(facilityID).enter(on: connection, logger: logger)
    }
}
