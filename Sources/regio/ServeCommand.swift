import ArgumentParser
import Foundation
import RegioApp
import ServiceLifecycle

extension ServiceSelection: ExpressibleByArgument {}

struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve", abstract: "Run the ingestion service, the query service, or both.")

    @Argument(help: "ingest, query or all.")
    var selection: ServiceSelection

    func run() async throws {
        let environment = try Environment.load()
        try await reportingFailure {
            let scheme = environment.configuration.tlsCertificateFile == nil ? "http" : "https"
            let server = try RegioServer(selection: selection, configuration: environment.configuration,
                                         logger: environment.logger) { name, host, port in
                environment.logger.notice("service listening", metadata: ["service": "\(name)", "address": "\(scheme)://\(host):\(port)"])
            }
            try await server.group(logger: environment.logger).run()
        }
    }
}
