import Glibc

/// Turns GB18030 or GBK text into UTF-8 as it streams, with Glibc's `iconv`. A byte that does not
/// decode becomes 0xFF, which is never valid UTF-8, so the CSV parser reports `bad_encoding` on
/// exactly the line it is on; a character cut between two chunks is carried to the next.
public final class Transcoder {
    private let descriptor: iconv_t
    private var carry: [UInt8] = []
    private var output: [UInt8]

    public struct Unsupported: Error, CustomStringConvertible {
        public var description: String
    }

    /// Decodes `encoding` into UTF-8 (or, with `encoding: true`, UTF-8 into `encoding`, for
    /// writing sample files). `nil` for UTF-8, which needs no transcoding.
    public init?(_ encoding: TextEncoding, encoding toEncoding: Bool = false) throws {
        let name: String
        switch encoding {
        case .utf8: return nil
        case .gb18030: name = "GB18030"
        case .gbk: name = "CP936"
        }
        let (to, from) = toEncoding ? (name, "UTF-8") : ("UTF-8", name)
        guard let descriptor = iconv_open(to, from), descriptor != iconv_t(bitPattern: -1) else {
            throw Unsupported(description: "iconv cannot convert \(from) to \(to)")
        }
        self.descriptor = descriptor
        self.output = [UInt8](repeating: 0, count: 64 * 1024)
    }

    deinit { iconv_close(descriptor) }

    /// Converts one chunk; `emit` receives UTF-8 bytes.
    public func feed(_ bytes: some Collection<UInt8>, _ emit: (ArraySlice<UInt8>) throws -> Void) rethrows {
        var input = carry
        input.append(contentsOf: bytes)
        carry.removeAll(keepingCapacity: true)
        try convert(&input, final: false, emit)
    }

    /// Flushes what is left at the end of input; an incomplete character becomes 0xFF.
    public func finish(_ emit: (ArraySlice<UInt8>) throws -> Void) rethrows {
        var input = carry
        carry.removeAll()
        try convert(&input, final: true, emit)
    }

    private func convert(_ input: inout [UInt8], final: Bool, _ emit: (ArraySlice<UInt8>) throws -> Void) rethrows {
        var offset = 0
        while offset < input.count {
            var produced = 0
            var stop: Int32 = 0
            input.withUnsafeMutableBufferPointer { inBuffer in
                output.withUnsafeMutableBufferPointer { outBuffer in
                    var inPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(inBuffer.baseAddress! + offset)
                        .assumingMemoryBound(to: CChar.self)
                    var inLeft = inBuffer.count - offset
                    var outPointer: UnsafeMutablePointer<CChar>? = UnsafeMutableRawPointer(outBuffer.baseAddress!)
                        .assumingMemoryBound(to: CChar.self)
                    var outLeft = outBuffer.count
                    let result = iconv(descriptor, &inPointer, &inLeft, &outPointer, &outLeft)
                    stop = result == -1 ? errno : 0
                    produced = outBuffer.count - outLeft
                    offset = inBuffer.count - inLeft
                }
            }
            if produced > 0 { try emit(output[0..<produced]) }
            switch stop {
            case 0, E2BIG:
                continue
            case EINVAL where !final:
                carry = Array(input[offset...])  // a character cut at the chunk's end
                return
            default:
                // EILSEQ, or an incomplete character at the very end: mark it and go on.
                try emit([0xFF][...])
                offset += 1
            }
        }
    }
}
