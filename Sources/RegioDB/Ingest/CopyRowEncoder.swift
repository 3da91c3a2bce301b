import NIOCore

/// Writes rows in PostgreSQL's text COPY format: tab between columns, newline after each row,
/// `\N` for NULL, and backslash, tab, newline and carriage return escaped.
struct CopyRowEncoder: Sendable {
    var buffer: ByteBuffer

    init(capacity: Int) {
        buffer = ByteBufferAllocator().buffer(capacity: capacity)
    }

    mutating func field(_ value: String?, first: Bool = false) {
        if !first { buffer.writeInteger(UInt8(ascii: "\t")) }
        guard let value else {
            buffer.writeStaticString("\\N")
            return
        }
        var utf8 = value.utf8
        let needsEscape = utf8.withContiguousStorageIfAvailable { bytes in
            bytes.contains { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }
        } ?? true
        if !needsEscape {
            buffer.writeString(value)
            return
        }
        utf8 = value.utf8
        for byte in utf8 {
            switch byte {
            case 0x5C: buffer.writeStaticString("\\\\")
            case 0x09: buffer.writeStaticString("\\t")
            case 0x0A: buffer.writeStaticString("\\n")
            case 0x0D: buffer.writeStaticString("\\r")
            default: buffer.writeInteger(byte)
            }
        }
    }

    mutating func endRow() {
        buffer.writeInteger(UInt8(ascii: "\n"))
    }
}
