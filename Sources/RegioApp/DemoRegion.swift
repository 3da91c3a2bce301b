import Foundation
import RegioCore
import RegioDB
import RegioQuery

/// The sample region `regio demo` loads: one (fictional) city of three counties with 2 tertiary,
/// 6 secondary and 24 primary facilities, and two procurement alliances.
public enum DemoRegion {
    public static let province = Region(code: "330000", name: "浙江省", level: .province, parentCode: nil)
    public static let city = Region(code: "339900", name: "清河市", level: .city, parentCode: "330000")
    public static let counties = [
        Region(code: "339901", name: "清河区", level: .county, parentCode: "339900"),
        Region(code: "339902", name: "东湖区", level: .county, parentCode: "339900"),
        Region(code: "339921", name: "南山县", level: .county, parentCode: "339900"),
    ]

    public static let allianceCode = "QH-ALLIANCE"
    public static let allianceName = "清河市药品耗材联合采购联盟"
    /// A second alliance: the 南山县 medical community's own group purchasing, whose members also
    /// belong to the city's alliance.
    public static let countyAllianceCode = "NS-YGT"
    public static let countyAllianceName = "南山县医共体药品耗材联合采购"

    public static let facilities: [Facility] = {
        var list: [Facility] = [
            Facility(code: "H339901001", name: "清河市第一人民医院", tier: .tertiary, grade: .a, type: .generalHospital,
                     regionCode: "339901", staffedBeds: 1200, consortium: "清河市第一医联体"),
            Facility(code: "H339902001", name: "清河市中医院", tier: .tertiary, grade: .a, type: .tcmHospital,
                     regionCode: "339902", staffedBeds: 800, consortium: "清河市中医医联体"),
            Facility(code: "H339901002", name: "清河区人民医院", tier: .secondary, grade: .a, type: .generalHospital,
                     regionCode: "339901", staffedBeds: 450, consortium: "清河市第一医联体"),
            Facility(code: "H339901003", name: "清河市妇幼保健院", tier: .secondary, grade: .a, type: .maternalChild,
                     regionCode: "339901", staffedBeds: 300),
            Facility(code: "H339902002", name: "东湖区人民医院", tier: .secondary, grade: .b, type: .generalHospital,
                     regionCode: "339902", staffedBeds: 380, consortium: "清河市中医医联体"),
            Facility(code: "H339902003", name: "东湖区第二医院", tier: .secondary, grade: .b, type: .generalHospital,
                     regionCode: "339902", staffedBeds: 260),
            Facility(code: "H339921001", name: "南山县人民医院", tier: .secondary, grade: .a, type: .generalHospital,
                     regionCode: "339921", staffedBeds: 520, consortium: "南山县医共体"),
            Facility(code: "H339921002", name: "南山县中医院", tier: .secondary, grade: .b, type: .tcmHospital,
                     regionCode: "339921", staffedBeds: 280, consortium: "南山县医共体"),
        ]
        let primaryNames: [(county: String, names: [String], township: Bool)] = [
            ("339901", ["湖滨街道", "清波街道", "望江街道", "南星街道", "紫阳街道", "小营街道", "四季青街道", "闸弄口街道"], false),
            ("339902", ["东湖街道", "新桥街道", "临平街道", "星桥街道", "乔司街道", "运河街道", "崇贤街道", "塘栖镇"], false),
            ("339921", ["南山镇", "石门镇", "双溪镇", "黄湖镇", "鸬鸟镇", "百丈镇", "径山镇", "瓶窑镇"], true),
        ]
        for (county, names, township) in primaryNames {
            for (index, place) in names.enumerated() {
                let isTownship = township || place.hasSuffix("镇")
                list.append(Facility(
                    code: "P\(county)\(String(format: "%03d", index + 1))",
                    name: place + (isTownship ? "卫生院" : "社区卫生服务中心"),
                    tier: .primary, grade: .ungraded, type: isTownship ? .townshipCentre : .communityCentre,
                    regionCode: county, staffedBeds: isTownship ? 40 + index * 5 : 20 + index * 2,
                    consortium: county == "339921" ? "南山县医共体" : nil))
            }
        }
        return list
    }()

    /// Members of the demo alliance: every secondary and tertiary hospital and the township centres.
    public static var allianceMembers: [String] {
        facilities.filter { $0.tier != .primary || $0.type == .townshipCentre }.map(\.code)
    }

    /// Members of the county alliance: the purchasing facilities of 南山县.
    public static var countyAllianceMembers: [String] {
        facilities.filter { $0.regionCode == "339921" && SampleProcurement.buys($0) }.map(\.code)
    }

    /// These facilities' HIS export GB18030, as many in China still do.
    public static let gb18030Facilities: Set<String> = ["H339902001", "P339921001"]

    /// The first of `nights` business dates ending yesterday (UTC+8).
    public static func firstNight(nights: Int, today: Date = Date()) -> CalendarDate {
        let local = today.addingTimeInterval(8 * 3600)
        let days = Int((local.timeIntervalSince1970 / 86400).rounded(.down))
        return CalendarDate(dayNumber: days - nights)
    }

    /// Writes the region, its facilities and the alliance; safe to run again.
    public static func seed(registry: RegistryStore, actor: String) async throws {
        for region in [province, city] + counties { try await registry.upsertRegion(region) }
        try await registry.upsertFacilities(facilities, actor: actor)
        try await registry.upsertAlliance(code: allianceCode, name: allianceName, actor: actor)
        try await registry.addMembers(alliance: allianceCode, facilities: allianceMembers, actor: actor)
        try await registry.upsertAlliance(code: countyAllianceCode, name: countyAllianceName, actor: actor)
        try await registry.addMembers(alliance: countyAllianceCode, facilities: countyAllianceMembers, actor: actor)
    }

    /// The sample region's exam catalogue, and every facility's local codes mapped to it except the
    /// last facility's: `regio catalog unmapped` and the steward's list have something to show.
    public static func seedExamCatalog(_ catalog: ExamCatalogStore, actor: String) async throws {
        _ = try await catalog.importCodes(SampleExtractGenerator.examCatalog, actor: actor)
        let mappings = facilities.dropLast().flatMap { facility in
            SampleExtractGenerator.examCatalog.map {
                ExamCodeMapping(facility: facility.code, localCode: SampleExtractGenerator.localExamCode($0.code), regionalCode: $0.code)
            }
        }
        _ = try await catalog.importMappings(mappings, actor: actor)
    }

    /// The first day of the alliances' agreement cycle: six months before the month of `firstNight`,
    /// the demo's first extract, which carries the purchases since (`purchaseHistoryDays`).
    public static func cycleStart(firstNight: CalendarDate) -> CalendarDate {
        firstNight.firstOfMonth.addingMonths(-6)
    }

    /// Days of purchases before `firstNight` its extract carries: back to the cycle's start.
    public static func purchaseHistoryDays(firstNight: CalendarDate) -> Int {
        firstNight.dayNumber - cycleStart(firstNight: firstNight).dayNumber
    }

    /// The procurement catalogue (`deploy/demo/procurement-items.csv`), the LOCAL codes of the
    /// hospital that sends its own (all but two mapped), the listed prices, and both alliances'
    /// agreed prices and volume commitments over a 12-month cycle from `cycleStart`.
    public static func seedProcurement(_ store: ProcurementStore, firstNight: CalendarDate, seed: UInt64, actor: String) async throws {
        let start = cycleStart(firstNight: firstNight)
        _ = try await store.importItems(SampleProcurement.catalogue, actor: actor)
        _ = try await store.importMappings(SampleProcurement.itemMap(facilities: facilities), actor: actor)
        _ = try await store.importListedPrices(SampleProcurement.listedPrices(from: start), actor: actor)
        let generator = SampleProcurement(seed: seed)
        for (alliance, members) in [(allianceCode, allianceMembers), (countyAllianceCode, countyAllianceMembers)] {
            _ = try await store.importAgreedPrices(SampleProcurement.agreedPrices(alliance: alliance, from: start), actor: actor)
            let memberFacilities = facilities.filter { members.contains($0.code) }
            _ = try await store.importCommitments(generator.commitments(alliance: alliance, members: memberFacilities, start: start), actor: actor)
        }
    }

    /// One fresh token per role, for the demo's printout.
    public static func issueTokens(credentials: CredentialStore, actor: String) async throws -> [(Role, String?, String)] {
        var tokens: [(Role, String?, String)] = []
        for role in Role.allCases {
            let scope: String? = switch role.scopeKind {
            case .facility: facilities[0].code
            case .alliance: allianceCode
            case nil: nil
            }
            let issued = try await credentials.issue(role: role, scope: scope, label: "demo \(role.rawValue)",
                                                     expiresAt: Date().addingTimeInterval(7 * 24 * 3600), actor: actor)
            tokens.append((role, scope, issued.token))
        }
        return tokens
    }

    /// One dashboard account per role, each with a fresh password: added, or reset when the demo's
    /// cluster already has it. The facility user is the first facility's, the alliance user the
    /// demo alliance's.
    public static func seedUsers(accounts: AccountStore, actor: String) async throws -> [DemoUser] {
        var users: [DemoUser] = []
        let existing = Set(try await accounts.list().map(\.username))
        for role in Role.allCases {
            let scope: String? = switch role.scopeKind {
            case .facility: facilities[0].code
            case .alliance: allianceCode
            case nil: nil
            }
            let username = "demo-\(role.rawValue)"
            let password = Passwords.generate()
            let hash = try await Passwords.hash(password)
            if existing.contains(username) {
                try await accounts.setDisabled(username: username, false, actor: actor)
                try await accounts.resetPassword(username: username, passwordHash: hash, actor: actor)
            } else {
                _ = try await accounts.add(username: username, displayName: "Demo \(role.rawValue)", role: role, scope: scope,
                                           passwordHash: hash, actor: actor)
            }
            users.append(DemoUser(role: role, scope: scope, username: username, password: password))
        }
        return users
    }
}

/// A demo account and its password, as `regio demo` prints them (and writes them to its ready file).
public struct DemoUser: Sendable, Codable {
    public var role: Role
    public var scope: String?
    public var username: String
    public var password: String
}
