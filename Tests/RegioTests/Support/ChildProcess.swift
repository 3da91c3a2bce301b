import AsyncHTTPClient
import Foundation
import RegioApp
import RegioCore
import Synchronization

/// A `regio` command running in the background, as a separate process (the ingestion service, or
/// an upload waiting for its decision), its output going to a file.
final class ChildProcess: @unchecked Sendable {
    private static let launching = Mutex(())
    let process = Process()
    let output: URL

    /// Starts `regio arguments…` with only `environment` (plus PATH, USER and HOME) set.
    init(_ arguments: [String], environment: [String: String], output: URL) throws {
        self.output = output
        FileManager.default.createFile(atPath: output.path, contents: nil)
        let handle = try FileHandle(forWritingTo: output)
        process.executableURL = URL(fileURLWithPath: try RegioProcess.executable)
        process.arguments = arguments
        process.environment = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "USER": "tester",
                               "HOME": NSTemporaryDirectory()].merging(environment) { _, new in new }
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = handle
        process.standardError = handle
        // Foundation's `Process.run` crashed (a bad memcpy inside it) when many tests launched
        // processes at once: one launch at a time.
        try Self.launching.withLock { _ in try process.run() }
    }

    /// A test that fails half-way leaves nothing running.
    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    }

    /// What it printed so far.
    var text: String { (try? String(contentsOf: output, encoding: .utf8)) ?? "" }

    /// Waits for it to end: its exit status, or 128 + the signal that killed it.
    func exitStatus(within limit: Duration) async throws -> Int32 {
        let deadline = ContinuousClock.now + limit
        while process.isRunning {
            guard ContinuousClock.now < deadline else {
                throw TestSetupError("\(process.arguments ?? []) still running after \(limit):\n\(text)")
            }
            try await Task.sleep(for: .milliseconds(50))
        }
        return process.terminationReason == .uncaughtSignal ? 128 + process.terminationStatus : process.terminationStatus
    }

    /// Ends it with SIGTERM (a graceful shutdown), SIGKILL after ten seconds.
    func stop() async {
        guard process.isRunning else { return }
        process.terminate()
        if (try? await exitStatus(within: .seconds(10))) == nil {
            kill(process.processIdentifier, SIGKILL)
            process.waitUntilExit()
        }
    }

    /// `regio serve ingest` on `port` of 127.0.0.1 (a free one if nil), loading as `regio_ingest`
    /// (made with the test template); `environment` adds to the database and secret.
    static func ingestService(database: DatabaseURL, secret: URL, port: Int? = nil, environment: [String: String] = [:],
                              output: URL) throws -> (ChildProcess, server: String) {
        let port = try port ?? EmbeddedPostgres.freePort()
        var loading = database
        loading.username = "regio_ingest"
        let service = try ChildProcess(["serve", "ingest"], environment: [
            "REGIO_DATABASE_URL": database.urlString, "REGIO_INGEST_DATABASE_URL": loading.urlString,
            "REGIO_SECRET_FILE": secret.path, "REGIO_INGEST_PORT": "\(port)",
        ].merging(environment) { _, new in new }, output: output)
        return (service, "http://127.0.0.1:\(port)")
    }

    /// Waits until the service at `server` answers `/ready`.
    func waitUntilReady(_ server: String, within limit: Duration = .seconds(60)) async throws {
        let deadline = ContinuousClock.now + limit
        while ContinuousClock.now < deadline {
            guard process.isRunning else { throw TestSetupError("the service exited before it was ready:\n\(text)") }
            let request = HTTPClientRequest(url: server + "/ready")
            if let response = try? await HTTPClient.shared.execute(request, timeout: .seconds(2)), response.status == .ok { return }
            try await Task.sleep(for: .milliseconds(50))
        }
        throw TestSetupError("the service at \(server) was not ready after \(limit):\n\(text)")
    }
}
