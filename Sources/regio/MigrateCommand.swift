import ArgumentParser
import Foundation
import RegioApp
import RegioDB

struct MigrateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "migrate", abstract: "Apply pending database migrations (sql/migrations), or show them.")

    @Flag(help: "List applied and pending migrations; change nothing.")
    var status = false

    func run() async throws {
        let environment = try Environment.load()
        let url = try environment.databaseURL()
        try await reportingFailure {
            let runner = MigrationRunner(migrations: try Migration.bundled())
            let status = self.status
            try await withDatabase(url, logger: environment.logger) { database in
                if status {
                    for entry in try await runner.status(on: database) {
                        let state = switch entry.state {
                        case .applied(let at): "applied  \(at.formatted(.iso8601))"
                        case .pending: "pending"
                        case .modified(let at): "EDITED   applied \(at.formatted(.iso8601)), file changed since"
                        case .unknown(let at): "UNKNOWN  applied \(at.formatted(.iso8601)), no such file in this build"
                        }
                        print(String(format: "%04d", entry.version), entry.name.padding(toLength: 28, withPad: " ", startingAt: 0), state)
                    }
                } else {
                    let applied = try await runner.upgrade(database)
                    if applied.isEmpty { print("database is up to date") }
                    for migration in applied { print("applied", String(format: "%04d", migration.version), migration.name) }
                }
            }
        }
    }
}
