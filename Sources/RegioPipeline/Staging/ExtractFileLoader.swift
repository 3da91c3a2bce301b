import Foundation
import Logging
import NIOCore
import PostgresNIO
import RegioCore
import RegioDB

/// What became of one uploaded file.
public struct FileReceipt: Sendable, Codable, Equatable {
    public var kind: ExtractKind
    public var name: String
    public var rows: Int
    public var bytes: Int
    public var sha256: String
    public var rejected: Int
    public var warnings: Int
    /// A structural problem that will reject the batch.
    public var fileError: String?

    enum CodingKeys: String, CodingKey {
        case kind, name, rows, bytes, sha256, rejected, warnings
        case fileError = "file_error"
    }
}

/// Streams one uploaded file into its staging table: bytes → SHA-256 of what was sent → gunzip
/// (for `.csv.gz`) → UTF-8 (GB18030 and GBK through iconv) → RFC 4180 records → row validation →
/// PostgreSQL binary COPY. Nothing is held whole: memory stays at a few buffers whatever the size.
public struct ExtractFileLoader: Sendable {
    public let database: Database
    /// Where the keys of files being received are remembered (see `RepeatedKeys`).
    let keyMemory: KeyMemory
    /// What is kept of each staged file for its batch's decision; the batch worker's.
    let stagedKeys: StagedKeys
    /// Where the crash tests kill the process (`REGIO_FAULT`); nowhere otherwise.
    let faults: FaultInjection
    /// How large an upload may be, and how far a compressed one may inflate.
    public let limits: StreamLimits

    public init(database: Database, keyMemory: KeyMemory, stagedKeys: StagedKeys, faults: FaultInjection = .none,
                limits: StreamLimits = StreamLimits()) {
        self.database = database
        self.keyMemory = keyMemory
        self.stagedKeys = stagedKeys
        self.faults = faults
        self.limits = limits
    }

    public func load<Body: AsyncSequence & Sendable>(
        batchID: Int64, file: ExtractManifest.File, encoding: TextEncoding, context: ValidationContext,
        transportGzip: Bool = false, body: Body
    ) async throws -> FileReceipt where Body.Element == ByteBuffer {
        let table = StagingTable(batchID: batchID, kind: file.kind)
        let logger = database.logger
        stagedKeys.forget(batch: batchID, kind: file.kind)
        let receipt = try await database.withConnection(writing: .batch(batchID)) { connection -> FileReceipt in
            // Starting again (a resumed upload) replaces what an earlier attempt staged.
            try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table.name)"), logger: logger)
            try await connection.query(PostgresQuery(unsafeSQL: table.createStatement), logger: logger)
            var tableOID: Int64 = 0
            for try await oid in try await connection.query(
                "SELECT to_regclass(\(table.name))::oid::int8", logger: logger).decode(Int64.self) {
                tableOID = oid
            }
            try await connection.query(
                "DELETE FROM ingest.row_errors WHERE batch_id = \(batchID) AND kind = \(file.kind.rawValue)", logger: logger)

            var state = try StreamState(file: file, encoding: encoding, context: context, transportGzip: transportGzip,
                                        keyMemory: keyMemory)
            state.limits = limits
            do {
                try await connection.copyBinary(into: "staging", table: table.unqualifiedName, columns: StagingTable.columns(for: file.kind),
                                                logger: logger) { writer in
                    for try await chunk in body {
                        try state.consume(chunk)
                        if state.pending.count >= StreamState.batchRows || state.pendingBytes >= StreamState.batchBytes {
                            try await writer.write(state.count(try await state.encoding.encode(state.takePending())))
                        }
                    }
                    try state.finish()
                    if !state.pending.isEmpty {
                        try await writer.write(state.count(try await state.encoding.encode(state.takePending())))
                    }
                    faults.reach(.duringCopy, logger: logger)
                }
            } catch {
                // The COPY was abandoned — the file refused, the client gone, the service shutting
                // down: nothing of the file stays, and it counts as not sent. (A cancelled task
                // still runs plain queries.)
                _ = try? await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(table.name)"), logger: logger)
                let metadata: Logger.Metadata = ["batch": "\(batchID)", "kind": "\(file.kind.rawValue)"]
                if let refused = error as? FileRefused {
                    logger.warning("file refused while streaming", metadata: metadata.merging(["reason": "\(refused.message)"]) { $1 })
                } else {
                    logger.warning("upload abandoned while streaming", metadata: metadata.merging(
                        ["reason": "\(error is CancellationError ? "the service is shutting down" : Database.message(for: error))"]) { $1 })
                }
                throw error
            }

            // Fresh tables have no statistics; without them the set-based checks plan nested loops.
            // A sample of 6,000 rows (statistics target 20) is enough for their joins and groups,
            // and took 0.1 s for a million staged encounters against 0.4 s for the default 30,000.
            try await connection.withTransaction(logger: logger) { connection in
                try await connection.query("SET LOCAL default_statistics_target = 20", logger: logger)
                try await connection.query(PostgresQuery(unsafeSQL: "ANALYZE \(table.name)"), logger: logger)
            }
            // Every row with an issue was counted rejected or warned: without any, nothing to copy.
            if state.rejected + state.warnings > 0 {
                let issues = try PipelineSQL.load("ingest/issues.sql")
                try await connection.query(issues.query(try issues.render(table.fills), ["batch": batchID, "kind": file.kind.rawValue]),
                                           logger: logger)
            }
            // Duplicate keys are a check of the file alone: marked now, the receipt counts them
            // and the batch's decision starts with its merge. Only the keys seen twice while
            // streaming are checked, unless the file had to be checked whole.
            var duplicates = 0
            if state.repeatedKeys.checkInDatabase {
                duplicates = try await Self.markDuplicates(table, on: connection, logger: logger)
            } else if !state.repeatedKeys.candidates.isEmpty {
                duplicates = try await Self.markDuplicates(table, among: state.repeatedKeys.candidates.sorted(),
                                                           on: connection, logger: logger)
            }
            state.rejected += duplicates
            if duplicates > 0 { state.quality = nil }
            for issue in state.headerIssues + state.fileIssues {
                try await connection.query("""
                    INSERT INTO ingest.row_errors (batch_id, kind, line, column_name, code, severity, message)
                    VALUES (\(batchID), \(file.kind.rawValue), \(issue.line), \(issue.issue.column), \(issue.issue.code.rawValue),
                            \(issue.issue.severity.rawValue), \(issue.issue.message))
                    """, logger: logger)
            }
            let receipt = state.receipt
            if receipt.fileError == nil {
                stagedKeys.remember(state.stagedFile(table: tableOID), batch: batchID, kind: file.kind)
            }
            try await connection.query("""
                UPDATE ingest.batch_files SET received_rows = \(receipt.rows), received_sha256 = \(receipt.sha256),
                    received_bytes = \(receipt.bytes), received_at = now(), file_error = \(receipt.fileError),
                    rejected = \(receipt.rejected), warnings = \(receipt.warnings), duplicates_checked = true,
                    retractions_sent = \(state.retractions)
                WHERE batch_id = \(batchID) AND kind = \(file.kind.rawValue)
                """, logger: logger)
            return receipt
        }
        logger.info("file staged", metadata: [
            "batch": "\(batchID)", "kind": "\(file.kind.rawValue)", "rows": "\(receipt.rows)", "rejected": "\(receipt.rejected)",
        ])
        faults.reach(.afterStage, logger: logger)
        return receipt
    }

    /// Rejects every row sharing its key with another row of the file (`duplicate_key`, on each
    /// line); returns how many rows it rejected. `among`: only these keys can repeat (nil: any).
    /// The keys are grouped by sorting: hashing a night's million distinct keys outgrew work_mem
    /// and spilled, and took 1.5 s against 0.9 s sorted (in `regio bench ingest`).
    static func markDuplicates(_ table: StagingTable, among keys: [String]? = nil, on connection: PostgresConnection,
                               logger: Logger) async throws -> Int {
        try await connection.withTransaction(logger: logger) { connection in
            try await connection.query("SET LOCAL enable_hashagg = off", logger: logger)
            let duplicates = try PipelineSQL.load("ingest/duplicates.sql")
            let statement = try duplicates.query(try duplicates.render(table.fills), ["batch": table.batchID, "repeated_keys": keys])
            return try await connection.changedRows(statement, logger: logger)
        }
    }
}
