import Foundation
import NIOCore

/// A file's bytes as an async sequence of `ByteBuffer`s, read as they are needed — so an upload
/// of any size holds one chunk at a time.
public struct FileChunks: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer
    public let path: String
    public let chunkSize: Int

    public init(path: String, chunkSize: Int = 256 * 1024) {
        self.path = path
        self.chunkSize = chunkSize
    }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let handle: FileHandle?
        let chunkSize: Int
        let openError: (any Error)?

        public mutating func next() async throws -> ByteBuffer? {
            if let openError { throw openError }
            guard let handle, let data = try handle.read(upToCount: chunkSize), !data.isEmpty else {
                try handle?.close()
                return nil
            }
            return ByteBuffer(data: data)
        }
    }

    public func makeAsyncIterator() -> AsyncIterator {
        do {
            return AsyncIterator(handle: try FileHandle(forReadingFrom: URL(fileURLWithPath: path)), chunkSize: chunkSize, openError: nil)
        } catch {
            return AsyncIterator(handle: nil, chunkSize: chunkSize, openError: error)
        }
    }
}
