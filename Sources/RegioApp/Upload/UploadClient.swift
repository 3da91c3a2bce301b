import AsyncHTTPClient
import Foundation
import Logging
import NIOCore
import NIOHTTP1
import NIOSSL
import RegioCore
import RegioDB
import RegioPipeline

/// The hospitals' upload client (`regio upload`): checks the folder against its manifest, creates
/// (or resumes) the batch, streams its files (all at once), commits, waits for the decision and reports it.
/// Connection failures and 502/503/504 answers are retried with exponential backoff; a batch that
/// is still receiving resumes where it stopped, so re-running after an interruption duplicates
/// nothing.
public struct UploadClient: Sendable {
    public let server: String
    let token: String
    let http: HTTPClient
    let logger: Logger
    public var attempts = 6
    public var firstBackoff: Duration = .seconds(1)
    public var pollInterval: Duration = .milliseconds(500)
    public var timeout: Duration = .seconds(6 * 3600)

    public struct Failure: Error, CustomStringConvertible {
        public var description: String
        public init(_ description: String) { self.description = description }
    }

    public init(server: String, token: String, http: HTTPClient = .shared, logger: Logger) {
        self.server = server.hasSuffix("/") ? String(server.dropLast()) : server
        self.token = token
        self.http = http
        self.logger = logger
    }

    /// Runs `body` with the shared HTTP client, or, given `caFile`, with one that trusts only that
    /// CA (PEM) — a region that signs its services' certificates itself — shut down after.
    public static func withHTTPClient<T: Sendable>(trusting caFile: String?, _ body: (HTTPClient) async throws -> T) async throws -> T {
        guard let caFile else { return try await body(.shared) }
        var tls = TLSConfiguration.makeClientConfiguration()
        tls.trustRoots = .file(caFile)
        tls.minimumTLSVersion = .tlsv12
        let http = HTTPClient(eventLoopGroupProvider: .singleton, configuration: HTTPClient.Configuration(tlsConfiguration: tls))
        do {
            let result = try await body(http)
            try await http.shutdown()
            return result
        } catch {
            try? await http.shutdown()
            throw error
        }
    }

    /// Uploads the extract in `directory`; returns the decided batch.
    public func upload(directory: String, dryRun: Bool = false, progress: @Sendable (String) -> Void = { _ in }) async throws -> BatchRecord {
        try await upload(directory: directory, manifest: try LocalExtract.readAndVerify(directory: directory), dryRun: dryRun, progress: progress)
    }

    /// Uploads an extract whose files were already checked against `manifest`.
    /// `resends`: how many times a batch the service puts back to receiving (its staged files
    /// lost) is resumed.
    public func upload(directory: String, manifest: ExtractManifest, dryRun: Bool = false, resends: Int = 3,
                       progress: @Sendable (String) -> Void = { _ in }) async throws -> BatchRecord {
        let created: CreatedBatch = try await send(.POST, "/v1/batches", body: .bytes(ByteBuffer(data: try manifest.encoded())),
                                                   expect: [.created, .ok])
        var batch = created.batch
        progress(created.resumed ? "resuming batch \(batch.id)" : "created batch \(batch.id)")
        var pending: [ExtractManifest.File] = []
        for file in manifest.files {
            if created.resumed, let received = batch.file(named: file.name), received.receivedAt != nil, received.fileError == nil {
                progress("  \(file.name): already received")
            } else {
                pending.append(file)
            }
        }
        // The files are sent at once: the service validates each on its own connection, so
        // validation and PostgreSQL's COPY of different files run side by side on all cores.
        let batchID = batch.id
        try await withThrowingTaskGroup(of: FileReceipt.self) { group in
            for file in pending {
                group.addTask { try await self.send(file, of: batchID, from: directory) }
            }
            for try await receipt in group {
                progress("  \(receipt.name): \(receipt.rows) rows sent" + (receipt.fileError.map { " — \($0)" } ?? ""))
            }
        }
        batch = try await commit(batch.id, dryRun: dryRun)
        progress("committed; waiting for the decision")
        let deadline = ContinuousClock.now + timeout
        while !batch.status.isFinal {
            guard ContinuousClock.now < deadline else { throw Failure("batch \(batch.id) still \(batch.status.rawValue) after the wait limit") }
            try await Task.sleep(for: pollInterval)
            batch = try await send(.GET, "/v1/batches/\(batch.id)", expect: [.ok])
            if batch.status == .receiving {
                // The service lost staged files (a database crash) and asks for them again.
                guard resends > 0 else { throw Failure("batch \(batch.id) asked for its files again too often: \(batch.reason ?? "")") }
                progress("the service asks for files again: \(batch.reason ?? "")")
                return try await upload(directory: directory, manifest: manifest, dryRun: dryRun, resends: resends - 1, progress: progress)
            }
        }
        return batch
    }

    private func send(_ file: ExtractManifest.File, of batchID: Int64, from directory: String) async throws -> FileReceipt {
        let path = (directory as NSString).appendingPathComponent(file.name)
        let size = (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
        return try await send(.PUT, "/v1/batches/\(batchID)/files/\(file.name)",
                              body: .stream(FileChunks(path: path), length: .known(Int64(size))),
                              contentType: file.isGzip ? "application/gzip" : "text/csv", expect: [.ok])
    }

    private func commit(_ id: Int64, dryRun: Bool) async throws -> BatchRecord {
        do {
            return try await send(.POST, "/v1/batches/\(id)/\(dryRun ? "validate" : "commit")", expect: [.accepted])
        } catch let failure as HTTPFailure where failure.status == .conflict {
            // An earlier attempt committed but its answer was lost: the batch has moved on.
            let batch: BatchRecord = try await send(.GET, "/v1/batches/\(id)", expect: [.ok])
            guard batch.status != .receiving else { throw failure }
            return batch
        }
    }

    /// The first `limit` row errors of a batch, for the summary.
    public func issues(batch id: Int64, limit: Int) async throws -> (total: Int, entries: [IssueEntry]) {
        let page: IssuePage = try await send(.GET, "/v1/batches/\(id)/errors?per_page=\(limit)", expect: [.ok])
        return (page.total, page.errors)
    }

    public struct IssueEntry: Decodable, Sendable {
        public var file: String
        public var line: Int?
        public var column: String?
        public var code: String
        public var severity: String
        public var message: String
    }

    struct IssuePage: Decodable {
        var total: Int
        var errors: [IssueEntry]
    }

    struct CreatedBatch: Decodable {
        var batch: BatchRecord
        var resumed: Bool
    }

    struct HTTPFailure: Error, CustomStringConvertible {
        var status: HTTPResponseStatus
        var detail: String
        var description: String { "server answered \(status.code): \(detail)" }
    }

    static let retryable: Set<UInt> = [502, 503, 504]

    /// One request, retried on connection failures and 502/503/504 with backoff 1, 2, 4 … s.
    func send<T: Decodable>(
        _ method: HTTPMethod, _ path: String, body: HTTPClientRequest.Body? = nil, contentType: String = "application/json",
        expect: Set<HTTPResponseStatus>
    ) async throws -> T {
        var delay = firstBackoff
        for attempt in 1...attempts {
            var request = HTTPClientRequest(url: server + path)
            request.method = method
            request.headers.add(name: "Authorization", value: "Bearer \(token)")
            request.headers.add(name: "Content-Type", value: contentType)
            request.body = body
            do {
                let response = try await http.execute(request, timeout: .hours(2), logger: logger)
                let bytes = try await response.body.collect(upTo: 64 << 20)
                if expect.contains(response.status) {
                    let decoder = JSONDecoder()
                    decoder.dateDecodingStrategy = .iso8601
                    return try decoder.decode(T.self, from: Data(buffer: bytes))
                }
                let detail = (try? JSONSerialization.jsonObject(with: Data(buffer: bytes)) as? [String: Any])?["detail"] as? String
                    ?? String(buffer: bytes)
                let failure = HTTPFailure(status: response.status, detail: detail)
                guard Self.retryable.contains(response.status.code), attempt < attempts else { throw failure }
                logger.warning("server busy, retrying", metadata: ["status": "\(response.status.code)", "in": "\(delay)"])
            } catch let error as HTTPFailure {
                throw error
            } catch where attempt < attempts && Self.isTransient(error) {
                logger.warning("request failed, retrying", metadata: ["error": "\(error)", "in": "\(delay)"])
            }
            try await Task.sleep(for: delay)
            delay = min(delay * 2, .seconds(60))
        }
        throw Failure("gave up after \(attempts) attempts")
    }

    static func isTransient(_ error: any Error) -> Bool {
        if error is DecodingError || error is CancellationError { return false }
        if let error = error as? HTTPClientError {
            return [.connectTimeout, .remoteConnectionClosed, .readTimeout, .deadlineExceeded].contains(error)
                || "\(error)".contains("connect")
        }
        // Connection refused and resets surface as NIO channel or POSIX errors.
        return true
    }
}
