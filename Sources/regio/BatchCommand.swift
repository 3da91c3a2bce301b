import ArgumentParser
import Foundation
import RegioApp
import RegioDB
import RegioPipeline

struct BatchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "batch", abstract: "Loaded batches: take a wrong one back.", subcommands: [Retract.self])

    struct Retract: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Retract a loaded batch: remove the rows it brought and restore the rows it replaced (newest first; audited).",
            discussion: """
                The facility's rollups and referral findings follow in the same transaction. A batch can be \
                retracted while no later batch of its facility is loaded, and within the region's \
                retraction_days (31 by default) of its decision. The facility can then send the corrected night.
                """)
        @Argument(help: "The batch id.") var id: Int64
        @Option(help: "Why, for the audit log and the batch's status.") var reason: String

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let outcome = try await withDatabase(url, logger: environment.logger) { database in
                    try await BatchRetraction(database: database).retract(id: id, actor: environment.actor, reason: reason)
                }
                print("batch \(outcome.batch) of \(outcome.facility) for \(outcome.businessDate) retracted")
                for table in outcome.tables where table.removed + table.restored > 0 {
                    print("  \(table.table): \(table.removed) rows removed, \(table.restored) restored")
                }
            }
        }
    }
}
