import RegioCore

/// The procurement alliances' reports (`../shared/REPORTS.md`, docs/procurement.md). An alliance
/// token sees its own alliance's members only; the bureau and admins see every alliance (one row
/// set per alliance). Prices are yuan per base unit, from the purchase rollup.
extension ReportCatalog {
    static let allianceRoles: Set<Role> = [.alliance, .bureau, .admin]

    static let allianceFilters = [
        ReportParameter("alliance", .alliance, "Alliance code; an alliance token gets its own (default for others: every alliance)."),
        ReportParameter("from", .month, "First month YYYY-MM (default: 11 months before `to`)."),
        ReportParameter("to", .month, "Last month YYYY-MM (default: the current month)."),
        ReportParameter("item", .item, "One standard item, by national code."),
        ReportParameter("group", .group, "One generic group (its selected and non-selected products)."),
    ]

    static let memberFilter = ReportParameter("member", .facility, "One member's rows (by facility code); the statistics stay the alliance's.")

    static let itemColumns = [
        ReportColumn("national_code", .text, zh: "国家编码", "The standard item's national code (NHSA drug or consumables code)."),
        ReportColumn("generic_name", .text, zh: "通用名", "Its generic name in the catalogue."),
    ]

    static let memberColumns = [
        ReportColumn("member_rank", .integer, zh: "排名", "The member's rank by its price for the item that month, cheapest first."),
        ReportColumn("member_code", .text, zh: "成员机构代码", namesMember: true, "The member's facility code; empty for publication."),
        ReportColumn("member_name", .text, zh: "成员机构", namesMember: true, "The member's name; empty for publication."),
    ]

    static let priceComparison = ReportDefinition(
        id: "price-comparison",
        titleZh: "采购价格比较",
        titleEn: "Price comparison",
        description: "Per alliance, month and standard item (priced per base unit, the smallest dispensing unit): each member's "
            + "quantity-weighted price = Σ amount ÷ Σ base units of its lines; across the members buying it that month the min, "
            + "25th percentile, median, 75th percentile and max (interpolated) and the coefficient of variation (population "
            + "standard deviation ÷ mean × 100); the reference price — the alliance's agreed price in force that month (agreements "
            + "run in whole months), otherwise the members' median; price ratio = member price ÷ reference; savings potential = "
            + "Σ (price − reference) × base units over the member's purchases priced above the reference. Lines whose pack size "
            + "disagrees with their spec or the catalogue are left out until a steward confirms them (flagged_lines).",
        roles: allianceRoles,
        parameters: allianceFilters + [memberFilter],
        columns: [
            ReportColumn("alliance_code", .text, zh: "联盟", "The alliance."),
            ReportColumn("month", .month, zh: "月份", "Calendar month of the purchase date."),
        ] + itemColumns + [
            ReportColumn("spec", .text, zh: "规格", "The item's spec in the catalogue."),
            ReportColumn("base_unit", .text, zh: "最小计价单位", "The unit prices are per (片, 粒, 支 …)."),
        ] + memberColumns + [
            ReportColumn("lines", .integer, unit: "lines", zh: "采购笔数", "The member's comparable purchase lines."),
            ReportColumn("base_units", .decimal, unit: "base units", zh: "采购数量", "Σ quantity × pack size."),
            ReportColumn("amount", .decimal, unit: "yuan", zh: "采购金额", "Σ unit price × quantity."),
            ReportColumn("price", .decimal, unit: "yuan", zh: "加权单价", "amount ÷ base_units: the member's price per base unit."),
            ReportColumn("members", .integer, unit: "members", zh: "采购成员数", "Members buying the item that month."),
            ReportColumn("min_price", .decimal, unit: "yuan", zh: "最低价", "Lowest member price."),
            ReportColumn("p25_price", .decimal, unit: "yuan", zh: "25分位价", "25th percentile of the member prices."),
            ReportColumn("median_price", .decimal, unit: "yuan", zh: "中位价", "Median of the member prices."),
            ReportColumn("p75_price", .decimal, unit: "yuan", zh: "75分位价", "75th percentile of the member prices."),
            ReportColumn("max_price", .decimal, unit: "yuan", zh: "最高价", "Highest member price."),
            ReportColumn("cv", .decimal, unit: "%", zh: "变异系数", "Population standard deviation of the member prices ÷ their mean × 100."),
            ReportColumn("agreed_price", .decimal, unit: "yuan", zh: "联盟议定价", "The alliance's agreed price in force that month, if any."),
            ReportColumn("listed_price", .decimal, unit: "yuan", zh: "挂网价", "The provincial platform's listed price in force, if loaded."),
            ReportColumn("reference_price", .decimal, unit: "yuan", zh: "参考价", "agreed_price, or else median_price."),
            ReportColumn("reference_source", .text, zh: "参考价来源", "agreed or median."),
            ReportColumn("price_ratio", .decimal, unit: "ratio", zh: "价格比", "price ÷ reference_price."),
            ReportColumn("savings_potential", .decimal, unit: "yuan", zh: "节约潜力",
                         "Σ (line price − reference) × base units over the member's lines priced above the reference."),
            ReportColumn("item_savings_potential", .decimal, unit: "yuan", zh: "品种节约潜力", "savings_potential summed over the members."),
            ReportColumn("flagged_lines", .integer, unit: "lines", zh: "待核实笔数",
                         "The member's lines of the item that month left out: pack size or base unit in doubt."),
        ]
    )

    static let priceOutliers = ReportDefinition(
        id: "price-outliers",
        titleZh: "采购价格异常",
        titleEn: "Price outliers",
        description: "Members' purchases (lines of one month, item, supplier and price per base unit) priced above the item's "
            + "reference that month (as in price-comparison) by more than the tolerance (default 10 %, setting "
            + "price_tolerance_percent) — rule tolerance — or with a modified z-score above 3.5 (setting price_modified_z) among "
            + "that month's lines of the item across the alliance — rule z-score: 0.6745 × (price − median) ÷ MAD over the lines, "
            + "none when the MAD is 0. Excess cost = (price − reference) × base units.",
        roles: allianceRoles,
        parameters: allianceFilters + [
            memberFilter,
            ReportParameter("tolerance", .percent, "Tolerance above the reference, in % (default: setting price_tolerance_percent, 10)."),
        ],
        columns: [
            ReportColumn("alliance_code", .text, zh: "联盟", "The alliance."),
            ReportColumn("month", .month, zh: "月份", "Calendar month of the purchase date."),
        ] + itemColumns + [
            ReportColumn("base_unit", .text, zh: "最小计价单位", "The unit prices are per."),
        ] + memberColumns + [
            ReportColumn("supplier", .text, zh: "配送企业", "The supplier the lines name."),
            ReportColumn("price", .decimal, unit: "yuan", zh: "单价", "Price per base unit of these lines."),
            ReportColumn("lines", .integer, unit: "lines", zh: "笔数", "Lines at this price."),
            ReportColumn("base_units", .decimal, unit: "base units", zh: "数量", "Their base units."),
            ReportColumn("reference_price", .decimal, unit: "yuan", zh: "参考价", "The item's reference that month."),
            ReportColumn("reference_source", .text, zh: "参考价来源", "agreed or median."),
            ReportColumn("excess_percent", .decimal, unit: "%", zh: "超出比例", "(price ÷ reference − 1) × 100."),
            ReportColumn("median_line_price", .decimal, unit: "yuan", zh: "笔单价中位数", "Median price of the item's lines that month."),
            ReportColumn("modified_z", .decimal, unit: "z", zh: "修正Z值", "0.6745 × (price − median) ÷ MAD; empty when the MAD is 0."),
            ReportColumn("rule", .text, zh: "规则", "tolerance, z-score, or both."),
            ReportColumn("excess_cost", .decimal, unit: "yuan", zh: "超支金额", "(price − reference) × base units, when above."),
        ]
    )

    static let vbpCompletion = ReportDefinition(
        id: "vbp-completion",
        titleZh: "带量采购完成进度",
        titleEn: "Volume-based procurement completion",
        description: "Per alliance, member and committed (selected) product, the agreement cycle in force in the month (default: "
            + "the current month; cycles run in whole months): completion = base units bought from the cycle's first month through "
            + "that month ÷ committed base units × 100; elapsed share = the cycle's months through that month ÷ its months × 100; "
            + "on track when completion ≥ elapsed share. Non-selected share = the member's base units of the same generic group's "
            + "other products (named by no commitment of the alliance for that cycle) ÷ all its base units of the group × 100.",
        roles: allianceRoles,
        parameters: [
            ReportParameter("alliance", .alliance, "Alliance code; an alliance token gets its own (default for others: every alliance)."),
            ReportParameter("month", .month, "The month to judge through, YYYY-MM (default: the current month)."),
            ReportParameter("item", .item, "One committed product, by national code."),
            ReportParameter("group", .group, "One generic group."),
            memberFilter,
        ],
        columns: [
            ReportColumn("alliance_code", .text, zh: "联盟", "The alliance."),
            ReportColumn("member_rank", .integer, zh: "排名", "The member's rank by completion among those committed to the product, highest first."),
            ReportColumn("member_code", .text, zh: "成员机构代码", namesMember: true, "The member's facility code; empty for publication."),
            ReportColumn("member_name", .text, zh: "成员机构", namesMember: true, "The member's name; empty for publication."),
        ] + itemColumns + [
            ReportColumn("generic_group", .text, zh: "通用名组", "The product's generic group."),
            ReportColumn("cycle_start", .date, zh: "周期开始", "First day of the agreement cycle."),
            ReportColumn("cycle_end", .date, zh: "周期结束", "Last day of the agreement cycle."),
            ReportColumn("through_month", .month, zh: "统计截至", "The month judged through."),
            ReportColumn("committed_base_units", .decimal, unit: "base units", zh: "约定采购量", "Base units committed for the cycle."),
            ReportColumn("purchased_base_units", .decimal, unit: "base units", zh: "实际采购量",
                         "Comparable base units of the product bought in the cycle through the month."),
            ReportColumn("completion", .decimal, unit: "%", zh: "完成率", "purchased ÷ committed × 100."),
            ReportColumn("elapsed_share", .decimal, unit: "%", zh: "时间进度", "Months of the cycle through the month ÷ its months × 100."),
            ReportColumn("on_track", .text, zh: "进度达标", "yes when completion ≥ elapsed_share, else no."),
            ReportColumn("nonselected_base_units", .decimal, unit: "base units", zh: "非中选产品采购量",
                         "Base units of the generic group's non-selected products over the same months."),
            ReportColumn("nonselected_share", .decimal, unit: "%", zh: "非中选产品占比",
                         "nonselected ÷ all base units of the generic group × 100."),
        ]
    )

    static let priceTrend = ReportDefinition(
        id: "price-trend",
        titleZh: "采购价格趋势",
        titleEn: "Price trend",
        description: "Per alliance, standard item and month: the median price per base unit of the members' comparable lines "
            + "(each line one value), the quantity-weighted mean, and the agreed price in force that month (the line to compare "
            + "against) with the provincial listed price.",
        roles: allianceRoles,
        parameters: allianceFilters,
        columns: [ReportColumn("alliance_code", .text, zh: "联盟", "The alliance.")] + itemColumns + [
            ReportColumn("base_unit", .text, zh: "最小计价单位", "The unit prices are per."),
            ReportColumn("month", .month, zh: "月份", "Calendar month of the purchase date."),
            ReportColumn("members", .integer, unit: "members", zh: "采购成员数", "Members buying the item that month."),
            ReportColumn("lines", .integer, unit: "lines", zh: "采购笔数", "Comparable lines."),
            ReportColumn("base_units", .decimal, unit: "base units", zh: "采购数量", "Σ quantity × pack size."),
            ReportColumn("amount", .decimal, unit: "yuan", zh: "采购金额", "Σ unit price × quantity."),
            ReportColumn("median_price", .decimal, unit: "yuan", zh: "中位单价", "Median price per base unit of the lines."),
            ReportColumn("mean_price", .decimal, unit: "yuan", zh: "加权平均单价", "amount ÷ base_units."),
            ReportColumn("agreed_price", .decimal, unit: "yuan", zh: "联盟议定价", "The agreed price in force that month, if any."),
            ReportColumn("listed_price", .decimal, unit: "yuan", zh: "挂网价", "The listed price in force, if loaded."),
        ]
    )
}
