import Foundation
import RegioApp
import RegioCore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test("defaults need nothing set")
    func defaults() throws {
        let configuration = try RegioConfiguration(environment: [:])
        #expect(configuration.databaseURL == nil)
        #expect(configuration.ingestListener.host == "127.0.0.1" && configuration.ingestListener.port == 8081)
        #expect(configuration.queryListener.host == "127.0.0.1" && configuration.queryListener.port == 8082)
        #expect(configuration.logLevel == .info)
        #expect(configuration.logFormat == .text)
        #expect(configuration.poolSize == 10)
    }

    @Test("the query database defaults to the primary, and can be a replica")
    func queryDatabase() throws {
        let primary = try RegioConfiguration(environment: ["REGIO_DATABASE_URL": "postgres://regio:s%40cret@db.example:5433/regio"])
        #expect(primary.databaseURL?.host == "db.example")
        #expect(primary.databaseURL?.port == 5433)
        #expect(primary.databaseURL?.password == "s@cret")
        #expect(primary.queryDatabaseURL == primary.databaseURL)
        #expect(primary.databaseURL?.description == "postgres://regio@db.example:5433/regio")

        let replica = try RegioConfiguration(environment: [
            "REGIO_DATABASE_URL": "postgres://regio@primary/regio",
            "REGIO_QUERY_DATABASE_URL": "postgresql://reader@replica/regio?sslmode=require",
        ])
        #expect(replica.queryDatabaseURL?.host == "replica")
        #expect(replica.queryDatabaseURL?.tlsMode == .require)
    }

    @Test("every malformed setting is named in one error")
    func malformed() {
        #expect {
            try RegioConfiguration(environment: [
                "REGIO_DATABASE_URL": "mysql://x@y/z",
                "REGIO_INGEST_PORT": "eighty",
                "REGIO_QUERY_PORT": "70000",
                "REGIO_LOG_LEVEL": "loud",
                "REGIO_DB_POOL_SIZE": "0",
            ])
        } throws: { error in
            guard let error = error as? ConfigurationError else { return false }
            let text = error.description
            return error.problems.count == 5 && text.contains("REGIO_DATABASE_URL") && text.contains("REGIO_INGEST_PORT")
                && text.contains("REGIO_QUERY_PORT") && text.contains("REGIO_LOG_LEVEL") && text.contains("REGIO_DB_POOL_SIZE")
                && !text.contains("\n")
        }
    }

    @Test("a URL without a database or user is refused")
    func incompleteURL() {
        #expect(throws: ConfigurationError.self) { try RegioConfiguration(environment: ["REGIO_DATABASE_URL": "postgres://u@host"]) }
        #expect(throws: ConfigurationError.self) { try RegioConfiguration(environment: ["REGIO_DATABASE_URL": "postgres://host/db"]) }
    }

    @Test("a misspelt variable is a warning, not silence")
    func unknownVariable() throws {
        let configuration = try RegioConfiguration(environment: ["REGIO_DATABSE_URL": "postgres://u@h/d"])
        #expect(configuration.warnings == ["REGIO_DATABSE_URL is not a Regio setting (see docs/configuration.md); ignored"])
    }

    @Test("the configuration file is read under the environment")
    func file() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("regio-\(UUID()).env")
        try """
            # Regio settings
            REGIO_DATABASE_URL="postgres://regio@filehost/regio"
            export REGIO_QUERY_PORT=9000
            REGIO_LOG_FORMAT=json
            """.write(to: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: path) }
        let configuration = try RegioConfiguration.load(environment: [
            "REGIO_CONFIG_FILE": path.path, "REGIO_QUERY_PORT": "9100",
        ])
        #expect(configuration.databaseURL?.host == "filehost")
        #expect(configuration.queryListener.port == 9100)
        #expect(configuration.logFormat == .json)
    }

    @Test("a bad line in the file is reported with its line number")
    func badFile() {
        #expect(throws: ConfigurationError(problems: ["f.env:2: expected KEY=VALUE"])) {
            try RegioConfiguration.parseFile("A=1\nnonsense\n", name: "f.env")
        }
    }

    @Test("the region secret must exist and be long enough")
    func secret() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("regio-\(UUID()).key")
        try "short".write(to: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: path) }
        let configuration = try RegioConfiguration(environment: ["REGIO_SECRET_FILE": path.path])
        #expect(throws: ConfigurationError.self) { try configuration.loadSecret() }
        try String(repeating: "k", count: 44).write(to: path, atomically: true, encoding: .utf8)
        #expect(try configuration.loadSecret().count == 44)
        #expect(throws: ConfigurationError.self) { try RegioConfiguration(environment: [:]).loadSecret() }
    }

    @Test("docs/configuration.md lists every setting")
    func documented() throws {
        let docs = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
            .deletingLastPathComponent().appendingPathComponent("docs/configuration.md")
        let text = try String(contentsOf: docs, encoding: .utf8)
        for setting in RegioConfiguration.settings {
            #expect(text.contains("`\(setting.name)`"), "\(setting.name) is not in docs/configuration.md")
        }
    }
}
