import Foundation

/// A grid of small panels, one per unit (county, facility, item), each with its own title, over the
/// same x positions. The y scale is shared so panels compare at a glance, unless `sharedScale` is
/// false (units that do not compare, such as prices of different items): then each panel has its own
/// labelled scale.
public struct SmallMultiplesChart: Sendable {
    public enum Mark: Sendable {
        case lines, bars
    }

    public struct Panel: Sendable {
        public var title: String
        /// Each series holds one value per x position; the same series names in every panel.
        public var series: [ChartSeries]

        public init(title: String, series: [ChartSeries]) {
            self.title = title
            self.series = series
        }
    }

    public var title: String
    public var x: [String]
    public var panels: [Panel]
    public var unit: String
    public var valueAxisTitle: String?
    public var threshold: ChartThreshold?
    public var mark: Mark
    public var sharedScale: Bool
    public var note: String?

    public init(title: String, x: [String], panels: [Panel], unit: String = "", valueAxisTitle: String? = nil,
                threshold: ChartThreshold? = nil, mark: Mark = .lines, sharedScale: Bool = true, note: String? = nil) {
        self.title = title
        self.x = x
        self.panels = panels
        self.unit = unit
        self.valueAxisTitle = valueAxisTitle
        self.threshold = threshold
        self.mark = mark
        self.sharedScale = sharedScale
        self.note = note
    }

    static let width = 720.0

    private func values(_ panel: Panel) -> [Double] {
        panel.series.flatMap { $0.values.prefix(x.count).compactMap { $0 } }.filter(\.isFinite)
    }

    private func scale(for values: [Double]) -> ValueScale {
        let all = values + (threshold.map { [$0.value] } ?? [])
        return ValueScale(values: all, includeZero: mark == .bars || zeroBelongs(all), target: 3)
    }

    public func svg(idPrefix: String, language: ChartLanguage) -> String {
        let words = ChartWords(language: language)
        let allValues = panels.flatMap(values)
        guard !x.isEmpty, !panels.isEmpty, !allValues.isEmpty else {
            return SVGBuilder.empty(kind: "multiples", idPrefix: idPrefix, title: title, language: language, note: note)
        }
        var names: [String] = []
        for panel in panels { for series in panel.series where !names.contains(series.name) { names.append(series.name) } }
        let shared = scale(for: allValues)
        let scales = panels.map { sharedScale ? shared : scale(for: values($0).isEmpty ? allValues : values($0)) }

        var svg = SVGBuilder(kind: "multiples", idPrefix: idPrefix, width: Self.width, height: 0)
        svg.text(title, x: 16, y: 24, size: 15, weight: "600", maxWidth: Self.width - 32, className: "chart-title")
        var entries = names.enumerated().map {
            (name: $0.element, color: ChartPalette.color($0.offset), dash: mark == .lines ? ChartPalette.dash($0.offset) : "",
             isLine: mark == .lines)
        }
        if let threshold {
            entries.append((name: "\(threshold.label) \(ChartNumber.format(threshold.value, unit: unit))",
                            color: ChartPalette.threshold, dash: "5 4", isLine: true))
        }
        var top = 40.0
        if names.count > 1 || threshold != nil {
            top = drawLegend(&svg, entries: entries, x: 16, y: 52, maxWidth: Self.width - 32)
        }
        if let valueAxisTitle {
            let suffix = unit.isEmpty ? "" : language == .zh ? "（\(unit)）" : " (\(unit))"
            svg.text(valueAxisTitle + suffix, x: 16, y: top + 12, size: 11, fill: ChartPalette.muted,
                     maxWidth: Self.width - 32, className: "axis-title")
            top += 18
        }

        let columns = panels.count == 1 ? 1 : panels.count <= 4 ? 2 : 3
        let gap = 18.0
        let panelWidth = (Self.width - 32 - Double(columns - 1) * gap) / Double(columns)
        let panelHeight = 156.0
        let tickWidth = scales.flatMap { scale in scale.ticks.map { ChartNumber.format($0, decimals: scale.tickDecimals) } }
            .map { TextMetrics.width($0, fontSize: 10) }.max() ?? 20
        let gridTop = top + 8

        for (panelIndex, panel) in panels.enumerated() {
            let scale = scales[panelIndex]
            let column = panelIndex % columns, row = panelIndex / columns
            let left = 16 + Double(column) * (panelWidth + gap)
            let top = gridTop + Double(row) * panelHeight
            let plotLeft = left + tickWidth + 6
            let plotRight = left + panelWidth - 4
            let plotTop = top + 26
            let plotBottom = top + 122
            func y(_ value: Double) -> Double { scale.position(value, from: plotBottom, to: plotTop) }
            let band = (plotRight - plotLeft) / Double(x.count)
            func xPosition(_ index: Int) -> Double { plotLeft + (Double(index) + 0.5) * band }

            svg.raw("<g class=\"panel\">")
            svg.text(panel.title, x: left, y: top + 14, size: 12, weight: "600", maxWidth: panelWidth, className: "panel-title")
            let labelled = !sharedScale || column == 0
            for tick in scale.ticks {
                svg.line(x1: plotLeft, y1: y(tick), x2: plotRight, y2: y(tick), stroke: tick == 0 ? ChartPalette.axis : ChartPalette.grid,
                         className: "tick", extra: ["data-value": ChartNumber.plain(tick)])
                if labelled {
                    svg.text(ChartNumber.format(tick, decimals: scale.tickDecimals), x: plotLeft - 4, y: y(tick) + 3.5, size: 10,
                             anchor: "end", fill: ChartPalette.muted)
                }
            }
            svg.line(x1: plotLeft, y1: plotBottom, x2: plotRight, y2: plotBottom, stroke: ChartPalette.axis, className: "baseline")
            if x.count == 1 {
                svg.text(x[0], x: xPosition(0), y: plotBottom + 14, size: 10, anchor: "middle", fill: ChartPalette.muted,
                         maxWidth: plotRight - plotLeft, className: "category")
            } else {
                let half = (plotRight - plotLeft) / 2 - 2
                svg.text(x[0], x: plotLeft, y: plotBottom + 14, size: 10, fill: ChartPalette.muted, maxWidth: half, className: "category")
                svg.text(x[x.count - 1], x: plotRight, y: plotBottom + 14, size: 10, anchor: "end", fill: ChartPalette.muted,
                         maxWidth: half, className: "category")
            }
            if let threshold {
                drawHorizontalThreshold(&svg, threshold, y: y(threshold.value), left: plotLeft, right: plotRight, unit: unit,
                                        showLabel: false)
            }
            if values(panel).isEmpty {
                svg.text(words.noData, x: (plotLeft + plotRight) / 2, y: (plotTop + plotBottom) / 2 + 4, size: 11,
                         anchor: "middle", fill: ChartPalette.muted, className: "no-data")
            }
            switch mark {
            case .lines: drawLines(&svg, panel: panel, names: names, x: xPosition, y: y)
            case .bars: drawBars(&svg, panel: panel, names: names, left: plotLeft, band: band, y: y)
            }
            svg.raw("</g>")
        }
        let rows = (panels.count + columns - 1) / columns
        svg.height = gridTop + Double(rows) * panelHeight + 4
        return svg.finish(title: title, desc: description(values: allValues, names: names, words: words))
    }

    private func pointTitle(panel: Panel, series: ChartSeries, index: Int, value: Double, names: [String]) -> String {
        let text = ChartNumber.format(value, unit: unit)
        return names.count > 1 ? "\(panel.title) · \(series.name) · \(x[index]): \(text)" : "\(panel.title) · \(x[index]): \(text)"
    }

    private func drawLines(_ svg: inout SVGBuilder, panel: Panel, names: [String], x: (Int) -> Double, y: (Double) -> Double) {
        for current in panel.series {
            let seriesIndex = names.firstIndex(of: current.name) ?? 0
            let color = ChartPalette.color(seriesIndex)
            let values = self.x.indices.map { $0 < current.values.count ? current.values[$0].flatMap { $0.isFinite ? $0 : nil } : nil }
            let path = linePath(values, x: x, y: y)
            if !path.isEmpty {
                svg.element("path", ["d": path, "fill": "none", "stroke": color, "stroke-width": "1.75",
                                     "stroke-dasharray": ChartPalette.dash(seriesIndex), "class": "line"])
            }
            for (index, value) in values.enumerated() {
                guard let value else { continue }
                svg.element("circle", ["class": "point", "cx": coord(x(index)), "cy": coord(y(value)), "r": "2.5", "fill": color,
                                       "data-value": ChartNumber.plain(value)],
                            children: SVGBuilder.title(pointTitle(panel: panel, series: current, index: index, value: value, names: names)))
            }
        }
    }

    private func drawBars(_ svg: inout SVGBuilder, panel: Panel, names: [String], left: Double, band: Double, y: (Double) -> Double) {
        let zero = y(0)
        let count = Double(max(1, panel.series.count))
        let barWidth = band * 0.8 / count
        for (position, current) in panel.series.enumerated() {
            let color = ChartPalette.color(names.firstIndex(of: current.name) ?? 0)
            for index in x.indices {
                guard index < current.values.count, let value = current.values[index], value.isFinite else { continue }
                let end = y(value)
                svg.element("rect", [
                    "class": "bar", "x": coord(left + Double(index) * band + band * 0.1 + Double(position) * barWidth),
                    "y": coord(min(zero, end)), "width": coord(max(0.5, barWidth - 0.5)), "height": coord(abs(end - zero)),
                    "fill": color, "data-value": ChartNumber.plain(value),
                ], children: SVGBuilder.title(pointTitle(panel: panel, series: current, index: index, value: value, names: names)))
            }
        }
    }

    private func description(values: [Double], names: [String], words: ChartWords) -> String {
        let language = words.language
        let span = x.count == 1 ? x[0] : "\(x[0]) – \(x[x.count - 1])"
        let kind = mark == .lines ? (language == .zh ? "折线" : "line") : (language == .zh ? "柱状" : "bar")
        let titles = words.list(panels.map(\.title))
        var parts = [language == .zh
            ? "小多图：\(panels.count) 个\(kind)小图（\(titles)），每图显示\(words.list(names))，\(span)"
            : "Small multiples: \(panels.count) \(kind) panels (\(titles)), each showing \(words.list(names)) over \(span)"]
        parts.append(sharedScale
            ? (language == .zh ? "各小图纵轴刻度相同" : "All panels share one scale")
            : (language == .zh ? "各小图纵轴刻度各自独立" : "Each panel has its own scale"))
        parts.append(words.range(values.min() ?? 0, values.max() ?? 0, unit: unit))
        if let threshold { parts.append(words.threshold(threshold, unit: unit)) }
        let slots = panels.reduce(0) { $0 + $1.series.count * x.count }
        if slots > values.count { parts.append(words.gaps(slots - values.count)) }
        if let note, !note.isEmpty { parts.append(note) }
        return joinSentences(parts, language: language)
    }
}
