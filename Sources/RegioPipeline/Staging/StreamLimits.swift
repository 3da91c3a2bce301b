import CompressNIO
import NIOCore
import RegioCore

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

/// Streaming gunzip over CompressNIO, one chunk at a time through a fixed window, for the service
/// and for the upload client's manifest (which must read files exactly as the service will).
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
