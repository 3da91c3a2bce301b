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

        func run() async throws {
            let environment = try Environment.load(label: "regio.bench")
            try await reportingFailure {
                var bench = IngestBenchmark(workDirectory: URL(fileURLWithPath: workDirectory, isDirectory: true),
                                            executable: URL(fileURLWithPath: CommandLine.arguments[0]).standardizedFileURL.path,
                                            logger: environment.logger)
                bench.encounters = encounters
                let f = try await bench.run(databaseURL: environment.configuration.databaseURL)
                func rate(_ value: Double) -> String { String(format: "%9.0f rows/s", value) }
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
                print(lines.joined(separator: "\n"))
            }
        }
    }
}
