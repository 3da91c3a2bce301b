import ArgumentParser
import Foundation
import Logging
import RegioApp
import RegioCore
import RegioDB

@main
struct Regio: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "regio",
        abstract: "Regional health data platform: nightly extracts in, reports out.",
        discussion: "Settings come from REGIO_* environment variables; see docs/configuration.md.",
        subcommands: [
            DemoCommand.self, MigrateCommand.self, ServeCommand.self,
            UploadCommand.self, ExtractCommand.self, BenchCommand.self,
            RegionCommand.self, FacilityCommand.self, AllianceCommand.self, TokenCommand.self, UserCommand.self, AuditCommand.self,
            ThresholdCommand.self, RollupCommand.self, BatchCommand.self, PatientIndexCommand.self, CatalogCommand.self,
        ]
    )
}

/// What every command starts with: the configuration (failing with one clear line) and logging.
struct Environment: Sendable {
    var configuration: RegioConfiguration
    var logger: Logger

    static func load(label: String = "regio") throws -> Environment {
        let configuration: RegioConfiguration
        do {
            configuration = try RegioConfiguration.load()
        } catch {
            FileHandle.standardError.write(Data("regio: \(Database.message(for: error))\n".utf8))
            throw ExitCode(2)
        }
        RegioLogging.bootstrap(level: configuration.logLevel, format: configuration.logFormat)
        let logger = Logger(label: label)
        for warning in configuration.warnings { logger.warning("\(warning)") }
        return Environment(configuration: configuration, logger: logger)
    }

    /// The primary database, which every administrative command needs.
    func databaseURL() throws -> DatabaseURL {
        guard let url = configuration.databaseURL else {
            FileHandle.standardError.write(Data("regio: configuration error: REGIO_DATABASE_URL is not set\n".utf8))
            throw ExitCode(2)
        }
        return url
    }

    /// The acting user, for the audit log.
    var actor: String {
        "cli:" + (ProcessInfo.processInfo.environment["USER"] ?? ProcessInfo.processInfo.environment["LOGNAME"] ?? "unknown")
    }
}

/// What an administrative command does: loads the environment, opens its database, runs `body`,
/// and turns a failure into one line on standard error and exit status 1.
func withCommandDatabase(_ body: @escaping @Sendable (Database, Environment) async throws -> Void) async throws {
    let environment = try Environment.load()
    let url = try environment.databaseURL()
    try await reportingFailure {
        try await withDatabase(url, logger: environment.logger) { try await body($0, environment) }
    }
}

/// Runs `body` and turns a failure into one line on standard error and exit status 1.
func reportingFailure(_ body: () async throws -> Void) async throws {
    do {
        try await body()
    } catch let exit as ExitCode {
        throw exit
    } catch {
        FileHandle.standardError.write(Data("regio: \(Database.message(for: error))\n".utf8))
        throw ExitCode(1)
    }
}
