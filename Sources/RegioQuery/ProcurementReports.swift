import RegioCore

/// The procurement alliances' reports (`../shared/REPORTS.md`, docs/procurement.md). An alliance
/// token sees its own alliance's members only; the bureau and admins see every alliance (one row
/// set per alliance). Prices are yuan per base unit, from the purchase rollup.
extension ReportCatalog {
    static let allianceRoles: Set<Role> = [.alliance, .bureau, .admin]

    static let allianceFilter = ReportParameter(
        "alliance", .alliance, zh: "联盟", en: "Alliance",
        "Alliance code; an alliance token gets its own (default for others: every alliance).",
        zh: "联盟代码；使用联盟令牌时为本联盟（其他角色默认：全部联盟）。")

    static let allianceFilters = [allianceFilter] + months + [
        ReportParameter("item", .item, zh: "药品耗材", en: "Item",
                        "One standard item, by national code.", zh: "单个标准药品或耗材，按国家编码指定。"),
        ReportParameter("group", .group, zh: "通用名分组", en: "Generic group",
                        "One generic group (its selected and non-selected products).",
                        zh: "单个通用名分组（含其中选和非中选产品）。"),
    ]

    static let memberFilter = ReportParameter(
        "member", .facility, zh: "成员机构", en: "Member",
        "One member's rows (by facility code); the statistics stay the alliance's.",
        zh: "仅显示一个成员机构的行（按机构代码）；统计量仍按全联盟计算。")

    static let allianceColumn = ReportColumn("alliance_code", .text, zh: "联盟", en: "Alliance", "The alliance.", zh: "所属联盟。")

    static let purchaseMonth = ReportColumn("month", .month, zh: "月份", en: "Month",
                                            "Calendar month of the purchase date.", zh: "采购日期所在的自然月。")

    static let itemColumns = [
        ReportColumn("national_code", .text, zh: "国家编码", en: "National code",
                     "The standard item's national code (NHSA drug or consumables code).",
                     zh: "标准品种的国家编码（国家医保局药品或耗材编码）。"),
        ReportColumn("generic_name", .text, zh: "通用名", en: "Generic name",
                     "Its generic name in the catalogue.", zh: "其在目录中的通用名。"),
    ]

    static let baseUnit = ReportColumn("base_unit", .text, zh: "最小计价单位", en: "Base unit",
                                       "The unit prices are per.", zh: "价格所对应的单位。")

    /// A member's code and name: emptied for publication.
    static let memberNamed = [
        ReportColumn("member_code", .text, zh: "成员机构代码", en: "Member code", namesMember: true,
                     "The member's facility code; empty for publication.", zh: "成员机构的机构代码；对外发布时为空。"),
        ReportColumn("member_name", .text, zh: "成员机构", en: "Member", namesMember: true,
                     "The member's name; empty for publication.", zh: "成员机构名称；对外发布时为空。"),
    ]

    static let memberColumns = [
        ReportColumn("member_rank", .integer, zh: "排名", en: "Rank",
                     "The member's rank by its price for the item that month, cheapest first.",
                     zh: "成员机构按当月该品种价格的排名，价格最低者居首。"),
    ] + memberNamed

    static let referenceSource = ReportColumn("reference_source", .text, zh: "参考价来源", en: "Reference source",
                                              "agreed or median.", zh: "agreed（联盟议定价）或 median（中位价）。")

    static let purchaseTotals = [
        ReportColumn("base_units", .decimal, unit: "base units", zh: "采购数量", en: "Base units",
                     "Σ quantity × pack size.", zh: "Σ 数量 × 包装数量。"),
        ReportColumn("amount", .decimal, unit: "yuan", zh: "采购金额", en: "Amount",
                     "Σ unit price × quantity.", zh: "Σ 单价 × 数量。"),
    ]

    static let membersBuying = ReportColumn("members", .integer, unit: "members", zh: "采购成员数", en: "Members buying",
                                            "Members buying the item that month.", zh: "当月采购该品种的成员机构数。")

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
        descriptionZh: "按联盟、月份和标准品种（按最小计价单位即最小发药单位计价）统计：各成员机构的数量加权单价 = Σ 金额 ÷ "
            + "Σ 其采购明细的最小计价单位数量；当月采购该品种的成员机构之间的最低价、25 分位、中位数、75 分位和最高价（插值）"
            + "及变异系数（总体标准差 ÷ 均值 × 100）；参考价——当月有效的联盟议定价（协议按整月执行），否则为成员机构价格的"
            + "中位数；价格比 = 成员机构价格 ÷ 参考价；节约潜力 = 对该成员高于参考价的采购，Σ (单价 − 参考价) × 最小计价单位"
            + "数量。包装数量与其规格或目录不符的采购明细在数据管理员确认前不计入（待核实笔数）。",
        roles: allianceRoles,
        parameters: allianceFilters + [memberFilter],
        columns: [allianceColumn, purchaseMonth] + itemColumns + [
            ReportColumn("spec", .text, zh: "规格", en: "Spec", "The item's spec in the catalogue.", zh: "该品种在目录中的规格。"),
            ReportColumn("base_unit", .text, zh: "最小计价单位", en: "Base unit",
                         "The unit prices are per (片, 粒, 支 …).", zh: "价格所对应的单位（片、粒、支……）。"),
        ] + memberColumns + [
            ReportColumn("lines", .integer, unit: "lines", zh: "采购笔数", en: "Lines",
                         "The member's comparable purchase lines.", zh: "该成员可比的采购明细笔数。"),
        ] + purchaseTotals + [
            ReportColumn("price", .decimal, unit: "yuan", zh: "加权单价", en: "Price",
                         "amount ÷ base_units: the member's price per base unit.",
                         zh: "采购金额 ÷ 采购数量：该成员每最小计价单位的价格。"),
            membersBuying,
            ReportColumn("min_price", .decimal, unit: "yuan", zh: "最低价", en: "Min price",
                         "Lowest member price.", zh: "成员机构价格的最低值。"),
            ReportColumn("p25_price", .decimal, unit: "yuan", zh: "25分位价", en: "25th percentile",
                         "25th percentile of the member prices.", zh: "成员机构价格的第 25 百分位数。"),
            ReportColumn("median_price", .decimal, unit: "yuan", zh: "中位价", en: "Median price",
                         "Median of the member prices.", zh: "成员机构价格的中位数。"),
            ReportColumn("p75_price", .decimal, unit: "yuan", zh: "75分位价", en: "75th percentile",
                         "75th percentile of the member prices.", zh: "成员机构价格的第 75 百分位数。"),
            ReportColumn("max_price", .decimal, unit: "yuan", zh: "最高价", en: "Max price",
                         "Highest member price.", zh: "成员机构价格的最高值。"),
            ReportColumn("cv", .decimal, unit: "%", zh: "变异系数", en: "Coefficient of variation",
                         "Population standard deviation of the member prices ÷ their mean × 100.",
                         zh: "成员机构价格的总体标准差 ÷ 其均值 × 100。"),
            ReportColumn("agreed_price", .decimal, unit: "yuan", zh: "联盟议定价", en: "Agreed price",
                         "The alliance's agreed price in force that month, if any.", zh: "当月有效的联盟议定价（如有）。"),
            ReportColumn("listed_price", .decimal, unit: "yuan", zh: "挂网价", en: "Listed price",
                         "The provincial platform's listed price in force, if loaded.", zh: "省级平台当时有效的挂网价（如已导入）。"),
            ReportColumn("reference_price", .decimal, unit: "yuan", zh: "参考价", en: "Reference price",
                         "agreed_price, or else median_price.", zh: "联盟议定价，没有时为中位价。"),
            referenceSource,
            ReportColumn("price_ratio", .decimal, unit: "ratio", zh: "价格比", en: "Price ratio",
                         "price ÷ reference_price.", zh: "加权单价 ÷ 参考价。"),
            ReportColumn("savings_potential", .decimal, unit: "yuan", zh: "节约潜力", en: "Savings potential",
                         "Σ (line price − reference) × base units over the member's lines priced above the reference.",
                         zh: "对该成员高于参考价的采购明细，Σ (明细单价 − 参考价) × 最小计价单位数量。"),
            ReportColumn("item_savings_potential", .decimal, unit: "yuan", zh: "品种节约潜力", en: "Item savings potential",
                         "savings_potential summed over the members.", zh: "各成员机构节约潜力之和。"),
            ReportColumn("flagged_lines", .integer, unit: "lines", zh: "待核实笔数", en: "Flagged lines",
                         "The member's lines of the item that month left out: pack size or base unit in doubt.",
                         zh: "该成员当月该品种未计入的采购明细：包装数量或最小计价单位存疑。"),
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
        descriptionZh: "成员机构的采购（同一月份、品种、配送企业和每最小计价单位价格的采购明细）高于该品种当月参考价"
            + "（同 price-comparison）超过容差（默认 10%，设置项 price_tolerance_percent）——规则 tolerance——或在全联盟"
            + "当月该品种的采购明细中修正 Z 值超过 3.5（设置项 price_modified_z）——规则 z-score：0.6745 × (单价 − 中位数) "
            + "÷ 各明细的 MAD（中位数绝对偏差），MAD 为 0 时不判定。超支金额 = (单价 − 参考价) × 最小计价单位数量。",
        roles: allianceRoles,
        parameters: allianceFilters + [
            memberFilter,
            ReportParameter("tolerance", .percent, zh: "容差", en: "Tolerance",
                            "Tolerance above the reference, in % (default: setting price_tolerance_percent, 10).",
                            zh: "高于参考价的容差，单位 %（默认：设置项 price_tolerance_percent，10）。"),
        ],
        columns: [allianceColumn, purchaseMonth] + itemColumns + [baseUnit] + memberColumns + [
            ReportColumn("supplier", .text, zh: "配送企业", en: "Supplier",
                         "The supplier the lines name.", zh: "采购明细所列的配送企业。"),
            ReportColumn("price", .decimal, unit: "yuan", zh: "单价", en: "Price",
                         "Price per base unit of these lines.", zh: "这些明细每最小计价单位的价格。"),
            ReportColumn("lines", .integer, unit: "lines", zh: "笔数", en: "Lines", "Lines at this price.", zh: "该价格的采购明细笔数。"),
            ReportColumn("base_units", .decimal, unit: "base units", zh: "数量", en: "Base units",
                         "Their base units.", zh: "其最小计价单位数量。"),
            ReportColumn("reference_price", .decimal, unit: "yuan", zh: "参考价", en: "Reference price",
                         "The item's reference that month.", zh: "该品种当月的参考价。"),
            referenceSource,
            ReportColumn("excess_percent", .decimal, unit: "%", zh: "超出比例", en: "Excess",
                         "(price ÷ reference − 1) × 100.", zh: "（单价 ÷ 参考价 − 1）× 100。"),
            ReportColumn("median_line_price", .decimal, unit: "yuan", zh: "笔单价中位数", en: "Median line price",
                         "Median price of the item's lines that month.", zh: "当月该品种各采购明细价格的中位数。"),
            ReportColumn("modified_z", .decimal, unit: "z", zh: "修正Z值", en: "Modified z-score",
                         "0.6745 × (price − median) ÷ MAD; empty when the MAD is 0.",
                         zh: "0.6745 × (单价 − 中位数) ÷ MAD；MAD 为 0 时为空。"),
            ReportColumn("rule", .text, zh: "规则", en: "Rule",
                         "tolerance, z-score, or both.", zh: "tolerance（容差）、z-score（修正 Z 值）或 both（两者）。"),
            ReportColumn("excess_cost", .decimal, unit: "yuan", zh: "超支金额", en: "Excess cost",
                         "(price − reference) × base units, when above.", zh: "高于参考价时，(单价 − 参考价) × 最小计价单位数量。"),
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
        descriptionZh: "按联盟、成员机构和约定（中选）产品，取该月有效的协议周期（默认：当月；周期按整月执行）：完成率 = "
            + "周期首月至该月采购的最小计价单位数量 ÷ 约定采购量 × 100；时间进度 = 周期内截至该月的月数 ÷ 周期总月数 × 100；"
            + "完成率 ≥ 时间进度即为进度达标。非中选产品占比 = 该成员同一通用名分组中其他产品（该周期内联盟任何约定均未列明的"
            + "产品）的最小计价单位数量 ÷ 其该分组全部最小计价单位数量 × 100。",
        roles: allianceRoles,
        parameters: [
            allianceFilter,
            ReportParameter("month", .month, zh: "截至月份", en: "Through month",
                            "The month to judge through, YYYY-MM (default: the current month).",
                            zh: "统计截至的月份，YYYY-MM（默认：当月）。"),
            ReportParameter("item", .item, zh: "药品耗材", en: "Item",
                            "One committed product, by national code.", zh: "单个约定产品，按国家编码指定。"),
            ReportParameter("group", .group, zh: "通用名分组", en: "Generic group", "One generic group.", zh: "单个通用名分组。"),
            memberFilter,
        ],
        columns: [
            allianceColumn,
            ReportColumn("member_rank", .integer, zh: "排名", en: "Rank",
                         "The member's rank by completion among those committed to the product, highest first.",
                         zh: "在约定该产品的成员机构中按完成率的排名，最高者居首。"),
        ] + memberNamed + itemColumns + [
            ReportColumn("generic_group", .text, zh: "通用名组", en: "Generic group",
                         "The product's generic group.", zh: "该产品所属的通用名分组。"),
            ReportColumn("cycle_start", .date, zh: "周期开始", en: "Cycle start",
                         "First day of the agreement cycle.", zh: "协议周期的第一天。"),
            ReportColumn("cycle_end", .date, zh: "周期结束", en: "Cycle end",
                         "Last day of the agreement cycle.", zh: "协议周期的最后一天。"),
            ReportColumn("through_month", .month, zh: "统计截至", en: "Through month",
                         "The month judged through.", zh: "统计截至的月份。"),
            ReportColumn("committed_base_units", .decimal, unit: "base units", zh: "约定采购量", en: "Committed quantity",
                         "Base units committed for the cycle.", zh: "该周期约定的最小计价单位数量。"),
            ReportColumn("purchased_base_units", .decimal, unit: "base units", zh: "实际采购量", en: "Purchased quantity",
                         "Comparable base units of the product bought in the cycle through the month.",
                         zh: "周期内截至该月采购该产品的可比最小计价单位数量。"),
            ReportColumn("completion", .decimal, unit: "%", zh: "完成率", en: "Completion",
                         "purchased ÷ committed × 100.", zh: "实际采购量 ÷ 约定采购量 × 100。"),
            ReportColumn("elapsed_share", .decimal, unit: "%", zh: "时间进度", en: "Time elapsed",
                         "Months of the cycle through the month ÷ its months × 100.",
                         zh: "周期内截至该月的月数 ÷ 周期总月数 × 100。"),
            ReportColumn("on_track", .text, zh: "进度达标", en: "On track",
                         "yes when completion ≥ elapsed_share, else no.", zh: "完成率 ≥ 时间进度时为 yes（达标），否则为 no。"),
            ReportColumn("nonselected_base_units", .decimal, unit: "base units", zh: "非中选产品采购量",
                         en: "Non-selected quantity",
                         "Base units of the generic group's non-selected products over the same months.",
                         zh: "同期该通用名分组中非中选产品的最小计价单位数量。"),
            ReportColumn("nonselected_share", .decimal, unit: "%", zh: "非中选产品占比", en: "Non-selected share",
                         "nonselected ÷ all base units of the generic group × 100.",
                         zh: "非中选产品采购量 ÷ 该通用名分组全部最小计价单位数量 × 100。"),
        ]
    )

    static let priceTrend = ReportDefinition(
        id: "price-trend",
        titleZh: "采购价格趋势",
        titleEn: "Price trend",
        description: "Per alliance, standard item and month: the median price per base unit of the members' comparable lines "
            + "(each line one value), the quantity-weighted mean, and the agreed price in force that month (the line to compare "
            + "against) with the provincial listed price.",
        descriptionZh: "按联盟、标准品种和月份统计：成员机构可比采购明细每最小计价单位价格的中位数（每笔明细计一个值）、"
            + "数量加权均价，以及当月有效的联盟议定价（作为比较的基准线）和省级挂网价。",
        roles: allianceRoles,
        parameters: allianceFilters,
        columns: [allianceColumn] + itemColumns + [
            baseUnit,
            purchaseMonth,
            membersBuying,
            ReportColumn("lines", .integer, unit: "lines", zh: "采购笔数", en: "Lines", "Comparable lines.", zh: "可比的采购明细笔数。"),
        ] + purchaseTotals + [
            ReportColumn("median_price", .decimal, unit: "yuan", zh: "中位单价", en: "Median price",
                         "Median price per base unit of the lines.", zh: "各采购明细每最小计价单位价格的中位数。"),
            ReportColumn("mean_price", .decimal, unit: "yuan", zh: "加权平均单价", en: "Weighted mean price",
                         "amount ÷ base_units.", zh: "采购金额 ÷ 采购数量。"),
            ReportColumn("agreed_price", .decimal, unit: "yuan", zh: "联盟议定价", en: "Agreed price",
                         "The agreed price in force that month, if any.", zh: "当月有效的联盟议定价（如有）。"),
            ReportColumn("listed_price", .decimal, unit: "yuan", zh: "挂网价", en: "Listed price",
                         "The listed price in force, if loaded.", zh: "当时有效的挂网价（如已导入）。"),
        ]
    )
}
