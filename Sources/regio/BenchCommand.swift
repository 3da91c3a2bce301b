import ArgumentParser
import Foundation
import RegioApp

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench", abstract: "Benchmarks that print their figures and ratios to the baselines.",
        subcommands: [Ingest.self])

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
}
