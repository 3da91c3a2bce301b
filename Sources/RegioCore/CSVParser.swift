#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An incremental RFC 4180 parser: feed it bytes as they arrive, it hands back whole records with
/// the line each starts on. Quoted fields may hold commas, doubled quotes and line breaks; lines
/// end in LF, CRLF or a lone CR; a UTF-8 byte-order mark at the very start is skipped. Input must
/// already be UTF-8 (the ingest pipeline decodes GB18030 before this).
///
/// A malformed record (a stray quote, text after a closing quote) is still returned, with `problem`
/// set, so the caller can report it on its line and go on with the next one. A record keeps at most
/// `maxRecordBytes` bytes and `maxFields` fields, whatever the input: an unclosed quote would
/// otherwise read the rest of the file into one field, and memory would grow with the file.
public struct CSVParser: Sendable {
    public static let maxRecordBytes = 1 << 20
    public static let maxFields = 1_000

    public struct Record: Sendable, Equatable {
        public var fields: [String]
        /// Line the record starts on, counting from 1 (the header is line 1).
        public var line: Int
        /// Line the record ends on: later than `line` when a quoted field holds line breaks.
        public var lastLine: Int
        public var problem: String?
        /// Some field's bytes were not valid UTF-8 (after transcoding): `bad_encoding` on this line.
        public var badEncoding: Bool = false
        /// The fields' bytes, at most `maxRecordBytes`.
        public var byteCount = 0
    }

    private enum State { case fieldStart, unquoted, quoted, quoteInQuoted }

    private var state = State.fieldStart
    private var field: [UInt8] = []
    private var fields: [String] = []
    private var line = 1
    private var recordLine = 1
    private var problem: String?
    private var badEncoding = false
    private var afterCR = false
    private var atStart = true
    private var bomBytesSeen = 0
    /// Bytes of the current record's finished fields.
    private var recordBytes = 0

    public init() {
        field.reserveCapacity(256)
    }

    public mutating func feed<Bytes: Sequence<UInt8>>(_ bytes: Bytes, _ emit: (Record) throws -> Void) rethrows {
        let fed: Void? = try bytes.withContiguousStorageIfAvailable { try feed($0, emit) }
        if fed == nil { try feed(Array(bytes), emit) }
    }

    /// The hot path: contiguous bytes, not a generic sequence, and runs of plain bytes inside a
    /// field are copied at once instead of byte by byte.
    public mutating func feed(_ bytes: UnsafeBufferPointer<UInt8>, _ emit: (Record) throws -> Void) rethrows {
        var index = 0
        let count = bytes.count
        while index < count {
            let byte = bytes[index]
            index += 1
            if atStart {
                // Skip EF BB BF only at the very beginning; anything else ends the check.
                let bom: [UInt8] = [0xEF, 0xBB, 0xBF]
                if byte == bom[bomBytesSeen] {
                    bomBytesSeen += 1
                    if bomBytesSeen == 3 { atStart = false }
                    continue
                }
                atStart = false
                if bomBytesSeen > 0 { field.append(contentsOf: bom[0..<bomBytesSeen]); state = .unquoted }
            }
            if afterCR {
                afterCR = false
                if byte == UInt8(ascii: "\n") { continue }  // the LF of a CRLF
            }
            let crInQuotesBefore = crInQuotes
            crInQuotes = false
            switch state {
            case .fieldStart:
                switch byte {
                case UInt8(ascii: "\""): state = .quoted
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try endRecord(byte, emit)
                default: append(byte); state = .unquoted; appendPlainRun(bytes, &index, quoted: false)
                }
            case .unquoted:
                switch byte {
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try endRecord(byte, emit)
                case UInt8(ascii: "\""):
                    if problem == nil { problem = "a quote inside an unquoted field (field \(fields.count + 1)); quote the whole field and double the quote" }
                    append(byte)
                default: append(byte); appendPlainRun(bytes, &index, quoted: false)
                }
            case .quoted:
                switch byte {
                case UInt8(ascii: "\""): state = .quoteInQuoted
                case UInt8(ascii: "\n"):
                    // A CRLF inside quotes is one line break, kept as it was written.
                    if !crInQuotesBefore { line += 1 }
                    append(byte)
                case UInt8(ascii: "\r"): line += 1; append(byte); crInQuotes = true
                default: append(byte); appendPlainRun(bytes, &index, quoted: true)
                }
            case .quoteInQuoted:
                switch byte {
                case UInt8(ascii: "\""): append(byte); state = .quoted
                case UInt8(ascii: ","): endField()
                case UInt8(ascii: "\n"), UInt8(ascii: "\r"): try endRecord(byte, emit)
                default:
                    if problem == nil { problem = "text after the closing quote of field \(fields.count + 1)" }
                    append(byte)
                    state = .unquoted
                    appendPlainRun(bytes, &index, quoted: false)
                }
            }
        }
    }

    /// After a plain byte, appends the plain bytes that follow it (up to the next byte the state
    /// machine must see: comma, quote, CR or LF; in a quoted field, a comma is plain) in one copy.
    /// Equivalent to taking them one at a time: for these bytes every state flag is already clear.
    private mutating func appendPlainRun(_ bytes: UnsafeBufferPointer<UInt8>, _ index: inout Int, quoted: Bool) {
        let start = index
        var end = start
        while end < bytes.count {
            let byte = bytes[end]
            if byte == UInt8(ascii: "\"") || byte == UInt8(ascii: "\n") || byte == UInt8(ascii: "\r")
                || (!quoted && byte == UInt8(ascii: ",")) { break }
            end += 1
        }
        let room = max(0, Self.maxRecordBytes - recordBytes - field.count)
        if end - start > room { overflow() }
        let kept = min(end - start, room)
        if kept > 0 { field.append(contentsOf: UnsafeBufferPointer(rebasing: bytes[start..<start + kept])) }
        index = end
    }

    /// One byte of the current field, unless the record is full.
    private mutating func append(_ byte: UInt8) {
        if recordBytes + field.count < Self.maxRecordBytes { field.append(byte) } else { overflow() }
    }

    private mutating func overflow() {
        if problem == nil {
            problem = "the record is longer than \(Self.maxRecordBytes) bytes (is a quote left open?); the rest of it was not read"
        }
    }

    private var crInQuotes = false

    /// Call once at the end of input: returns the last record if the input did not end in a line break.
    public mutating func finish(_ emit: (Record) throws -> Void) rethrows {
        if state == .quoted {
            problem = "a quoted field opened on line \(recordLine) is never closed"
            appendField()
            try emit(record)
            reset()
            return
        }
        if state != .fieldStart || !fields.isEmpty {
            endField()
            try emit(record)
            reset()
        }
    }

    /// Lines seen so far (1 + line breaks), for "file has N lines" checks.
    public var currentLine: Int { line }

    private mutating func endField() {
        appendField()
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
    }

    private mutating func appendField() {
        guard fields.count < Self.maxFields else {
            if problem == nil { problem = "the record has more than \(Self.maxFields) fields; the rest were not read" }
            return
        }
        let (text, valid) = field.withUnsafeBufferPointer(Self.decode)
        if !valid { badEncoding = true }
        recordBytes += field.count
        fields.append(text)
    }

    /// The field as a String, and whether its bytes were valid UTF-8 (invalid ones become U+FFFD).
    /// Cheaper than `String(validating:)`: ASCII needs no check, and otherwise the repaired
    /// decoding equals the bytes exactly when they were valid. A NUL byte counts as invalid too:
    /// PostgreSQL text cannot hold it, so it becomes U+FFFD and its line a `bad_encoding` error.
    static func decode(_ bytes: UnsafeBufferPointer<UInt8>) -> (String, Bool) {
        var plain = true
        var nul = false
        for byte in bytes where byte >= 0x80 || byte == 0 {
            plain = false
            if byte == 0 { nul = true; break }
        }
        if nul {
            var repaired: [UInt8] = []
            for byte in bytes { if byte == 0 { repaired += [0xEF, 0xBF, 0xBD] } else { repaired.append(byte) } }
            return (String(decoding: repaired, as: UTF8.self), false)
        }
        let text = String(decoding: bytes, as: UTF8.self)
        if plain { return (text, true) }
        let valid = text.utf8.withContiguousStorageIfAvailable { decoded in
            decoded.count == bytes.count && (bytes.isEmpty || memcmp(decoded.baseAddress!, bytes.baseAddress!, bytes.count) == 0)
        } ?? text.utf8.elementsEqual(bytes)
        return (text, valid)
    }

    /// The record read so far, its last field appended.
    private var record: Record {
        Record(fields: fields, line: recordLine, lastLine: line, problem: problem, badEncoding: badEncoding, byteCount: recordBytes)
    }

    private mutating func endRecord(_ terminator: UInt8, _ emit: (Record) throws -> Void) rethrows {
        if terminator == UInt8(ascii: "\r") { afterCR = true }
        let blank = fields.isEmpty && field.isEmpty && state == .fieldStart
        if !blank {
            endField()
            try emit(record)
        }
        line += 1
        reset()
    }

    private mutating func reset() {
        fields.removeAll(keepingCapacity: true)
        field.removeAll(keepingCapacity: true)
        state = .fieldStart
        problem = nil
        badEncoding = false
        recordBytes = 0
        recordLine = line
    }
}
