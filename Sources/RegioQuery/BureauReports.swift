import RegioCore

/// The regional health bureau's monthly reports on tiered care, efficiency and data quality
/// (`../shared/REPORTS.md`). Every ratio is shown with its numerator and denominator.
extension ReportCatalog {
    static let bureauRoles: Set<Role> = [.bureau, .steward, .admin]

    static let primaryVisits = ReportColumn(
        "primary_visits", .integer, unit: "visits", zh: "基层门急诊人次", en: "Primary-care visits", personCount: true,
        "Outpatient and emergency visits at the unit's primary facilities.", zh: "该单位基层医疗卫生机构的门急诊人次。")

    static let primaryCareShare = ReportDefinition(
        id: "primary-care-share",
        titleZh: "基层诊疗量占比",
        titleEn: "Primary-care share of visits",
        description: "基层诊疗量占比 = outpatient + emergency visits at primary facilities (tier 1, and community and "
            + "township health centres) ÷ all outpatient + emergency visits in the unit × 100, per county (or city) "
            + "and month, China time. The national reference line is 65 %.",
        descriptionZh: "基层诊疗量占比 = 基层医疗卫生机构（一级机构，以及社区卫生服务中心和乡镇卫生院）门急诊人次 ÷ "
            + "该单位全部门急诊人次 × 100，按区县（或市）和月份统计，北京时间。国家参考值为 65%。",
        roles: bureauRoles,
        parameters: [
            ReportParameter("level", .level, zh: "汇总层级", en: "Level",
                            "county (default) or city; tier and facility also work.",
                            zh: "county（区县，默认）或 city（市）；也可用 tier（级别）和 facility（机构）。"),
            regionFilter,
        ] + months,
        columns: unitColumns + [
            primaryVisits,
            ReportColumn("all_visits", .integer, unit: "visits", zh: "门急诊总人次", en: "All visits", personCount: true,
                         "Outpatient and emergency visits at all of the unit's facilities.", zh: "该单位全部机构的门急诊人次。"),
            ReportColumn("primary_care_share", .decimal, unit: "%", zh: "基层诊疗量占比", en: "Primary-care share",
                         builtOn: ["primary_visits", "all_visits"], "primary_visits ÷ all_visits × 100.",
                         zh: "基层门急诊人次 ÷ 门急诊总人次 × 100。"),
            ReportColumn("reference_share", .decimal, unit: "%", zh: "参考值", en: "Reference line",
                         "The national reference line, 65 %.", zh: "国家参考值，65%。"),
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
        descriptionZh: "该单位各机构每月发出的转诊（北京时间，按转诊时间计）。转诊方向由双方机构的登记级别确定"
            + "（上转：转往更高级别；下转：转往更低级别；平转：同级），不依据上报文件。下转患者人次数 = 门急诊下转人次 + "
            + "住院下转人次（住院：在转出机构住院期间发起的转诊）。建议比率：上转率 = 基层医疗卫生机构上转人次 ÷ 其门急诊人次 "
            + "× 100；下转率 = 二、三级机构下转人次 ÷ 其出院人次 × 100。转诊完成由平台判定：接收机构有注明该转诊的就诊，"
            + "否则为区域患者主索引中的同一患者 30 天内在该机构就诊（设置项 referral_completion_days；第 30 天计入，"
            + "第 31 天不计）。完成天数中位数：已完成转诊天数的下中位数（31 表示晚于第 30 天）。级别矩阵按转出机构级别 × "
            + "接收机构级别统计转诊人次。",
        roles: bureauRoles,
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("referrals_sent", .integer, unit: "referrals", zh: "转诊人次", en: "Referrals sent", personCount: true,
                         "Referrals sent in the month.", zh: "当月发出的转诊。"),
            ReportColumn("up_referrals", .integer, unit: "referrals", zh: "上转人次", en: "Up-referrals", personCount: true,
                         "To a higher tier.", zh: "转往更高级别。"),
            ReportColumn("down_referrals", .integer, unit: "referrals", zh: "下转人次", en: "Down-referrals", personCount: true,
                         "To a lower tier.", zh: "转往更低级别。"),
            ReportColumn("lateral_referrals", .integer, unit: "referrals", zh: "平转人次", en: "Lateral referrals",
                         personCount: true, "To the same tier.", zh: "转往同级。"),
            ReportColumn("down_referrals_outpatient", .integer, unit: "referrals", zh: "门急诊下转人次",
                         en: "Outpatient down-referrals", personCount: true,
                         "Down-referrals not made during a stay at the sender.", zh: "非在转出机构住院期间发起的下转。"),
            ReportColumn("down_referrals_inpatient", .integer, unit: "referrals", zh: "住院下转人次",
                         en: "Inpatient down-referrals", personCount: true,
                         "Down-referrals made during a stay at the sender (admission day to discharge day).",
                         zh: "在转出机构住院期间（入院日至出院日）发起的下转。"),
            ReportColumn("down_referral_patients", .integer, unit: "referrals", zh: "下转患者人次数",
                         en: "Down-referred patients", personCount: true,
                         "down_referrals_outpatient + down_referrals_inpatient.", zh: "门急诊下转人次 + 住院下转人次。"),
            ReportColumn("primary_up_referrals", .integer, unit: "referrals", zh: "基层上转人次",
                         en: "Primary-care up-referrals", personCount: true,
                         "Up-referrals sent by primary facilities.", zh: "基层医疗卫生机构发出的上转。"),
            primaryVisits,
            ReportColumn("up_referral_rate", .decimal, unit: "%", zh: "上转率", en: "Up-referral rate",
                         builtOn: ["primary_up_referrals", "primary_visits"],
                         "primary_up_referrals ÷ primary_visits × 100 (proposed).",
                         zh: "基层上转人次 ÷ 基层门急诊人次 × 100（建议指标）。"),
            ReportColumn("upper_tier_down_referrals", .integer, unit: "referrals", zh: "二三级下转人次",
                         en: "Tier-2/3 down-referrals", personCount: true,
                         "Down-referrals sent by tier-2 and tier-3 facilities.", zh: "二级和三级机构发出的下转。"),
            ReportColumn("upper_tier_discharges", .integer, unit: "discharges", zh: "二三级出院人次",
                         en: "Tier-2/3 discharges", personCount: true,
                         "Discharges at the unit's tier-2 and tier-3 facilities.", zh: "该单位二级和三级机构的出院人次。"),
            ReportColumn("down_referral_rate", .decimal, unit: "%", zh: "下转率", en: "Down-referral rate",
                         builtOn: ["upper_tier_down_referrals", "upper_tier_discharges"],
                         "upper_tier_down_referrals ÷ upper_tier_discharges × 100 (proposed).",
                         zh: "二三级下转人次 ÷ 二三级出院人次 × 100（建议指标）。"),
            ReportColumn("completed", .integer, unit: "referrals", zh: "转诊完成人次", en: "Completed referrals",
                         personCount: true,
                         "Referrals whose receiving encounter the platform found.", zh: "平台找到接收机构就诊的转诊。"),
            ReportColumn("completion_rate", .decimal, unit: "%", zh: "转诊完成率", en: "Completion rate",
                         builtOn: ["completed", "referrals_sent"],
                         "completed ÷ referrals_sent × 100.", zh: "转诊完成人次 ÷ 转诊人次 × 100。"),
            ReportColumn("median_days_to_completion", .integer, unit: "days", zh: "完成天数中位数",
                         en: "Median days to completion", builtOn: ["completed"],
                         "Lower median of the days from referral to receiving encounter (31 = later than day 30).",
                         zh: "从转诊到接收机构就诊天数的下中位数（31 表示晚于第 30 天）。"),
        ] + tierMatrixColumns
    )

    static let tierMatrixColumns: [ReportColumn] = [1, 2, 3].flatMap { from in
        [1, 2, 3].map { to in
            ReportColumn("tier\(from)_to_tier\(to)", .integer, unit: "referrals", zh: "\(from)级→\(to)级",
                         en: "Tier \(from) → tier \(to)", personCount: true,
                         "Referrals from tier-\(from) to tier-\(to) facilities.",
                         zh: "由\(tierNumeralsZh[from - 1])级机构转往\(tierNumeralsZh[to - 1])级机构的转诊。")
        }
    }

    static let tierNumeralsZh = ["一", "二", "三"]

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
        descriptionZh: "按单位和月份统计，北京时间。平均住院日 = 当月出院者住院天数之和 ÷ 出院人次（入院日期至出院日期的天数，"
            + "至少 1 天）。病床使用率 = 实际占用总床日数 ÷ 实际开放总床日数 × 100：机构当月报送了午夜床位普查（`beds` 文件）"
            + "时取自普查（bed_days_source 为 'census'：各普查夜占用床位数之和 ÷ 编制床位数之和），否则按住院记录计算"
            + "（来源 'stays'：住院患者度过的午夜数，未出院者计至该机构最近一次抽取数据，÷ 登记编制床位数 × 当月天数）。"
            + "病床周转次数 = 出院人次 ÷ 平均开放床位数。药占比和耗占比 = 药品或耗材费用 ÷ 总费用 × 100，总费用 = "
            + "当月开始的门急诊就诊 + 当月出院的住院。次均费用（次均门急诊费用、次均住院费用）及其较上年同月的增幅，"
            + "均按该单位各年的合计计算。",
        roles: bureauRoles.union([.facility]),
        parameters: levelled,
        columns: unitColumns + [
            ReportColumn("discharges", .integer, unit: "discharges", zh: "出院人次", en: "Discharges", personCount: true,
                         "Inpatients discharged in the month.", zh: "当月出院的住院患者人次。"),
            ReportColumn("inpatient_days", .integer, unit: "days", zh: "出院者占用总床日数", en: "Inpatient days",
                         "Σ length of stay of those discharged.", zh: "Σ 出院者住院天数。"),
            ReportColumn("average_length_of_stay", .decimal, unit: "days", zh: "平均住院日", en: "Average length of stay",
                         builtOn: ["discharges"], "inpatient_days ÷ discharges.", zh: "出院者占用总床日数 ÷ 出院人次。"),
            ReportColumn("bed_days_source", .text, zh: "床日来源", en: "Bed-days source",
                         "census, stays, or mixed when the unit's facilities differ.",
                         zh: "census（床位普查）、stays（住院记录），单位内各机构来源不同时为 mixed（混合）。"),
            ReportColumn("occupied_bed_days", .integer, unit: "bed-days", zh: "实际占用总床日数", en: "Occupied bed-days",
                         "Occupied bed-days in the month.", zh: "当月实际占用的床日数。"),
            ReportColumn("available_bed_days", .integer, unit: "bed-days", zh: "实际开放总床日数", en: "Available bed-days",
                         "Staffed beds × nights.", zh: "编制床位数 × 夜数。"),
            ReportColumn("bed_occupancy_rate", .decimal, unit: "%", zh: "病床使用率", en: "Bed occupancy",
                         "occupied_bed_days ÷ available_bed_days × 100.", zh: "实际占用总床日数 ÷ 实际开放总床日数 × 100。"),
            ReportColumn("average_staffed_beds", .decimal, unit: "beds", zh: "平均开放床位数", en: "Average staffed beds",
                         "available_bed_days ÷ nights counted, summed over facilities.",
                         zh: "实际开放总床日数 ÷ 统计夜数，按机构加总。"),
            ReportColumn("bed_turnover", .decimal, unit: "times", zh: "病床周转次数", en: "Bed turnover",
                         builtOn: ["discharges"], "discharges ÷ average_staffed_beds.", zh: "出院人次 ÷ 平均开放床位数。"),
            ReportColumn("total_cost", .decimal, unit: "yuan", zh: "总费用", en: "Total cost",
                         "outpatient_cost + inpatient_cost.", zh: "门急诊费用 + 住院费用。"),
            ReportColumn("drug_cost", .decimal, unit: "yuan", zh: "药品费用", en: "Drug cost",
                         "Drug cost of the same encounters.", zh: "上述就诊的药品费用。"),
            ReportColumn("drug_share", .decimal, unit: "%", zh: "药占比", en: "Drug share",
                         "drug_cost ÷ total_cost × 100.", zh: "药品费用 ÷ 总费用 × 100。"),
            ReportColumn("consumables_cost", .decimal, unit: "yuan", zh: "耗材费用", en: "Consumables cost",
                         "Consumables cost of the same encounters.", zh: "上述就诊的耗材费用。"),
            ReportColumn("consumables_share", .decimal, unit: "%", zh: "耗占比", en: "Consumables share",
                         "consumables_cost ÷ total_cost × 100.", zh: "耗材费用 ÷ 总费用 × 100。"),
            ReportColumn("outpatient_emergency_visits", .integer, unit: "visits", zh: "门急诊人次",
                         en: "Outpatient + emergency visits", personCount: true,
                         "Outpatient and emergency visits starting in the month.", zh: "当月开始的门急诊就诊人次。"),
            ReportColumn("outpatient_cost", .decimal, unit: "yuan", zh: "门急诊费用", en: "Outpatient + emergency cost",
                         "Their total cost.", zh: "其费用合计。"),
            ReportColumn("cost_per_visit", .decimal, unit: "yuan", zh: "次均门急诊费用", en: "Cost per visit",
                         builtOn: ["outpatient_emergency_visits"],
                         "outpatient_cost ÷ outpatient_emergency_visits.", zh: "门急诊费用 ÷ 门急诊人次。"),
            ReportColumn("inpatient_cost", .decimal, unit: "yuan", zh: "住院费用", en: "Inpatient cost",
                         "Total cost of the stays discharged in the month.", zh: "当月出院者的住院费用合计。"),
            ReportColumn("cost_per_stay", .decimal, unit: "yuan", zh: "次均住院费用", en: "Cost per stay",
                         builtOn: ["discharges"], "inpatient_cost ÷ discharges.", zh: "住院费用 ÷ 出院人次。"),
            ReportColumn("prior_year_visits", .integer, unit: "visits", zh: "上年同期门急诊人次",
                         en: "Visits a year earlier", personCount: true,
                         "Outpatient and emergency visits in the same month a year earlier.", zh: "上年同月的门急诊人次。"),
            ReportColumn("prior_year_outpatient_cost", .decimal, unit: "yuan", zh: "上年同期门急诊费用",
                         en: "Outpatient + emergency cost a year earlier", "Their total cost.", zh: "其费用合计。"),
            ReportColumn("cost_per_visit_growth", .decimal, unit: "%", zh: "次均门急诊费用增幅", en: "Cost per visit growth",
                         builtOn: ["outpatient_emergency_visits", "prior_year_visits"],
                         "(cost_per_visit ÷ a year earlier's − 1) × 100.", zh: "（次均门急诊费用 ÷ 上年同期值 − 1）× 100。"),
            ReportColumn("prior_year_discharges", .integer, unit: "discharges", zh: "上年同期出院人次",
                         en: "Discharges a year earlier", personCount: true,
                         "Discharges in the same month a year earlier.", zh: "上年同月的出院人次。"),
            ReportColumn("prior_year_inpatient_cost", .decimal, unit: "yuan", zh: "上年同期住院费用",
                         en: "Inpatient cost a year earlier", "Their total cost.", zh: "其费用合计。"),
            ReportColumn("cost_per_stay_growth", .decimal, unit: "%", zh: "次均住院费用增幅", en: "Cost per stay growth",
                         builtOn: ["discharges", "prior_year_discharges"],
                         "(cost_per_stay ÷ a year earlier's − 1) × 100.", zh: "（次均住院费用 ÷ 上年同期值 − 1）× 100。"),
        ]
    )

    /// A facility's region filter: the facilities inside it.
    static let facilitiesInRegion = ReportParameter(
        "region", .region, zh: "区域", en: "Region",
        "Province, city or county code; facilities inside it.", zh: "省、市或区县代码；其辖区内的机构。")

    /// The facility a row of a per-facility report is about.
    static let facilityNamed = [
        ReportColumn("facility_code", .text, zh: "机构代码", en: "Facility code", "The facility.", zh: "机构。"),
        ReportColumn("facility_name", .text, zh: "机构名称", en: "Facility name", "Its registered name.", zh: "其登记名称。"),
    ]

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
        descriptionZh: "超出卫健委阈值的机构月份（表 reports.thresholds，kind 'alert'：默认药占比 > 30%、耗占比 > 20%、"
            + "次均门急诊费用或次均住院费用增幅 > 10%；可用 `regio threshold set` 或 PUT /v1/admin/thresholds/alert/{indicator} "
            + "修改）——规则 'threshold'——或明显偏离同级机构的机构月份——规则 'peer'：与全区同月同级别的机构相比，"
            + "修正 Z 值 0.6745 × (指标值 − 同级中位数) ÷ MAD（中位数绝对偏差）在任一方向上超过 `peer_modified_z` 阈值（3.5），"
            + "前提是至少 5 家同级机构有值且其 MAD 不为 0。同级比较指标：drug_share（药占比）、consumables_share（耗占比）、"
            + "cost_per_visit（次均门急诊费用）、cost_per_stay（次均住院费用）、average_length_of_stay（平均住院日）、"
            + "bed_occupancy_rate（病床使用率）。",
        roles: bureauRoles,
        parameters: [
            facilitiesInRegion,
            tierFilter,
            ReportParameter("facility", .facility, zh: "机构", en: "Facility", "One facility.", zh: "单个机构。"),
        ] + months,
        columns: facilityNamed + [
            ReportColumn("tier", .integer, zh: "级别", en: "Tier", "Its tier: the peer group.", zh: "其级别，即同级比较组。"),
            ReportColumn("county_code", .text, zh: "区县代码", en: "County code", "Its county.", zh: "其所在区县。"),
            calendarMonth,
            ReportColumn("indicator", .text, zh: "指标", en: "Indicator",
                         "drug_share, consumables_share, cost_per_visit(_growth), "
                            + "cost_per_stay(_growth), average_length_of_stay or bed_occupancy_rate.",
                         zh: "drug_share（药占比）、consumables_share（耗占比）、cost_per_visit(_growth)（次均门急诊费用及其增幅）、"
                            + "cost_per_stay(_growth)（次均住院费用及其增幅）、average_length_of_stay（平均住院日）"
                            + "或 bed_occupancy_rate（病床使用率）。"),
            ReportColumn("rule", .text, zh: "规则", en: "Rule",
                         "threshold (a bureau threshold) or peer (modified z-score).",
                         zh: "threshold（卫健委阈值）或 peer（修正 Z 值）。"),
            ReportColumn("value", .decimal, zh: "指标值", en: "Value",
                         "The facility's value, in the indicator's unit.", zh: "机构的指标值，单位同该指标。"),
            ReportColumn("threshold", .decimal, zh: "阈值", en: "Threshold",
                         "The bureau threshold, or the z-score limit for rule peer.",
                         zh: "卫健委阈值；规则为 peer 时为 Z 值界限。"),
            ReportColumn("peer_median", .decimal, zh: "同级中位数", en: "Peer median",
                         "Median of the indicator over the tier's facilities that month.", zh: "当月同级机构该指标的中位数。"),
            ReportColumn("peers", .integer, unit: "facilities", zh: "同级机构数", en: "Peers",
                         "Facilities of the tier with a value that month.", zh: "当月该指标有值的同级机构数。"),
            ReportColumn("modified_z", .decimal, unit: "z", zh: "修正Z值", en: "Modified z-score",
                         "For rule peer: 0.6745 × (value − median) ÷ MAD.",
                         zh: "规则为 peer 时：0.6745 × (指标值 − 中位数) ÷ MAD。"),
            ReportColumn("numerator", .decimal, zh: "分子", en: "Numerator",
                         "The indicator's numerator (for growth: cost × prior count − prior cost × count).",
                         zh: "指标的分子（增幅：费用 × 上年同期人次 − 上年同期费用 × 人次）。"),
            ReportColumn("denominator", .decimal, zh: "分母", en: "Denominator",
                         "The indicator's denominator (for growth: prior cost × count).",
                         zh: "指标的分母（增幅：上年同期费用 × 人次）。"),
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
        descriptionZh: "按单位和业务日期统计：应报抽取数据份数（每个在用机构每晚一份）、已收、已入库及按时入库份数"
            + "（次日北京时间 06:00 前收到：设置项 extract_deadline_hour）；上报率和及时率；接收行数和拒收行数、"
            + "按错误代码分类的拒收行数；以及已运行和未通过的合理性检查（阈值见 reports.thresholds，kind 'quality'；"
            + "各检查的明细见 data-quality-checks 报表）。机构某晚的情况以其最新批次（试运行除外）判定，"
            + "是否按时以其首个已入库批次判定。",
        roles: bureauRoles.union([.facility]),
        parameters: unitFilters + nights,
        columns: unitLabels + [
            ReportColumn("business_date", .date, zh: "业务日期", en: "Business date", "The night.", zh: "夜间（业务日）。"),
            ReportColumn("expected_extracts", .integer, unit: "extracts", zh: "应报", en: "Expected",
                         "Active facilities in the unit.", zh: "单位内在用机构数。"),
            ReportColumn("received_extracts", .integer, unit: "extracts", zh: "已收", en: "Received",
                         "Facilities that sent a batch for the night.", zh: "当晚报送了批次的机构数。"),
            ReportColumn("loaded_extracts", .integer, unit: "extracts", zh: "已入库", en: "Loaded",
                         "Facilities with a loaded batch for the night.", zh: "当晚有已入库批次的机构数。"),
            ReportColumn("on_time_extracts", .integer, unit: "extracts", zh: "按时", en: "On time",
                         "Loaded batches received before the deadline.", zh: "在截止时间前收到的已入库批次数。"),
            ReportColumn("reporting_rate", .decimal, unit: "%", zh: "上报率", en: "Reporting rate",
                         "loaded_extracts ÷ expected_extracts × 100.", zh: "已入库 ÷ 应报 × 100。"),
            ReportColumn("on_time_rate", .decimal, unit: "%", zh: "及时率", en: "On-time rate",
                         "on_time_extracts ÷ expected_extracts × 100.", zh: "按时 ÷ 应报 × 100。"),
            ReportColumn("rows_received", .integer, unit: "rows", zh: "接收行数", en: "Rows received",
                         "Data rows in the judged batches.", zh: "所判定批次中的数据行数。"),
            ReportColumn("rows_rejected", .integer, unit: "rows", zh: "拒收行数", en: "Rows rejected",
                         "Rows rejected with an error.", zh: "因错误被拒收的行数。"),
            ReportColumn("rejected_share", .decimal, unit: "%", zh: "拒收率", en: "Rejected share",
                         "rows_rejected ÷ rows_received × 100.", zh: "拒收行数 ÷ 接收行数 × 100。"),
            rejectedByCode,
            ReportColumn("checks_run", .integer, unit: "checks", zh: "检查项", en: "Checks run",
                         "Plausibility checks with applicable rows.", zh: "有适用行的合理性检查项数。"),
            ReportColumn("checks_failed", .integer, unit: "checks", zh: "未通过", en: "Checks failed",
                         "Checks whose value breaches the threshold.", zh: "检查值超出阈值的检查项数。"),
            ReportColumn("failed_checks", .text, zh: "未通过项", en: "Failed checks",
                         "Each failed check with its value and threshold (above facility level, prefixed by the facility code).",
                         zh: "每个未通过的检查项及其值和阈值（机构以上层级时以机构代码为前缀）。"),
        ]
    )

    static let dataQualityChecks = ReportDefinition(
        id: "data-quality-checks",
        titleZh: "数据质量检查明细",
        titleEn: "Data-quality checks",
        description: "Every plausibility check of each facility's latest batch per business date (dry runs aside): "
            + "failing and applicable rows, the value in %, the threshold (reports.thresholds, kind 'quality', "
            + "editable like the alert thresholds) and pass, fail, or n/a when no row was applicable.",
        descriptionZh: "每个机构每个业务日期最新批次（试运行除外）的各项合理性检查：未通过行数和适用行数、以 % 表示的检查值、"
            + "阈值（reports.thresholds，kind 'quality'，可与预警阈值一样修改），以及结果 pass（通过）、fail（未通过），"
            + "无适用行时为 n/a（不适用）。",
        roles: bureauRoles.union([.facility]),
        parameters: [facilitiesInRegion, facilityFilter] + nights,
        columns: facilityNamed + [
            ReportColumn("business_date", .date, zh: "业务日期", en: "Business date", "The night.", zh: "夜间（业务日）。"),
            ReportColumn("batch_id", .integer, zh: "批次号", en: "Batch", "The batch judged.", zh: "所判定的批次。"),
            ReportColumn("check_id", .text, zh: "检查项", en: "Check",
                         "The check (reports.thresholds.indicator).", zh: "检查项（reports.thresholds.indicator）。"),
            ReportColumn("description", .text, zh: "说明", en: "Description", "What it measures.", zh: "检查的内容。"),
            ReportColumn("failing_rows", .integer, unit: "rows", zh: "未通过行数", en: "Failing rows",
                         "Rows failing the check.", zh: "未通过该检查的行数。"),
            ReportColumn("applicable_rows", .integer, unit: "rows", zh: "适用行数", en: "Applicable rows",
                         "Rows the check applies to.", zh: "该检查适用的行数。"),
            ReportColumn("value", .decimal, unit: "%", zh: "值", en: "Value",
                         "failing_rows ÷ applicable_rows × 100.", zh: "未通过行数 ÷ 适用行数 × 100。"),
            ReportColumn("fails_when", .text, zh: "阈值", en: "Fails when",
                         "The comparison that fails, e.g. `> 5`.", zh: "判为未通过的比较条件，如 `> 5`。"),
            ReportColumn("status", .text, zh: "结果", en: "Result",
                         "pass, fail, or n/a.", zh: "pass（通过）、fail（未通过）或 n/a（不适用）。"),
        ]
    )
}
