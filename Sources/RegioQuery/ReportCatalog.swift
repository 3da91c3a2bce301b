import RegioCore

/// Every prebuilt report the query service offers. A new report is one entry here and one file
/// `sql/reports/<id>.sql`; the framework (`ReportsController`) needs no change.
public enum ReportCatalog {
    public static let all: [ReportDefinition] = [
        registrySummary, uploadHistory, activity, primaryCareShare, referrals, efficiency, alerts, dataQuality,
        dataQualityChecks, duplicateExams, duplicateExamPairs, patientIndex, priceComparison, priceOutliers, vbpCompletion, priceTrend,
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

    static let uploadHistory = ReportDefinition(
        id: "upload-history",
        titleZh: "数据上传记录",
        titleEn: "Upload history",
        description: "Each facility's nightly batches: business date, status, rows per file, inserted / updated / "
            + "unchanged / retracted / rejected rows, rejected rows by error code — and nights with no extract "
            + "(status 'missing'). A facility sees only its own. Period: the 30 nights up to yesterday unless given.",
        roles: [.facility, .bureau, .steward, .admin],
        parameters: [
            ReportParameter("facility", .facility, "Facility code; a facility token gets its own."),
        ] + nights,
        columns: [
            ReportColumn("facility_code", .text, zh: "机构代码", "The facility's code."),
            ReportColumn("facility_name", .text, zh: "机构名称", "The facility's registered name."),
            ReportColumn("business_date", .date, zh: "业务日期", "The night the extract covers."),
            ReportColumn("batch_id", .integer, zh: "批次号", "The batch, or empty when no extract arrived."),
            ReportColumn("status", .text, zh: "状态",
                         "receiving, queued, validating, loaded, validated (dry run), rejected, failed, or missing (no extract)."),
            ReportColumn("received_at", .text, zh: "接收时间", "When the batch was created, China time."),
            ReportColumn("files", .text, zh: "文件", "Data rows received per file, e.g. `patients:246 encounters:247`."),
            ReportColumn("rows_received", .integer, unit: "rows", zh: "接收行数", "Data rows received over all files."),
            ReportColumn("inserted", .integer, unit: "rows", zh: "新增", "Rows new to the platform."),
            ReportColumn("updated", .integer, unit: "rows", zh: "更新", "Rows that changed a stored row (a correction)."),
            ReportColumn("unchanged", .integer, unit: "rows", zh: "未变", "Accepted rows identical to what was stored."),
            ReportColumn("retracted", .integer, unit: "rows", zh: "撤回", "Rows removed by `op = D`."),
            ReportColumn("rejected", .integer, unit: "rows", zh: "拒收", "Rows rejected with at least one error."),
            ReportColumn("warnings", .integer, unit: "rows", zh: "警告", "Accepted rows with at least one warning."),
            ReportColumn("rejected_by_code", .text, zh: "错误分类", "Row errors by code, e.g. `bad_date 3, dangling_reference 1`."),
            ReportColumn("duplicate_of", .integer, zh: "重复批次", "The earlier batch this one repeats, when it changed nothing."),
            ReportColumn("reason", .text, zh: "说明", "Why a batch was rejected or failed, or that it repeated another."),
        ]
    )

    static let activity = ReportDefinition(
        id: "activity",
        titleZh: "医疗服务量",
        titleEn: "Activity",
        description: "Per facility (or county, city, tier) and calendar month, China time: outpatient + emergency "
            + "visits (门急诊人次), emergency visits, outpatient visits, inpatient discharges (出院人次), and the "
            + "outpatient-to-discharge ratio (门诊人次数与出院人次数比 = outpatient visits ÷ discharges, emergency "
            + "excluded). Visits count by start time, discharges by discharge time. Sum the count columns to "
            + "re-aggregate; recompute the ratio from its parts, never average it.",
        roles: [.facility, .bureau, .steward, .admin],
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("outpatient_emergency_visits", .integer, unit: "visits", zh: "门急诊人次", personCount: true,
                         "Outpatient and emergency encounters starting in the month."),
            ReportColumn("emergency_visits", .integer, unit: "visits", zh: "急诊人次", personCount: true,
                         "Emergency encounters starting in the month."),
            ReportColumn("outpatient_visits", .integer, unit: "visits", zh: "门诊人次", personCount: true,
                         "Outpatient encounters starting in the month."),
            ReportColumn("discharges", .integer, unit: "discharges", zh: "出院人次", personCount: true,
                         "Inpatient encounters ending in the month."),
            ReportColumn("outpatient_to_discharge_ratio", .decimal, unit: "ratio", zh: "门诊人次数与出院人次数比",
                         builtOn: ["outpatient_visits", "discharges"],
                         "outpatient_visits ÷ discharges; empty when there were no discharges."),
        ]
    )

    /// How a report that rolls up facility → county → city and by tier groups and filters its rows.
    static let unitFilters = [
        ReportParameter("level", .level, "facility (default), county, city or tier."),
        ReportParameter("region", .region, "Province, city or county code; everything inside it."),
        ReportParameter("tier", .tier, "Only facilities of this tier."),
        ReportParameter("facility", .facility, "One facility; a facility token gets its own."),
    ]

    /// The parameters of a levelled monthly report.
    static let levelled = unitFilters + [
        ReportParameter("from", .month, "First month YYYY-MM (default: 11 months before `to`)."),
        ReportParameter("to", .month, "Last month YYYY-MM (default: the current month)."),
    ]

    /// The period of a report by business date (night).
    static let nights = [
        ReportParameter("from", .date, "First business date (default: 29 nights before `to`; at most 366 nights)."),
        ReportParameter("to", .date, "Last business date (default: yesterday, China time)."),
    ]

    /// The unit a levelled report's row is about.
    static let unitLabels = [
        ReportColumn("level", .text, zh: "汇总层级", "facility, county, city or tier."),
        ReportColumn("unit_code", .text, zh: "单位代码", "Facility code, county or city code, or the tier."),
        ReportColumn("unit_name", .text, zh: "单位名称", "Its name."),
    ]

    /// The leading columns of a levelled monthly report.
    static let unitColumns = unitLabels + [ReportColumn("month", .month, zh: "月份", "Calendar month, China time.")]
}
