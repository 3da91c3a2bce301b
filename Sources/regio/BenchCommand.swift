import ArgumentParser
import Foundation
import RegioApp

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print their figures and ratios to the baselines.",
        subcommands: [Ingest.self, PatientIndex.self, Reports.self])

    struct Ingest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "One night of encounters through the ingestion service vs psql \\copy (and pgloader when installed).",
            discussion: "Uses REGIO_DATABASE_URL when set (its schemas are emptied!), else an embedded PostgreSQL. Build with -c release first.")
        @Option(help: "Encounters in the night.") var encounters = 1_000_000
        @Option(help: "Working folder (generated files, embedded cluster).") var workDirectory = ".regio/bench"
        @Option(help: "Rounds on the same night, each the service, psql and pgloader in turn; the medians close the report.")
        var rounds = 1

        func run() async throws {
            let environment = try Environment.load(label: "regio.bench")
            try await reportingFailure {
                var bench = IngestBenchmark(workDirectory: URL(fileURLWithPath: workDirectory, isDirectory: true),
                                            executable: URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path,
                                            logger: environment.logger)
                bench.encounters = encounters
                let figures = try await bench.run(databaseURL: environment.configuration.databaseURL, rounds: rounds)
                for (index, f) in figures.enumerated() {
                    if figures.count > 1 { print("\nround \(index + 1):") }
                    print(report(f))
                }
                if figures.count > 1 { print(summary(figures)) }
            }
        }

        func rate(_ value: Double) -> String { String(format: "%9.0f rows/s", value) }

        func report(_ f: IngestBenchmark.Figures) -> String {
            var lines = [
                "",
                "Regio ingest (all \(f.totalRows) rows, first byte to loaded): \(String(format: "%.1f", f.regioSeconds)) s  \(rate(f.regioRowsPerSecond))",
                "  of which encounters (\(f.encounterRows) rows):                          \(rate(f.regioEncountersPerSecond))",
                f.decideSeconds.map { String(format: "  upload and staging ≈ %.0f s, then checks and merge ≈ %.0f s (whole seconds); service CPU %.1f s",
                                             f.regioSeconds - $0, $0, f.serviceCPUSeconds) }
                    ?? String(format: "  service CPU %.1f s", f.serviceCPUSeconds),
                "psql \\copy (encounters file):                      \(String(format: "%.1f", f.psqlSeconds)) s  \(rate(f.psqlRowsPerSecond))",
            ]
            if let seconds = f.pgloaderSeconds, let pgloader = f.pgloaderRowsPerSecond {
                lines.append("pgloader (encounters file):                        \(String(format: "%.1f", seconds)) s  \(rate(pgloader))")
            } else {
                lines.append("pgloader: not installed (apt-get install pgloader), no comparison")
            }
            lines.append("")
            lines.append(String(format: "ratio to psql \\copy:  %.2f × (goal ≥ 0.6)", f.regioRowsPerSecond / f.psqlRowsPerSecond))
            if let pgloader = f.pgloaderRowsPerSecond {
                lines.append(String(format: "ratio to pgloader:    %.2f × (goal ≥ 3)", f.regioRowsPerSecond / pgloader))
            }
            lines.append(String(format: "ingest service peak resident memory: %.0f MB (goal ≤ 200 MB)", Double(f.peakResidentBytes) / 1_048_576))
            if let seconds = f.linkSeconds {
                lines.append(String(format: "then the patient index linked its %d patient records in %.1f s (%.0f records/s); peak memory %.0f MB",
                                    f.linkedRecords, seconds, Double(f.linkedRecords) / max(seconds, 0.001),
                                    Double(f.peakResidentBytesLinked) / 1_048_576))
            }
            return lines.joined(separator: "\n")
        }

        /// The medians of the rounds' rates and of their ratios (each ratio is taken within its
        /// round), and the highest peak memory.
        func summary(_ figures: [IngestBenchmark.Figures]) -> String {
            func median(_ values: [Double]) -> Double {
                let sorted = values.sorted()
                return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
            }
            func list(_ values: [Double]) -> String { values.map { String(format: "%.2f", $0) }.joined(separator: ", ") }
            let psqlRatios = figures.map { $0.regioRowsPerSecond / $0.psqlRowsPerSecond }
            var lines = [
                "",
                "medians of \(figures.count) rounds:",
                "Regio ingest:        \(rate(median(figures.map(\.regioRowsPerSecond))))",
                "psql \\copy:          \(rate(median(figures.map(\.psqlRowsPerSecond))))",
            ]
            let pgloaderRates = figures.compactMap(\.pgloaderRowsPerSecond)
            if pgloaderRates.count == figures.count {
                lines.append("pgloader:            \(rate(median(pgloaderRates)))")
            }
            lines.append("")
            lines.append(String(format: "ratio to psql \\copy:  %.2f × (goal ≥ 0.6); rounds: ", median(psqlRatios)) + list(psqlRatios))
            if pgloaderRates.count == figures.count {
                let ratios = zip(figures, pgloaderRates).map { $0.regioRowsPerSecond / $1 }
                lines.append(String(format: "ratio to pgloader:    %.2f × (goal ≥ 3); rounds: ", median(ratios)) + list(ratios))
            }
            let peak = figures.map(\.peakResidentBytes).max() ?? 0
            lines.append(String(format: "ingest service peak resident memory: %.0f MB at most (goal ≤ 200 MB)", Double(peak) / 1_048_576))
            return lines.joined(separator: "\n")
        }
    }

    struct PatientIndex: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "mpi",
            abstract: "The patient index's linkage on a generated region: precision, recall, F1 and records per second.",
            discussion: """
                Generates persons registered at one to four facilities with the noise registration desks make \
                (homophones, traditional characters, swapped or mistyped birth dates, missing dates, new phones, \
                moves, twins, common names, children on a parent's ID card, mistyped ID numbers), links them \
                record by record in arrival order with the model's defaults, and scores the links against the truth \
                (pairwise). Runs without ID numbers, then with them. Build with -c release first.
                """)
        @Option(help: "Persons in the region (each has one to four records).") var persons = 50_000
        @Option(help: "Seed of the generated region.") var seed: UInt64 = 7

        func run() throws {
            let bench = PatientIndexBenchmark(persons: persons, seed: seed)
            for withIDs in [false, true] {
                let f = bench.run(withIDs: withIDs)
                let goal = withIDs ? "0.999" : "0.995"
                print("""

                    \(f.label): \(f.records) records of \(f.persons) persons
                      precision \(String(format: "%.4f", f.precision))  recall \(String(format: "%.4f", f.recall))  \
                    F1 \(String(format: "%.4f", f.f1)) (goal ≥ \(goal))
                      \(String(format: "%.0f", f.recordsPerSecond)) records/s, matching in memory \
                    (goal ≥ 20,000; \(String(format: "%.1f", f.recordsPerSecond / 2_000)) × Splink's 2,000 on comparable data)
                      linked by ID number \(f.linkedByID), by score \(f.linkedByScore); to review \(f.reviews)
                      wrong links by noise:  \(Self.top(f.falseLinks))
                      missed links by noise: \(Self.top(f.missedLinks))
                    """)
            }
        }

        static func top(_ counts: [String: Int]) -> String {
            let sorted = counts.sorted { $0.value == $1.value ? $0.key < $1.key : $0.value > $1.value }
            return sorted.isEmpty ? "none" : sorted.prefix(6).map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }

    struct Reports: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The alliance reports' latency on a year of the sample region's purchases, and what their rollup costs.",
            discussion: "Uses REGIO_DATABASE_URL when set (its procurement tables are emptied!), else an embedded PostgreSQL. Build with -c release first.")
        @Option(help: "Purchase volume against the demo's (about 4, 12 or 25 lines a day by tier).") var scale = 4.0
        @Option(help: "Runs of each report.") var runs = 5
        @Option(help: "Working folder (embedded cluster).") var workDirectory = ".regio/bench"

        func run() async throws {
            let environment = try Environment.load(label: "regio.bench")
            try await reportingFailure {
                var bench = ReportBenchmark(workDirectory: URL(fileURLWithPath: workDirectory, isDirectory: true), logger: environment.logger)
                bench.scale = scale
                bench.runs = runs
                let f = try await bench.run(databaseURL: environment.configuration.databaseURL)
                print(String(format: "%d purchase lines loaded in %.1f s", f.lines, f.loadSeconds))
                print(String(format: "rollup rebuilt in %.1f s: %d rows (%.1f lines per row); one facility-month refreshed in %.0f ms",
                             f.rebuildSeconds, f.rollupRows, Double(f.lines) / Double(max(f.rollupRows, 1)), f.monthRefreshSeconds * 1000))
                print("\nreport latency over the year (median and fastest of \(runs) runs):")
                for t in f.timings {
                    print("  \(t.report.padding(toLength: 17, withPad: " ", startingAt: 0)) \(t.caller.padding(toLength: 24, withPad: " ", startingAt: 0))"
                          + String(format: " %7.3f s  %7.3f s  %6d rows", t.median, t.fastest, t.rows))
                }
            }
        }
    }
}
