import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB
import ServiceLifecycle

/// `regio demo`: a whole Regio on one machine. Without `REGIO_DATABASE_URL` it runs its own
/// PostgreSQL under the state directory (`.regio/`); then it migrates, seeds the sample region,
/// issues one token per role, starts both services and prints how to reach them.
public enum Demo {
    /// - Parameter readyFile: written (JSON: both services' addresses, the demo users and one token
    ///   per role) once both services listen and the sample week is loaded; the browser tests and
    ///   the API fuzzing wait for it.
    /// - Parameter serviceRoles: log each service path in as its own role, as deployed (made here);
    ///   always so on the embedded PostgreSQL.
    public static func run(configuration: RegioConfiguration, stateDirectory: URL, loadExtracts: Bool = true,
                           serviceRoles: Bool = false, readyFile: URL? = nil, logger: Logger) async throws {
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

        let asRoles = serviceRoles || embedded != nil
        let (tokens, uploadTokens, users) = try await withDatabase(configuration.databaseURL!, logger: logger) { database in
            try await MigrationRunner(migrations: try Migration.bundled()).upgrade(database)
            if asRoles { try await deployServiceRoles(database) }
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "demo")
            try await DemoRegion.seedExamCatalog(ExamCatalogStore(database: database), actor: "demo")
            try await DemoRegion.seedProcurement(ProcurementStore(database: database), firstNight: DemoRegion.firstNight(nights: 7),
                                                 seed: SampleExtractGenerator.Options(firstNight: DemoRegion.firstNight(nights: 7)).seed,
                                                 actor: "demo")
            let credentials = CredentialStore(database: database)
            var uploadTokens: [String: String] = [:]
            if loadExtracts {
                for facility in DemoRegion.facilities {
                    uploadTokens[facility.code] = try await credentials.issue(
                        role: .facility, scope: facility.code, label: "demo nightly upload",
                        expiresAt: Date().addingTimeInterval(24 * 3600), actor: "demo").token
                }
            }
            return (try await DemoRegion.issueTokens(credentials: credentials, actor: "demo"), uploadTokens,
                    try await DemoRegion.seedUsers(accounts: AccountStore(database: database), actor: "demo"))
        }

        if asRoles, let owner = configuration.databaseURL {
            // Each path logs in as its own role, as deployed (deploy/README.md); the owner only migrates.
            func url(_ role: String) -> DatabaseURL {
                var url = owner
                url.username = role
                url.password = nil
                return url
            }
            configuration.ingestDatabaseURL = url("regio_ingest")
            configuration.queryDatabaseURL = url("regio_query")
            configuration.queryWriteDatabaseURL = url("regio_query_writer")
            configuration.queryLookupDatabaseURL = url("regio_lookup")
            configuration.queryAccountsDatabaseURL = url("regio_web")
        }

        var loader: DemoLoader?
        if loadExtracts {
            let folders = try sampleWeek(in: stateDirectory)
            loader = DemoLoader(folders: folders, tokens: uploadTokens, database: configuration.databaseURL!, logger: logger)
        }
        let banner = Banner(tokens: tokens, users: users, database: configuration.databaseURL!, embedded: embedded != nil, loader: loader,
                            readyFile: readyFile)
        let server = try RegioServer(selection: .all, configuration: configuration, logger: logger) { name, host, port in
            await banner.listening(name, host: host, port: port)
        }
        try await server.group(logger: logger).run()
    }

    /// The service roles deploy/postgresql/init-roles.sh makes, in `database`'s cluster (roles are
    /// the cluster's: made once), with the reading grants its default privileges give
    /// `regio_query`, and the migrations' grants and row-level security policies. The demo and
    /// the tests deploy them so.
    public static func deployServiceRoles(_ database: Database) async throws {
        for role in ["regio_ingest", "regio_query", "regio_query_writer", "regio_lookup", "regio_web"] {
            try await database.query(PostgresQuery(unsafeSQL: """
                DO $$ BEGIN CREATE ROLE \(role) LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
                """))
        }
        try await database.query("GRANT USAGE ON SCHEMA registry, reports, audit, ingest, emr, referral, procurement TO regio_query")
        try await database.query("GRANT SELECT ON ALL TABLES IN SCHEMA registry, reports, audit, ingest, emr, referral, procurement TO regio_query")
        try await database.query("GRANT SELECT ON public.regio_migrations TO regio_query")
        try await MigrationRunner.grantServiceRoles(on: database)
    }

    /// A week of sample extracts ending yesterday, generated once per week under the state folder.
    static func sampleWeek(in directory: URL) throws -> [URL] {
        let first = DemoRegion.firstNight(nights: 7)
        let folder = directory.appendingPathComponent("extracts").appendingPathComponent(first.description)
        if !FileManager.default.fileExists(atPath: folder.path) {
            var writer = SampleExtractWriter(output: folder)
            writer.gb18030 = DemoRegion.gb18030Facilities
            var options = SampleExtractGenerator.Options(firstNight: first, nights: 7)
            options.purchaseHistoryDays = DemoRegion.purchaseHistoryDays(firstNight: first)
            return try writer.write(facilities: DemoRegion.facilities, options: options)
        }
        var folders: [URL] = []
        for facility in try FileManager.default.contentsOfDirectory(atPath: folder.path).sorted() {
            let facilityFolder = folder.appendingPathComponent(facility)
            for night in try FileManager.default.contentsOfDirectory(atPath: facilityFolder.path).sorted() {
                folders.append(facilityFolder.appendingPathComponent(night))
            }
        }
        return folders
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
        let users: [DemoUser]
        let database: DatabaseURL
        let embedded: Bool
        let loader: DemoLoader?
        let readyFile: URL?
        var ports: [String: (String, Int)] = [:]

        init(tokens: [(Role, String?, String)], users: [DemoUser], database: DatabaseURL, embedded: Bool, loader: DemoLoader?,
             readyFile: URL?) {
            self.tokens = tokens
            self.users = users
            self.database = database
            self.embedded = embedded
            self.loader = loader
            self.readyFile = readyFile
        }

        /// The ready file: where both services are, who may sign in to the dashboard, and one API
        /// token per role (the browser tests sign in; the API fuzzing sends the tokens).
        struct Ready: Encodable {
            struct Token: Encodable {
                var role: Role
                var scope: String?
                var token: String
            }
            var base_url: String
            var ingest_url: String
            var users: [DemoUser]
            var tokens: [Token]
        }

        nonisolated func writeReady(queryURL: String, ingestURL: String) {
            guard let readyFile else { return }
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
            let ready = Ready(base_url: queryURL, ingest_url: ingestURL, users: users,
                              tokens: tokens.map { Ready.Token(role: $0.0, scope: $0.1, token: $0.2) })
            try? encoder.encode(ready).write(to: readyFile, options: .atomic)
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
                "Dashboard: \(queryURL)/sign-in — one user per role (passwords are new at every start):",
            ]
            for user in users {
                let padded = user.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0)
                lines.append("  \(padded) \(user.username.padding(toLength: 16, withPad: " ", startingAt: 0)) \(user.password)"
                             + (user.scope.map { "   (\($0))" } ?? ""))
            }
            lines += [
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
                    "  curl -H \"Authorization: Bearer \(bureau)\" \"\(queryURL)/v1/reports/upload-history?format=csv\"",
                ]
            }
            if let alliance = tokens.first(where: { $0.0 == .alliance }) {
                lines += [
                    "  curl -H \"Authorization: Bearer \(alliance.2)\" \"\(queryURL)/v1/reports/price-comparison?format=csv\"   (\(alliance.1 ?? "")'s members)",
                    "  curl -H \"Authorization: Bearer \(alliance.2)\" \"\(queryURL)/v1/reports/price-outliers?format=csv\"",
                    "  curl -H \"Authorization: Bearer \(alliance.2)\" \"\(queryURL)/v1/reports/vbp-completion?format=csv\"",
                    "  curl -H \"Authorization: Bearer \(alliance.2)\" \"\(queryURL)/v1/reports/price-trend?format=csv\"",
                ]
            }
            if let facility = tokens.first(where: { $0.0 == .facility }) {
                lines += [
                    "  curl -H \"Authorization: Bearer \(facility.2)\" \"http://\(ingest.0):\(ingest.1)/v1/batches\"   (\(facility.1 ?? "")'s uploads)",
                ]
            }
            if loader != nil { lines += ["", "Uploading a week of sample extracts for every facility through the upload client…"] }
            print(lines.joined(separator: "\n") + "\n")
            fflush(nil)
            let ingestURL = "http://\(ingest.0):\(ingest.1)"
            if let loader {
                let lookup = tokens.first { $0.0 == .facility }.map { (facility: $0.1 ?? "", token: $0.2, query: queryURL) }
                Task {
                    await loader.run(ingest: ingestURL, lookup: lookup)
                    writeReady(queryURL: queryURL, ingestURL: ingestURL)
                }
            } else {
                writeReady(queryURL: queryURL, ingestURL: ingestURL)
            }
        }
    }
}
