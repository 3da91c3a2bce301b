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

    /// Alliance codes are upper-case letters, digits, `_` and `-`, 2 to 32 of them (as
    /// `registry.alliances` checks).
    public static func isValidCode(_ code: String) -> Bool {
        (2...32).contains(code.utf8.count)
            && code.utf8.allSatisfy { (0x30...0x39).contains($0) || (0x41...0x5A).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}

/// Reads the facility import file (`regio facility import FILE.csv`): a header line naming
/// `code,name,tier,type,region_code` and optionally `grade,staffed_beds,consortium`, in any order.
public enum FacilityImport {
    public typealias Problem = CSVImport.Problem

    public static let required = ["code", "name", "tier", "type", "region_code"]
    public static let optional = ["grade", "staffed_beds", "consortium"]

    /// Every facility in the file, or every problem found in it (nothing partial).
    public static func parse(_ text: String) -> Result<[Facility], FacilityImportErrors> {
        var seen: [String: Int] = [:]
        return CSVImport.parse(text, required: required) { row in
            let code = row.value("code")
            if !Facility.isValidCode(code) { row.fail("code", "'\(code)' is not 4 to 32 upper-case letters and digits") }
            if let first = seen[code] { row.fail("code", "duplicate of line \(first)") }
            seen[code] = row.line
            let name = row.value("name")
            if name.isEmpty { row.fail("name", "required") }
            let tier = Int(row.value("tier")).flatMap(FacilityTier.init(rawValue:))
            if tier == nil { row.fail("tier", "must be 1, 2 or 3, got '\(row.value("tier"))'") }
            let type = FacilityType(rawValue: row.value("type"))
            if type == nil {
                row.fail("type", "must be one of \(FacilityType.allCases.map(\.rawValue).joined(separator: ", ")), got '\(row.value("type"))'")
            }
            let gradeText = row.value("grade")
            let grade = gradeText.isEmpty ? FacilityGrade.ungraded : FacilityGrade(rawValue: gradeText)
            if grade == nil { row.fail("grade", "must be one of A, B, C, S, U, got '\(gradeText)'") }
            let bedsText = row.value("staffed_beds")
            let beds = bedsText.isEmpty ? 0 : Int(bedsText)
            if beds == nil || beds! < 0 { row.fail("staffed_beds", "must be a whole number ≥ 0, got '\(bedsText)'") }
            let region = row.value("region_code")
            if region.utf8.count != 6 || !region.utf8.allSatisfy({ (0x30...0x39).contains($0) }) {
                row.fail("region_code", "must be a 6-digit GB/T 2260 code, got '\(region)'")
            }
            let consortium = row.value("consortium")
            guard let tier, let type, let grade, let beds else { return nil }
            return Facility(code: code, name: name, tier: tier, grade: grade, type: type, regionCode: region,
                            staffedBeds: beds, consortium: consortium.isEmpty ? nil : consortium)
        }
    }
}

public typealias FacilityImportErrors = CSVImportErrors
