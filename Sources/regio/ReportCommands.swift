import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB

extension Threshold.Kind: ExpressibleByArgument {}

struct ThresholdCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "threshold", abstract: "The bureau's alert thresholds and data-quality pass marks.",
        subcommands: [List.self, Change.self])

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Show every threshold.")
        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let thresholds = try await withDatabase(url, logger: environment.logger) { try await ThresholdStore(database: $0).all() }
                for t in thresholds {
                    print("\(t.kind.rawValue)\t\(t.indicator)\t\(t.comparator) \(t.threshold) \(t.unit)\t\(t.description)")
                }
            }
        }
    }

    struct Change: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set", abstract: "Change one threshold.", discussion: "Example: regio threshold set alert drug_share 35")
        @Argument(help: "alert or quality.") var kind: Threshold.Kind
        @Argument(help: "The indicator, as `regio threshold list` shows it.") var indicator: String
        @Argument(help: "The new threshold.") var value: String
        @Option(help: "> or <: the value breaches when it is above (>) or below (<) the threshold.") var comparator: String?

        func run() async throws {
            guard let threshold = Decimal(string: value, locale: Locale(identifier: "en_US_POSIX")) else {
                throw ValidationError("the threshold must be a number, got '\(value)'")
            }
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let updated = try await withDatabase(url, logger: environment.logger) {
                    try await ThresholdStore(database: $0).set(kind: kind, indicator: indicator, value: threshold,
                                                               comparator: comparator, actor: environment.actor)
                }
                print("\(updated.kind.rawValue)\t\(updated.indicator)\t\(updated.comparator) \(updated.threshold) \(updated.unit)")
            }
        }
    }
}

struct RollupCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "rollup", abstract: "Report rollups.", subcommands: [Rebuild.self])

    struct Rebuild: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Rebuild every rollup and referral finding from the core tables, in one transaction.",
            discussion: "Batches keep the rollups current; rebuild after changing facility tiers or the referral window.")
        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { try await Rollups.rebuildAll($0) }
                print("rollups rebuilt")
            }
        }
    }
}
