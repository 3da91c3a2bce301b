import RegioCore

/// The regional health bureau's monthly reports on tiered care, efficiency and data quality
/// (`../shared/REPORTS.md`). Every ratio is shown with its numerator and denominator.
extension ReportCatalog {
    static let bureauRoles: Set<Role> = [.bureau, .steward, .admin]

    static let primaryCareShare = ReportDefinition(
        id: "primary-care-share",
        titleZh: "基层诊疗量占比",
        titleEn: "Primary-care share of visits",
        description: "基层诊疗量占比 = outpatient + emergency visits at primary facilities (tier 1, and community and "
            + "township health centres) ÷ all outpatient + emergency visits in the unit × 100, per county (or city) "
            + "and month, China time. The national reference line is 65 %.",
        roles: bureauRoles,
        parameters: [
            ReportParameter("level", .level, "county (default) or city; tier and facility also work."),
            ReportParameter("region", .region, "Province, city or county code; everything inside it."),
            ReportParameter("from", .month, "First month YYYY-MM (default: 11 months before `to`)."),
            ReportParameter("to", .month, "Last month YYYY-MM (default: the current month)."),
        ],
        columns: unitColumns + [
            ReportColumn("primary_visits", .integer, unit: "visits", zh: "基层门急诊人次", personCount: true,
                         "Outpatient and emergency visits at the unit's primary facilities."),
            ReportColumn("all_visits", .integer, unit: "visits", zh: "门急诊总人次", personCount: true,
                         "Outpatient and emergency visits at all of the unit's facilities."),
            ReportColumn("primary_care_share", .decimal, unit: "%", zh: "基层诊疗量占比",
                         builtOn: ["primary_visits", "all_visits"], "primary_visits ÷ all_visits × 100."),
            ReportColumn("reference_share", .decimal, unit: "%", zh: "参考值", "The national reference line, 65 %."),
        ]
    )

    static let referrals = ReportDefinition(
        id: "referrals",
        titleZh: "双向转诊",
        titleEn: "Referrals",
        description: "Referrals sent by the unit's facilities per month (China time, by referral time). Direction comes "
            + "from the registered tiers of the two facilities (up: to a higher tier; down: to a lower one; lateral), "
            + "never from the file. 下转患者人次数 = outpatient/emergency down-referrals + inpatient down-referrals "
            + "(inpatient: referred during a stay at the sender). Proposed rates: up-referral rate = up-referrals from "
            + "primary facilities ÷ their visits × 100; down-referral rate = down-referrals from tier-2/3 facilities ÷ "
            + "their discharges × 100. Completion is found by the platform: an encounter at the receiving facility "
            + "naming the referral, or else the same regional person seen there within 30 days (setting "
            + "referral_completion_days; day 30 counts, day 31 does not). Median days: the lower median of the "
            + "completed referrals' days (31 means later than day 30). The tier matrix counts referrals by "
            + "sender tier × receiver tier.",
        roles: bureauRoles,
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("referrals_sent", .integer, unit: "referrals", zh: "转诊人次", personCount: true,
                         "Referrals sent in the month."),
            ReportColumn("up_referrals", .integer, unit: "referrals", zh: "上转人次", personCount: true, "To a higher tier."),
            ReportColumn("down_referrals", .integer, unit: "referrals", zh: "下转人次", personCount: true, "To a lower tier."),
            ReportColumn("lateral_referrals", .integer, unit: "referrals", zh: "平转人次", personCount: true, "To the same tier."),
            ReportColumn("down_referrals_outpatient", .integer, unit: "referrals", zh: "门急诊下转人次", personCount: true,
                         "Down-referrals not made during a stay at the sender."),
            ReportColumn("down_referrals_inpatient", .integer, unit: "referrals", zh: "住院下转人次", personCount: true,
                         "Down-referrals made during a stay at the sender (admission day to discharge day)."),
            ReportColumn("down_referral_patients", .integer, unit: "referrals", zh: "下转患者人次数", personCount: true,
                         "down_referrals_outpatient + down_referrals_inpatient."),
            ReportColumn("primary_up_referrals", .integer, unit: "referrals", zh: "基层上转人次", personCount: true,
                         "Up-referrals sent by primary facilities."),
            ReportColumn("primary_visits", .integer, unit: "visits", zh: "基层门急诊人次", personCount: true,
                         "Outpatient and emergency visits at the unit's primary facilities."),
            ReportColumn("up_referral_rate", .decimal, unit: "%", zh: "上转率", builtOn: ["primary_up_referrals", "primary_visits"],
                         "primary_up_referrals ÷ primary_visits × 100 (proposed)."),
            ReportColumn("upper_tier_down_referrals", .integer, unit: "referrals", zh: "二三级下转人次", personCount: true,
                         "Down-referrals sent by tier-2 and tier-3 facilities."),
            ReportColumn("upper_tier_discharges", .integer, unit: "discharges", zh: "二三级出院人次", personCount: true,
                         "Discharges at the unit's tier-2 and tier-3 facilities."),
            ReportColumn("down_referral_rate", .decimal, unit: "%", zh: "下转率",
                         builtOn: ["upper_tier_down_referrals", "upper_tier_discharges"],
                         "upper_tier_down_referrals ÷ upper_tier_discharges × 100 (proposed)."),
            ReportColumn("completed", .integer, unit: "referrals", zh: "转诊完成人次", personCount: true,
                         "Referrals whose receiving encounter the platform found."),
            ReportColumn("completion_rate", .decimal, unit: "%", zh: "转诊完成率", builtOn: ["completed", "referrals_sent"],
                         "completed ÷ referrals_sent × 100."),
            ReportColumn("median_days_to_completion", .integer, unit: "days", zh: "完成天数中位数", builtOn: ["completed"],
                         "Lower median of the days from referral to receiving encounter (31 = later than day 30)."),
        ] + tierMatrixColumns
    )

    static let tierMatrixColumns: [ReportColumn] = [1, 2, 3].flatMap { from in
        [1, 2, 3].map { to in
            ReportColumn("tier\(from)_to_tier\(to)", .integer, unit: "referrals", zh: "\(from)级→\(to)级", personCount: true,
                         "Referrals from tier-\(from) to tier-\(to) facilities.")
        }
    }

    static let efficiency = ReportDefinition(
        id: "efficiency",
        titleZh: "运行效率与费用",
        titleEn: "Efficiency and cost",
        description: "Per unit and month, China time. Average length of stay = Σ length of stay of inpatients "
            + "discharged in the month ÷ discharges (days from admission date to discharge date, at least 1). "
            + "Bed occupancy = occupied bed-days ÷ available bed-days × 100: from the midnight census (`beds` file) "
            + "when the facility sent one that month (bed_days_source 'census': Σ occupied beds ÷ Σ staffed beds over "
            + "the census nights), otherwise counted from the stays (source 'stays': midnights spent by inpatients, a "
            + "stay without a discharge counted up to the facility's latest extract, ÷ registered staffed beds × days "
            + "of the month). Bed turnover = discharges ÷ average staffed beds. Drug share (药占比) and consumables "
            + "share (耗占比) = drug or consumables cost ÷ total cost × 100, total = outpatient and emergency visits "
            + "starting in the month + stays discharged in it. Cost per visit and per stay (次均费用) and their "
            + "growth (增幅) against the same month a year earlier, over the unit's totals in each year.",
        roles: bureauRoles.union([.facility]),
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("discharges", .integer, unit: "discharges", zh: "出院人次", personCount: true, "Inpatients discharged in the month."),
            ReportColumn("inpatient_days", .integer, unit: "days", zh: "出院者占用总床日数", "Σ length of stay of those discharged."),
            ReportColumn("average_length_of_stay", .decimal, unit: "days", zh: "平均住院日", builtOn: ["discharges"],
                         "inpatient_days ÷ discharges."),
            ReportColumn("bed_days_source", .text, zh: "床日来源", "census, stays, or mixed when the unit's facilities differ."),
            ReportColumn("occupied_bed_days", .integer, unit: "bed-days", zh: "实际占用总床日数", "Occupied bed-days in the month."),
            ReportColumn("available_bed_days", .integer, unit: "bed-days", zh: "实际开放总床日数", "Staffed beds × nights."),
            ReportColumn("bed_occupancy_rate", .decimal, unit: "%", zh: "病床使用率", "occupied_bed_days ÷ available_bed_days × 100."),
            ReportColumn("average_staffed_beds", .decimal, unit: "beds", zh: "平均开放床位数",
                         "available_bed_days ÷ nights counted, summed over facilities."),
            ReportColumn("bed_turnover", .decimal, unit: "times", zh: "病床周转次数", builtOn: ["discharges"],
                         "discharges ÷ average_staffed_beds."),
            ReportColumn("total_cost", .decimal, unit: "yuan", zh: "总费用", "outpatient_cost + inpatient_cost."),
            ReportColumn("drug_cost", .decimal, unit: "yuan", zh: "药品费用", "Drug cost of the same encounters."),
            ReportColumn("drug_share", .decimal, unit: "%", zh: "药占比", "drug_cost ÷ total_cost × 100."),
            ReportColumn("consumables_cost", .decimal, unit: "yuan", zh: "耗材费用", "Consumables cost of the same encounters."),
            ReportColumn("consumables_share", .decimal, unit: "%", zh: "耗占比", "consumables_cost ÷ total_cost × 100."),
            ReportColumn("outpatient_emergency_visits", .integer, unit: "visits", zh: "门急诊人次", personCount: true,
                         "Outpatient and emergency visits starting in the month."),
            ReportColumn("outpatient_cost", .decimal, unit: "yuan", zh: "门急诊费用", "Their total cost."),
            ReportColumn("cost_per_visit", .decimal, unit: "yuan", zh: "次均门急诊费用", builtOn: ["outpatient_emergency_visits"],
                         "outpatient_cost ÷ outpatient_emergency_visits."),
            ReportColumn("inpatient_cost", .decimal, unit: "yuan", zh: "住院费用", "Total cost of the stays discharged in the month."),
            ReportColumn("cost_per_stay", .decimal, unit: "yuan", zh: "次均住院费用", builtOn: ["discharges"],
                         "inpatient_cost ÷ discharges."),
            ReportColumn("prior_year_visits", .integer, unit: "visits", zh: "上年同期门急诊人次", personCount: true,
                         "Outpatient and emergency visits in the same month a year earlier."),
            ReportColumn("prior_year_outpatient_cost", .decimal, unit: "yuan", zh: "上年同期门急诊费用", "Their total cost."),
            ReportColumn("cost_per_visit_growth", .decimal, unit: "%", zh: "次均门急诊费用增幅",
                         builtOn: ["outpatient_emergency_visits", "prior_year_visits"],
                         "(cost_per_visit ÷ a year earlier's − 1) × 100."),
            ReportColumn("prior_year_discharges", .integer, unit: "discharges", zh: "上年同期出院人次", personCount: true,
                         "Discharges in the same month a year earlier."),
            ReportColumn("prior_year_inpatient_cost", .decimal, unit: "yuan", zh: "上年同期住院费用", "Their total cost."),
            ReportColumn("cost_per_stay_growth", .decimal, unit: "%", zh: "次均住院费用增幅",
                         builtOn: ["discharges", "prior_year_discharges"], "(cost_per_stay ÷ a year earlier's − 1) × 100."),
        ]
    )

    static let alerts = ReportDefinition(
        id: "alerts",
        titleZh: "监测预警",
        titleEn: "Alerts",
        description: "Facility-months breaching a bureau threshold (table reports.thresholds, kind 'alert': by default "
            + "drug share > 30 %, consumables share > 20 %, cost per visit or per stay growth > 10 %; edit with "
            + "`regio threshold set` or PUT /v1/admin/thresholds/alert/{indicator}) — rule 'threshold' — or far from "
            + "their peers — rule 'peer': facilities of the same tier in the same month, region-wide, with a modified "
            + "z-score 0.6745 × (value − peer median) ÷ MAD above the `peer_modified_z` threshold (3.5) in either "
            + "direction, when at least 5 peers have a value and their MAD is not 0. Peer indicators: drug_share, "
            + "consumables_share, cost_per_visit, cost_per_stay, average_length_of_stay, bed_occupancy_rate.",
        roles: bureauRoles,
        parameters: [
            ReportParameter("region", .region, "Province, city or county code; facilities inside it."),
            ReportParameter("tier", .tier, "Only facilities of this tier."),
            ReportParameter("facility", .facility, "One facility."),
            ReportParameter("from", .month, "First month YYYY-MM (default: 11 months before `to`)."),
            ReportParameter("to", .month, "Last month YYYY-MM (default: the current month)."),
        ],
        columns: [
            ReportColumn("facility_code", .text, zh: "机构代码", "The facility."),
            ReportColumn("facility_name", .text, zh: "机构名称", "Its registered name."),
            ReportColumn("tier", .integer, zh: "级别", "Its tier: the peer group."),
            ReportColumn("county_code", .text, zh: "区县代码", "Its county."),
            ReportColumn("month", .month, zh: "月份", "Calendar month, China time."),
            ReportColumn("indicator", .text, zh: "指标", "drug_share, consumables_share, cost_per_visit(_growth), "
                         + "cost_per_stay(_growth), average_length_of_stay or bed_occupancy_rate."),
            ReportColumn("rule", .text, zh: "规则", "threshold (a bureau threshold) or peer (modified z-score)."),
            ReportColumn("value", .decimal, zh: "指标值", "The facility's value, in the indicator's unit."),
            ReportColumn("threshold", .decimal, zh: "阈值", "The bureau threshold, or the z-score limit for rule peer."),
            ReportColumn("peer_median", .decimal, zh: "同级中位数", "Median of the indicator over the tier's facilities that month."),
            ReportColumn("peers", .integer, unit: "facilities", zh: "同级机构数", "Facilities of the tier with a value that month."),
            ReportColumn("modified_z", .decimal, unit: "z", zh: "修正Z值", "For rule peer: 0.6745 × (value − median) ÷ MAD."),
            ReportColumn("numerator", .decimal, zh: "分子", "The indicator's numerator (for growth: cost × prior count − prior cost × count)."),
            ReportColumn("denominator", .decimal, zh: "分母", "The indicator's denominator (for growth: prior cost × count)."),
        ]
    )

    static let dataQuality = ReportDefinition(
        id: "data-quality",
        titleZh: "数据质量",
        titleEn: "Data quality",
        description: "Per unit and business date: extracts expected (one per active facility and night), received, "
            + "loaded, and loaded on time (received before 06:00 China time of the next day: setting "
            + "extract_deadline_hour); reporting rate and on-time rate; rows received and rejected, rejected rows by "
            + "error code; and the plausibility checks run and failed (thresholds in reports.thresholds, kind "
            + "'quality'; each check's detail is the data-quality-checks report). A facility's night is judged by "
            + "its latest batch (dry runs aside); on time by its first loaded one.",
        roles: bureauRoles.union([.facility]),
        parameters: unitFilters + nights,
        columns: unitLabels + [
            ReportColumn("business_date", .date, zh: "业务日期", "The night."),
            ReportColumn("expected_extracts", .integer, unit: "extracts", zh: "应报", "Active facilities in the unit."),
            ReportColumn("received_extracts", .integer, unit: "extracts", zh: "已收", "Facilities that sent a batch for the night."),
            ReportColumn("loaded_extracts", .integer, unit: "extracts", zh: "已入库", "Facilities with a loaded batch for the night."),
            ReportColumn("on_time_extracts", .integer, unit: "extracts", zh: "按时", "Loaded batches received before the deadline."),
            ReportColumn("reporting_rate", .decimal, unit: "%", zh: "上报率", "loaded_extracts ÷ expected_extracts × 100."),
            ReportColumn("on_time_rate", .decimal, unit: "%", zh: "及时率", "on_time_extracts ÷ expected_extracts × 100."),
            ReportColumn("rows_received", .integer, unit: "rows", zh: "接收行数", "Data rows in the judged batches."),
            ReportColumn("rows_rejected", .integer, unit: "rows", zh: "拒收行数", "Rows rejected with an error."),
            ReportColumn("rejected_share", .decimal, unit: "%", zh: "拒收率", "rows_rejected ÷ rows_received × 100."),
            ReportColumn("rejected_by_code", .text, zh: "错误分类", "Row errors by code, e.g. `bad_date 3, dangling_reference 1`."),
            ReportColumn("checks_run", .integer, unit: "checks", zh: "检查项", "Plausibility checks with applicable rows."),
            ReportColumn("checks_failed", .integer, unit: "checks", zh: "未通过", "Checks whose value breaches the threshold."),
            ReportColumn("failed_checks", .text, zh: "未通过项",
                         "Each failed check with its value and threshold (above facility level, prefixed by the facility code)."),
        ]
    )

    static let dataQualityChecks = ReportDefinition(
        id: "data-quality-checks",
        titleZh: "数据质量检查明细",
        titleEn: "Data-quality checks",
        description: "Every plausibility check of each facility's latest batch per business date (dry runs aside): "
            + "failing and applicable rows, the value in %, the threshold (reports.thresholds, kind 'quality', "
            + "editable like the alert thresholds) and pass, fail, or n/a when no row was applicable.",
        roles: bureauRoles.union([.facility]),
        parameters: [
            ReportParameter("region", .region, "Province, city or county code; facilities inside it."),
            ReportParameter("facility", .facility, "One facility; a facility token gets its own."),
        ] + nights,
        columns: [
            ReportColumn("facility_code", .text, zh: "机构代码", "The facility."),
            ReportColumn("facility_name", .text, zh: "机构名称", "Its registered name."),
            ReportColumn("business_date", .date, zh: "业务日期", "The night."),
            ReportColumn("batch_id", .integer, zh: "批次号", "The batch judged."),
            ReportColumn("check_id", .text, zh: "检查项", "The check (reports.thresholds.indicator)."),
            ReportColumn("description", .text, zh: "说明", "What it measures."),
            ReportColumn("failing_rows", .integer, unit: "rows", zh: "未通过行数", "Rows failing the check."),
            ReportColumn("applicable_rows", .integer, unit: "rows", zh: "适用行数", "Rows the check applies to."),
            ReportColumn("value", .decimal, unit: "%", zh: "值", "failing_rows ÷ applicable_rows × 100."),
            ReportColumn("fails_when", .text, zh: "阈值", "The comparison that fails, e.g. `> 5`."),
            ReportColumn("status", .text, zh: "结果", "pass, fail, or n/a."),
        ]
    )
}
