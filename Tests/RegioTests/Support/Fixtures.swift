import Foundation
import HTTPTypes
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
@testable import RegioPipeline
import RegioIngest
import RegioQuery
import RegioCore
import ServiceLifecycle

/// Small scenario helpers: a seeded region, tokens per role, and the two services' routers.
enum Fixtures {
    /// Seeds the demo region and returns one token per role (facility H339901001, alliance QH-ALLIANCE).
    static func seedDemo(_ database: Database) async throws -> [Role: String] {
        try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
        let issued = try await DemoRegion.issueTokens(credentials: CredentialStore(database: database), actor: "test")
        return Dictionary(uniqueKeysWithValues: issued.map { ($0.0, $0.2) })
    }

    /// One token per role for a region already seeded.
    static func seedDemoTokens(_ database: Database) async throws -> [Role: String] {
        let issued = try await DemoRegion.issueTokens(credentials: CredentialStore(database: database), actor: "test")
        return Dictionary(uniqueKeysWithValues: issued.map { ($0.0, $0.2) })
    }

    /// `writes`: where the query service writes (`database` when nil); `lookups`: where its
    /// cross-facility lookups read and audit (`writes` when nil). Resident ID numbers are hashed
    /// with the ingestion service's test secret.
    /// `accounts`: where people's accounts and sessions live (`writes` when nil).
    static func queryApp(_ database: Database, writes: Database? = nil, lookups: Database? = nil,
                         accounts: Database? = nil) throws -> some ApplicationProtocol {
        Application(router: try QueryService.buildRouter(
            database: database, writes: writes ?? database, lookups: lookups, accounts: accounts, pseudonymizer: pseudonymizer,
            migrations: MigrationRunner(migrations: try Migration.bundled()), metrics: RegioMetrics.registry))
    }

    static let pseudonymizer = Pseudonymizer(secret: Data(repeating: 42, count: 32))

    /// The ingestion service with its batch worker, as `regio serve ingest` runs it: logged in as
    /// `regio_ingest`, the deployed role that owns nothing, to `database`'s database.
    /// - Parameters:
    ///   - idle: how often the worker polls the queue (it is rung when a batch is committed).
    ///   - asOwner: log in as `database`'s own user instead (a cluster without the test template's roles).
    static func ingestApp(_ database: Database, sideTransactions: Bool = true, stagedKeys: StagedKeys = StagedKeys(),
                          idle: Duration = .milliseconds(50), asOwner: Bool = false) throws -> some ApplicationProtocol {
        let committed = BatchDoorbell()
        let loading = asOwner ? nil : Database(url: TestDatabase.ingestURL(of: database), poolSize: 6, name: "ingest",
                                               logger: TestDatabase.logger)
        let service = loading ?? database
        let worker = BatchWorker(database: service, idle: idle, sideTransactions: sideTransactions,
                                 stagedKeys: stagedKeys, committed: committed, logger: TestDatabase.logger)
        let pools: [any Service] = loading.map { [$0.client] } ?? []
        return Application(
            router: try IngestService.buildRouter(
                database: service, migrations: MigrationRunner(migrations: try Migration.bundled()),
                metrics: RegioMetrics.registry, pseudonymizer: pseudonymizer, keyMemory: KeyMemory(), stagedKeys: stagedKeys,
                committed: committed),
            services: pools + [worker])
    }

    /// The service roles as deployed (`Demo.deployServiceRoles`); the URLs that log in as the
    /// query service's reader and writer.
    static func deployedQueryRoles(_ database: Database) async throws -> (read: DatabaseURL, write: DatabaseURL) {
        try await Demo.deployServiceRoles(database)
        var (read, write) = (database.url, database.url)
        (read.username, write.username) = ("regio_query", "regio_query_writer")
        return (read, write)
    }

    /// The service roles as deployed; the URL that logs in as the accounts role.
    static func deployedAccountsRole(_ database: Database) async throws -> DatabaseURL {
        try await Demo.deployServiceRoles(database)
        var url = database.url
        url.username = "regio_web"
        return url
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
