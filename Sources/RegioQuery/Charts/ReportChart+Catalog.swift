import Foundation
import RegioCore

/// The chart of each catalog report.
extension ReportChart {
    // MARK: Levelled monthly reports

    /// A levelled monthly report (`level`, `unit_code`, `unit_name`, `month`): lines of `series` per
    /// month for one unit; for several, small multiples per unit on a shared scale, the
    /// `topUnits` largest by Σ `rankBy`.
    static func monthlyByUnit(_ table: ReportTable, series: [String], rankBy: String, rankWords: (zh: String, en: String),
                              threshold: ChartThreshold? = nil) -> String? {
        guard table.has("unit_code", "month"), series.allSatisfy({ table.has($0) }) else { return nil }
        let x = table.timeAxis(table.rows.compactMap { table.text($0, "month") })
        let units = table.grouped { table.text($0, "unit_code") ?? "" }
        let unit = table.commonUnit(series)
        let valueTitle = series.count == 1 ? table.title(series[0]) : nil
        let measures = table.words.list(series.map(table.title))
        let subtitle = measures == table.reportTitle ? "" : measures
        func seriesOf(_ rows: [[ReportValue]]) -> [ChartSeries] {
            series.map { name in
                var byMonth: [String: Double] = [:]
                for row in rows {
                    if let month = table.text(row, "month"), let value = table.number(row, name) { byMonth[month] = value }
                }
                return ChartSeries(name: table.title(name), values: x.map { byMonth[$0] })
            }
        }
        func label(_ group: (key: String, rows: [[ReportValue]])) -> String {
            group.rows.lazy.compactMap { table.text($0, "unit_name") }.first ?? (group.key.isEmpty ? "—" : group.key)
        }
        let suppressed = table.suppressedCount(table.rows, series)
        let suppressedNote = suppressed > 0
            ? table.l("\(suppressed) 个小数值单元格按规定隐藏，显示为空缺。", "Suppressed small cells shown as gaps: \(suppressed).")
            : nil
        if units.count <= 1 {
            let name = units.first.map(label)
            let note = [name.map { table.l("统计单位：\($0)。", "Reporting unit: \($0).") }, suppressedNote].compactMap { $0 }
                .joined(separator: " ")
            let titled = name.map { subtitle.isEmpty ? $0 : subtitle + table.l("（\($0)）", " (\($0))") } ?? subtitle
            return LineChart(title: table.chartTitle(titled),
                             x: x, series: seriesOf(units.first?.rows ?? []), unit: unit, valueAxisTitle: valueTitle,
                             xAxisTitle: table.title("month"), threshold: threshold, note: note)
                .svg(idPrefix: table.idPrefix, language: table.language)
        }
        let ranked = table.top(units, topUnits, inReportOrder: true) { table.sum($0, rankBy) }
        let noun = table.levelNoun(table.rows.lazy.compactMap { table.text($0, "level") }.first)
        let note = [table.topNote(shown: ranked.count, of: units.count, noun: noun, rank: rankWords), suppressedNote]
            .compactMap { $0 }.joined(separator: " ")
        return SmallMultiplesChart(title: table.chartTitle(subtitle), x: x,
                                   panels: ranked.map { SmallMultiplesChart.Panel(title: label($0), series: seriesOf($0.rows)) },
                                   unit: unit, valueAxisTitle: valueTitle ?? (unit.isEmpty ? nil : measures), threshold: threshold,
                                   note: note)
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    // MARK: Bureau

    /// Staffed beds by county, one bar per tier; the counties with the most beds.
    static func registrySummary(_ table: ReportTable) -> String? {
        guard table.has("county_code", "tier", "staffed_beds") else { return nil }
        let counties = table.grouped { table.text($0, "county_code") ?? "" }
        let tiers = Array(Set(table.rows.map { table.number($0, "tier").map { Int($0) } ?? 0 })).sorted()
        let ranked = table.top(counties, topUnits, inReportOrder: true) { table.sum($0, "staffed_beds") }
        let series = tiers.map { tier in
            ChartSeries(name: table.tierName(tier == 0 ? nil : tier), values: ranked.map { county in
                table.sum(county.rows.filter { (table.number($0, "tier").map { Int($0) } ?? 0) == tier }, "staffed_beds")
            })
        }
        return BarChart(title: table.chartTitle(table.title("staffed_beds")),
                        categories: ranked.map { $0.rows.lazy.compactMap { table.text($0, "county_name") }.first ?? $0.key },
                        series: series, unit: table.unit("staffed_beds"), valueAxisTitle: table.title("staffed_beds"),
                        categoryAxisTitle: table.title("county_name"),
                        note: table.topNote(shown: ranked.count, of: counties.count, noun: table.l("区县", "counties"),
                                            rank: ("编制床位最多", "with the most staffed beds")))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// Rows received per night (the night's latest batch, dry runs aside); a night without an extract is a gap.
    static func uploadHistory(_ table: ReportTable) -> String? {
        guard table.has("facility_code", "business_date", "rows_received") else { return nil }
        let x = table.timeAxis(table.rows.compactMap { table.text($0, "business_date") })
        let facilities = table.grouped { table.text($0, "facility_code") ?? "" }
        let measure = table.title("rows_received")
        /// The night's figure: its latest real batch (a dry run only when there is nothing else).
        func perNight(_ rows: [[ReportValue]]) -> [Double?] {
            var latest: [String: (dryRun: Bool, value: Double?)] = [:]
            for row in rows {
                guard let night = table.text(row, "business_date") else { continue }
                let status = table.text(row, "status") ?? ""
                if status == "missing" { continue }
                let dryRun = status == "validated"
                if let previous = latest[night], !previous.dryRun, dryRun { continue }
                latest[night] = (dryRun, table.number(row, "rows_received"))
            }
            return x.map { latest[$0]?.value ?? nil }
        }
        let missing = table.rows.filter { table.text($0, "status") == "missing" }.count
        let missingNote = missing > 0
            ? table.l("\(missing) 个机构夜未收到数据（显示为空缺）。", "\(missing) facility-night\(missing == 1 ? "" : "s") without an extract (gaps).")
            : nil
        let name: ((key: String, rows: [[ReportValue]])) -> String = { facility in
            facility.rows.lazy.compactMap { table.text($0, "facility_name") }.first ?? facility.key
        }
        if facilities.count <= 1 {
            let facility = facilities.first.map(name)
            return BarChart(title: table.chartTitle(facility.map { measure + table.l("（\($0)）", " (\($0))") } ?? measure),
                            categories: x, series: [ChartSeries(name: measure, values: perNight(facilities.first?.rows ?? []))],
                            unit: table.unit("rows_received"), valueAxisTitle: measure,
                            categoryAxisTitle: table.title("business_date"), orientation: .vertical, note: missingNote)
                .svg(idPrefix: table.idPrefix, language: table.language)
        }
        if facilities.count <= topUnits {
            return SmallMultiplesChart(title: table.chartTitle(measure), x: x,
                                       panels: facilities.map { .init(title: name($0), series: [ChartSeries(name: measure, values: perNight($0.rows))]) },
                                       unit: table.unit("rows_received"), valueAxisTitle: measure, mark: .bars, note: missingNote)
                .svg(idPrefix: table.idPrefix, language: table.language)
        }
        let columns = facilities.map { perNight($0.rows) }
        let totals: [Double?] = x.indices.map { index in
            let values = columns.compactMap { $0[index] }
            return values.isEmpty ? nil : values.reduce(0, +)
        }
        let note = [table.l("\(facilities.count) 家机构逐夜合计。", "Summed over \(facilities.count) facilities per night."), missingNote]
            .compactMap { $0 }.joined(separator: " ")
        return BarChart(title: table.chartTitle(measure), categories: x, series: [ChartSeries(name: measure, values: totals)],
                        unit: table.unit("rows_received"), valueAxisTitle: measure, categoryAxisTitle: table.title("business_date"),
                        orientation: .vertical, note: note)
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// Up- and down-referrals per month, summed over the units; then the tier matrix (sender tier ×
    /// receiver tier) summed over the period, as a heat map.
    static func referrals(_ table: ReportTable) -> String? {
        let series = ["up_referrals", "down_referrals"].filter { table.has($0) }
        guard table.has("month"), !series.isEmpty else { return nil }
        let x = table.timeAxis(table.rows.compactMap { table.text($0, "month") })
        let units = Set(table.rows.compactMap { table.text($0, "unit_code") })
        let byMonth = Dictionary(grouping: table.rows) { table.text($0, "month") ?? "" }
        let suppressed = table.suppressedCount(table.rows, series)
        var notes: [String] = []
        if units.count > 1 {
            let noun = table.levelNoun(table.rows.lazy.compactMap { table.text($0, "level") }.first)
            notes.append(table.l("\(units.count) 个\(noun)逐月合计。", "Summed over \(units.count) \(noun) per month."))
        }
        if suppressed > 0 {
            notes.append(table.l("\(suppressed) 个小数值单元格按规定隐藏，未计入合计。", "Suppressed small cells left out of the sums: \(suppressed)."))
        }
        let lines = LineChart(title: table.chartTitle(table.words.list(series.map(table.title))), x: x,
                              series: series.map { name in
                                  ChartSeries(name: table.title(name), values: x.map { table.sum(byMonth[$0] ?? [], name) })
                              },
                              unit: table.commonUnit(series), valueAxisTitle: table.l("转诊人次", "Referrals"),
                              xAxisTitle: table.title("month"), note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix + "-trend", language: table.language)

        let tiers = [1, 2, 3]
        let matrixColumns = tiers.flatMap { from in tiers.map { "tier\(from)_to_tier\($0)" } }
        guard matrixColumns.allSatisfy({ table.has($0) }), !table.rows.isEmpty else { return lines }
        let matrixSuppressed = table.suppressedCount(table.rows, matrixColumns)
        var matrixNotes = [table.l("整个期间合计。", "Summed over the whole period.")]
        if matrixSuppressed > 0 {
            matrixNotes.append(table.l("\(matrixSuppressed) 个小数值单元格按规定隐藏，未计入合计。",
                                       "Suppressed small cells left out of the sums: \(matrixSuppressed)."))
        }
        let matrix = HeatMapChart(
            title: table.chartTitle(table.l("转出级别 × 接收级别", "sending tier × receiving tier")),
            rows: tiers.map { table.tierName($0) }, columns: tiers.map { table.tierName($0) },
            values: tiers.map { from in tiers.map { to in table.sum(table.rows, "tier\(from)_to_tier\(to)") } },
            unit: table.unit("tier1_to_tier1"), rowAxisTitle: table.l("转出机构级别", "Sending tier"),
            columnAxisTitle: table.l("接收机构级别", "Receiving tier"), note: matrixNotes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix + "-tiers", language: table.language)
        return lines + "\n" + matrix
    }

    /// Alerts per facility, one bar per rule; the facilities with the most alerts.
    static func alerts(_ table: ReportTable) -> String? {
        guard table.has("facility_code", "rule") else { return nil }
        let facilities = table.grouped { table.text($0, "facility_code") ?? "" }
        var rules: [String] = []
        for row in table.rows { if let rule = table.text(row, "rule"), !rules.contains(rule) { rules.append(rule) } }
        rules.sort { (ruleOrder[$0] ?? 9, $0) < (ruleOrder[$1] ?? 9, $1) }
        let ranked = table.top(facilities, topUnits, inReportOrder: false) { Double($0.count) }
        let series = rules.map { rule in
            ChartSeries(name: ruleName(rule, table), values: ranked.map { facility in
                Double(facility.rows.filter { table.text($0, "rule") == rule }.count)
            })
        }
        let measure = table.l("预警数", "Alerts")
        return BarChart(title: table.chartTitle(table.l("各机构预警数", "alerts per facility")),
                        categories: ranked.map { $0.rows.lazy.compactMap { table.text($0, "facility_name") }.first ?? $0.key },
                        series: series, unit: table.l("条", "alerts"), valueAxisTitle: measure,
                        categoryAxisTitle: table.title("facility_name"),
                        note: table.topNote(shown: ranked.count, of: facilities.count, noun: table.l("机构", "facilities"),
                                            rank: ("预警最多", "with the most alerts")))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    static let ruleOrder = ["threshold": 0, "peer": 1, "tolerance": 0, "z-score": 1, "both": 2]

    static func ruleName(_ rule: String, _ table: ReportTable) -> String {
        switch rule {
        case "threshold": table.l("超过阈值", "Threshold")
        case "peer": table.l("偏离同级", "Peer comparison")
        case "tolerance": table.l("超出容差", "Tolerance")
        case "z-score": table.l("修正Z值", "Modified z-score")
        case "both": table.l("两者", "Both")
        default: rule
        }
    }

    /// One unit: reporting and on-time rate per night. Several: both rates over the period (from the
    /// summed extracts) per unit, the units with the lowest reporting rate first.
    static func dataQuality(_ table: ReportTable) -> String? {
        guard table.has("unit_code", "business_date", "reporting_rate", "on_time_rate") else { return nil }
        let units = table.grouped { table.text($0, "unit_code") ?? "" }
        let rates = ["reporting_rate", "on_time_rate"]
        let label: ((key: String, rows: [[ReportValue]])) -> String = { unit in
            unit.rows.lazy.compactMap { table.text($0, "unit_name") }.first ?? unit.key
        }
        if units.count <= 1 {
            let x = table.timeAxis(table.rows.compactMap { table.text($0, "business_date") })
            let rows = units.first?.rows ?? []
            let name = units.first.map(label)
            return LineChart(title: table.chartTitle(table.words.list(rates.map(table.title)) + (name.map { table.l("（\($0)）", " (\($0))") } ?? "")),
                             x: x, series: rates.map { rate in
                                 var byNight: [String: Double] = [:]
                                 for row in rows {
                                     if let night = table.text(row, "business_date"), let value = table.number(row, rate) { byNight[night] = value }
                                 }
                                 return ChartSeries(name: table.title(rate), values: x.map { byNight[$0] })
                             },
                             unit: "%", xAxisTitle: table.title("business_date"))
                .svg(idPrefix: table.idPrefix, language: table.language)
        }
        func rate(_ rows: [[ReportValue]], _ part: String) -> Double? {
            guard let expected = table.sum(rows, "expected_extracts"), expected > 0, let count = table.sum(rows, part) else { return nil }
            return count / expected * 100
        }
        let measured = units.map { (unit: $0, reporting: rate($0.rows, "loaded_extracts"), onTime: rate($0.rows, "on_time_extracts")) }
        let ranked = measured.enumerated().sorted { a, b in
            let left = a.element.reporting ?? .infinity, right = b.element.reporting ?? .infinity
            return left != right ? left < right : a.offset < b.offset
        }.prefix(topUnits).map(\.element)
        let noun = table.levelNoun(table.rows.lazy.compactMap { table.text($0, "level") }.first)
        var notes = [table.l("比率按整个期间的应报、已入库与按时份数合计重新计算。",
                             "Rates over the whole period, from the summed expected, loaded and on-time extracts.")]
        if let top = table.topNote(shown: ranked.count, of: units.count, noun: noun, rank: ("上报率最低", "with the lowest reporting rate")) {
            notes.append(top)
        }
        return BarChart(title: table.chartTitle(table.words.list(rates.map(table.title))), categories: ranked.map { label($0.unit) },
                        series: [ChartSeries(name: table.title("reporting_rate"), values: ranked.map(\.reporting)),
                                 ChartSeries(name: table.title("on_time_rate"), values: ranked.map(\.onTime))],
                        unit: "%", categoryAxisTitle: table.title("unit_name"),
                        threshold: ChartThreshold(value: 100, label: table.l("目标", "Target")), note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// Per check, the share of failing rows over every facility-night (Σ failing ÷ Σ applicable) beside
    /// the check's threshold; the checks that failed most often.
    static func dataQualityChecks(_ table: ReportTable) -> String? {
        guard table.has("check_id", "failing_rows", "applicable_rows") else { return nil }
        let checks = table.grouped { table.text($0, "check_id") ?? "" }
        let ranked = table.top(checks, topUnits, inReportOrder: true) { rows in
            Double(rows.filter { table.text($0, "status") == "fail" }.count)
        }
        let shares: [Double?] = ranked.map { check in
            guard let applicable = table.sum(check.rows, "applicable_rows"), applicable > 0 else { return nil }
            return (table.sum(check.rows, "failing_rows") ?? 0) / applicable * 100
        }
        let thresholds: [Double?] = ranked.map { check in
            check.rows.lazy.compactMap { table.text($0, "fails_when") }.last.flatMap(thresholdNumber)
        }
        var notes = [table.l("未通过行数合计 ÷ 适用行数合计 × 100，覆盖全部机构夜。",
                             "Failing rows ÷ applicable rows × 100 over every facility-night.")]
        if let top = table.topNote(shown: ranked.count, of: checks.count, noun: table.l("检查项", "checks"),
                                   rank: ("未通过次数最多", "that failed most often")) {
            notes.append(top)
        }
        return BarChart(title: table.chartTitle(table.l("未通过行占比与阈值", "failing rows and thresholds")),
                        categories: ranked.map(\.key),
                        series: [ChartSeries(name: table.l("未通过行占比", "Failing rows"), values: shares),
                                 ChartSeries(name: table.title("fails_when"), values: thresholds)],
                        unit: "%", categoryAxisTitle: table.title("check_id"), note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// The number in a comparison such as `> 5` or `<= 95.5`.
    static func thresholdNumber(_ text: String) -> Double? {
        let digits = text.drop { !($0.isNumber || $0 == "-" || $0 == ".") }
        return Double(digits.trimmingCharacters(in: .whitespaces))
    }

    // MARK: Shared EMR

    /// Repeat rate per month for each exam category, from the repeats and coded exams summed over the units.
    static func duplicateExams(_ table: ReportTable) -> String? {
        guard table.has("month", "category", "repeats", "coded_exams") else { return nil }
        let x = table.timeAxis(table.rows.compactMap { table.text($0, "month") })
        var categories: [String] = []
        for row in table.rows {
            let category = table.text(row, "category") ?? "OTHER"
            if !categories.contains(category) { categories.append(category) }
        }
        categories.sort { (categoryOrder.firstIndex(of: $0) ?? 99, $0) < (categoryOrder.firstIndex(of: $1) ?? 99, $1) }
        let cells = Dictionary(grouping: table.rows) { "\(table.text($0, "category") ?? "OTHER")|\(table.text($0, "month") ?? "")" }
        let series = categories.map { category in
            ChartSeries(name: categoryName(category, table), values: x.map { month in
                let rows = cells["\(category)|\(month)"] ?? []
                guard let coded = table.sum(rows, "coded_exams"), coded > 0 else { return nil }
                return (table.sum(rows, "repeats") ?? 0) / coded * 100
            })
        }
        let units = Set(table.rows.compactMap { table.text($0, "unit_code") })
        var notes = [table.l("重复数合计 ÷ 有区域编码数合计 × 100。", "Σ repeats ÷ Σ coded exams × 100.")]
        if units.count > 1 {
            let noun = table.levelNoun(table.rows.lazy.compactMap { table.text($0, "level") }.first)
            notes.append(table.l("\(units.count) 个\(noun)合计。", "Summed over \(units.count) \(noun)."))
        }
        return LineChart(title: table.chartTitle(table.title("repeat_rate") + table.l("（按类别）", " by category")), x: x,
                         series: series, unit: "%", valueAxisTitle: table.title("repeat_rate"), xAxisTitle: table.title("month"),
                         note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    static let categoryOrder = ["LAB", "IMAGING", "PATHOLOGY", "ECG", "ENDOSCOPY", "OTHER"]

    static func categoryName(_ category: String, _ table: ReportTable) -> String {
        switch category {
        case "LAB": table.l("检验", "Lab")
        case "IMAGING": table.l("影像", "Imaging")
        case "PATHOLOGY": table.l("病理", "Pathology")
        case "ECG": table.l("心电", "ECG")
        case "ENDOSCOPY": table.l("内镜", "Endoscopy")
        case "OTHER": table.l("其他", "Other")
        default: category
        }
    }

    /// Repeats per exam (regional code), the most repeated.
    static func duplicateExamPairs(_ table: ReportTable) -> String? {
        guard table.has("regional_code") else { return nil }
        let exams = table.grouped { table.text($0, "regional_code") ?? "" }
        let ranked = table.top(exams, topUnits, inReportOrder: false) { Double($0.count) }
        let measure = table.l("重复次数", "Repeats")
        var notes = [table.l("共 \(table.rows.count) 对重复检查。", "\(table.rows.count) repeat pairs in all.")]
        if let top = table.topNote(shown: ranked.count, of: exams.count, noun: table.l("项目", "exams"),
                                   rank: ("重复最多", "repeated most often")) {
            notes.append(top)
        }
        return BarChart(title: table.chartTitle(table.l("各项目重复次数", "repeats per exam")),
                        categories: ranked.map { exam in exam.rows.lazy.compactMap { table.text($0, "exam_name") }.first ?? exam.key },
                        series: [ChartSeries(name: measure, values: ranked.map { Double($0.rows.count) })],
                        unit: table.l("次", "repeats"), valueAxisTitle: measure, categoryAxisTitle: table.title("exam_name"),
                        note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// Records by how their link was made.
    static func patientIndex(_ table: ReportTable) -> String? {
        let parts = ["by_id", "probabilistic", "by_steward", "first_records"].filter { table.has($0) }
        guard !parts.isEmpty else { return nil }
        let row = table.rows.first
        let measure = table.l("记录数", "Records")
        var notes: [String] = []
        if let row, let records = table.number(row, "records") {
            notes.append(table.l("关联记录共 \(ChartNumber.format(records)) 条。", "\(ChartNumber.format(records)) linked records in all."))
        }
        if let row, let persons = table.number(row, "persons") {
            notes.append(table.l("患者 \(ChartNumber.format(persons)) 人。", "\(ChartNumber.format(persons)) persons."))
        }
        return BarChart(title: table.chartTitle(table.l("记录关联方式", "records by how they were linked")),
                        categories: row == nil ? [] : parts.map(table.title),
                        series: [ChartSeries(name: measure, values: parts.map { name in row.flatMap { table.number($0, name) } })],
                        unit: table.unit(parts[0]), valueAxisTitle: measure, note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    // MARK: Procurement

    /// A member's label: its name, else its code, else (for publication) its rank.
    static func memberLabel(_ row: [ReportValue], _ table: ReportTable) -> String {
        if let name = table.text(row, "member_name") ?? table.text(row, "member_code") { return name }
        if let rank = table.number(row, "member_rank") { return table.l("第 \(Int(rank)) 名", "Rank \(Int(rank))") }
        return "—"
    }

    /// The item's label: generic name (spec), else its national code; empty without rows.
    static func itemLabel(_ rows: [[ReportValue]], _ table: ReportTable) -> String {
        let name = rows.lazy.compactMap { table.text($0, "generic_name") }.first ?? rows.lazy.compactMap { table.text($0, "national_code") }.first ?? ""
        if !name.isEmpty, let spec = rows.lazy.compactMap({ table.text($0, "spec") }).first { return name + table.l("（\(spec)）", " (\(spec))") }
        return name
    }

    /// "元/片": the price unit per base unit.
    static func priceUnit(_ rows: [[ReportValue]], _ table: ReportTable) -> String {
        let yuan = table.unit("price").isEmpty ? table.l("元", "yuan") : table.unit("price")
        return rows.lazy.compactMap { table.text($0, "base_unit") }.first.map { yuan + "/" + $0 } ?? yuan
    }

    /// The reference line of an item-month: its reference price, named by its source.
    static func referenceLine(_ rows: [[ReportValue]], _ table: ReportTable) -> ChartThreshold? {
        guard let row = rows.first(where: { table.number($0, "reference_price") != nil }),
              let value = table.number(row, "reference_price") else { return nil }
        var label = table.title("reference_price")
        switch table.text(row, "reference_source") {
        case "agreed": label += table.l("（联盟议定价）", " (agreed)")
        case "median": label += table.l("（中位价）", " (median)")
        default: break
        }
        return ChartThreshold(value: value, label: label)
    }

    /// The item-month with the most savings potential in the latest month: each member's price
    /// against the reference price.
    static func priceComparison(_ table: ReportTable) -> String? {
        guard table.has("month", "national_code", "price") else { return nil }
        let groups = table.grouped { "\(table.text($0, "alliance_code") ?? "")|\(table.text($0, "month") ?? "")|\(table.text($0, "national_code") ?? "")" }
        let latest = table.rows.compactMap { table.text($0, "month") }.max()
        let candidates = groups.filter { $0.rows.contains { table.text($0, "month") == latest } }
        let chosen = candidates.enumerated().max { a, b in
            let left = a.element.rows.compactMap { table.number($0, "item_savings_potential") }.max() ?? 0
            let right = b.element.rows.compactMap { table.number($0, "item_savings_potential") }.max() ?? 0
            return left != right ? left < right : a.offset > b.offset
        }?.element
        let rows = (chosen?.rows ?? []).sorted { (table.number($0, "price") ?? .infinity) < (table.number($1, "price") ?? .infinity) }
        let shown = rows.count > topUnits ? Array(rows.suffix(topUnits)) : rows
        var notes: [String] = []
        if let first = rows.first {
            let alliance = table.text(first, "alliance_code").map { table.l("联盟 \($0)，", "alliance \($0), ") } ?? ""
            notes.append(table.l("\(alliance)\(table.text(first, "month") ?? "")。", "\(alliance)\(table.text(first, "month") ?? "")."))
        }
        if groups.count > 1 {
            notes.append(table.l("结果含 \(groups.count) 个品种月份，此图为最近月份中品种节约潜力最大者。",
                                 "The result holds \(groups.count) item-months; this is the latest month's item with the largest savings potential."))
        }
        if rows.count > shown.count {
            notes.append(table.l("仅显示价格最高的 \(shown.count) 家成员（共 \(rows.count) 家）。",
                                 "Showing the \(shown.count) highest-priced of \(rows.count) members."))
        }
        return BarChart(title: table.chartTitle(itemLabel(rows, table)), categories: shown.map { memberLabel($0, table) },
                        series: [ChartSeries(name: table.title("price"), values: shown.map { table.number($0, "price") })],
                        unit: priceUnit(rows, table), valueAxisTitle: table.title("price"), categoryAxisTitle: table.title("member_name"),
                        threshold: referenceLine(rows, table), note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// The item-month with the largest excess cost: each outlying purchase's price against the reference.
    static func priceOutliers(_ table: ReportTable) -> String? {
        guard table.has("month", "national_code", "price") else { return nil }
        let groups = table.grouped { "\(table.text($0, "alliance_code") ?? "")|\(table.text($0, "month") ?? "")|\(table.text($0, "national_code") ?? "")" }
        let chosen = groups.enumerated().max { a, b in
            let left = table.sum(a.element.rows, "excess_cost") ?? 0, right = table.sum(b.element.rows, "excess_cost") ?? 0
            return left != right ? left < right : a.offset > b.offset
        }?.element
        let rows = chosen?.rows ?? []
        let shown = rows.count > topUnits
            ? Array(rows.enumerated().sorted { a, b in
                let left = table.number(a.element, "excess_cost") ?? 0, right = table.number(b.element, "excess_cost") ?? 0
                return left != right ? left > right : a.offset < b.offset
            }.prefix(topUnits).sorted { $0.offset < $1.offset }.map(\.element))
            : rows
        var notes: [String] = []
        if let first = rows.first {
            let alliance = table.text(first, "alliance_code").map { table.l("联盟 \($0)，", "alliance \($0), ") } ?? ""
            notes.append(table.l("\(alliance)\(table.text(first, "month") ?? "")。", "\(alliance)\(table.text(first, "month") ?? "")."))
        }
        if groups.count > 1 {
            notes.append(table.l("结果含 \(groups.count) 个品种月份，此图为超支金额最大者。",
                                 "The result holds \(groups.count) item-months; this is the one with the largest excess cost."))
        }
        if rows.count > shown.count {
            notes.append(table.l("仅显示超支金额最大的 \(shown.count) 笔（共 \(rows.count) 笔）。",
                                 "Showing the \(shown.count) of \(rows.count) purchases with the largest excess cost."))
        }
        let labels = shown.map { row in
            [memberLabel(row, table), table.text(row, "supplier")].compactMap { $0 }.joined(separator: " · ")
        }
        return BarChart(title: table.chartTitle(itemLabel(rows, table)), categories: labels,
                        series: [ChartSeries(name: table.title("price"), values: shown.map { table.number($0, "price") })],
                        unit: priceUnit(rows, table), valueAxisTitle: table.title("price"),
                        categoryAxisTitle: table.title("member_name") + " · " + table.title("supplier"),
                        threshold: referenceLine(rows, table), note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// Completion and elapsed share per member and product against the 100 % target; the rows
    /// furthest behind (completion − elapsed share).
    static func vbpCompletion(_ table: ReportTable) -> String? {
        guard table.has("completion") else { return nil }
        let products = Set(table.rows.compactMap { table.text($0, "national_code") })
        let alliances = Set(table.rows.compactMap { table.text($0, "alliance_code") })
        let ranked = table.rows.enumerated().sorted { a, b in
            let left = (table.number(a.element, "completion") ?? 0) - (table.number(a.element, "elapsed_share") ?? 0)
            let right = (table.number(b.element, "completion") ?? 0) - (table.number(b.element, "elapsed_share") ?? 0)
            return left != right ? left < right : a.offset < b.offset
        }.prefix(topUnits).map(\.element)
        let labels = ranked.map { row -> String in
            var parts = [memberLabel(row, table)]
            if products.count > 1 { parts.append(table.text(row, "generic_name") ?? table.text(row, "national_code") ?? "—") }
            if alliances.count > 1, let alliance = table.text(row, "alliance_code") { parts.append(alliance) }
            return parts.joined(separator: " · ")
        }
        var notes: [String] = []
        if let through = table.rows.lazy.compactMap({ table.text($0, "through_month") }).first {
            notes.append(table.l("统计截至 \(through)。", "Through \(through)."))
        }
        if table.rows.count > ranked.count {
            notes.append(table.l("仅显示完成率落后时间进度最多的 \(ranked.count) 项（共 \(table.rows.count) 项）。",
                                 "Showing the \(ranked.count) of \(table.rows.count) commitments furthest behind the elapsed share."))
        }
        let subtitle = products.count == 1 ? itemLabel(table.rows, table) : table.title("completion")
        var series = [ChartSeries(name: table.title("completion"), values: ranked.map { table.number($0, "completion") })]
        if table.has("elapsed_share") {
            series.append(ChartSeries(name: table.title("elapsed_share"), values: ranked.map { table.number($0, "elapsed_share") }))
        }
        return BarChart(title: table.chartTitle(subtitle), categories: labels, series: series, unit: "%",
                        categoryAxisTitle: table.title("member_name"),
                        threshold: ChartThreshold(value: 100, label: table.l("目标", "Target")), note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }

    /// Median, mean, agreed and listed price per month: lines for one item; for several, small
    /// multiples per item (the largest by amount), each on its own price scale.
    static func priceTrend(_ table: ReportTable) -> String? {
        guard table.has("month", "national_code") else { return nil }
        let candidates = ["median_price", "mean_price", "agreed_price", "listed_price"].filter { table.has($0) }
        let present = candidates.filter { name in table.rows.contains { table.number($0, name) != nil } }
        let names = present.isEmpty ? Array(candidates.prefix(1)) : present
        guard !names.isEmpty else { return nil }
        let x = table.timeAxis(table.rows.compactMap { table.text($0, "month") })
        let alliances = Set(table.rows.compactMap { table.text($0, "alliance_code") })
        let items = table.grouped { "\(table.text($0, "alliance_code") ?? "")|\(table.text($0, "national_code") ?? "")" }
        func seriesOf(_ rows: [[ReportValue]]) -> [ChartSeries] {
            names.map { name in
                var byMonth: [String: Double] = [:]
                for row in rows {
                    if let month = table.text(row, "month"), let value = table.number(row, name) { byMonth[month] = value }
                }
                return ChartSeries(name: table.title(name), values: x.map { byMonth[$0] })
            }
        }
        func label(_ rows: [[ReportValue]]) -> String {
            let item = itemLabel(rows, table)
            guard alliances.count > 1, let alliance = rows.lazy.compactMap({ table.text($0, "alliance_code") }).first else { return item }
            return item + " · " + alliance
        }
        if items.count <= 1 {
            let rows = items.first?.rows ?? []
            return LineChart(title: table.chartTitle(rows.isEmpty ? table.l("单价", "price") : label(rows)), x: x, series: seriesOf(rows),
                             unit: priceUnit(rows, table), valueAxisTitle: table.l("单价", "Price"), xAxisTitle: table.title("month"))
                .svg(idPrefix: table.idPrefix, language: table.language)
        }
        let ranked = table.top(items, topUnits, inReportOrder: false) { table.sum($0, "amount") }
        var notes = [table.l("各品种价格不可比，故各小图刻度独立。", "Prices of different items do not compare, so each panel has its own scale.")]
        if let top = table.topNote(shown: ranked.count, of: items.count, noun: table.l("品种", "items"),
                                   rank: ("采购金额最大", "with the largest purchase amount")) {
            notes.append(top)
        }
        return SmallMultiplesChart(title: table.chartTitle(table.words.list(names.map(table.title))), x: x,
                                   panels: ranked.map { .init(title: label($0.rows) + " · " + priceUnit($0.rows, table), series: seriesOf($0.rows)) },
                                   unit: table.l("元", "yuan"), valueAxisTitle: table.l("单价", "Price"), sharedScale: false,
                                   note: notes.joined(separator: " "))
            .svg(idPrefix: table.idPrefix, language: table.language)
    }
}
