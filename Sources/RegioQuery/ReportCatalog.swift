import RegioCore

/// Every prebuilt report the query service offers. A new report is one entry here and one file
/// `sql/reports/<id>.sql`; the framework (`ReportsController`) needs no change. Each entry, its
/// parameters and its columns are described in English and in Chinese.
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
        descriptionZh: "按区县和级别统计机构登记库中在用的登记机构数及其编制床位数。市或全区的数字由各行相加得出。",
        roles: [.bureau, .steward, .admin],
        parameters: [
            ReportParameter("region", .region, zh: "区域", en: "Region",
                            "Province, city or county code; the report covers everything inside it.",
                            zh: "省、市或区县代码；报表涵盖其辖区内的全部机构。"),
            ReportParameter("tier", .tier, zh: "级别", en: "Tier",
                            "Only facilities of this tier (1 primary, 2 secondary, 3 tertiary).",
                            zh: "仅统计该级别的机构（1 一级、2 二级、3 三级）。"),
        ],
        columns: [
            ReportColumn("city_code", .text, zh: "市代码", en: "City code",
                         "GB/T 2260 code of the city the county belongs to.", zh: "区县所属市的 GB/T 2260 行政区划代码。"),
            ReportColumn("city_name", .text, zh: "市", en: "City", "Name of the city.", zh: "市名称。"),
            ReportColumn("county_code", .text, zh: "区县代码", en: "County code",
                         "GB/T 2260 code of the county (区/县).", zh: "区县（区/县）的 GB/T 2260 行政区划代码。"),
            ReportColumn("county_name", .text, zh: "区县", en: "County", "Name of the county.", zh: "区县名称。"),
            ReportColumn("tier", .integer, zh: "级别", en: "Tier",
                         "Facility tier: 1 primary, 2 secondary, 3 tertiary.", zh: "机构级别：1 一级、2 二级、3 三级。"),
            ReportColumn("facilities", .integer, unit: "facilities", zh: "机构数", en: "Facilities",
                         "Number of active registered facilities of this tier in the county.",
                         zh: "该区县内该级别在用登记机构的数量。"),
            ReportColumn("staffed_beds", .integer, unit: "beds", zh: "编制床位数", en: "Staffed beds",
                         "Sum of the facilities' registered staffed beds.", zh: "各机构登记的编制床位数之和。"),
        ]
    )

    static let uploadHistory = ReportDefinition(
        id: "upload-history",
        titleZh: "数据上传记录",
        titleEn: "Upload history",
        description: "Each facility's nightly batches: business date, status, rows per file, inserted / updated / "
            + "unchanged / retracted / rejected rows, rejected rows by error code — and nights with no extract "
            + "(status 'missing'). A facility sees only its own. Period: the 30 nights up to yesterday unless given.",
        descriptionZh: "各机构每晚上传的批次：业务日期、状态、各文件行数，新增 / 更新 / 未变 / 撤回 / 拒收行数，"
            + "按错误代码分类的拒收行数——以及未收到抽取数据的夜间（状态 'missing'）。机构只能查看本机构的记录。"
            + "统计期间：未指定时为截至昨日的 30 个夜间。",
        roles: [.facility, .bureau, .steward, .admin],
        parameters: [
            ReportParameter("facility", .facility, zh: "机构", en: "Facility",
                            "Facility code; a facility token gets its own.", zh: "机构代码；使用机构令牌时为本机构。"),
        ] + nights,
        columns: [
            ReportColumn("facility_code", .text, zh: "机构代码", en: "Facility code", "The facility's code.", zh: "机构的代码。"),
            ReportColumn("facility_name", .text, zh: "机构名称", en: "Facility name",
                         "The facility's registered name.", zh: "机构的登记名称。"),
            ReportColumn("business_date", .date, zh: "业务日期", en: "Business date",
                         "The night the extract covers.", zh: "抽取数据所对应的夜间（业务日）。"),
            ReportColumn("batch_id", .integer, zh: "批次号", en: "Batch",
                         "The batch, or empty when no extract arrived.", zh: "批次号；未收到抽取数据时为空。"),
            ReportColumn("status", .text, zh: "状态", en: "Status",
                         "receiving, queued, validating, loaded, validated (dry run), rejected, failed, or missing (no extract).",
                         zh: "receiving（接收中）、queued（排队中）、validating（校验中）、loaded（已入库）、"
                            + "validated（试运行，已校验）、rejected（拒收）、failed（失败）或 missing（未收到抽取数据）。"),
            ReportColumn("received_at", .text, zh: "接收时间", en: "Received at",
                         "When the batch was created, China time.", zh: "批次创建时间，北京时间。"),
            ReportColumn("files", .text, zh: "文件", en: "Files",
                         "Data rows received per file, e.g. `patients:246 encounters:247`.",
                         zh: "各文件接收的数据行数，如 `patients:246 encounters:247`。"),
            ReportColumn("rows_received", .integer, unit: "rows", zh: "接收行数", en: "Rows received",
                         "Data rows received over all files.", zh: "所有文件接收的数据行数合计。"),
            ReportColumn("inserted", .integer, unit: "rows", zh: "新增", en: "Inserted",
                         "Rows new to the platform.", zh: "平台此前没有的新行。"),
            ReportColumn("updated", .integer, unit: "rows", zh: "更新", en: "Updated",
                         "Rows that changed a stored row (a correction).", zh: "修改了已存储行的行（更正）。"),
            ReportColumn("unchanged", .integer, unit: "rows", zh: "未变", en: "Unchanged",
                         "Accepted rows identical to what was stored.", zh: "已接收且与已存储内容相同的行。"),
            ReportColumn("retracted", .integer, unit: "rows", zh: "撤回", en: "Retracted",
                         "Rows removed by `op = D`.", zh: "通过 `op = D` 删除的行。"),
            ReportColumn("rejected", .integer, unit: "rows", zh: "拒收", en: "Rejected",
                         "Rows rejected with at least one error.", zh: "因至少一个错误而被拒收的行。"),
            ReportColumn("warnings", .integer, unit: "rows", zh: "警告", en: "Warnings",
                         "Accepted rows with at least one warning.", zh: "已接收但至少有一个警告的行。"),
            rejectedByCode,
            ReportColumn("duplicate_of", .integer, zh: "重复批次", en: "Duplicate of",
                         "The earlier batch this one repeats, when it changed nothing.",
                         zh: "本批次未改变任何数据时，其所重复的较早批次。"),
            ReportColumn("reason", .text, zh: "说明", en: "Reason",
                         "Why a batch was rejected or failed, or that it repeated another.",
                         zh: "批次被拒收或失败的原因，或说明其重复了另一批次。"),
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
        descriptionZh: "按机构（或区县、市、级别）和自然月（北京时间）统计：门急诊人次、急诊人次、门诊人次、出院人次，"
            + "以及门诊人次数与出院人次数比（= 门诊人次 ÷ 出院人次，不含急诊）。就诊按开始时间计，出院按出院时间计。"
            + "重新汇总时将各计数列相加；比值须由其分子、分母重新计算，切勿取平均。",
        roles: [.facility, .bureau, .steward, .admin],
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("outpatient_emergency_visits", .integer, unit: "visits", zh: "门急诊人次",
                         en: "Outpatient + emergency visits", personCount: true,
                         "Outpatient and emergency encounters starting in the month.", zh: "当月开始的门诊和急诊就诊。"),
            ReportColumn("emergency_visits", .integer, unit: "visits", zh: "急诊人次", en: "Emergency visits", personCount: true,
                         "Emergency encounters starting in the month.", zh: "当月开始的急诊就诊。"),
            ReportColumn("outpatient_visits", .integer, unit: "visits", zh: "门诊人次", en: "Outpatient visits", personCount: true,
                         "Outpatient encounters starting in the month.", zh: "当月开始的门诊就诊。"),
            ReportColumn("discharges", .integer, unit: "discharges", zh: "出院人次", en: "Discharges", personCount: true,
                         "Inpatient encounters ending in the month.", zh: "当月结束的住院就诊。"),
            ReportColumn("outpatient_to_discharge_ratio", .decimal, unit: "ratio", zh: "门诊人次数与出院人次数比",
                         en: "Outpatient-to-discharge ratio", builtOn: ["outpatient_visits", "discharges"],
                         "outpatient_visits ÷ discharges; empty when there were no discharges.",
                         zh: "门诊人次 ÷ 出院人次；无出院时为空。"),
        ]
    )

    // MARK: Shared parameters

    static let regionFilter = ReportParameter(
        "region", .region, zh: "区域", en: "Region",
        "Province, city or county code; everything inside it.", zh: "省、市或区县代码；涵盖其辖区内的全部。")

    static let tierFilter = ReportParameter(
        "tier", .tier, zh: "级别", en: "Tier", "Only facilities of this tier.", zh: "仅统计该级别的机构。")

    static let facilityFilter = ReportParameter(
        "facility", .facility, zh: "机构", en: "Facility",
        "One facility; a facility token gets its own.", zh: "单个机构；使用机构令牌时为本机构。")

    /// The period of a monthly report.
    static let months = [
        ReportParameter("from", .month, zh: "起始月份", en: "From month",
                        "First month YYYY-MM (default: 11 months before `to`).", zh: "起始月份 YYYY-MM（默认：`to` 之前 11 个月）。"),
        ReportParameter("to", .month, zh: "截止月份", en: "To month",
                        "Last month YYYY-MM (default: the current month).", zh: "截止月份 YYYY-MM（默认：当月）。"),
    ]

    /// How a report that rolls up facility → county → city and by tier groups and filters its rows.
    static let unitFilters = [
        ReportParameter("level", .level, zh: "汇总层级", en: "Level",
                        "facility (default), county, city or tier.",
                        zh: "facility（机构，默认）、county（区县）、city（市）或 tier（级别）。"),
        regionFilter,
        tierFilter,
        facilityFilter,
    ]

    /// The parameters of a levelled monthly report.
    static let levelled = unitFilters + months

    /// The period of a report by business date (night).
    static let nights = [
        ReportParameter("from", .date, zh: "起始日期", en: "From date",
                        "First business date (default: 29 nights before `to`; at most 366 nights).",
                        zh: "起始业务日期（默认：`to` 之前 29 个夜间；最多 366 个夜间）。"),
        ReportParameter("to", .date, zh: "截止日期", en: "To date",
                        "Last business date (default: yesterday, China time).", zh: "截止业务日期（默认：昨日，北京时间）。"),
    ]

    // MARK: Shared columns

    /// The unit a levelled report's row is about.
    static let unitLabels = [
        ReportColumn("level", .text, zh: "汇总层级", en: "Level",
                     "facility, county, city or tier.", zh: "facility（机构）、county（区县）、city（市）或 tier（级别）。"),
        ReportColumn("unit_code", .text, zh: "单位代码", en: "Unit code",
                     "Facility code, county or city code, or the tier.", zh: "机构代码、区县或市代码，或级别。"),
        ReportColumn("unit_name", .text, zh: "单位名称", en: "Unit name", "Its name.", zh: "其名称。"),
    ]

    static let calendarMonth = ReportColumn("month", .month, zh: "月份", en: "Month",
                                            "Calendar month, China time.", zh: "自然月，北京时间。")

    /// The leading columns of a levelled monthly report.
    static let unitColumns = unitLabels + [calendarMonth]

    static let rejectedByCode = ReportColumn(
        "rejected_by_code", .text, zh: "错误分类", en: "Rejections by code",
        "Row errors by code, e.g. `bad_date 3, dangling_reference 1`.",
        zh: "按错误代码分类的行错误，如 `bad_date 3, dangling_reference 1`。")
}
