import Foundation
import Logging
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// Every test gets its own database on the throwaway cluster that `make test` starts (its URL is in
/// `REGIO_TEST_DATABASE_URL`). Migrated databases are copies of one template migrated once per run
/// (`CREATE DATABASE … TEMPLATE`), so tests run in parallel, need no clean-up, and stay fast.
enum TestDatabase {
    static let logger: Logger = {
        var logger = Logger(label: "test")
        logger.logLevel = .warning
        return logger
    }()

    static func serverURL() throws -> DatabaseURL {
        guard let text = ProcessInfo.processInfo.environment["REGIO_TEST_DATABASE_URL"] else {
            throw TestSetupError("REGIO_TEST_DATABASE_URL is not set: run the tests with `make test`, which starts a throwaway PostgreSQL")
        }
        return try DatabaseURL(text)
    }

    /// Runs `body` against a new database: migrated (a copy of the template) or empty.
    static func with(migrated: Bool = true, _ body: @Sendable (Database) async throws -> Void) async throws {
        let name = try await Template.shared.createDatabase(migrated: migrated)
        var url = try serverURL()
        url.database = String(name)
        do {
            try await withDatabase(url, name: "test", poolSize: 4, logger: logger, body)
        } catch let error as PSQLError {
            // PSQLError hides the server's message from `description`; a failing test should show it.
            throw TestSetupError("database error: \(String(reflecting: error))")
        }
        _ = try? await admin { try await $0.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name) WITH (FORCE)")) }
    }

    /// The URL of a database made by `with`, for handing to a child process.
    static func url(of database: Database) -> DatabaseURL { database.url }

    /// The URL that logs in to the same database as the ingestion service's role, `regio_ingest`
    /// (made with the template).
    static func ingestURL(of database: Database) -> DatabaseURL {
        var url = database.url
        url.username = "regio_ingest"
        return url
    }

    static func admin<T: Sendable>(_ body: @Sendable (Database) async throws -> T) async throws -> T {
        try await withDatabase(try serverURL(), name: "test-admin", poolSize: 1, logger: logger, body)
    }

    /// Migrates the template database once per test process.
    actor Template {
        static let shared = Template()
        private var preparing: Task<String, any Error>?

        /// Copies of one template must be made one at a time: PostgreSQL refuses to copy a database
        /// that another session (here, a concurrent copy) is using.
        func createDatabase(migrated: Bool) async throws -> String {
            let name = "t_" + UUID().uuidString.replacingOccurrences(of: "-", with: "").lowercased().prefix(20)
            let template = migrated ? try await self.name() : "template0"
            do {
                try await TestDatabase.admin {
                    try await $0.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE \(template)"))
                }
            } catch let error as PSQLError {
                throw TestSetupError("CREATE DATABASE failed: \(String(reflecting: error))")
            }
            return String(name)
        }

        /// The migrated template, made by the first caller; the task keeps the actor's reentrancy
        /// from letting a second caller start another.
        func name() async throws -> String {
            if let preparing { return try await preparing.value }
            let task = Task { try await Self.prepare() }
            preparing = task
            return try await task.value
        }

        private static func prepare() async throws -> String {
            let name = "regio_template_\(getpid())"
            try await TestDatabase.admin { database in
                try await database.query(PostgresQuery(unsafeSQL: "DROP DATABASE IF EXISTS \(name)"))
                try await database.query(PostgresQuery(unsafeSQL: "CREATE DATABASE \(name) TEMPLATE template0"))
            }
            var url = try TestDatabase.serverURL()
            url.database = name
            try await withDatabase(url, name: "test-template", poolSize: 1, logger: TestDatabase.logger) { database in
                try await MigrationRunner(migrations: try Migration.bundled()).apply(on: database)
                // The service roles as deployed, with their grants and row-level security
                // policies: the tests' ingestion service logs in as regio_ingest.
                try await Demo.deployServiceRoles(database)
            }
            return name
        }
    }
}

struct TestSetupError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

extension Database {
    /// The first column of the first row of `sql`, as text.
    func text(_ sql: String) async throws -> String? {
        for try await value in try await query(PostgresQuery(unsafeSQL: sql)).decode(String?.self) { return value }
        return nil
    }
}

/// Whether `condition` came to hold within `limit` (checked every 100 ms).
func eventually(within limit: Duration, _ condition: () async throws -> Bool) async throws -> Bool {
    let deadline = ContinuousClock.now + limit
    while try await !condition() {
        guard ContinuousClock.now < deadline else { return false }
        try await Task.sleep(for: .milliseconds(100))
    }
    return true
}
