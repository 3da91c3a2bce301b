import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import RegioCore
@testable import RegioDB
@testable import RegioQuery
import Testing

/// One parsed XML element, for looking into a chart.
final class ChartNode {
    let name: String
    let attributes: [String: String]
    var children: [ChartNode] = []
    var text = ""

    init(name: String, attributes: [String: String]) {
        self.name = name
        self.attributes = attributes
    }

    subscript(_ attribute: String) -> String? { attributes[attribute] }

    /// Every element below this one (depth first), this one excluded.
    var descendants: [ChartNode] { children.flatMap { [$0] + $0.descendants } }

    /// All text inside, children included.
    var allText: String { text + children.map(\.allText).joined() }

    /// The text shown: all text inside except that of `<title>` children.
    var visibleText: String { text + children.filter { $0.name != "title" }.map(\.visibleText).joined() }

    func all(_ name: String, class className: String? = nil) -> [ChartNode] {
        descendants.filter { $0.name == name && (className == nil || ($0["class"] ?? "").split(separator: " ").contains { $0 == className! }) }
    }

    func child(_ name: String) -> ChartNode? { children.first { $0.name == name } }

    /// The text of the element's own `<title>` child.
    var titleText: String? { child("title")?.allText }
}

/// Builds a `ChartNode` tree with `XMLParser` (FoundationXML on Linux).
final class ChartXMLReader: NSObject, XMLParserDelegate {
    private var stack: [ChartNode] = []
    private(set) var root: ChartNode?
    private(set) var failure: String?

    func parser(_ parser: XMLParser, didStartElement elementName: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        let node = ChartNode(name: elementName, attributes: attributes)
        stack.last?.children.append(node)
        if stack.isEmpty { root = node }
        stack.append(node)
    }

    func parser(_ parser: XMLParser, didEndElement elementName: String, namespaceURI: String?, qualifiedName: String?) {
        stack.removeLast()
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) {
        guard let node = stack.last else { return }
        // Text belongs to the element it appears in; a following child keeps its own.
        if node.children.isEmpty { node.text += string } else { node.children.append(ChartNode(name: "#text", attributes: [:])); node.children.last!.text = string }
    }

    func parser(_ parser: XMLParser, parseErrorOccurred parseError: any Error) {
        failure = "\(parseError) at line \(parser.lineNumber), column \(parser.columnNumber)"
    }

    /// The chart(s) in `markup` wrapped in one `<root>`, or the parse error.
    static func parse(_ markup: String) -> (root: ChartNode?, failure: String?) {
        let reader = ChartXMLReader()
        let parser = XMLParser(data: Data(("<root>" + markup + "</root>").utf8))
        parser.delegate = reader
        let ok = parser.parse()
        return (ok ? reader.root : nil, reader.failure ?? (ok ? nil : "parse failed"))
    }
}

@Suite("Charts drawn as SVG")
struct ChartTests {
    /// The `<svg>` roots of `markup`, failing the test when it is not well-formed XML.
    static func charts(_ markup: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> [ChartNode] {
        let parsed = ChartXMLReader.parse(markup)
        let root = try #require(parsed.root, "not XML: \(parsed.failure ?? "")", sourceLocation: sourceLocation)
        return root.children.filter { $0.name == "svg" }
    }

    static func chart(_ markup: String, sourceLocation: SourceLocation = #_sourceLocation) throws -> ChartNode {
        let roots = try charts(markup, sourceLocation: sourceLocation)
        #expect(roots.count == 1, sourceLocation: sourceLocation)
        return try #require(roots.first, sourceLocation: sourceLocation)
    }

    /// The accessibility contract every chart keeps: role img labelled by its own title and desc,
    /// class `chart`, `data-chart`, a viewBox at width 100 %, unique ids.
    static func expectAccessible(_ svg: ChartNode, kind: String, sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(svg["role"] == "img", sourceLocation: sourceLocation)
        #expect(svg["class"] == "chart", sourceLocation: sourceLocation)
        #expect(svg["data-chart"] == kind, sourceLocation: sourceLocation)
        #expect(svg["width"] == "100%", sourceLocation: sourceLocation)
        #expect(svg["viewBox"]?.hasPrefix("0 0 ") == true, sourceLocation: sourceLocation)
        let labelledBy = (svg["aria-labelledby"] ?? "").split(separator: " ").map(String.init)
        #expect(labelledBy.count == 2, sourceLocation: sourceLocation)
        let title = svg.children.first { $0.name == "title" }
        let desc = svg.children.first { $0.name == "desc" }
        #expect(title?["id"] == labelledBy.first, sourceLocation: sourceLocation)
        #expect(desc?["id"] == labelledBy.last, sourceLocation: sourceLocation)
        let titleText = title?.allText ?? "", descText = desc?.allText ?? ""
        #expect(titleText.isEmpty == false, sourceLocation: sourceLocation)
        #expect(descText.isEmpty == false, sourceLocation: sourceLocation)
        let ids = svg.descendants.compactMap { $0["id"] }
        #expect(Set(ids).count == ids.count, "duplicate ids \(ids)", sourceLocation: sourceLocation)
    }

    static func desc(_ svg: ChartNode) -> String { svg.children.first { $0.name == "desc" }?.allText ?? "" }

    // MARK: Primitives

    @Test("bars: accessible, one titled bar per value with its unit, nulls left out")
    func bars() throws {
        let chart = BarChart(title: "Staffed beds", categories: ["North", "South", "East"],
                             series: [ChartSeries(name: "Tier 1", values: [1234.5, nil, 0]),
                                      ChartSeries(name: "Tier 2", values: [20, 3000, -40])],
                             unit: "beds", valueAxisTitle: "Beds", categoryAxisTitle: "County")
        let svg = try Self.chart(chart.svg(idPrefix: "beds", language: .en))
        Self.expectAccessible(svg, kind: "bars")
        #expect(svg.children.first { $0.name == "title" }?.allText == "Staffed beds")
        #expect(svg["aria-labelledby"] == "beds-title beds-desc")
        let desc = Self.desc(svg)
        #expect(desc.contains("Tier 1") && desc.contains("Tier 2") && desc.contains("County"))
        #expect(desc.contains("−40 beds") && desc.contains("3,000 beds"))
        #expect(desc.contains("Missing values (gaps): 1"))
        let bars = svg.all("rect", class: "bar")
        #expect(bars.count == 5)
        #expect(bars.map { $0.titleText ?? "" } == [
            "North · Tier 1: 1,234.5 beds", "East · Tier 1: 0 beds",
            "North · Tier 2: 20 beds", "South · Tier 2: 3,000 beds", "East · Tier 2: −40 beds",
        ])
        // The negative bar ends left of the zero line, the others start on it.
        let zero = try #require(svg.all("line", class: "tick").first { $0["data-value"] == "0" })
        let negative = try #require(bars.last)
        let zeroX = try #require(Double(zero["x1"] ?? ""))
        #expect(abs((Double(negative["x"]!)! + Double(negative["width"]!)!) - zeroX) < 0.02)
        #expect(svg.all("text").contains { $0.visibleText == "County" })
    }

    @Test("vertical bars: the threshold line sits where the axis puts its value")
    func thresholdOnVerticalBars() throws {
        let chart = BarChart(title: "Completion", categories: ["A", "B"], series: [ChartSeries(name: "Completion", values: [40, 87])],
                             unit: "%", threshold: ChartThreshold(value: 65, label: "Reference"), orientation: .vertical)
        let svg = try Self.chart(chart.svg(idPrefix: "c1", language: .en))
        Self.expectAccessible(svg, kind: "bars")
        let ticks = svg.all("line", class: "tick")
        #expect(ticks.compactMap { $0["data-value"] } == ["0", "20", "40", "60", "80", "100"])
        let y0 = try #require(Double(ticks.first!["y1"]!)), y100 = try #require(Double(ticks.last!["y1"]!))
        let threshold = try #require(svg.all("line", class: "threshold-line").first)
        #expect(threshold["data-value"] == "65")
        let y = try #require(Double(threshold["y1"]!))
        #expect(abs(y - (y0 + 0.65 * (y100 - y0))) < 0.02)
        #expect(threshold.titleText == "Reference: 65%")
        #expect(svg.all("text", class: "threshold-label").first?.allText == "Reference 65%")
        #expect(Self.desc(svg).contains("Reference"))
    }

    @Test("horizontal bars: the target line sits at its x")
    func thresholdOnHorizontalBars() throws {
        let chart = BarChart(title: "VBP", categories: ["A", "B", "C"], series: [ChartSeries(name: "Completion", values: [30, 120, 75])],
                             unit: "%", threshold: ChartThreshold(value: 100, label: "目标"))
        let svg = try Self.chart(chart.svg(idPrefix: "vbp", language: .zh))
        let ticks = svg.all("line", class: "tick")
        let x0 = try #require(Double(ticks.first { $0["data-value"] == "0" }!["x1"]!))
        let x50 = try #require(Double(ticks.first { $0["data-value"] == "50" }!["x1"]!))
        let threshold = try #require(svg.all("line", class: "threshold-line").first)
        #expect(abs(Double(threshold["x1"]!)! - (x0 + 2 * (x50 - x0))) < 0.02)
        #expect(Self.desc(svg).hasPrefix("横向条形图"))
    }

    @Test("lines: points titled with x and value, nulls break the line, the 65 % line at the right height")
    func lines() throws {
        let months = ["2024-01", "2024-02", "2024-03", "2024-04", "2024-05"]
        let chart = LineChart(title: "基层诊疗量占比", x: months,
                              series: [ChartSeries(name: "甲县", values: [62.5, nil, 66, 70.25, 71]),
                                       ChartSeries(name: "乙县", values: [58, 59, 60, 61, 64])],
                              unit: "%", valueAxisTitle: "占比", xAxisTitle: "月份",
                              threshold: ChartThreshold(value: 65, label: "参考值"))
        let svg = try Self.chart(chart.svg(idPrefix: "pcs", language: .zh))
        Self.expectAccessible(svg, kind: "lines")
        let points = svg.all("circle", class: "point")
        #expect(points.count == 9)
        #expect(points.first?.titleText == "甲县 · 2024-01: 62.5%")
        #expect(points.contains { $0.titleText == "甲县 · 2024-04: 70.25%" })
        // 甲县 is drawn in two pieces: a lone point, then a path from March on.
        let paths = svg.all("path", class: "line")
        #expect(paths.count == 2)
        #expect(paths[0]["d"]?.filter { $0 == "M" }.count == 1)
        #expect(paths[0]["d"]?.filter { $0 == "L" }.count == 2)
        #expect(paths[1]["d"]?.filter { $0 == "L" }.count == 4)
        let ticks = svg.all("line", class: "tick")
        let values = ticks.compactMap { $0["data-value"].flatMap(Double.init) }
        let scale = try #require(values.first.flatMap { low in values.last.map { (low, $0) } })
        let yLow = Double(ticks.first!["y1"]!)!, yHigh = Double(ticks.last!["y1"]!)!
        let threshold = try #require(svg.all("line", class: "threshold-line").first)
        let expected = yLow + (65 - scale.0) / (scale.1 - scale.0) * (yHigh - yLow)
        #expect(abs(Double(threshold["y1"]!)! - expected) < 0.02)
        // Shares from 58 to 71 get their own range rather than one squashed above zero.
        #expect(scale.0 > 0)
        let desc = Self.desc(svg)
        #expect(desc.contains("甲县") && desc.contains("2024-01") && desc.contains("2024-05") && desc.contains("参考值"))
        #expect(desc.contains("1 个值缺失"))
        #expect(svg.all("text").contains { $0.allText == "月份" })
    }

    @Test("lines: a single point and negative values")
    func singlePointAndNegatives() throws {
        let single = try Self.chart(LineChart(title: "One", x: ["2024-06"], series: [ChartSeries(name: "Visits", values: [42])],
                                              unit: "visits").svg(idPrefix: "one", language: .en))
        #expect(single.all("circle", class: "point").map { $0.titleText } == ["2024-06: 42 visits"])
        #expect(single.all("path", class: "line").isEmpty)
        let negative = try Self.chart(LineChart(title: "Growth", x: ["a", "b", "c"], series: [ChartSeries(name: "Growth", values: [-12.5, 3, 8])],
                                                unit: "%").svg(idPrefix: "neg", language: .en))
        let ticks = negative.all("line", class: "tick").compactMap { $0["data-value"].flatMap(Double.init) }
        #expect(ticks.first! <= -12.5 && ticks.contains(0) && ticks.last! >= 8)
        #expect(negative.all("circle", class: "point").first?.titleText == "a: −12.5%")
    }

    @Test("small multiples: a titled panel per unit on one shared scale, the reference line in each")
    func smallMultiples() throws {
        let x = ["2024-01", "2024-02", "2024-03"]
        let panels = [
            SmallMultiplesChart.Panel(title: "甲县", series: [ChartSeries(name: "占比", values: [60, 62, 64])]),
            SmallMultiplesChart.Panel(title: "乙县", series: [ChartSeries(name: "占比", values: [70, nil, 72])]),
            SmallMultiplesChart.Panel(title: "丙县", series: [ChartSeries(name: "占比", values: [nil, nil, nil])]),
        ]
        let svg = try Self.chart(SmallMultiplesChart(title: "基层诊疗量占比", x: x, panels: panels, unit: "%",
                                                     threshold: ChartThreshold(value: 65, label: "参考值"))
            .svg(idPrefix: "sm", language: .zh))
        Self.expectAccessible(svg, kind: "multiples")
        let groups = svg.all("g", class: "panel")
        #expect(groups.count == 3)
        #expect(groups.map { $0.all("text", class: "panel-title").first?.allText } == ["甲县", "乙县", "丙县"])
        #expect(groups.map { $0.all("line", class: "threshold-line").count } == [1, 1, 1])
        #expect(groups.map { $0.all("circle", class: "point").count } == [3, 2, 0])
        #expect(groups[2].all("text", class: "no-data").first?.allText == "暂无数据")
        // One scale: every panel has the same ticks.
        let tickSets = groups.map { $0.all("line", class: "tick").compactMap { $0["data-value"] } }
        #expect(Set(tickSets.map { $0.joined(separator: ",") }).count == 1)
        #expect(groups[1].all("circle", class: "point").last?.titleText == "乙县 · 2024-03: 72%")
        #expect(Self.desc(svg).contains("各小图纵轴刻度相同"))
    }

    @Test("heat map: nine labelled cells for a 3 × 3 matrix and a colour legend")
    func heatMap() throws {
        let values: [[Double?]] = [[0, 120, 4], [35, 2, 1500], [7, 88, nil]]
        let tiers = ["Tier 1", "Tier 2", "Tier 3"]
        let svg = try Self.chart(HeatMapChart(title: "Tier matrix", rows: tiers, columns: tiers, values: values, unit: "referrals",
                                              rowAxisTitle: "Sending tier", columnAxisTitle: "Receiving tier")
            .svg(idPrefix: "tm", language: .en))
        Self.expectAccessible(svg, kind: "heatmap")
        let cells = svg.all("rect", class: "cell")
        #expect(cells.count == 9)
        #expect(cells.map { $0.titleText ?? "" } == [
            "Tier 1 → Tier 1: 0 referrals", "Tier 1 → Tier 2: 120 referrals", "Tier 1 → Tier 3: 4 referrals",
            "Tier 2 → Tier 1: 35 referrals", "Tier 2 → Tier 2: 2 referrals", "Tier 2 → Tier 3: 1,500 referrals",
            "Tier 3 → Tier 1: 7 referrals", "Tier 3 → Tier 2: 88 referrals", "Tier 3 → Tier 3: no value",
        ])
        #expect(svg.all("text", class: "cell-label").map(\.allText) == ["0", "120", "4", "35", "2", "1,500", "7", "88", "–"])
        // Darker is higher: the largest cell is the darkest.
        func luminance(_ hex: String) -> Double {
            let digits = Array(hex.dropFirst())
            let channel = { (i: Int) in Double(Int(String(digits[i..<i + 2]), radix: 16)!) }
            return 0.2126 * channel(0) + 0.7152 * channel(2) + 0.0722 * channel(4)
        }
        #expect(luminance(cells[5]["fill"]!) < luminance(cells[1]["fill"]!))
        #expect(luminance(cells[1]["fill"]!) < luminance(cells[0]["fill"]!))
        let gradient = try #require(svg.all("linearGradient").first)
        #expect(gradient["id"] == "tm-scale")
        #expect(svg.all("g", class: "legend").first?.allText.contains("1,500 referrals") == true)
        #expect(Self.desc(svg).contains("Sending tier") && Self.desc(svg).contains("Receiving tier"))
    }

    @Test("text is escaped for XML and long labels are cut with the full text in a title")
    func escapingAndTruncation() throws {
        let hostile = "<script>alert('x')</script> & \"Co\""
        let long = String(repeating: "社区卫生服务中心", count: 8)
        let markup = BarChart(title: "A & B <b>", categories: [hostile, long, "bell\u{7}\u{0}"],
                              series: [ChartSeries(name: "S&P", values: [1, 2, 3])])
            .svg(idPrefix: "x\"><script>", language: .en)
        #expect(!markup.contains("<script>"))
        #expect(!markup.contains("<b>"))
        #expect(markup.contains("&lt;script&gt;") && markup.contains("&amp;"))
        let svg = try Self.chart(markup)
        Self.expectAccessible(svg, kind: "bars")
        #expect(svg.children.first { $0.name == "title" }?.allText == "A & B <b>")
        #expect(svg.all("rect", class: "bar").first?.titleText == "\(hostile): 1")
        // Characters XML cannot carry are dropped rather than breaking the document.
        #expect(svg.all("rect", class: "bar").last?.titleText == "bell: 3")
        let labels = svg.all("text", class: "category")
        let cut = try #require(labels.first { $0.titleText == long })
        #expect(cut.visibleText.hasSuffix("…"))
        #expect(cut.visibleText.count < long.count)
        #expect(svg["id"] == nil && svg.children.first?["id"]?.allSatisfy { $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" } == true)
    }

    @Test("no data says so, in the chart's language")
    func noData() throws {
        let cases: [(String, String, ChartLanguage, String)] = [
            (BarChart(title: "床位", categories: [], series: []).svg(idPrefix: "a", language: .zh), "bars", .zh, "暂无数据"),
            (LineChart(title: "Visits", x: ["2024-01"], series: [ChartSeries(name: "v", values: [nil])]).svg(idPrefix: "b", language: .en),
             "lines", .en, "No data"),
            (SmallMultiplesChart(title: "Share", x: [], panels: []).svg(idPrefix: "c", language: .en), "multiples", .en, "No data"),
            (HeatMapChart(title: "矩阵", rows: ["1"], columns: ["1"], values: [[nil]]).svg(idPrefix: "d", language: .zh),
             "heatmap", .zh, "暂无数据"),
        ]
        for (markup, kind, _, words) in cases {
            let svg = try Self.chart(markup)
            Self.expectAccessible(svg, kind: kind)
            #expect(svg.all("text", class: "no-data").first?.allText == words)
            #expect(Self.desc(svg).contains(words))
        }
    }

    @Test("numbers: thousands separators, at most two decimals, never scientific; ticks on 1, 2, 5 × 10^n")
    func numbers() {
        #expect(ChartNumber.format(1_234_567.891) == "1,234,567.89")
        #expect(ChartNumber.format(65) == "65")
        #expect(ChartNumber.format(0.5) == "0.5")
        #expect(ChartNumber.format(-1234.5) == "−1,234.5")
        #expect(ChartNumber.format(-0.0001, decimals: 2) == "0.00")
        #expect(ChartNumber.format(0.0123) == "0.0123")
        #expect(ChartNumber.format(1e20) == "100,000,000,000,000,000,000")
        #expect(ChartNumber.format(65, unit: "%") == "65%")
        #expect(ChartNumber.format(1234, unit: "人次") == "1,234 人次")
        #expect(ValueScale(values: [0, 87], includeZero: true).ticks == [0, 20, 40, 60, 80, 100])
        #expect(ValueScale(values: [0.1, 0.7], includeZero: true).ticks == [0, 0.2, 0.4, 0.6, 0.8])
        #expect(ValueScale(values: [-30, 45], includeZero: true).ticks == [-40, -20, 0, 20, 40, 60])
        #expect(ValueScale(values: [12_000, 48_000], includeZero: true).ticks == [0, 10_000, 20_000, 30_000, 40_000, 50_000])
        #expect(ValueScale(values: [5, 5], includeZero: false).ticks.contains { $0 < 5 })
        #expect(ValueScale(values: [], includeZero: true).ticks == [0, 0.2, 0.4, 0.6, 0.8, 1])
        // Counts get whole ticks: no 0.2 of a record.
        #expect(ValueScale(values: [1, 1, 1], includeZero: true).ticks == [0, 1])
        #expect(ValueScale(values: [0, 7], includeZero: true).ticks == [0, 2, 4, 6, 8])
        for tick in ValueScale(values: [0, 3_700_000], includeZero: true).ticks {
            #expect(!ChartNumber.format(tick).contains("e"))
        }
    }

    // MARK: Report charts

    /// A synthetic result for `report`: `count` rows whose cells follow the column types — a few
    /// units, months and nights, tiers 1–3, a suppressed small count and a null in the mix.
    static func syntheticRows(_ report: ReportDefinition, count: Int = 30) -> [[ReportValue]] {
        (0..<count).map { index in
            report.columns.map { column -> ReportValue in
                if index == 3, column.personCount { return .text("<5") }
                if index == 4, column.type == .decimal { return .null }
                switch column.type {
                case .text:
                    switch column.name {
                    case "status": return .text(["loaded", "missing", "rejected", "validated"][index % 4])
                    case "rule": return .text(["threshold", "peer", "tolerance"][index % 3])
                    case "level": return .text("county")
                    case "category": return .text(["LAB", "IMAGING", "<script>"][index % 3])
                    case "fails_when": return .text("> \(index % 7)")
                    case "reference_source": return .text(index % 2 == 0 ? "agreed" : "median")
                    default: return .text(index % 5 == 0 ? "<b>\(column.name)</b> & \(index % 4)" : "\(column.name)-\(index % 4)")
                    }
                case .integer:
                    if column.name == "tier" || column.name == "member_rank" { return .integer(1 + index % 3) }
                    return .integer((index * 37) % 500 + 1)
                case .decimal: return .decimal(Decimal(index) * Decimal(string: "12.75")!)
                case .date: return .text(String(format: "2024-03-%02d", 1 + index % 20))
                case .month: return .text(String(format: "2024-%02d", 1 + index % 12))
                }
            }
        }
    }

    @Test("every catalog report gets a chart from rows built on its column types, in both languages")
    func everyCatalogReport() throws {
        #expect(ReportCatalog.all.count >= 16)
        for report in ReportCatalog.all {
            for language in [ChartLanguage.zh, .en] {
                for count in [1, 30, 200] {
                    let result = ReportResult(columns: report.columns, rows: Self.syntheticRows(report, count: count))
                    let markup = ReportChart.svg(report: report, result: result, language: language, idPrefix: "r-\(report.id)",
                                                 columnTitle: { $0.titleZh })
                    let text = try #require(markup, "\(report.id) has no chart")
                    #expect(!text.contains("<script>") && !text.contains("<b>"), "\(report.id) leaks markup")
                    let roots = try Self.charts(text)
                    #expect(!roots.isEmpty, "\(report.id)")
                    for svg in roots {
                        Self.expectAccessible(svg, kind: svg["data-chart"] ?? "?")
                        #expect(["bars", "lines", "multiples", "heatmap"].contains(svg["data-chart"] ?? ""), "\(report.id)")
                        let title = svg.children.first { $0.name == "title" }?.allText ?? ""
                        #expect(title.hasPrefix(language == .zh ? report.titleZh : report.titleEn), "\(report.id): \(title)")
                        let marks = svg.all("rect", class: "bar") + svg.all("circle", class: "point") + svg.all("rect", class: "cell")
                        #expect(!marks.isEmpty, "\(report.id) (\(count) rows) draws nothing")
                        #expect(marks.allSatisfy { !($0.titleText ?? "").isEmpty }, "\(report.id): a mark without a title")
                    }
                    let ids = roots.flatMap { $0.descendants.compactMap { $0["id"] } }
                    #expect(Set(ids).count == ids.count, "\(report.id): ids repeat across its charts")
                }
                let empty = ReportChart.svg(report: report, result: ReportResult(columns: report.columns, rows: []), language: language,
                                            idPrefix: "e", columnTitle: { $0.titleZh })
                let svg = try Self.charts(try #require(empty, "\(report.id) without rows")).first
                #expect(svg?.all("text", class: "no-data").first?.allText == (language == .zh ? "暂无数据" : "No data"), "\(report.id)")
            }
        }
    }

    /// Rows of a levelled monthly report: each unit × month, with the given cells.
    static func levelledRows(_ report: ReportDefinition, units: Int, months: [String],
                             cells: (Int, Int) -> [String: ReportValue]) -> [[ReportValue]] {
        (0..<units).flatMap { unit in
            months.enumerated().map { monthIndex, month in
                let given = cells(unit, monthIndex)
                return report.columns.map { column -> ReportValue in
                    switch column.name {
                    case "level": return .text("county")
                    case "unit_code": return .text(String(format: "3301%02d", unit + 1))
                    case "unit_name": return .text("县\(unit + 1)")
                    case "month": return .text(month)
                    default: return given[column.name] ?? .null
                    }
                }
            }
        }
    }

    @Test("primary-care share: small multiples per county with the 65 % reference line; the top 12 of many")
    func primaryCareShare() throws {
        let report = try #require(ReportCatalog.report(id: "primary-care-share"))
        let months = ["2024-01", "2024-02", "2024-04"]
        let rows = Self.levelledRows(report, units: 14, months: months) { unit, month in
            ["all_visits": .integer(1000 * (unit + 1)), "primary_visits": .integer(600 * (unit + 1)),
             "primary_care_share": month == 1 && unit == 13 ? .null : .decimal(Decimal(60 + unit) + Decimal(month)),
             "reference_share": .decimal(65)]
        }
        let markup = try #require(ReportChart.svg(report: report, result: ReportResult(columns: report.columns, rows: rows),
                                                  language: .zh, idPrefix: "pcs", columnTitle: { $0.titleZh }))
        let svg = try Self.chart(markup)
        #expect(svg["data-chart"] == "multiples")
        let panels = svg.all("g", class: "panel")
        #expect(panels.count == 12)
        // The 12 counties with the most visits: 县3 … 县14, in report order.
        #expect(panels.first?.all("text", class: "panel-title").first?.allText == "县3")
        #expect(panels.allSatisfy { $0.all("line", class: "threshold-line").first?["data-value"] == "65" })
        // March has no row: the x axis still has it, as a gap.
        #expect(panels[0].all("circle", class: "point").count == 3)
        #expect(panels[0].all("circle", class: "point").last?.titleText == "县3 · 2024-04: 64%")
        #expect(panels[11].all("circle", class: "point").count == 2)
        let desc = Self.desc(svg)
        #expect(desc.contains("12") && desc.contains("14") && desc.contains("参考值"))
        #expect(desc.contains("2024-01 – 2024-04"))
    }

    @Test("referrals: lines of up- and down-referrals per month plus the tier matrix summed over the rows")
    func referrals() throws {
        let report = try #require(ReportCatalog.report(id: "referrals"))
        let rows = Self.levelledRows(report, units: 2, months: ["2024-05", "2024-06"]) { unit, month in
            ["up_referrals": .integer(10 + unit), "down_referrals": unit == 1 && month == 1 ? .text("<5") : .integer(20),
             "tier1_to_tier2": .integer(7), "tier2_to_tier3": .integer(100 * (unit + 1)), "tier3_to_tier1": .integer(0),
             "tier1_to_tier1": .text("<5")]
        }
        let markup = try #require(ReportChart.svg(report: report, result: ReportResult(columns: report.columns, rows: rows),
                                                  language: .en, idPrefix: "ref", columnTitle: { $0.titleZh }))
        let roots = try Self.charts(markup)
        #expect(roots.map { $0["data-chart"] } == ["lines", "heatmap"])
        let lines = roots[0], matrix = roots[1]
        #expect(lines.all("circle", class: "point").compactMap(\.titleText) == [
            "上转人次 · 2024-05: 21 referrals", "上转人次 · 2024-06: 21 referrals",
            "下转人次 · 2024-05: 40 referrals", "下转人次 · 2024-06: 20 referrals",
        ])
        #expect(Self.desc(lines).contains("Suppressed small cells left out of the sums: 1."))
        let cells = matrix.all("rect", class: "cell")
        #expect(cells.count == 9)
        #expect(cells[1].titleText == "Tier 1 → Tier 2: 28 referrals")
        #expect(cells[5].titleText == "Tier 2 → Tier 3: 600 referrals")
        #expect(cells[6].titleText == "Tier 3 → Tier 1: 0 referrals")
        #expect(cells[0].titleText == "Tier 1 → Tier 1: no value")
        #expect(cells[4].titleText == "Tier 2 → Tier 2: no value")
        #expect(lines["aria-labelledby"] != matrix["aria-labelledby"])
    }

    @Test("vbp-completion: completion bars against the 100 % target; upload history: a night without an extract is a gap")
    func targetsAndGaps() throws {
        let vbp = try #require(ReportCatalog.report(id: "vbp-completion"))
        let vbpRows: [[ReportValue]] = (0..<3).map { index in
            vbp.columns.map { column -> ReportValue in
                switch column.name {
                case "member_name": .text("成员\(index)")
                case "national_code": .text("XA01")
                case "generic_name": .text("阿莫西林")
                case "completion": .decimal(Decimal([40, 110, 75][index]))
                case "elapsed_share": .decimal(50)
                default: .null
                }
            }
        }
        let vbpSVG = try Self.chart(try #require(ReportChart.svg(report: vbp, result: ReportResult(columns: vbp.columns, rows: vbpRows),
                                                                 language: .zh, idPrefix: "vbp", columnTitle: { $0.titleZh })))
        #expect(vbpSVG["data-chart"] == "bars")
        #expect(vbpSVG.all("line", class: "threshold-line").first?["data-value"] == "100")
        // Furthest behind first.
        #expect(vbpSVG.all("rect", class: "bar").first?.titleText == "成员0 · 完成率: 40%")

        let uploads = try #require(ReportCatalog.report(id: "upload-history"))
        let nights = ["2024-03-01", "2024-03-02", "2024-03-03"]
        let uploadRows: [[ReportValue]] = nights.enumerated().map { index, night in
            uploads.columns.map { column -> ReportValue in
                switch column.name {
                case "facility_code": .text("F001")
                case "facility_name": .text("市第一人民医院")
                case "business_date": .text(night)
                case "status": .text(index == 1 ? "missing" : "loaded")
                case "rows_received": index == 1 ? .null : .integer(1000 + index)
                default: .null
                }
            }
        }
        let uploadSVG = try Self.chart(try #require(ReportChart.svg(report: uploads, result: ReportResult(columns: uploads.columns, rows: uploadRows),
                                                                    language: .en, idPrefix: "up", columnTitle: { $0.titleZh })))
        #expect(uploadSVG["data-chart"] == "bars")
        #expect(uploadSVG.all("rect", class: "bar").compactMap(\.titleText) == ["2024-03-01: 1,000 rows", "2024-03-03: 1,002 rows"])
        #expect(Self.desc(uploadSVG).contains("1 facility-night without an extract"))
    }
}
