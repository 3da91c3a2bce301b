import CompressNIO
import Crypto
import Foundation
import Logging
import NIOCore
import PostgresNIO
import RegioCore

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
        let receipt = try await database.withConnection { connection -> FileReceipt in
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
                try await connection.copyFrom(table: table.binaryCopyTarget, logger: logger) { writer in
                    try await writer.write(ByteBuffer(bytes: CopyRowEncoder.header))
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
                    try await writer.write(ByteBuffer(bytes: CopyRowEncoder.trailer))
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
                let issuesSQL = table.render(try SQLFile.load("ingest/issues.sql"))
                try await connection.query(PostgresQuery(unsafeSQL: issuesSQL, binds: Self.binds(batchID, file.kind.rawValue)),
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
            var bindings = binds(table.batchID)
            if let keys { bindings.append(keys) } else { bindings.appendNull() }
            let statement = PostgresQuery(unsafeSQL: table.render(try SQLFile.load("ingest/duplicates.sql")), binds: bindings)
            return try await connection.changedRows(statement, logger: logger)
        }
    }

    static func binds(_ values: any PostgresNonThrowingEncodable...) -> PostgresBindings {
        var bindings = PostgresBindings()
        for value in values { bindings.append(value) }
        return bindings
    }
}

/// The pipeline's state for one file. `consume` parses; the parsed rows wait in `pending` until
/// `encoding` validates and encodes them, half on each of two tasks, so that one large file keeps
/// both cores busy (the night's encounters file is the last to finish otherwise).
struct StreamState {
    /// Rows validated at a time: about 200 KB of COPY data for encounters, a few buffers' worth;
    /// fewer when they are long (a record holds at most `CSVParser.maxRecordBytes`).
    static let batchRows = 2048
    static let batchBytes = 1 << 20

    let file: ExtractManifest.File
    let context: ValidationContext
    var digest = SHA256()
    var bytes = 0
    var transportGunzip: (any NIODecompressor)?
    var fileGunzip: (any NIODecompressor)?
    var limits = StreamLimits()
    /// Bytes as they came over the wire (compressed, with transport gzip), and as the parser gets
    /// them (inflated): their ratio is checked as they grow.
    var wireBytes = 0
    var textBytes = 0
    /// Why the file is refused, once it is: the stream stops at the next chunk.
    var refused: FileRefused?
    let transcoder: Transcoder?
    var parser = CSVParser()
    var validator: RowValidator?
    var pending: [CSVParser.Record] = []
    var pendingBytes = 0
    var rows = 0
    var rejected = 0
    var warnings = 0
    /// Rows with op = D, rejected or not.
    var retractions = 0
    var headerIssues: [(line: Int?, issue: RowIssue)] = []
    var fileIssues: [(line: Int?, issue: RowIssue)] = []
    var fileError: String?
    var sha = ""

    /// The keys the file repeats, found as its rows are encoded.
    let repeatedKeys: RepeatedKeys
    /// The staging positions of the file's key column, its reference columns
    /// (`StagedKeys.references`) and its facility columns (`StagedKeys.facilityColumns`).
    let keyPosition: Int
    let referencePositions: [Int]
    let facilityPositions: [Int]
    /// For each of the kind's reference columns (`StagedKeys.references`), the hashes of the
    /// values its accepted upserts hold: nil without memory for them, or past the declared rows.
    var references: [[Int]]?
    let referencesMemory: KeyMemory.Reservation?
    /// The distinct codes of each facility column (`StagedKeys.facilityColumns`) in the accepted
    /// upserts; nil past `StagedKeys.facilityCodeLimit`.
    var facilityCodes: [Set<String>]?
    /// The data-quality checks of the accepted upserts (`QualityChecks`), as the rows streamed;
    /// nil once rows they counted were rejected as duplicates.
    var quality: QualityChecks.Tally?
    let encodingName: String
    let stagingColumns: [String]
    /// How each staging column is written; only text ones hold a rejected row's raw value.
    let valueTypes: [CopyRowEncoder.ValueType]

    init(file: ExtractManifest.File, encoding: TextEncoding, context: ValidationContext, transportGzip: Bool,
         keyMemory: KeyMemory) throws {
        self.file = file
        self.repeatedKeys = RepeatedKeys(rows: file.rows, memory: keyMemory)
        let stagingColumns = StagingTable.stagingColumns(file.kind)
        self.stagingColumns = stagingColumns
        self.keyPosition = stagingColumns.firstIndex(of: file.kind.spec.key[0])!
        self.referencePositions = StagedKeys.references(of: file.kind).map { stagingColumns.firstIndex(of: $0.column)! }
        self.facilityPositions = StagedKeys.facilityColumns(of: file.kind).map { stagingColumns.firstIndex(of: $0)! }
        let referenceColumns = referencePositions.count
        self.referencesMemory = keyMemory.reserve(rows: file.rows, bytesEach: MemoryLayout<Int>.stride * referenceColumns)
        if referencesMemory != nil {
            self.references = Array(repeating: [], count: referenceColumns)
            for index in 0..<referenceColumns { references![index].reserveCapacity(file.rows) }
        }
        self.facilityCodes = Array(repeating: [], count: facilityPositions.count)
        self.quality = QualityChecks.Tally(kind: file.kind)
        self.encodingName = encoding.rawValue
        self.valueTypes = StagingTable.stagedSpecs(file.kind).map { StagingTable.storage($0.type).value }
        self.context = context
        self.transcoder = try Transcoder(encoding)
        if transportGzip { transportGunzip = try Gunzip.start() }
        if file.isGzip { fileGunzip = try Gunzip.start() }
    }

    /// One chunk of the request body.
    mutating func consume(_ chunk: ByteBuffer) throws {
        wireBytes += chunk.readableBytes
        if refused == nil { refused = limits.refusal(body: wireBytes) }
        if let refused { throw refused }
        if let transportGunzip {
            try Gunzip.inflate(chunk, with: transportGunzip) { try consumeFileBytes($0) }
        } else {
            try consumeFileBytes(chunk)
        }
    }

    /// Bytes of the file as the hospital made it (what the manifest's digest covers).
    mutating func consumeFileBytes(_ chunk: ByteBuffer) throws {
        bytes += chunk.readableBytes
        chunk.withUnsafeReadableBytes { digest.update(bufferPointer: $0) }
        if let fileGunzip {
            try Gunzip.inflate(chunk, with: fileGunzip) { try consumeText($0) }
        } else {
            try consumeText(chunk)
        }
    }

    mutating func consumeText(_ chunk: ByteBuffer) throws {
        textBytes += chunk.readableBytes
        if let refused = refused ?? limits.refusal(inflated: textBytes, from: wireBytes, compressed: transportGunzip != nil || fileGunzip != nil) {
            self.refused = refused
            throw refused
        }
        // The parser calls back into `handle`, which mutates self: run it from a local copy.
        var parser = self.parser
        defer { self.parser = parser }
        chunk.withUnsafeReadableBytes { raw in
            let bytes = raw.bindMemory(to: UInt8.self)
            if let transcoder {
                transcoder.feed(bytes) { utf8 in parser.feed(utf8) { handle($0) } }
            } else {
                parser.feed(bytes) { handle($0) }
            }
        }
    }

    mutating func finish() throws {
        if let refused { throw refused }
        if let transportGunzip { try transportGunzip.finishStream() }
        if let fileGunzip { try fileGunzip.finishStream() }
        var parser = self.parser
        transcoder?.finish { utf8 in parser.feed(utf8) { handle($0) } }
        parser.finish { handle($0) }
        self.parser = parser
        if validator == nil {
            fail(RowIssue(column: nil, code: .badCSV, severity: .error, message: "the file is empty: it has no header line"))
        }
        sha = digest.finalize().hexString
        if sha != file.sha256.lowercased() {
            fail(RowIssue(column: nil, code: .manifestMismatch, severity: .error,
                          message: "the file's SHA-256 is \(sha), the manifest says \(file.sha256.lowercased())"))
        }
        if rows != file.rows {
            fail(RowIssue(column: nil, code: .manifestMismatch, severity: .error,
                          message: "the file has \(rows) data rows, the manifest says \(file.rows)"))
        }
    }

    mutating func fail(_ issue: RowIssue) {
        fileIssues.append((nil, issue))
        fileError = [fileError, issue.message].compactMap { $0 }.joined(separator: "; ")
    }

    mutating func handle(_ record: CSVParser.Record) {
        guard let validator else {
            let header = RowValidator(spec: file.kind.spec, header: record.fields, context: context)
            headerIssues = header.headerIssues.map { (1, $0) }
            if record.badEncoding || record.problem != nil {
                let issue = RowIssue(column: nil, code: record.badEncoding ? .badEncoding : .badCSV, severity: .error,
                                     message: "the header line cannot be read: "
                                        + (record.problem ?? "it holds bytes that are not valid \(encodingName) text"))
                headerIssues.append((1, issue))
                fileError = [fileError, issue.message].compactMap { $0 }.joined(separator: "; ")
            }
            for issue in header.headerIssues where issue.severity == .error {
                fileError = [fileError, issue.message].compactMap { $0 }.joined(separator: "; ")
            }
            validator = header
            return
        }
        rows += 1
        if rows > file.rows {
            // Rows beyond the manifest's count are not read: the file ends here.
            if refused == nil {
                refused = FileRefused(code: .manifestMismatch,
                                      message: "the file has more data rows than the manifest's \(file.rows); it was not read past line \(record.line)")
            }
            return
        }
        // A file whose header lacks a required column is still read to the end (for its digest
        // and row count), but its rows are not staged: the batch will be rejected.
        guard validator.headerIsUsable else { return }
        pending.append(record)
        pendingBytes += record.byteCount
    }

    /// The rows parsed since the last call (only rows of a usable header are kept).
    mutating func takePending() -> [CSVParser.Record] {
        defer {
            pending.removeAll(keepingCapacity: true)
            pendingBytes = 0
        }
        return pending
    }

    var encoding: Encoding {
        Encoding(validator: validator!, encodingName: encodingName, stagingColumns: stagingColumns, valueTypes: valueTypes,
                 keyPosition: keyPosition, referencePositions: referencePositions, facilityPositions: facilityPositions)
    }

    /// Counts an encoded piece's rejections and warnings and remembers its keys and references;
    /// returns its COPY data.
    mutating func count(_ encoded: Encoding.Encoded) -> ByteBuffer {
        rejected += encoded.rejected
        warnings += encoded.warnings
        retractions += encoded.retractions
        quality?.add(encoded.quality)
        for (key, accepted) in zip(encoded.keys, encoded.acceptedUpserts) { repeatedKeys.add(key, acceptedUpsert: accepted) }
        if let kept = references {
            // The memory was taken for one value a row, as many rows as the manifest declares.
            if zip(kept, encoded.references).contains(where: { $0.count + $1.count > file.rows }) {
                references = nil
            } else {
                for index in kept.indices { references![index] += encoded.references[index] }
            }
        }
        if facilityCodes != nil {
            for index in encoded.facilityCodes.indices { facilityCodes![index].formUnion(encoded.facilityCodes[index]) }
            if facilityCodes!.contains(where: { $0.count > StagedKeys.facilityCodeLimit }) { facilityCodes = nil }
        }
        return encoded.encoder.buffer
    }

    /// What the batch's decision may use of the staged file (see `StagedKeys`).
    func stagedFile(table: Int64) -> StagedFile {
        let columns = StagedKeys.references(of: file.kind).map(\.column)
        return StagedFile(
            table: table,
            keys: StagedKeys.referenced.contains(file.kind) ? repeatedKeys.sentKeys : nil,
            references: references.map { Dictionary(uniqueKeysWithValues: zip(columns, $0)) } ?? [:],
            facilityCodes: facilityCodes.map { Dictionary(uniqueKeysWithValues: zip(StagedKeys.facilityColumns(of: file.kind), $0)) } ?? [:],
            quality: quality,
            memory: referencesMemory)
    }

    /// Row validation and COPY encoding, on values that may go to other tasks.
    struct Encoding: Sendable {
        let validator: RowValidator
        let encodingName: String
        let stagingColumns: [String]
        let valueTypes: [CopyRowEncoder.ValueType]
        let keyPosition: Int
        let referencePositions: [Int]
        let facilityPositions: [Int]

        struct Encoded: Sendable {
            var encoder: CopyRowEncoder
            var rejected = 0
            var warnings = 0
            var retractions = 0
            /// Each row's key as staged (the raw text of a rejected row's), and whether the row is
            /// an accepted upsert.
            var keys: [String?] = []
            var acceptedUpserts: [Bool] = []
            /// The hashes of each reference column's values in the accepted upserts.
            var references: [[Int]]
            /// The distinct codes of each facility column in the accepted upserts.
            var facilityCodes: [Set<String>]
            var quality: QualityChecks.Tally
        }

        /// The rows, in their order, as COPY data: the first half on a child task, the second here.
        func encode(_ records: [CSVParser.Record]) async throws -> Encoded {
            let half = records.count / 2
            async let first = encode(records[..<half])
            let second = try encode(records[half...])
            var encoded = try await first
            encoded.rejected += second.rejected
            encoded.warnings += second.warnings
            encoded.retractions += second.retractions
            encoded.keys += second.keys
            encoded.acceptedUpserts += second.acceptedUpserts
            encoded.quality.add(second.quality)
            for index in encoded.references.indices { encoded.references[index] += second.references[index] }
            for index in encoded.facilityCodes.indices { encoded.facilityCodes[index].formUnion(second.facilityCodes[index]) }
            encoded.encoder.append(second.encoder)
            return encoded
        }

        func encode(_ records: ArraySlice<CSVParser.Record>) throws -> Encoded {
            var out = Encoded(encoder: CopyRowEncoder(capacity: records.count * 200),
                              references: Array(repeating: [], count: referencePositions.count),
                              facilityCodes: Array(repeating: [], count: facilityPositions.count),
                              quality: QualityChecks.Tally(kind: validator.spec.kind))
            out.keys.reserveCapacity(records.count)
            out.acceptedUpserts.reserveCapacity(records.count)
            let fields = 6 + valueTypes.count  // the internal columns, then the kind's
            let issueEncoder = JSONEncoder()
            for record in records {
                var row = validator.validate(record.fields)
                if record.badEncoding {
                    row.issues.insert(RowIssue(column: nil, code: .badEncoding, severity: .error,
                                               message: "the line holds bytes that are not valid \(encodingName) text"), at: 0)
                }
                if let problem = record.problem {
                    row.issues.insert(RowIssue(column: nil, code: .badCSV, severity: .error, message: problem), at: 0)
                }
                if (record.badEncoding || record.problem != nil) && !row.rejected {
                    row.rejected = true
                    row.values = validator.rawValues(record.fields)
                }
                if let runaway = record.runawayQuote(headerWidth: validator.headerWidth) {
                    // What the field read after its line is the following rows, ID numbers and
                    // all: none of it is kept, only the fields before it and one error.
                    row.issues = [runaway.issue]
                    row.rejected = true
                    row.values = validator.rawValues(record.fields, before: runaway.field)
                }
                if row.rejected { out.rejected += 1 } else if !row.issues.isEmpty { out.warnings += 1 }
                if row.op == "D" { out.retractions += 1 }
                out.keys.append(row.values[keyPosition])
                let acceptedUpsert = !row.rejected && row.op == "U"
                out.acceptedUpserts.append(acceptedUpsert)
                if acceptedUpsert {
                    out.quality.add(row.quality)
                    for (index, position) in referencePositions.enumerated() {
                        if let value = row.values[position] { out.references[index].append(value.hashValue) }
                    }
                    for (index, position) in facilityPositions.enumerated() {
                        if let value = row.values[position] { out.facilityCodes[index].insert(value) }
                    }
                }
                // _line, _op, _rejected, _issues, _raw, _hash (StagingTable.columns), then the kind's.
                out.encoder.beginRow(fields: fields)
                out.encoder.integer(record.line)
                out.encoder.text(row.op)
                out.encoder.bool(row.rejected)
                out.encoder.text(row.issues.isEmpty ? nil
                    : String(decoding: (try? issueEncoder.encode(row.issues)) ?? Data("[]".utf8), as: UTF8.self))
                if row.rejected {
                    // As sent, for the hospital to fix and resend; typed columns stay empty.
                    var raw: [String: String] = [:]
                    for (name, value) in zip(stagingColumns, row.values) where value != nil { raw[name] = value }
                    out.encoder.jsonb(String(decoding: (try? issueEncoder.encode(raw)) ?? Data("{}".utf8), as: UTF8.self))
                    out.encoder.null()
                    for (value, type) in zip(row.values, valueTypes) { out.encoder.text(type == .text ? value : nil) }
                } else {
                    out.encoder.null()
                    out.encoder.text(StreamState.rowHash(row.values))
                    for (value, type) in zip(row.values, valueTypes) { try out.encoder.value(value, as: type) }
                }
            }
            return out
        }
    }

    /// FNV-1a (64 bit) over the normalised values: the merge compares it with the stored row's
    /// to tell an unchanged row from a correction without PostgreSQL hashing every row.
    static func rowHash(_ values: [String?]) -> String {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        for value in values {
            if var value {
                value.withUTF8 { bytes in
                    for byte in bytes { hash = (hash ^ UInt64(byte)) &* 0x0000_0100_0000_01B3 }
                }
                hash = (hash ^ 0x1F) &* 0x0000_0100_0000_01B3
            } else {
                hash = (hash ^ 0xFF) &* 0x0000_0100_0000_01B3
            }
        }
        return String(hash, radix: 16)
    }

    var receipt: FileReceipt {
        FileReceipt(kind: file.kind, name: file.name, rows: rows, bytes: bytes, sha256: sha,
                    rejected: rejected, warnings: warnings, fileError: fileError)
    }
}

/// Streaming gunzip over CompressNIO, one chunk at a time through a fixed window, for the service
/// and for the upload client's manifest (which must read files exactly as the service will).
/// How far a compressed upload may inflate (`REGIO_MAX_INFLATED_MB`, `REGIO_MAX_INFLATION_RATIO`):
/// checked as the bytes come, so a gzip bomb is refused within a window of its start.
public struct StreamLimits: Sendable {
    public var maxInflatedBytes: Int
    public var maxInflationRatio: Int
    /// Most bytes one request body may carry, as sent (compressed or not).
    public var maxBodyBytes: Int

    public init(maxInflatedBytes: Int = 8 << 30, maxInflationRatio: Int = 100, maxBodyBytes: Int = 4 << 30) {
        self.maxInflatedBytes = maxInflatedBytes
        self.maxInflationRatio = maxInflationRatio
        self.maxBodyBytes = maxBodyBytes
    }

    /// The service's limits (`REGIO_MAX_INFLATED_MB`, `REGIO_MAX_INFLATION_RATIO`, `REGIO_MAX_BODY_MB`).
    public init(_ configuration: RegioConfiguration) {
        self.init(maxInflatedBytes: configuration.maxInflatedMB << 20, maxInflationRatio: configuration.maxInflationRatio,
                  maxBodyBytes: configuration.maxBodyMB << 20)
    }

    /// Why a body of `wire` bytes (so far, or as its Content-Length declares) is refused, if it is.
    public func refusal(body wire: Int) -> FileRefused? {
        guard wire > maxBodyBytes else { return nil }
        return FileRefused(code: .tooLarge, message: "the upload is larger than \(maxBodyBytes >> 20) MiB, the limit (REGIO_MAX_BODY_MB)")
    }

    /// Why a stream that has inflated `inflated` bytes from `wire` bytes is refused, if it is.
    /// The ratio is judged past the first MiB (a small file's header block inflates well).
    public func refusal(inflated: Int, from wire: Int, compressed: Bool) -> FileRefused? {
        guard compressed else { return nil }
        if inflated > maxInflatedBytes {
            return FileRefused(code: .tooLarge, message: "the file inflates to more than \(maxInflatedBytes >> 20) MiB, the limit (REGIO_MAX_INFLATED_MB)")
        }
        if inflated > 1 << 20, inflated > maxInflationRatio * max(wire, 1) {
            return FileRefused(code: .tooLarge, message: "the file inflates more than \(maxInflationRatio) times (\(wire) bytes to over \(inflated)), the limit (REGIO_MAX_INFLATION_RATIO): is it a gzip bomb?")
        }
        return nil
    }
}

/// A file stopped while it streamed: too large once inflated, or longer than its manifest says.
public struct FileRefused: Error, Sendable {
    public enum Code: String, Sendable {
        case tooLarge = "too_large"
        case manifestMismatch = "manifest_mismatch"
    }
    public var code: Code
    public var message: String
}

public enum Gunzip {
    public static func start() throws -> any NIODecompressor {
        let decompressor = CompressionAlgorithm.gzip().decompressor
        decompressor.window = ByteBufferAllocator().buffer(capacity: 256 * 1024)
        try decompressor.startStream()
        return decompressor
    }

    /// Inflates one compressed chunk; `emit` receives the decompressed bytes, window by window.
    public static func inflate(_ chunk: ByteBuffer, with decompressor: any NIODecompressor, _ emit: (ByteBuffer) throws -> Void) throws {
        var input = chunk
        var window = decompressor.window!
        while input.readableBytes > 0 {
            do {
                try input.decompressStream(to: &window, with: decompressor)
            } catch let error as CompressNIOError where error == .bufferOverflow {
                try emit(window)
                window.clear()
            }
        }
        if window.readableBytes > 0 { try emit(window) }
    }
}
