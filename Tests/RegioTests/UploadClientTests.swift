import Foundation
import Hummingbird
import Logging
import RegioApp
import RegioCore
import RegioDB
@testable import RegioPipeline
import RegioIngest
import Testing

@Suite("The upload client")
struct UploadClientTests {
    @Test("connection refused is retried with backoff until the service is up")
    func retriesUntilUp() async throws {
        try await TestDatabase.with { database throws in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let token = try await CredentialStore(database: database).issue(role: .facility, scope: "H339901001", label: "t", expiresAt: nil, actor: "t").token
            let directory = FileManager.default.temporaryDirectory.appendingPathComponent("extract-\(UUID())")
            try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
            try Extracts.patients.write(to: directory.appendingPathComponent("patients.csv"), atomically: true, encoding: .utf8)
            try LocalExtract.writeManifest(directory: directory.path, facility: "H339901001", businessDate: "2026-11-22", encoding: .utf8)

            let port = try EmbeddedPostgres.freePort()
            var client = UploadClient(server: "http://127.0.0.1:\(port)", token: token, logger: TestDatabase.logger)
            client.firstBackoff = .milliseconds(200)
            client.pollInterval = .milliseconds(50)
            let upload = Task { [client] in try await client.upload(directory: directory.path) }

            // Nothing listens yet; the service comes up a little later, on the same port.
            try await Task.sleep(for: .milliseconds(700))
            let (stagedKeys, committed) = (StagedKeys(), BatchDoorbell())
            let app = Application(
                router: try IngestService.buildRouter(database: database, migrations: MigrationRunner(migrations: try Migration.bundled()),
                                                      metrics: RegioMetrics.registry, pseudonymizer: Fixtures.pseudonymizer,
                                                      keyMemory: KeyMemory(), stagedKeys: stagedKeys, committed: committed),
                configuration: .init(address: .hostname("127.0.0.1", port: port)),
                services: [BatchWorker(database: database, idle: .milliseconds(50), stagedKeys: stagedKeys, committed: committed,
                                       logger: TestDatabase.logger)],
                logger: TestDatabase.logger)
            let server = Task { try await app.runService(gracefulShutdownSignals: []) }
            defer { server.cancel() }

            let batch = try await upload.value
            #expect(batch.status == .loaded)
            #expect(batch.file(named: "patients.csv")?.inserted == 3)
        }
    }

    @Test("a folder that does not match its manifest is refused before anything is sent")
    func verifiesFirst() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("extract-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        try Extracts.patients.write(to: directory.appendingPathComponent("patients.csv"), atomically: true, encoding: .utf8)
        let manifest = try LocalExtract.writeManifest(directory: directory.path, facility: "H339901001", businessDate: "2026-11-22", encoding: .utf8)
        #expect(manifest.files.map(\.rows) == [3])
        try (Extracts.patients + "P9,某,1,,,,,\n").write(to: directory.appendingPathComponent("patients.csv"), atomically: true, encoding: .utf8)
        #expect {
            try LocalExtract.readAndVerify(directory: directory.path)
        } throws: { error in
            "\(error)".contains("patients.csv: 4 data rows, the manifest says 3")
        }
    }

    @Test("the manifest counts records, not lines, and reads gzip and GB18030")
    func manifestCounts() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("extract-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        let exams = "report_id,summary\nR1,\"two\nlines\"\nR2,x\n"
        try Data(try gzip(Array(exams.utf8))).write(to: directory.appendingPathComponent("exams.csv.gz"))
        let encoder = try #require(try Transcoder(.gb18030, encoding: true))
        var gb: [UInt8] = []
        encoder.feed(Array(Extracts.patients.utf8)) { gb += $0 }
        try Data(gb).write(to: directory.appendingPathComponent("patients.csv"))
        let manifest = try LocalExtract.writeManifest(directory: directory.path, facility: "H339901001", businessDate: "2026-11-22", encoding: .gb18030)
        #expect(manifest.files.map(\.name) == ["patients.csv", "exams.csv.gz"])
        #expect(manifest.files.map(\.rows) == [3, 2])
        #expect(manifest.encoding == .gb18030)
        #expect(manifest.files[1].sha256 == sha256Hex(try Data(contentsOf: directory.appendingPathComponent("exams.csv.gz"))))
    }
}
