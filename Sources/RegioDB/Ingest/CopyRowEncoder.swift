import NIOCore

/// Writes rows in PostgreSQL's text COPY format: tab between columns, newline after each row,
/// `\N` for NULL, and backslash, tab, newline and carriage return escaped. Rows go into a byte
/// array (a `ByteBuffer` write per field cost more than the field); `buffer` copies them out.
struct CopyRowEncoder: Sendable {
    private(set) var bytes: [UInt8] = []

    init(capacity: Int) {
        bytes.reserveCapacity(capacity)
    }

    var buffer: ByteBuffer { ByteBuffer(bytes: bytes) }

    mutating func field(_ value: String?, first: Bool = false) {
        if !first { bytes.append(0x09) }
        guard var value else {
            bytes.append(0x5C)
            bytes.append(UInt8(ascii: "N"))
            return
        }
        value.withUTF8 { utf8 in
            if !utf8.contains(where: { $0 == 0x5C || $0 == 0x09 || $0 == 0x0A || $0 == 0x0D }) {
                bytes.append(contentsOf: utf8)
                return
            }
            for byte in utf8 {
                switch byte {
                case 0x5C: bytes.append(0x5C); bytes.append(0x5C)
                case 0x09: bytes.append(0x5C); bytes.append(UInt8(ascii: "t"))
                case 0x0A: bytes.append(0x5C); bytes.append(UInt8(ascii: "n"))
                case 0x0D: bytes.append(0x5C); bytes.append(UInt8(ascii: "r"))
                default: bytes.append(byte)
                }
            }
        }
    }

    mutating func endRow() {
        bytes.append(0x0A)
    }

    mutating func append(_ other: CopyRowEncoder) {
        bytes.append(contentsOf: other.bytes)
    }
}
