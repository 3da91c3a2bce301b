import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// A batch that hangs says so: the ingestion service (its own process, its log read as an
/// operator would) warns when a decision outlasts `REGIO_SLOW_BATCH_SECONDS`, naming the stages
/// running and what they wait on, and logs every stage's duration with the decision.
@Suite("Slow batches")
struct SlowBatchTests {
    @Test("a batch blocked by a forgotten prepared transaction is reported with its stage and its blocker, then loads")
    func blockedByPreparedTransaction() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let work = FileManager.default.temporaryDirectory.appendingPathComponent("slow-\(UUID())")
            try FileManager.default.createDirectory(at: work, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: work) }
            let secret = work.appendingPathComponent("region.key")
            try Data(String(repeating: "s", count: 40).utf8).write(to: secret)
            let token = try await CredentialStore(database: database).issue(
                role: .facility, scope: "H339901001", label: "test", expiresAt: nil, actor: "test").token
            let tokenFile = work.appendingPathComponent("token")
            try Data(token.utf8).write(to: tokenFile)
            let extract = work.appendingPathComponent("extract")
            try FileManager.default.createDirectory(at: extract, withIntermediateDirectories: true)
            try Data(Extracts.patients.utf8).write(to: extract.appendingPathComponent("patients.csv"))
            try Data(Extracts.encounters.utf8).write(to: extract.appendingPathComponent("encounters.csv"))
            try LocalExtract.writeManifest(directory: extract.path, facility: "H339901001", businessDate: "2026-11-22", encoding: .utf8)

            // What a process killed long ago (or an operator's session) can leave: a prepared
            // transaction, not Regio's, holding a lock on the rollups every batch refreshes.
            let gid = "drill_\(UUID().uuidString.prefix(8).lowercased())"
            try await database.withConnection { connection in
                try await connection.query("BEGIN", logger: database.logger)
                try await connection.query("LOCK TABLE reports.facility_month IN SHARE MODE", logger: database.logger)
                try await connection.query(PostgresQuery(unsafeSQL: "PREPARE TRANSACTION '\(gid)'"), logger: database.logger)
            }
            let (service, server) = try ChildProcess.ingestService(
                database: database.url, secret: secret, environment: ["REGIO_SLOW_BATCH_SECONDS": "1", "REGIO_LOG_LEVEL": "info"],
                output: work.appendingPathComponent("service.log"))
            do {
                try await service.waitUntilReady(server)
                let upload = try ChildProcess(["upload", "--server", server, "--token-file", tokenFile.path, extract.path],
                                              environment: [:], output: work.appendingPathComponent("upload.log"))
                let deadline = ContinuousClock.now + .seconds(30)
                while !service.text.contains("batch slow"), ContinuousClock.now < deadline {
                    try await Task.sleep(for: .milliseconds(100))
                }
                let warning = try #require(service.text.split(separator: "\n").first { $0.contains("batch slow") },
                                           "no slow-batch warning:\n\(service.text)")
                #expect(warning.contains("warning"))
                #expect(warning.contains("facility rollups"), "the stage that waits: \(warning)")
                #expect(warning.contains("waiting for Lock relation"), "what it waits on: \(warning)")
                #expect(warning.contains("blocked by a prepared transaction (\(gid))"), "who blocks it: \(warning)")

                try await database.query(PostgresQuery(unsafeSQL: "ROLLBACK PREPARED '\(gid)'"))
                #expect(try await upload.exitStatus(within: .seconds(60)) == 0, "\(upload.text)")
                let decided = try #require(service.text.split(separator: "\n").first { $0.contains("batch decided") })
                for stage in ["checks: measures encounters", "main: merge patients", "side: merge encounters", "side: facility rollups",
                              "side: prepare", "side: commit prepared"] {
                    #expect(decided.contains("\(stage)="), "\(stage) and its duration: \(decided)")
                }
            } catch {
                _ = try? await database.query(PostgresQuery(unsafeSQL: "ROLLBACK PREPARED '\(gid)'"))
                throw error
            }
            await service.stop()
        }
    }
}
