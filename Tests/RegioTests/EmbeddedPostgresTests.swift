import Foundation
import PostgresNIO
import RegioApp
import RegioDB
import Testing

@Suite("Embedded PostgreSQL")
struct EmbeddedPostgresTests {
    @Test("creates a cluster, starts on a free port, answers, stops, and starts again")
    func lifecycle() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("regio-embedded-\(UUID())")
        defer { try? FileManager.default.removeItem(at: directory) }
        for round in 1...2 {
            let postgres = try EmbeddedPostgres(directory: directory, logger: TestDatabase.logger)
            try postgres.start()
            let answer = try await withDatabase(postgres.url, logger: TestDatabase.logger) { database in
                var value = 0
                for try await number in try await database.query("SELECT \(round)::int").decode(Int.self) { value = number }
                return value
            }
            postgres.stop()
            #expect(answer == round)
        }
    }
}
