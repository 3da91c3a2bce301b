import Foundation
import RegioCore
import RegioDB

/// The chart of a report run: which chart suits each catalog report, and how its rows become the
/// chart's series. Rows about many units are narrowed to the largest (or worst) `ReportChart.topUnits`
/// and the chart's `<desc>` says so; suppressed small cells (`"<N"`) are gaps.
public enum ReportChart {
    /// At most this many units (counties, facilities, members, items) in one chart.
    static let topUnits = 12

    /// The chart for one run of `report`, or nil only when the report has nothing chartable.
    public static func svg(report: ReportDefinition, result: ReportResult, language: ChartLanguage, idPrefix: String,
                           columnTitle: (ReportColumn) -> String) -> String? {
        let table = ReportTable(report: report, result: result, language: language, idPrefix: idPrefix, columnTitle: columnTitle)
        switch report.id {
        case "registry-summary": return registrySummary(table) ?? generic(table)
        case "upload-history": return uploadHistory(table) ?? generic(table)
        case "activity":
            return monthlyByUnit(table, series: ["outpatient_emergency_visits", "discharges"], rankBy: "outpatient_emergency_visits",
                                 rankWords: ("门急诊人次合计最多", "with the most outpatient and emergency visits"))
                ?? generic(table)
        case "primary-care-share":
            let threshold = table.rows.lazy.compactMap { table.number($0, "reference_share") }.first.map {
                ChartThreshold(value: $0, label: table.title("reference_share"))
            }
            return monthlyByUnit(table, series: ["primary_care_share"], rankBy: "all_visits",
                                 rankWords: ("门急诊总人次最多", "with the most outpatient and emergency visits"), threshold: threshold)
                ?? generic(table)
        case "referrals": return referrals(table) ?? generic(table)
        case "efficiency":
            return monthlyByUnit(table, series: ["bed_occupancy_rate", "drug_share", "consumables_share"], rankBy: "total_cost",
                                 rankWords: ("总费用最高", "with the highest total cost"))
                ?? generic(table)
        case "alerts": return alerts(table) ?? generic(table)
        case "data-quality": return dataQuality(table) ?? generic(table)
        case "data-quality-checks": return dataQualityChecks(table) ?? generic(table)
        case "duplicate-exams": return duplicateExams(table) ?? generic(table)
        case "duplicate-exam-pairs": return duplicateExamPairs(table) ?? generic(table)
        case "patient-index": return patientIndex(table) ?? generic(table)
        case "price-comparison": return priceComparison(table) ?? generic(table)
        case "price-outliers": return priceOutliers(table) ?? generic(table)
        case "vbp-completion": return vbpCompletion(table) ?? generic(table)
        case "price-trend": return priceTrend(table) ?? generic(table)
        default: return generic(table)
        }
    }

    /// Any other report: its first measure (a numeric column with a unit) over its month or date
    /// column when it has one, else by its first label column; nil when it has no measure.
    static func generic(_ table: ReportTable) -> String? {
        let measures = table.columns.filter { ($0.type == .integer || $0.type == .decimal) && $0.unit != nil }
        guard let measure = measures.first else { return nil }
        let title = table.reportTitle + table.l("：", ": ") + table.title(measure.name)
        let unit = table.unit(measure.name)
        let additive = measure.type == .integer && measure.builtOn.isEmpty && measure.unit != "%"
        let combine: ([Double]) -> Double? = { values in
            values.isEmpty ? nil : additive ? values.reduce(0, +) : values.last
        }
        if let time = table.columns.first(where: { $0.type == .month || $0.type == .date }) {
            let x = table.timeAxis(table.rows.compactMap { table.text($0, time.name) })
            var buckets: [String: [Double]] = [:]
            for row in table.rows {
                guard let key = table.text(row, time.name), let value = table.number(row, measure.name) else { continue }
                buckets[key, default: []].append(value)
            }
            let values = x.map { buckets[$0].flatMap(combine) }
            let note = table.rows.count > x.count
                ? table.l(additive ? "各行按\(table.title(time.name))合计。" : "每个\(table.title(time.name))取最后一行。",
                          additive ? "Rows summed per \(table.title(time.name))." : "The last row per \(table.title(time.name)).")
                : nil
            return LineChart(title: title, x: x, series: [ChartSeries(name: table.title(measure.name), values: values)], unit: unit,
                             valueAxisTitle: table.title(measure.name), xAxisTitle: table.title(time.name), note: note)
                .svg(idPrefix: table.idPrefix, language: table.language)
        }
        let label = table.columns.first { $0.type == .text }
        var order: [String] = []
        var buckets: [String: [Double]] = [:]
        for (index, row) in table.rows.enumerated() {
            let key = label.flatMap { table.text(row, $0.name) } ?? "#\(index + 1)"
            guard let value = table.number(row, measure.name) else { continue }
            if buckets[key] == nil { order.append(key) }
            buckets[key, default: []].append(value)
        }
        var categories = order.map { ($0, combine(buckets[$0] ?? [])) }
        var note: String?
        if categories.count > topUnits {
            categories = Array(categories.sorted { ($0.1 ?? -.infinity) > ($1.1 ?? -.infinity) }.prefix(topUnits))
            note = table.l("仅显示数值最大的 \(topUnits) 项（共 \(order.count) 项）。",
                           "Showing the \(topUnits) largest of \(order.count).")
        }
        return BarChart(title: title, categories: categories.map(\.0),
                        series: [ChartSeries(name: table.title(measure.name), values: categories.map(\.1))], unit: unit,
                        valueAxisTitle: table.title(measure.name), categoryAxisTitle: label.map { table.title($0.name) }, note: note)
            .svg(idPrefix: table.idPrefix, language: table.language)
    }
}

/// A report's result as the chart builders read it: cells by column name, numbers as `Double`
/// (suppressed `"<N"` cells are nil), titles through the caller's `columnTitle`, units in the
/// chart's language.
struct ReportTable {
    let report: ReportDefinition
    let columns: [ReportColumn]
    let rows: [[ReportValue]]
    let language: ChartLanguage
    let idPrefix: String
    private let index: [String: Int]
    private let titles: [String: String]

    init(report: ReportDefinition, result: ReportResult, language: ChartLanguage, idPrefix: String,
         columnTitle: (ReportColumn) -> String) {
        self.report = report
        self.columns = result.columns.isEmpty ? report.columns : result.columns
        self.rows = result.rows
        self.language = language
        self.idPrefix = idPrefix
        var index: [String: Int] = [:]
        var titles: [String: String] = [:]
        for (position, column) in columns.enumerated() where index[column.name] == nil {
            index[column.name] = position
            let title = columnTitle(column)
            titles[column.name] = title.isEmpty ? column.name : title
        }
        self.index = index
        self.titles = titles
    }

    var reportTitle: String { language == .zh ? report.titleZh : report.titleEn }
    var words: ChartWords { ChartWords(language: language) }

    func l(_ zh: String, _ en: String) -> String { language == .zh ? zh : en }

    func has(_ names: String...) -> Bool { names.allSatisfy { index[$0] != nil } }

    func column(_ name: String) -> ReportColumn? { index[name].map { columns[$0] } }

    func title(_ name: String) -> String { titles[name] ?? name }

    /// The report title with a subtitle: `基层诊疗量占比：…` / `Primary-care share: …`.
    func chartTitle(_ subtitle: String) -> String {
        subtitle.isEmpty || subtitle == reportTitle ? reportTitle : reportTitle + l("：", ": ") + subtitle
    }

    func value(_ row: [ReportValue], _ name: String) -> ReportValue {
        guard let position = index[name], position < row.count else { return .null }
        return row[position]
    }

    /// The cell as a number; nil for null, suppressed (`"<N"`) or other text.
    func number(_ row: [ReportValue], _ name: String) -> Double? {
        switch value(row, name) {
        case .integer(let value): return Double(value)
        case .decimal(let value):
            let double = NSDecimalNumber(decimal: value).doubleValue
            return double.isFinite ? double : nil
        case .text(let text):
            let trimmed = text.trimmingCharacters(in: .whitespaces)
            if trimmed.hasPrefix("<") || trimmed.isEmpty { return nil }
            return Double(trimmed).flatMap { $0.isFinite ? $0 : nil }
        case .null: return nil
        }
    }

    /// Whether the cell is a suppressed small count.
    func suppressed(_ row: [ReportValue], _ name: String) -> Bool {
        if case .text(let text) = value(row, name), text.hasPrefix("<") { return true }
        return false
    }

    /// The cell as text; nil for null or empty.
    func text(_ row: [ReportValue], _ name: String) -> String? {
        let text = value(row, name).csvText.trimmingCharacters(in: .whitespaces)
        return text.isEmpty ? nil : text
    }

    /// The column's unit in the chart's language: "人次", "元", "%" …; empty for ratios and labels.
    func unit(_ name: String) -> String {
        guard let unit = column(name)?.unit else { return "" }
        return Self.unitText(unit, language)
    }

    /// The unit shared by all `names`, or empty when they differ.
    func commonUnit(_ names: [String]) -> String {
        let units = Set(names.map(unit))
        return units.count == 1 ? units.first! : ""
    }

    /// A unit as charts print it after a value: Chinese from the catalog's table; none for a ratio or a z-score.
    static func unitText(_ unit: String, _ language: ChartLanguage) -> String {
        switch unit {
        case "%": return "%"
        case "ratio", "z": return ""
        default: return language == .zh ? ReportColumn.unitsZh[unit] ?? unit : unit
        }
    }

    /// The distinct values of `labels` in order of time; months or dates between the first and the
    /// last that no row has are added, so they show as gaps.
    func timeAxis(_ labels: [String]) -> [String] {
        let unique = Array(Set(labels)).sorted()
        guard unique.count >= 2 else { return unique }
        let months = unique.compactMap { CalendarMonth($0) }
        if months.count == unique.count, let first = months.first, let last = months.last {
            let span = (last.year - first.year) * 12 + last.month - first.month
            guard span <= 240 else { return unique }
            var filled: [String] = []
            var year = first.year, month = first.month
            for _ in 0...span {
                filled.append(CalendarMonth(year: year, month: month)?.description ?? "")
                month += 1
                if month > 12 { month = 1; year += 1 }
            }
            return filled
        }
        let dates = unique.compactMap { CalendarDate($0) }
        if dates.count == unique.count, var day = dates.first, let last = dates.last {
            var filled: [String] = []
            while day <= last, filled.count <= 1000 {
                filled.append(day.description)
                guard let next = Self.nextDay(day) else { break }
                day = next
            }
            return filled.count > 1000 ? unique : filled
        }
        return unique
    }

    static func nextDay(_ date: CalendarDate) -> CalendarDate? {
        if date.day < CalendarDate.daysIn(month: date.month, year: date.year) {
            return CalendarDate(year: date.year, month: date.month, day: date.day + 1)
        }
        if date.month < 12 { return CalendarDate(year: date.year, month: date.month + 1, day: 1) }
        return CalendarDate(year: date.year + 1, month: 1, day: 1)
    }

    /// Rows grouped by a key, in order of first appearance.
    func grouped(by key: ([ReportValue]) -> String) -> [(key: String, rows: [[ReportValue]])] {
        var order: [String] = []
        var groups: [String: [[ReportValue]]] = [:]
        for row in rows {
            let name = key(row)
            if groups[name] == nil { order.append(name) }
            groups[name, default: []].append(row)
        }
        return order.map { ($0, groups[$0]!) }
    }

    /// The `count` groups with the highest score (lowest when `ascending`; no score ranks last), ties
    /// in report order; returned in report order when `inReportOrder`, else by rank.
    func top(_ groups: [(key: String, rows: [[ReportValue]])], _ count: Int, ascending: Bool = false, inReportOrder: Bool,
             score: ([[ReportValue]]) -> Double?) -> [(key: String, rows: [[ReportValue]])] {
        let scored = groups.enumerated().map { (offset: $0.offset, group: $0.element, score: score($0.element.rows)) }
        let ranked = scored.sorted { a, b in
            switch (a.score, b.score) {
            case let (left?, right?) where left != right: return ascending ? left < right : left > right
            case (.some, nil): return true
            case (nil, .some): return false
            default: return a.offset < b.offset
            }
        }.prefix(count)
        return (inReportOrder ? ranked.sorted { $0.offset < $1.offset } : Array(ranked)).map(\.group)
    }

    /// Σ of a column over rows; nil when no row has a value.
    func sum(_ rows: [[ReportValue]], _ name: String) -> Double? {
        let values = rows.compactMap { number($0, name) }
        return values.isEmpty ? nil : values.reduce(0, +)
    }

    /// How many cells of these columns are suppressed small counts.
    func suppressedCount(_ rows: [[ReportValue]], _ names: [String]) -> Int {
        rows.reduce(0) { total, row in total + names.filter { suppressed(row, $0) }.count }
    }

    /// A unit of a levelled report by its `level` value: "区县" / "counties".
    func levelNoun(_ level: String?) -> String {
        switch level {
        case "county": l("区县", "counties")
        case "city": l("市", "cities")
        case "tier": l("级别", "tiers")
        default: l("机构", "facilities")
        }
    }

    func tierName(_ tier: Int?) -> String {
        switch tier {
        case 1: l("一级", "Tier 1")
        case 2: l("二级", "Tier 2")
        case 3: l("三级", "Tier 3")
        case .some(let tier): l("\(tier)级", "Tier \(tier)")
        case nil: l("未定级", "No tier")
        }
    }

    /// The sentence about units left out: "仅显示…最多的 12 个区县（共 30 个）。"
    func topNote(shown: Int, of total: Int, noun: String, rank: (zh: String, en: String)) -> String? {
        guard total > shown else { return nil }
        return l("仅显示\(rank.zh)的 \(shown) 个\(noun)（共 \(total) 个）。", "Showing the \(shown) of \(total) \(noun) \(rank.en).")
    }
}
