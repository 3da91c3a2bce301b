import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog", abstract: "The regional exam catalogue, local code mappings and recognition windows.",
        subcommands: [Import.self, SetWindow.self, Windows.self, Unmapped.self])

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case examCodes = "exam-codes", examMap = "exam-map"
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or update exam codes or local code mappings from a CSV file, all or none (audited).",
            discussion: """
                exam-codes: header code,name,category and optionally window_days (empty: the category's default). \
                exam-map: header facility,local_code,regional_code. The exam registry and the duplicate-exam \
                figures of the exams concerned are derived again in the same transaction.
                """)
        @Argument(help: "exam-codes or exam-map.") var kind: Kind
        @Argument(help: "CSV file (UTF-8).") var file: String

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw RegistryError("cannot read \(file) as UTF-8 text")
                }
                try await withDatabase(url, logger: environment.logger) { database in
                    let store = ExamCatalogStore(database: database)
                    let outcome: ExamCatalogStore.ImportOutcome
                    do {
                        switch kind {
                        case .examCodes: outcome = try await store.importCodes(try ExamCodeImport.parse(text).get(), actor: environment.actor)
                        case .examMap: outcome = try await store.importMappings(try ExamMapImport.parse(text).get(), actor: environment.actor)
                        }
                    } catch let errors as CSVImportErrors {
                        throw Self.refused(errors.problems, file: file)
                    } catch let refused as ExamCatalogStore.Refused {
                        throw Self.refused(refused.problems, file: file)
                    }
                    print("\(outcome.inserted) added, \(outcome.updated) updated, \(outcome.unchanged) unchanged; \(outcome.exams) exam reports derived again")
                }
            }
        }

        static func refused(_ problems: [CSVImport.Problem], file: String) -> RegistryError {
            for problem in problems { FileHandle.standardError.write(Data("\(file): \(problem)\n".utf8)) }
            return RegistryError("\(problems.count) problem(s); nothing was imported")
        }
    }

    struct SetWindow: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "set-window", abstract: "Set a category's default recognition window in days (audited).")
        @Argument(help: "LAB, IMAGING, PATHOLOGY, ECG, ENDOSCOPY or OTHER.") var category: String
        @Argument(help: "Days a result is recognised at other facilities.") var days: Int

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                guard ExamCode.categories.contains(category.uppercased()) else {
                    throw RegistryError("category must be one of \(ExamCode.categories.joined(separator: ", "))")
                }
                guard (0...3650).contains(days) else { throw RegistryError("days must be from 0 to 3650") }
                try await withDatabase(url, logger: environment.logger) { database in
                    let outcome = try await ExamCatalogStore(database: database)
                        .setDefaultWindow(category: category.uppercased(), days: days, actor: environment.actor)
                    print("\(category.uppercased()): \(days) days; \(outcome.exams) exam reports derived again")
                }
            }
        }
    }

    struct Windows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the categories' default recognition windows.")

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    for (category, days) in try await ExamCatalogStore(database: database).defaultWindows() {
                        print("\(category.padding(toLength: 10, withPad: " ", startingAt: 0)) \(days) days")
                    }
                }
            }
        }
    }

    struct Unmapped: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List local exam codes with no regional mapping, most used first, as CSV ready to fill in for exam-map.")
        @Option(help: "Only this facility's codes.") var facility: String?

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    print(CSVWriter.exportLine(["facility", "local_code", "regional_code", "name", "exams", "last_performed"]), terminator: "")
                    for code in try await ExamCatalogStore(database: database).unmapped(facility: facility) {
                        print(CSVWriter.exportLine([code.facility, code.localCode, "", code.name, "\(code.exams)", code.lastPerformed]),
                              terminator: "")
                    }
                }
            }
        }
    }
}
