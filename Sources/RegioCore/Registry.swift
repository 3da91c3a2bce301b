/// A level of the administrative divisions (GB/T 2260): province › city › county.
public enum RegionLevel: String, Sendable, Codable, CaseIterable {
    case province, city, county
}

public struct Region: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var level: RegionLevel
    public var parentCode: String?

    public init(code: String, name: String, level: RegionLevel, parentCode: String?) {
        self.code = code
        self.name = name
        self.level = level
        self.parentCode = parentCode
    }
}

public struct Facility: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var tier: FacilityTier
    public var grade: FacilityGrade
    public var type: FacilityType
    /// The county the facility is in.
    public var regionCode: String
    public var staffedBeds: Int
    public var consortium: String?

    public init(code: String, name: String, tier: FacilityTier, grade: FacilityGrade = .ungraded, type: FacilityType,
                regionCode: String, staffedBeds: Int, consortium: String? = nil) {
        self.code = code
        self.name = name
        self.tier = tier
        self.grade = grade
        self.type = type
        self.regionCode = regionCode
        self.staffedBeds = staffedBeds
        self.consortium = consortium
    }

    /// Facility codes are upper-case letters and digits, 4 to 32 of them.
    public static func isValidCode(_ code: String) -> Bool {
        (4...32).contains(code.utf8.count) && code.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) }
    }
}

public struct Alliance: Sendable, Equatable, Codable {
    public var code: String
    public var name: String
    public var memberCodes: [String]

    public init(code: String, name: String, memberCodes: [String] = []) {
        self.code = code
        self.name = name
        self.memberCodes = memberCodes
    }
}

/// Reads the facility import file (`regio facility import FILE.csv`): a header line naming
/// `code,name,tier,type,region_code` and optionally `grade,staffed_beds,consortium`, in any order.
public enum FacilityImport {
    public struct Problem: Error, Equatable, CustomStringConvertible {
        public var line: Int
        public var column: String?
        public var message: String
        public var description: String {
            "line \(line)" + (column.map { ", column \($0)" } ?? "") + ": " + message
        }
    }

    public static let required = ["code", "name", "tier", "type", "region_code"]
    public static let optional = ["grade", "staffed_beds", "consortium"]

    /// Every facility in the file, or every problem found in it (nothing partial).
    public static func parse(_ text: String) -> Result<[Facility], FacilityImportErrors> {
        var parser = CSVParser()
        var records: [CSVParser.Record] = []
        parser.feed(text.utf8) { records.append($0) }
        parser.finish { records.append($0) }
        guard let header = records.first else {
            return .failure(FacilityImportErrors(problems: [Problem(line: 1, column: nil, message: "the file is empty")]))
        }
        var problems: [Problem] = []
        let index = Dictionary(header.fields.enumerated().map { ($1, $0) }, uniquingKeysWith: { first, _ in first })
        for name in required where index[name] == nil {
            problems.append(Problem(line: 1, column: name, message: "required column is missing"))
        }
        if !problems.isEmpty { return .failure(FacilityImportErrors(problems: problems)) }

        var facilities: [Facility] = []
        var seen: [String: Int] = [:]
        for record in records.dropFirst() {
            if let problem = record.problem {
                problems.append(Problem(line: record.line, column: nil, message: problem))
                continue
            }
            func value(_ column: String) -> String {
                guard let position = index[column], position < record.fields.count else { return "" }
                return record.fields[position].trimmingWhitespace()
            }
            var rowProblems: [Problem] = []
            func fail(_ column: String, _ message: String) {
                rowProblems.append(Problem(line: record.line, column: column, message: message))
            }
            let code = value("code")
            if !Facility.isValidCode(code) { fail("code", "'\(code)' is not 4 to 32 upper-case letters and digits") }
            if let first = seen[code] { fail("code", "duplicate of line \(first)") }
            seen[code] = record.line
            let name = value("name")
            if name.isEmpty { fail("name", "required") }
            let tier = Int(value("tier")).flatMap(FacilityTier.init(rawValue:))
            if tier == nil { fail("tier", "must be 1, 2 or 3, got '\(value("tier"))'") }
            let type = FacilityType(rawValue: value("type"))
            if type == nil {
                fail("type", "must be one of \(FacilityType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(value("type"))'")
            }
            let gradeText = value("grade")
            let grade = gradeText.isEmpty ? FacilityGrade.ungraded : FacilityGrade(rawValue: gradeText)
            if grade == nil { fail("grade", "must be one of A, B, C, S, U, got '\(gradeText)'") }
            let bedsText = value("staffed_beds")
            let beds = bedsText.isEmpty ? 0 : Int(bedsText)
            if beds == nil || beds! < 0 { fail("staffed_beds", "must be a whole number ≥ 0, got '\(bedsText)'") }
            let region = value("region_code")
            if region.utf8.count != 6 || !region.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
                fail("region_code", "must be a 6-digit GB/T 2260 code, got '\(region)'")
            }
            let consortium = value("consortium")
            if rowProblems.isEmpty, let tier, let type, let grade, let beds {
                facilities.append(Facility(code: code, name: name, tier: tier, grade: grade, type: type, regionCode: region,
                                           staffedBeds: beds, consortium: consortium.isEmpty ? nil : consortium))
            }
            problems += rowProblems
        }
        return problems.isEmpty ? .success(facilities) : .failure(FacilityImportErrors(problems: problems))
    }
}

public struct FacilityImportErrors: Error, Equatable, CustomStringConvertible {
    public var problems: [FacilityImport.Problem]
    public var description: String { problems.map(\.description).joined(separator: "\n") }
}
