import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB

extension FacilityTier: ExpressibleByArgument {
    public init?(argument: String) { self.init(rawValue: Int(argument) ?? 0) }
}
extension FacilityType: ExpressibleByArgument {}
extension FacilityGrade: ExpressibleByArgument {}
extension RegionLevel: ExpressibleByArgument {}
extension Role: ExpressibleByArgument {}

struct RegionCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "region", abstract: "Administrative divisions (province › city › county).",
        subcommands: [Add.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Add or rename a region.")
        @Option(help: "6-digit GB/T 2260 code.") var code: String
        @Option var name: String
        @Option(help: "province, city or county.") var level: RegionLevel
        @Option(help: "Code of the enclosing region (not for a province).") var parent: String?

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            let region = Region(code: code, name: name, level: level, parentCode: parent)
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    try await RegistryStore(database: database).upsertRegion(region)
                }
                print("region \(region.code) \(region.name) saved")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List regions.")
        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let regions = try await withDatabase(url, logger: environment.logger) { try await RegistryStore(database: $0).regions() }
                for region in regions {
                    print(region.code, region.level.rawValue.padding(toLength: 8, withPad: " ", startingAt: 0),
                          region.parentCode ?? "      ", region.name)
                }
            }
        }
    }
}

struct FacilityCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "facility", abstract: "The facility registry.", subcommands: [Add.self, List.self, Import.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Register a facility, or update it (same code).")
        @Option(help: "Facility code as it appears in extracts (4–32 of A–Z, 0–9).") var code: String
        @Option var name: String
        @Option(help: "1 primary, 2 secondary, 3 tertiary.") var tier: FacilityTier
        @Option(help: "A, B, C, S (tertiary special) or U (ungraded).") var grade: FacilityGrade = .ungraded
        @Option(help: "\(FacilityType.allCases.map(\.rawValue).joined(separator: ", ")).") var type: FacilityType
        @Option(help: "County code (GB/T 2260).") var region: String
        @Option(help: "Staffed beds (编制床位).") var beds: Int = 0
        @Option(help: "Medical consortium (医联体) it belongs to.") var consortium: String?

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            guard Facility.isValidCode(code) else { throw ValidationError("--code must be 4 to 32 upper-case letters and digits") }
            guard beds >= 0 else { throw ValidationError("--beds must be ≥ 0") }
            let facility = Facility(code: code, name: name, tier: tier, grade: grade, type: type, regionCode: region,
                                    staffedBeds: beds, consortium: consortium)
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    try await RegistryStore(database: database).upsertFacilities([facility], actor: environment.actor)
                }
                print("facility \(facility.code) \(facility.name) saved")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List registered facilities.")
        @Flag(help: "Print CSV in the import format instead of a table.") var csv = false

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let facilities = try await withDatabase(url, logger: environment.logger) {
                    try await RegistryStore(database: $0).facilities()
                }
                if csv {
                    print(CSVWriter.exportLine(FacilityImport.required + FacilityImport.optional), terminator: "")
                    for f in facilities {
                        print(CSVWriter.exportLine([f.code, f.name, "\(f.tier.rawValue)", f.type.rawValue, f.regionCode,
                                              f.grade.rawValue, "\(f.staffedBeds)", f.consortium ?? ""]), terminator: "")
                    }
                } else {
                    for f in facilities {
                        print(f.code.padding(toLength: 12, withPad: " ", startingAt: 0), "tier \(f.tier.rawValue)\(f.grade.rawValue)",
                              f.regionCode, String(format: "%5d beds", f.staffedBeds), f.name)
                    }
                    print("\(facilities.count) facilities")
                }
            }
        }
    }

    struct Import: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Register or update facilities from a CSV file, all or none.",
            discussion: "Header: code,name,tier,type,region_code and optionally grade,staffed_beds,consortium.")
        @Argument(help: "CSV file (UTF-8).") var file: String

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                guard let text = try? String(contentsOfFile: file, encoding: .utf8) else {
                    throw RegistryError("cannot read \(file) as UTF-8 text")
                }
                switch FacilityImport.parse(text) {
                case .failure(let errors):
                    for problem in errors.problems { FileHandle.standardError.write(Data("\(file): \(problem)\n".utf8)) }
                    throw RegistryError("\(errors.problems.count) problem(s); nothing was imported")
                case .success(let facilities):
                    try await withDatabase(url, logger: environment.logger) { database in
                        try await RegistryStore(database: database).upsertFacilities(facilities, actor: environment.actor)
                    }
                    print("imported \(facilities.count) facilities")
                }
            }
        }
    }
}

struct AllianceCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "alliance", abstract: "Procurement alliances and their members.",
        subcommands: [Add.self, AddMembers.self, List.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create or rename an alliance.")
        @Option var code: String
        @Option var name: String

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    try await RegistryStore(database: database).upsertAlliance(code: code, name: name, actor: environment.actor)
                }
                print("alliance \(code) saved")
            }
        }
    }

    struct AddMembers: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-members", abstract: "Add member facilities.")
        @Option var alliance: String
        @Argument(help: "Facility codes.") var facilities: [String]

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    try await RegistryStore(database: database).addMembers(alliance: alliance, facilities: facilities,
                                                                           actor: environment.actor)
                }
                print("\(facilities.count) member(s) added to \(alliance)")
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List alliances and members.")
        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let alliances = try await withDatabase(url, logger: environment.logger) {
                    try await RegistryStore(database: $0).alliances()
                }
                for alliance in alliances {
                    print(alliance.code, alliance.name, "(\(alliance.memberCodes.count) members)")
                    for member in alliance.memberCodes { print("  ", member) }
                }
            }
        }
    }
}
