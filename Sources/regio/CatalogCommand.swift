import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB

struct CatalogCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "catalog",
        abstract: "The regional exam catalogue and the procurement item catalogue, local code mappings, recognition windows and alliance agreements.",
        subcommands: [Import.self, SetWindow.self, Windows.self, Unmapped.self, UnmappedItems.self, Packs.self, DecidePack.self,
                      RejectItem.self, Agreements.self])

    enum Kind: String, ExpressibleByArgument, CaseIterable {
        case examCodes = "exam-codes", examMap = "exam-map"
        case items, itemMap = "item-map", agreedPrices = "agreed-prices", commitments, listedPrices = "listed-prices"
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add or update catalogue entries, local code mappings or alliance agreements from a CSV file, all or none (audited).",
            discussion: """
                exam-codes: header code,name,category and optionally window_days (empty: the category's default). \
                exam-map: header facility,local_code,regional_code. The exam registry and the duplicate-exam \
                figures of the exams concerned are derived again in the same transaction.
                items: header national_code,category,generic_name,generic_group,pack_size,pack_unit,base_unit and \
                optionally dosage_form,strength,spec,manufacturer. item-map: header facility,local_code,national_code. \
                The purchase rollups follow in the same transaction.
                agreed-prices: header alliance,national_code,price,valid_from and optionally valid_to (yuan per base \
                unit; whole months, valid_to empty: open). commitments: header alliance,member,national_code,\
                cycle_start,cycle_end,committed_base_units (whole months). listed-prices: header national_code,price,\
                valid_from and optionally valid_to,source. See docs/procurement.md.
                """)
        @Argument(help: "exam-codes, exam-map, items, item-map, agreed-prices, commitments or listed-prices.") var kind: Kind
        @Argument(help: "CSV file (UTF-8).") var file: String

        func run() async throws {
            try await withCommandDatabase { database, environment in
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw RegistryError("cannot read \(file) as UTF-8 text")
                }
                let exams = ExamCatalogStore(database: database)
                let procurement = ProcurementStore(database: database)
                let actor = environment.actor
                do {
                    switch kind {
                    case .examCodes, .examMap:
                        let outcome = kind == .examCodes
                            ? try await exams.importCodes(try ExamCodeImport.parse(text).get(), actor: actor)
                            : try await exams.importMappings(try ExamMapImport.parse(text).get(), actor: actor)
                        print("\(outcome.inserted) added, \(outcome.updated) updated, \(outcome.unchanged) unchanged; \(outcome.exams) exam reports derived again")
                        return
                    case .items:
                        Self.report(try await procurement.importItems(try CatalogItemImport.parse(text).get(), actor: actor))
                    case .itemMap:
                        Self.report(try await procurement.importMappings(try ItemMapImport.parse(text).get(), actor: actor))
                    case .agreedPrices:
                        Self.report(try await procurement.importAgreedPrices(try AgreedPriceImport.parse(text).get(), actor: actor))
                    case .commitments:
                        Self.report(try await procurement.importCommitments(try CommitmentImport.parse(text).get(), actor: actor))
                    case .listedPrices:
                        Self.report(try await procurement.importListedPrices(try ListedPriceImport.parse(text).get(), actor: actor))
                    }
                } catch let errors as CSVImportErrors {
                    throw Self.refused(errors.problems, file: file)
                } catch let refused as ExamCatalogStore.Refused {
                    throw Self.refused(refused.problems, file: file)
                }
            }
        }

        static func report(_ outcome: ProcurementStore.ImportOutcome) {
            print("\(outcome.inserted) added, \(outcome.updated) updated, \(outcome.unchanged) unchanged")
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
            try await withCommandDatabase { database, environment in
                guard ExamCode.categories.contains(category.uppercased()) else {
                    throw RegistryError("category must be one of \(ExamCode.categories.joined(separator: ", "))")
                }
                guard (0...3650).contains(days) else { throw RegistryError("days must be from 0 to 3650") }
                let outcome = try await ExamCatalogStore(database: database)
                    .setDefaultWindow(category: category.uppercased(), days: days, actor: environment.actor)
                print("\(category.uppercased()): \(days) days; \(outcome.exams) exam reports derived again")
            }
        }
    }

    struct Windows: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List the categories' default recognition windows.")

        func run() async throws {
            try await withCommandDatabase { database, environment in
                for (category, days) in try await ExamCatalogStore(database: database).defaultWindows() {
                    print("\(category.padding(toLength: 10, withPad: " ", startingAt: 0)) \(days) days")
                }
            }
        }
    }

    struct Unmapped: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List local exam codes with no regional mapping, most used first, as CSV ready to fill in for exam-map.")
        @Option(help: "Only this facility's codes.") var facility: String?

        func run() async throws {
            try await withCommandDatabase { database, environment in
                print(CSVWriter.exportLine(["facility", "local_code", "regional_code", "name", "exams", "last_performed"]), terminator: "")
                for code in try await ExamCatalogStore(database: database).unmapped(facility: facility) {
                    print(CSVWriter.exportLine([code.facility, code.localCode, "", code.name, "\(code.exams)", code.lastPerformed]),
                          terminator: "")
                }
            }
        }
    }

    struct UnmappedItems: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "unmapped-items",
            abstract: "List LOCAL item codes with no mapping, most spent on first, with the catalogue items they may be, as CSV ready to fill in for item-map.",
            discussion: "national_code holds the best suggestion; check it against the others and delete the rows you are unsure of before importing.")
        @Option(help: "Only this facility's codes.") var facility: String?

        func run() async throws {
            try await withCommandDatabase { database, environment in
                print(CSVWriter.exportLine(["facility", "local_code", "national_code", "name", "spec", "manufacturer", "lines", "amount",
                                            "last_purchased", "suggestions"]), terminator: "")
                for item in try await ProcurementStore(database: database).unmappedItems(facility: facility) {
                    let suggestions = item.suggestions.map { "\($0.nationalCode) \($0.genericName) \($0.spec ?? "") \($0.manufacturer ?? "") (\($0.score))" }
                    print(CSVWriter.exportLine([item.facility, item.localCode, item.suggestions.first?.nationalCode ?? "", item.name,
                                                item.spec ?? "", item.manufacturer ?? "", "\(item.lines)", "\(item.amount)", item.lastPurchased,
                                                suggestions.joined(separator: "; ")]), terminator: "")
                }
            }
        }
    }

    struct RejectItem: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reject-item", abstract: "Reject a suggested catalogue item for a LOCAL code: it is not suggested again (audited).")
        @Argument(help: "Facility code.") var facility: String
        @Argument(help: "The facility's LOCAL item code.") var localCode: String
        @Argument(help: "The suggested item's national code.") var nationalCode: String

        func run() async throws {
            try await withCommandDatabase { database, environment in
                do {
                    try await ProcurementStore(database: database).rejectSuggestion(facility: facility, localCode: localCode,
                                                                                    nationalCode: nationalCode, actor: environment.actor)
                } catch let refused as ProcurementStore.Refused {
                    throw RegistryError(refused.description)
                }
                print("\(facility) \(localCode): \(nationalCode) will not be suggested again")
            }
        }
    }

    struct Packs: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "List purchase lines left out of price statistics because their pack size or base unit is in doubt, as CSV.")
        @Option(help: "Only this facility's lines.") var facility: String?

        func run() async throws {
            try await withCommandDatabase { database, environment in
                print(CSVWriter.exportLine(["facility", "item_code", "national_code", "item_name", "spec", "purchase_unit", "pack_size",
                                            "base_unit", "check", "spec_count", "catalogue_pack", "lines"]), terminator: "")
                for issue in try await ProcurementStore(database: database).packIssues(facility: facility) {
                    print(CSVWriter.exportLine([
                        issue.facility, issue.itemCode, issue.nationalCode, issue.itemName, issue.spec, issue.purchaseUnit,
                        "\(issue.packSize)", issue.baseUnit, issue.check, issue.specCount.map { "\($0)" } ?? "",
                        "\(issue.cataloguePackSize)\(issue.catalogueBaseUnit)/\(issue.cataloguePackUnit)", "\(issue.lines)",
                    ]), terminator: "")
                }
            }
        }
    }

    struct DecidePack: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "decide-pack",
            abstract: "Confirm (count in price statistics) or reject (keep out) a facility's lines of one code, spec, purchase unit and pack size (audited).")
        @Argument(help: "confirmed or rejected.") var decision: String
        @Argument(help: "Facility code.") var facility: String
        @Argument(help: "The item code the lines carry.") var itemCode: String
        @Option(help: "The lines' spec, exactly as sent (empty: none).") var spec = ""
        @Option(help: "The lines' purchase unit.") var purchaseUnit: String
        @Option(help: "The lines' pack size.") var packSize: String

        func run() async throws {
            try await withCommandDatabase { database, environment in
                guard let verdict = ProcurementStore.PackDecision.Verdict(rawValue: decision) else {
                    throw RegistryError("decision must be confirmed or rejected")
                }
                guard let size = PlainDecimal.parse(packSize), size > 0 else { throw RegistryError("pack size must be a number above 0") }
                let lines: Int
                do {
                    lines = try await ProcurementStore(database: database).decidePack(
                        .init(facility: facility, itemCode: itemCode, spec: spec, purchaseUnit: purchaseUnit, packSize: size, decision: verdict),
                        actor: environment.actor)
                } catch let refused as ProcurementStore.Refused {
                    throw RegistryError(refused.description)
                }
                print("\(verdict.rawValue): \(lines) purchase line(s); the facility's purchase rollup is recomputed")
            }
        }
    }

    struct Agreements: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List alliances' agreed prices and volume commitments, as CSV.")
        @Option(help: "Only this alliance's.") var alliance: String?

        func run() async throws {
            try await withCommandDatabase { database, environment in
                let agreements = try await ProcurementStore(database: database).agreements(alliance: alliance)
                print(CSVWriter.exportLine(["kind", "id", "alliance", "member", "national_code", "generic_name", "price_or_units", "from", "to"]),
                      terminator: "")
                for price in agreements.agreedPrices {
                    print(CSVWriter.exportLine(["agreed-price", "\(price.id)", price.alliance, "", price.nationalCode, price.genericName,
                                                "\(price.price)", price.validFrom, price.validTo ?? ""]), terminator: "")
                }
                for commitment in agreements.commitments {
                    print(CSVWriter.exportLine(["commitment", "\(commitment.id)", commitment.alliance, commitment.member, commitment.nationalCode,
                                                commitment.genericName, "\(commitment.committedBaseUnits)", commitment.cycleStart,
                                                commitment.cycleEnd]), terminator: "")
                }
            }
        }
    }
}
