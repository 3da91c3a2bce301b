import Foundation
import Logging
import RegioCore
import RegioDB
import ServiceLifecycle

/// `regio demo`: a whole Regio on one machine. Without `REGIO_DATABASE_URL` it runs its own
/// PostgreSQL under the state directory (`.regio/`); then it migrates, seeds the sample region,
/// issues one token per role, starts both services and prints how to reach them.
public enum Demo {
    public static func run(configuration: RegioConfiguration, stateDirectory: URL, logger: Logger) async throws {
        var configuration = configuration
        try FileManager.default.createDirectory(at: stateDirectory, withIntermediateDirectories: true)
        var embedded: EmbeddedPostgres?
        if configuration.databaseURL == nil {
            let postgres = try EmbeddedPostgres(directory: stateDirectory.appendingPathComponent("postgres"), logger: logger)
            try postgres.start()
            embedded = postgres
            configuration.databaseURL = postgres.url
            configuration.queryDatabaseURL = postgres.url
        }
        defer { embedded?.stop() }
        if configuration.secretFile == nil {
            configuration.secretFile = try demoSecret(in: stateDirectory).path
        }

        let tokens = try await withDatabase(configuration.databaseURL!, logger: logger) { database in
            try await MigrationRunner(migrations: try Migration.bundled()).apply(on: database)
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "demo")
            return try await DemoRegion.issueTokens(credentials: CredentialStore(database: database), actor: "demo")
        }

        let banner = Banner(tokens: tokens, database: configuration.databaseURL!, embedded: embedded != nil)
        let server = try RegioServer(selection: .all, configuration: configuration, logger: logger) { name, host, port in
            await banner.listening(name, host: host, port: port)
        }
        let group = ServiceGroup(configuration: .init(
            services: server.services, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }

    /// The demo's region secret: made once, kept with the demo's cluster.
    static func demoSecret(in directory: URL) throws -> URL {
        let file = directory.appendingPathComponent("region.key")
        if !FileManager.default.fileExists(atPath: file.path) {
            var generator = SystemRandomNumberGenerator()
            let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
            try Data(Data(bytes).base64EncodedString().utf8).write(to: file)
            chmod(file.path, 0o600)
        }
        return file
    }

    /// Prints where everything is once both services listen.
    actor Banner {
        let tokens: [(Role, String?, String)]
        let database: DatabaseURL
        let embedded: Bool
        var ports: [String: (String, Int)] = [:]

        init(tokens: [(Role, String?, String)], database: DatabaseURL, embedded: Bool) {
            self.tokens = tokens
            self.database = database
            self.embedded = embedded
        }

        func listening(_ name: String, host: String, port: Int) {
            ports[name] = (host, port)
            guard let ingest = ports["ingest"], let query = ports["query"] else { return }
            let queryURL = "http://\(query.0):\(query.1)"
            var lines = [
                "",
                "Regio demo is running. Ctrl-C stops it\(embedded ? " and its PostgreSQL" : "").",
                "",
                "  ingestion service  http://\(ingest.0):\(ingest.1)   (/health, /ready, /metrics, /v1/…)",
                "  query service      \(queryURL)   (/v1/reports)",
                "  database           \(database)\(embedded ? "   (embedded, in .regio/postgres)" : "")",
                "",
                "Tokens (valid 7 days; `regio token list` shows them, `regio token revoke ID` ends one):",
            ]
            for (role, scope, token) in tokens {
                let padded = role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                lines.append("  \(padded) \(token)" + (scope.map { "   (\($0))" } ?? ""))
            }
            if let bureau = tokens.first(where: { $0.0 == .bureau })?.2 {
                lines += [
                    "",
                    "Try:",
                    "  curl -H \"Authorization: Bearer \(bureau)\" \"\(queryURL)/v1/reports\"",
                    "  curl -H \"Authorization: Bearer \(bureau)\" \"\(queryURL)/v1/reports/registry-summary?format=csv\"",
                ]
            }
            print(lines.joined(separator: "\n") + "\n")
            fflush(nil)
        }
    }
}
