import ArgumentParser
import Foundation
import RegioApp

struct DemoCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "demo",
        abstract: "Run a demo region: embedded PostgreSQL (unless REGIO_DATABASE_URL is set), sample data, both services.")

    @Option(help: "Folder for the demo's PostgreSQL cluster and secret.")
    var stateDirectory = ".regio"

    @Flag(help: "Do not generate and upload the sample week of extracts.")
    var skipExtracts = false

    @Flag(help: "Log each service path in as its own role (regio_ingest, regio_query, …), made by the demo; always so on the embedded PostgreSQL. REGIO_DATABASE_URL's user must be able to create roles, and the server must let them log in without a password (a test cluster).")
    var serviceRoles = false

    @Option(help: "Write this JSON file (both services' addresses, the demo users and one API token per role) once the demo is up and loaded.")
    var readyFile: String?

    func run() async throws {
        let environment = try Environment.load()
        try await reportingFailure {
            try await Demo.run(configuration: environment.configuration,
                               stateDirectory: URL(fileURLWithPath: stateDirectory, isDirectory: true),
                               loadExtracts: !skipExtracts, serviceRoles: serviceRoles,
                               readyFile: readyFile.map { URL(fileURLWithPath: $0) },
                               logger: environment.logger)
        }
    }
}
