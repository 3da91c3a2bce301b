import AsyncHTTPClient
import Foundation
import NIOCore
import NIOFoundationCompat
import NIOHTTP1
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
        try await withSeededDatabase { database, work in
            let tokenFile = try await work.tokenFile(for: "H339901001", database)
            let extract = try work.extract(for: "H339901001")

            // What a process killed long ago (or an operator's session) can leave: a prepared
            // transaction, not Regio's, holding a lock on the rollups every batch refreshes.
            let gid = "drill_\(UUID().uuidString.prefix(8).lowercased())"
            try await database.withConnection { connection in
                try await connection.query("BEGIN", logger: database.logger)
                try await connection.query("LOCK TABLE reports.facility_month IN SHARE MODE", logger: database.logger)
                try await connection.query(PostgresQuery(unsafeSQL: "PREPARE TRANSACTION '\(gid)'"), logger: database.logger)
            }
            let (service, server) = try ChildProcess.ingestService(
                database: database.url, secret: work.secret, environment: ["REGIO_SLOW_BATCH_SECONDS": "1", "REGIO_LOG_LEVEL": "info"],
                output: work.url.appendingPathComponent("service.log"))
            do {
                try await service.waitUntilReady(server)
                let upload = try ChildProcess(["upload", "--server", server, "--token-file", tokenFile.path, extract.path],
                                              environment: [:], output: work.url.appendingPathComponent("upload.log"))
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

    @Test("uploads streaming slowly do not hold up the decision of a committed batch")
    func uploadsDoNotStarveDecisions() async throws {
        try await withSeededDatabase { database, work in
            let (first, second) = ("H339901001", "H339901002")
            let (service, server) = try ChildProcess.ingestService(
                database: database.url, secret: work.secret,
                environment: ["REGIO_DB_POOL_SIZE": "3", "REGIO_SLOW_BATCH_SECONDS": "2", "REGIO_LOG_LEVEL": "info"],
                output: work.url.appendingPathComponent("service.log"))
            try await service.waitUntilReady(server)
            let http = HTTPSession(server: server)

            // One facility's night, sent whole but not committed yet.
            let token = try await work.token(for: first, database)
            let extract = try work.extract(for: first)
            let batch = try await http.create(extract, token: token)
            for file in ["patients.csv", "encounters.csv"] {
                let bytes = try Data(contentsOf: extract.appendingPathComponent(file))
                #expect(try await http.send(.PUT, "/v1/batches/\(batch)/files/\(file)", token: token, body: .bytes(ByteBuffer(data: bytes))).status == .ok)
            }

            // Another facility's files trickle in on a slow line: each holds one of the service's
            // three upload connections for as long as it streams.
            let slowToken = try await work.token(for: second, database)
            let slowBatch = try await http.create(try work.extract(for: second), token: slowToken)
            var lines: [AsyncStream<ByteBuffer>.Continuation] = []
            var trickles: [Task<Void, Never>] = []
            for (file, header) in [("patients.csv", Extracts.patientsHeader), ("encounters.csv", Extracts.encountersHeader)] {
                let (stream, continuation) = AsyncStream<ByteBuffer>.makeStream()
                continuation.yield(ByteBuffer(string: header))
                lines.append(continuation)
                trickles.append(Task {
                    _ = try? await http.send(.PUT, "/v1/batches/\(slowBatch)/files/\(file)", token: slowToken,
                                             body: .stream(stream, length: .unknown))
                })
            }
            defer { lines.forEach { $0.finish() } }
            let streaming = try await eventually(within: .seconds(20)) {
                try await database.text("""
                    SELECT count(*)::text FROM pg_stat_activity
                    WHERE datname = current_database() AND application_name = 'regio-ingest' AND query LIKE 'COPY%' AND state = 'active'
                    """) == "2"
            }
            #expect(streaming, "both slow uploads are streaming")

            // The first facility commits: its batch is decided while the others still stream.
            #expect(try await http.send(.POST, "/v1/batches/\(batch)/commit", token: token).status == .accepted)
            let committed = ContinuousClock.now
            let decided = try await eventually(within: .seconds(15)) {
                try await database.text("SELECT status FROM ingest.batches WHERE id = \(batch)") == "loaded"
            }
            #expect(decided, "decided within 15 s while uploads streamed (\(ContinuousClock.now - committed)):\n\(service.text)")
            #expect(try await database.text("SELECT status FROM ingest.batches WHERE id = \(slowBatch)") == "receiving")

            lines.forEach { $0.finish() }
            for trickle in trickles { await trickle.value }
            await service.stop()
        }
    }
}
