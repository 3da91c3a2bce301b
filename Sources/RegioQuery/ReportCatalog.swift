import RegioCore

/// Every prebuilt report the query service offers. A new report is one entry here and one file
/// `sql/reports/<id>.sql`; the framework (`ReportsController`) needs no change.
public enum ReportCatalog {
    public static let all: [ReportDefinition] = [
        registrySummary
    ]

    public static func report(id: String) -> ReportDefinition? {
        all.first { $0.id == id }
    }

    static let registrySummary = ReportDefinition(
        id: "registry-summary",
        titleZh: "机构与床位概况",
        titleEn: "Facilities and staffed beds",
        description: "Registered, active facilities and their staffed beds (编制床位) by county and tier, "
            + "from the facility registry. Sum the rows for a city or the region.",
        roles: [.bureau, .steward, .admin],
        parameters: [
            ReportParameter("region", .region, "Province, city or county code; the report covers everything inside it."),
            ReportParameter("tier", .tier, "Only facilities of this tier (1 primary, 2 secondary, 3 tertiary)."),
        ],
        columns: [
            ReportColumn("city_code", .text, zh: "市代码", "GB/T 2260 code of the city the county belongs to."),
            ReportColumn("city_name", .text, zh: "市", "Name of the city."),
            ReportColumn("county_code", .text, zh: "区县代码", "GB/T 2260 code of the county (区/县)."),
            ReportColumn("county_name", .text, zh: "区县", "Name of the county."),
            ReportColumn("tier", .integer, zh: "级别", "Facility tier: 1 primary, 2 secondary, 3 tertiary."),
            ReportColumn("facilities", .integer, unit: "facilities", zh: "机构数",
                         "Number of active registered facilities of this tier in the county."),
            ReportColumn("staffed_beds", .integer, unit: "beds", zh: "编制床位数",
                         "Sum of the facilities' registered staffed beds."),
        ]
    )
}
