import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import RegioApp
import RegioCore
import RegioDB
import RegioIngest
import RegioQuery
import RegioCore

/// Small scenario helpers: a seeded region, tokens per role, and the two services' routers.
enum Fixtures {
    /// Seeds the demo region and returns one token per role (facility H339901001, alliance QH-ALLIANCE).
    static func seedDemo(_ database: Database) async throws -> [Role: String] {
        try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
        let issued = try await DemoRegion.issueTokens(credentials: CredentialStore(database: database), actor: "test")
        return Dictionary(uniqueKeysWithValues: issued.map { ($0.0, $0.2) })
    }

    static func queryApp(_ database: Database) throws -> some ApplicationProtocol {
        Application(router: try QueryService.buildRouter(
            database: database, migrations: MigrationRunner(migrations: try Migration.bundled()), metrics: RegioMetrics.registry))
    }

    static let pseudonymizer = Pseudonymizer(secret: Data(repeating: 42, count: 32))

    /// The ingestion service with its batch worker, as `regio serve ingest` runs it.
    static func ingestApp(_ database: Database, sideTransactions: Bool = true,
                          stagedKeys: StagedKeys = StagedKeys()) throws -> some ApplicationProtocol {
        Application(
            router: try IngestService.buildRouter(
                database: database, migrations: MigrationRunner(migrations: try Migration.bundled()),
                metrics: RegioMetrics.registry, pseudonymizer: pseudonymizer, stagedKeys: stagedKeys),
            services: [BatchWorker(database: database, idle: .milliseconds(50), sideTransactions: sideTransactions,
                                   stagedKeys: stagedKeys, logger: TestDatabase.logger)])
    }

    static func bearer(_ token: String) -> HTTPFields {
        [.authorization: "Bearer \(token)"]
    }
}

extension TestResponse {
    var text: String { String(buffer: body) }

    func json() throws -> [String: Any] {
        try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [String: Any] ?? [:]
    }
}
