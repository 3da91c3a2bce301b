import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB

extension TextEncoding: ExpressibleByArgument {}

struct ExtractCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "extract", abstract: "Nightly extract files: write a manifest, or generate sample extracts.",
        subcommands: [Manifest.self, Generate.self])

    struct Manifest: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write DIR/manifest.json for the CSV files in DIR (rows and SHA-256 computed).",
            discussion: "Files are found by name: patients.csv, encounters.csv, exams.csv, purchases.csv, referrals.csv, beds.csv (each may be .csv.gz). Facility, date and encoding default to those of an existing manifest.")
        @Argument(help: "Folder holding the extract's CSV files.") var directory: String
        @Option(help: "Facility code.") var facility: String?
        @Option(help: "Business date YYYY-MM-DD (the night the extract covers).") var businessDate: String?
        @Option(help: "UTF-8, GB18030 or GBK.") var encoding: TextEncoding?
        @Option(help: "HIS vendor and version, free text.") var sourceSystem: String?

        func run() async throws {
            try await reportingFailure {
                let manifest = try LocalExtract.writeManifest(directory: directory, facility: facility, businessDate: businessDate,
                                                              encoding: encoding, sourceSystem: sourceSystem)
                for file in manifest.files { print(file.name, "\(file.rows) rows", file.sha256) }
                print("wrote \((directory as NSString).appendingPathComponent("manifest.json"))")
            }
        }
    }

    struct Generate: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Generate realistic, deterministic sample extracts for the demo region.",
            discussion: "Writes OUT/<facility>/<date>/ folders with CSV files and a manifest each.")
        @Option(help: "How many of the demo region's 32 facilities (hospitals first).") var facilities = 32
        @Option(help: "How many nights, ending yesterday.") var nights = 7
        @Option(help: "Seed: the same seed gives the same files.") var seed: UInt64 = 20_261_122
        @Option(help: "Multiplies every volume.") var scale = 1.0
        @Option(help: "First business date (default: NIGHTS days before today).") var firstNight: String?
        @Argument(help: "Output folder.") var output: String

        func run() async throws {
            try await reportingFailure {
                let facilities = Array(DemoRegion.facilities.prefix(max(1, facilities)))
                var options = SampleExtractGenerator.Options(
                    firstNight: try firstNight.map { guard let date = CalendarDate($0) else { throw ValidationError("--first-night must be YYYY-MM-DD") }; return date }
                        ?? DemoRegion.firstNight(nights: nights),
                    nights: nights, seed: seed)
                options.scale = scale
                var writer = SampleExtractWriter(output: URL(fileURLWithPath: output))
                writer.gb18030 = DemoRegion.gb18030Facilities
                let folders = try writer.write(facilities: facilities, options: options)
                print("wrote \(folders.count) extracts under \(output)")
            }
        }
    }
}

struct UploadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "upload",
        abstract: "Upload one night's extract: check it against its manifest, send, commit, wait, report.",
        discussion: "Exits 0 when the batch is loaded (or validated with --dry-run), 1 when it is rejected or failed. Connection failures and 502/503/504 are retried with backoff; running it again after an interruption resumes the same batch.")
    @Option(help: "Ingestion service, e.g. https://regio.example:8081") var server: String
    @Option(help: "File holding the facility's upload token.") var tokenFile: String
    @Option(help: "PEM file of the CA that signed the service's certificate, when it is not one the system trusts (a region's own CA).")
    var caFile: String?
    @Flag(help: "Validate only: report everything, change nothing.") var dryRun = false
    @Option(help: "How many row errors to print.") var showErrors = 20
    @Argument(help: "Folder with manifest.json and the CSV files.") var directory: String

    func run() async throws {
        let environment = try Environment.load(label: "regio.upload")
        try await reportingFailure {
            guard let token = try? String(contentsOfFile: tokenFile, encoding: .utf8).trimmingCharacters(in: .whitespacesAndNewlines),
                  !token.isEmpty else { throw UploadClient.Failure("cannot read a token from \(tokenFile)") }
            try await UploadClient.withHTTPClient(trusting: caFile) { http in
                let client = UploadClient(server: server, token: token, http: http, logger: environment.logger)
                let batch = try await client.upload(directory: directory, dryRun: dryRun) { print($0) }
                print(try await UploadSummary.render(batch, client: client, errors: showErrors))
                if batch.status == .rejected || batch.status == .failed { throw ExitCode(1) }
            }
        }
    }
}
