import Foundation

/// Lines over an ordered x axis (months, nights), one per series, each point marked. A nil value
/// breaks the line; a lone point shows as its marker.
public struct LineChart: Sendable {
    public var title: String
    /// The x positions in order, e.g. `2024-01` … `2024-12`.
    public var x: [String]
    /// Each series holds one value per x position.
    public var series: [ChartSeries]
    public var unit: String
    public var valueAxisTitle: String?
    public var xAxisTitle: String?
    public var threshold: ChartThreshold?
    public var note: String?

    public init(title: String, x: [String], series: [ChartSeries], unit: String = "", valueAxisTitle: String? = nil,
                xAxisTitle: String? = nil, threshold: ChartThreshold? = nil, note: String? = nil) {
        self.title = title
        self.x = x
        self.series = series
        self.unit = unit
        self.valueAxisTitle = valueAxisTitle
        self.xAxisTitle = xAxisTitle
        self.threshold = threshold
        self.note = note
    }

    static let width = 720.0

    public func svg(idPrefix: String, language: ChartLanguage) -> String {
        let words = ChartWords(language: language)
        let values = series.flatMap { $0.values.prefix(x.count).compactMap { $0 } }.filter(\.isFinite)
        guard !x.isEmpty, !series.isEmpty, !values.isEmpty else {
            return SVGBuilder.empty(kind: "lines", idPrefix: idPrefix, title: title, language: language, note: note)
        }
        let scaleValues = values + (threshold.map { [$0.value] } ?? [])
        let scale = ValueScale(values: scaleValues, includeZero: zeroBelongs(scaleValues))
        var svg = SVGBuilder(kind: "lines", idPrefix: idPrefix, width: Self.width, height: 0)
        svg.text(title, x: 16, y: 24, size: 15, weight: "600", maxWidth: Self.width - 32, className: "chart-title")
        var top = 40.0
        if series.count > 1 {
            let entries = series.enumerated().map {
                (name: $0.element.name, color: ChartPalette.color($0.offset), dash: ChartPalette.dash($0.offset), isLine: true)
            }
            top = drawLegend(&svg, entries: entries, x: 16, y: 52, maxWidth: Self.width - 32)
        }

        let tickLabels = scale.ticks.map { ChartNumber.format($0, decimals: scale.tickDecimals) }
        let tickWidth = tickLabels.map { TextMetrics.width($0, fontSize: 11) }.max() ?? 20
        let plotLeft = 16 + (valueAxisTitle != nil ? 20 : 0) + tickWidth + 8
        let plotRight = Self.width - 20
        let plotTop = top + 16
        let plotBottom = plotTop + 240
        func y(_ value: Double) -> Double { scale.position(value, from: plotBottom, to: plotTop) }
        let band = (plotRight - plotLeft) / Double(x.count)
        func xPosition(_ index: Int) -> Double { plotLeft + (Double(index) + 0.5) * band }

        svg.raw("<g class=\"axis value-axis\">")
        for (tick, label) in zip(scale.ticks, tickLabels) {
            svg.line(x1: plotLeft, y1: y(tick), x2: plotRight, y2: y(tick), stroke: tick == 0 ? ChartPalette.axis : ChartPalette.grid,
                     className: "tick", extra: ["data-value": ChartNumber.plain(tick)])
            svg.text(label, x: plotLeft - 6, y: y(tick) + 4, size: 11, anchor: "end", fill: ChartPalette.muted)
        }
        svg.raw("</g>")
        svg.line(x1: plotLeft, y1: plotBottom, x2: plotRight, y2: plotBottom, stroke: ChartPalette.axis, className: "baseline")
        if let valueAxisTitle {
            let middle = (plotTop + plotBottom) / 2
            let suffix = unit.isEmpty ? "" : language == .zh ? "（\(unit)）" : " (\(unit))"
            svg.text(valueAxisTitle + suffix, x: 26, y: middle, anchor: "middle", fill: ChartPalette.muted,
                     maxWidth: plotBottom - plotTop, className: "axis-title", transform: "rotate(-90 26 \(coord(middle)))")
        }
        var bottom = drawCategoryLabels(&svg, labels: x, left: plotLeft, band: band, y: plotBottom + 16)
        if let xAxisTitle {
            svg.text(xAxisTitle, x: (plotLeft + plotRight) / 2, y: bottom + 18, anchor: "middle", fill: ChartPalette.muted,
                     maxWidth: plotRight - plotLeft, className: "axis-title")
            bottom += 24
        }

        if let threshold {
            drawHorizontalThreshold(&svg, threshold, y: y(threshold.value), left: plotLeft, right: plotRight, unit: unit)
        }

        for (seriesIndex, current) in series.enumerated() {
            let color = ChartPalette.color(seriesIndex)
            svg.raw("<g class=\"series\">")
            let path = linePath(current.values.prefix(x.count).map { $0.flatMap { $0.isFinite ? $0 : nil } },
                                x: xPosition, y: y)
            if !path.isEmpty {
                svg.element("path", ["d": path, "fill": "none", "stroke": color, "stroke-width": "2",
                                     "stroke-dasharray": ChartPalette.dash(seriesIndex), "stroke-linejoin": "round",
                                     "class": "line"])
            }
            for (index, label) in x.enumerated() {
                guard index < current.values.count, let value = current.values[index], value.isFinite else { continue }
                let text = ChartNumber.format(value, unit: unit)
                let title = series.count > 1 ? "\(current.name) · \(label): \(text)" : "\(label): \(text)"
                svg.element("circle", ["class": "point", "cx": coord(xPosition(index)), "cy": coord(y(value)), "r": "3.5",
                                       "fill": color, "stroke": "#ffffff", "stroke-width": "1", "data-value": ChartNumber.plain(value)],
                            children: SVGBuilder.title(title))
            }
            svg.raw("</g>")
        }
        svg.height = bottom + 10
        return svg.finish(title: title, desc: description(values: values, words: words))
    }

    private func description(values: [Double], words: ChartWords) -> String {
        let language = words.language
        let names = words.list(series.map(\.name))
        let span = x.count == 1 ? x[0] : "\(x[0]) – \(x[x.count - 1])"
        var parts = [language == .zh
            ? "折线图：\(names)，\(xAxisTitle.map { $0 + " " } ?? "")\(span)（\(x.count) 个点）"
            : "Line chart of \(names) over \(xAxisTitle.map { $0 + " " } ?? "")\(span) (\(x.count) points)"]
        parts.append(words.range(values.min() ?? 0, values.max() ?? 0, unit: unit))
        if let threshold { parts.append(words.threshold(threshold, unit: unit)) }
        let gaps = x.count * series.count - values.count
        if gaps > 0 { parts.append(words.gaps(gaps)) }
        if let note, !note.isEmpty { parts.append(note) }
        return joinSentences(parts, language: language)
    }
}

/// Whether a value axis should reach down (or up) to zero: when the values straddle it or lie close
/// enough that zero does not squash them; shares between 50 and 80 get their own range.
func zeroBelongs(_ values: [Double]) -> Bool {
    guard let low = values.min(), let high = values.max() else { return true }
    if low <= 0 && high >= 0 { return true }
    if low > 0 { return low <= high * 0.5 }
    return high >= low * 0.5
}

/// An SVG path through the non-nil values, broken at each nil; a lone value makes no segment.
func linePath(_ values: [Double?], x: (Int) -> Double, y: (Double) -> Double) -> String {
    var path = ""
    var previous = false
    for (index, value) in values.enumerated() {
        guard let value else {
            previous = false
            continue
        }
        let next = index + 1 < values.count && values[index + 1] != nil
        if previous {
            path += " L\(coord(x(index))) \(coord(y(value)))"
        } else if next {
            path += (path.isEmpty ? "" : " ") + "M\(coord(x(index))) \(coord(y(value)))"
        }
        previous = true
    }
    return path
}
