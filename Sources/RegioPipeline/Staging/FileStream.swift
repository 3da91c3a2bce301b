import CompressNIO
import Crypto
import Foundation
import NIOCore
import RegioCore

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
