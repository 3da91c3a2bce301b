import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB
import RegioPipeline

struct PatientIndexCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mpi", abstract: "The regional patient index.", subcommands: [Relink.self, Weights.self])

    struct Weights: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Show the matching model in force: each field's levels with m, u and weight, and the thresholds.",
            discussion: """
                A region sets its own m and u for a level in emr.match_weights (field, level, m, u); \
                `regio mpi relink` then applies them to the stored records.
                """)

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    let model = try await database.withConnection { try await PersonLinker(database: database).model(on: $0) }
                    func column(_ text: String, _ width: Int) -> String { text.padding(toLength: width, withPad: " ", startingAt: 0) }
                    print(column("field", 12) + column("level", 13) + column("m", 10) + column("u", 10) + "weight")
                    for level in model.levels {
                        let standard = MatchModel.standard.levels.first { $0.field == level.field && $0.level == level.level }
                        print(column(level.field.rawValue, 12) + column(level.level, 13) + column(String(format: "%.6f", level.m), 10)
                              + column(String(format: "%.6f", level.u), 10) + String(format: "%6.2f", level.weight)
                              + (standard == level ? "" : "   (emr.match_weights)"))
                    }
                    print("link at \(model.linkThreshold), review from \(model.reviewThreshold)")
                }
            }
        }
    }

    struct Relink: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Decide every record's person again, after a change of the matching rules or thresholds (audited).",
            discussion: """
                Every loaded batch is linked again, in the order the batches loaded, with the region's link_threshold \
                and review_threshold. A record keeps its person where the new decision agrees; each change is a new \
                row of its link history (emr.person_links), which keeps every earlier link. Running ingestion \
                services take part: only one process links at a time.
                """)

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    let linker = PersonLinker(database: database)
                    let batches = try await linker.resetForRelink(actor: environment.actor)
                    print("\(batches) batches to link again")
                    var total = PersonLinker.Outcome(batch: 0)
                    var idle = 0
                    // Until none is left; another process may be linking one meanwhile.
                    while idle < 50 {
                        guard let outcome = try await linker.linkNext() else {
                            var left = 0
                            for try await count in try await database.query("""
                                SELECT count(*)::int FROM ingest.batches WHERE status = 'loaded' AND NOT dry_run AND linked_at IS NULL
                                """).decode(Int.self) {
                                left = count
                            }
                            if left == 0 { break }
                            idle += 1
                            try await Task.sleep(for: .milliseconds(200))
                            continue
                        }
                        idle = 0
                        total.records += outcome.records
                        total.linkedByID += outcome.linkedByID
                        total.linkedByScore += outcome.linkedByScore
                        total.newPersons += outcome.newPersons
                        total.reviews += outcome.reviews
                        total.changed += outcome.changed
                    }
                    print("""
                        \(total.records) records: \(total.linkedByID) by ID number, \(total.linkedByScore) by score, \
                        \(total.newPersons) new persons, \(total.reviews) to review; \(total.changed) changed person
                        """)
                }
            }
        }
    }
}
