import Foundation

/// Grouped bars: one group per category, one bar per series. Horizontal bars (the default) keep long
/// Chinese labels readable; vertical bars suit an ordered axis such as nights. Bars start at zero,
/// negative values go left (or down); a nil value leaves a gap.
public struct BarChart: Sendable {
    public enum Orientation: Sendable {
        case horizontal, vertical
    }

    public var title: String
    public var categories: [String]
    /// Each series holds one value per category.
    public var series: [ChartSeries]
    /// Unit written after values ("%", "人次", "beds"); empty for none.
    public var unit: String
    public var valueAxisTitle: String?
    public var categoryAxisTitle: String?
    public var threshold: ChartThreshold?
    public var orientation: Orientation
    /// A sentence added to `<desc>`, e.g. which rows were left out.
    public var note: String?

    public init(title: String, categories: [String], series: [ChartSeries], unit: String = "",
                valueAxisTitle: String? = nil, categoryAxisTitle: String? = nil, threshold: ChartThreshold? = nil,
                orientation: Orientation = .horizontal, note: String? = nil) {
        self.title = title
        self.categories = categories
        self.series = series
        self.unit = unit
        self.valueAxisTitle = valueAxisTitle
        self.categoryAxisTitle = categoryAxisTitle
        self.threshold = threshold
        self.orientation = orientation
        self.note = note
    }

    static let width = 720.0

    public func svg(idPrefix: String, language: ChartLanguage) -> String {
        let words = ChartWords(language: language)
        let values = series.flatMap { $0.values.prefix(categories.count).compactMap { $0 } }.filter(\.isFinite)
        guard !categories.isEmpty, !series.isEmpty, !values.isEmpty else {
            return SVGBuilder.empty(kind: "bars", idPrefix: idPrefix, title: title, language: language, note: note)
        }
        let scale = ValueScale(values: values + (threshold.map { [$0.value] } ?? []), includeZero: true)
        var svg = SVGBuilder(kind: "bars", idPrefix: idPrefix, width: Self.width, height: 0)
        svg.text(title, x: 16, y: 24, size: 15, weight: "600", maxWidth: Self.width - 32, className: "chart-title")
        var top = 40.0
        if series.count > 1 {
            let entries = series.enumerated().map { (name: $0.element.name, color: ChartPalette.color($0.offset), dash: "", isLine: false) }
            top = drawLegend(&svg, entries: entries, x: 16, y: 52, maxWidth: Self.width - 32)
        }
        switch orientation {
        case .horizontal: drawHorizontal(&svg, scale: scale, top: top, language: language)
        case .vertical: drawVertical(&svg, scale: scale, top: top, language: language)
        }
        return svg.finish(title: title, desc: description(values: values, words: words))
    }

    private func barTitle(category: String, series: ChartSeries, value: Double) -> String {
        let text = ChartNumber.format(value, unit: unit)
        return self.series.count > 1 ? "\(category) · \(series.name): \(text)" : "\(category): \(text)"
    }

    private func value(_ series: ChartSeries, _ index: Int) -> Double? {
        guard index < series.values.count, let value = series.values[index], value.isFinite else { return nil }
        return value
    }

    private func drawHorizontal(_ svg: inout SVGBuilder, scale: ValueScale, top: Double, language: ChartLanguage) {
        let fontSize = 12.0
        let labelWidth = min(220, max(40, categories.map { TextMetrics.width($0, fontSize: fontSize) }.max() ?? 40))
        let valueLabels = series.flatMap { s in categories.indices.compactMap { value(s, $0) }.map { ChartNumber.format($0) } }
        let valueLabelWidth = min(110, (valueLabels.map { TextMetrics.width($0, fontSize: 11) }.max() ?? 30) + 8)
        let plotLeft = 16 + labelWidth + 10
        let plotRight = Self.width - 16 - valueLabelWidth
        var plotTop = top + 12
        if let categoryAxisTitle {
            svg.text(categoryAxisTitle, x: 16, y: top + 14, fill: ChartPalette.muted, maxWidth: Self.width - 32, className: "axis-title")
            plotTop += 18
        }
        if threshold != nil { plotTop += 16 }
        let barHeight = series.count == 1 ? 18.0 : series.count <= 3 ? 12.0 : 9.0
        let band = Double(series.count) * barHeight + 10
        let plotBottom = plotTop + Double(categories.count) * band
        func x(_ value: Double) -> Double { scale.position(value, from: plotLeft, to: plotRight) }

        svg.raw("<g class=\"axis value-axis\">")
        for tick in scale.ticks {
            svg.line(x1: x(tick), y1: plotTop, x2: x(tick), y2: plotBottom, stroke: tick == 0 ? ChartPalette.axis : ChartPalette.grid,
                     className: "tick", extra: ["data-value": ChartNumber.plain(tick)])
            svg.text(ChartNumber.format(tick, decimals: scale.tickDecimals), x: x(tick), y: plotBottom + 16, size: 11,
                     anchor: "middle", fill: ChartPalette.muted)
        }
        svg.raw("</g>")
        var bottom = plotBottom + 22
        if let valueAxisTitle {
            svg.text(valueAxisTitle + unitSuffix(language), x: (plotLeft + plotRight) / 2, y: plotBottom + 38, anchor: "middle",
                     fill: ChartPalette.muted, maxWidth: plotRight - plotLeft, className: "axis-title")
            bottom = plotBottom + 46
        }

        svg.raw("<g class=\"axis category-axis\">")
        for (index, category) in categories.enumerated() {
            let middle = plotTop + Double(index) * band + band / 2
            svg.text(category, x: plotLeft - 8, y: middle + 4, anchor: "end", maxWidth: labelWidth, className: "category")
        }
        svg.raw("</g>")

        let zero = x(0)
        svg.raw("<g class=\"bars\">")
        for (seriesIndex, current) in series.enumerated() {
            let color = ChartPalette.color(seriesIndex)
            for (index, category) in categories.enumerated() {
                guard let value = value(current, index) else { continue }
                let y = plotTop + Double(index) * band + 5 + Double(seriesIndex) * barHeight
                let end = x(value)
                svg.element("rect", [
                    "class": "bar", "x": coord(min(zero, end)), "y": coord(y), "width": coord(abs(end - zero)),
                    "height": coord(barHeight - 2), "fill": color, "data-value": ChartNumber.plain(value),
                ], children: SVGBuilder.title(barTitle(category: category, series: current, value: value)))
                let label = ChartNumber.format(value)
                svg.text(label, x: value < 0 ? end - 4 : end + 4, y: y + barHeight / 2 + 2, size: 11,
                         anchor: value < 0 ? "end" : "start", fill: ChartPalette.muted, className: "value-label", halo: true)
            }
        }
        svg.raw("</g>")

        if let threshold {
            let position = x(threshold.value)
            svg.raw("<g class=\"threshold\">")
            svg.line(x1: position, y1: plotTop - 6, x2: position, y2: plotBottom, stroke: ChartPalette.threshold, width: 1.5,
                     dash: "5 4", className: "threshold-line", extra: ["data-value": ChartNumber.plain(threshold.value)],
                     title: "\(threshold.label): \(ChartNumber.format(threshold.value, unit: unit))")
            // The label runs from the line towards the wider side of the plot.
            let label = "\(threshold.label) \(ChartNumber.format(threshold.value, unit: unit))"
            let leftward = position > (plotLeft + plotRight) / 2
            svg.text(label, x: leftward ? position + 4 : position - 4, y: plotTop - 10, size: 11, anchor: leftward ? "end" : "start",
                     fill: ChartPalette.threshold, maxWidth: leftward ? position - 16 : Self.width - 16 - position,
                     className: "threshold-label", halo: true)
            svg.raw("</g>")
        }
        svg.height = bottom + 8
    }

    private func drawVertical(_ svg: inout SVGBuilder, scale: ValueScale, top: Double, language: ChartLanguage) {
        let tickLabels = scale.ticks.map { ChartNumber.format($0, decimals: scale.tickDecimals) }
        let tickWidth = (tickLabels.map { TextMetrics.width($0, fontSize: 11) }.max() ?? 20)
        let plotLeft = 16 + (valueAxisTitle != nil ? 20 : 0) + tickWidth + 8
        let plotRight = Self.width - 16
        let plotTop = top + 14
        let plotBottom = plotTop + 240
        func y(_ value: Double) -> Double { scale.position(value, from: plotBottom, to: plotTop) }
        let band = (plotRight - plotLeft) / Double(categories.count)

        svg.raw("<g class=\"axis value-axis\">")
        for (tick, label) in zip(scale.ticks, tickLabels) {
            svg.line(x1: plotLeft, y1: y(tick), x2: plotRight, y2: y(tick), stroke: tick == 0 ? ChartPalette.axis : ChartPalette.grid,
                     className: "tick", extra: ["data-value": ChartNumber.plain(tick)])
            svg.text(label, x: plotLeft - 6, y: y(tick) + 4, size: 11, anchor: "end", fill: ChartPalette.muted)
        }
        svg.raw("</g>")
        if let valueAxisTitle {
            let middle = (plotTop + plotBottom) / 2
            svg.text(valueAxisTitle + unitSuffix(language), x: 26, y: middle, anchor: "middle", fill: ChartPalette.muted,
                     maxWidth: plotBottom - plotTop, className: "axis-title", transform: "rotate(-90 26 \(coord(middle)))")
        }
        var bottom = drawCategoryLabels(&svg, labels: categories, left: plotLeft, band: band, y: plotBottom + 16)
        if let categoryAxisTitle {
            svg.text(categoryAxisTitle, x: (plotLeft + plotRight) / 2, y: bottom + 16, anchor: "middle", fill: ChartPalette.muted,
                     maxWidth: plotRight - plotLeft, className: "axis-title")
            bottom += 22
        }

        let zero = y(0)
        let groupWidth = band * 0.8
        let barWidth = groupWidth / Double(series.count)
        svg.raw("<g class=\"bars\">")
        for (seriesIndex, current) in series.enumerated() {
            let color = ChartPalette.color(seriesIndex)
            for (index, category) in categories.enumerated() {
                guard let value = value(current, index) else { continue }
                let x = plotLeft + Double(index) * band + band * 0.1 + Double(seriesIndex) * barWidth
                let end = y(value)
                svg.element("rect", [
                    "class": "bar", "x": coord(x), "y": coord(min(zero, end)), "width": coord(max(1, barWidth - 1)),
                    "height": coord(abs(end - zero)), "fill": color, "data-value": ChartNumber.plain(value),
                ], children: SVGBuilder.title(barTitle(category: category, series: current, value: value)))
            }
        }
        svg.raw("</g>")

        if let threshold {
            drawHorizontalThreshold(&svg, threshold, y: y(threshold.value), left: plotLeft, right: plotRight, unit: unit)
        }
        svg.height = bottom + 8
    }

    private func unitSuffix(_ language: ChartLanguage) -> String {
        unit.isEmpty ? "" : language == .zh ? "（\(unit)）" : " (\(unit))"
    }

    private func description(values: [Double], words: ChartWords) -> String {
        let language = words.language
        let kind = orientation == .horizontal
            ? (language == .zh ? "横向条形图" : "Horizontal bar chart")
            : (language == .zh ? "柱状图" : "Bar chart")
        let names = words.list(series.map(\.name))
        var parts: [String] = []
        if let categoryAxisTitle {
            parts.append(language == .zh
                ? "\(kind)：按\(categoryAxisTitle)（\(categories.count) 项）显示\(names)"
                : "\(kind) of \(names) by \(categoryAxisTitle) (\(categories.count))")
        } else {
            parts.append(language == .zh ? "\(kind)：\(names)，共 \(categories.count) 项" : "\(kind) of \(names), \(categories.count) categories")
        }
        parts.append(words.range(values.min() ?? 0, values.max() ?? 0, unit: unit))
        if let threshold { parts.append(words.threshold(threshold, unit: unit)) }
        let gaps = categories.count * series.count - values.count
        if gaps > 0 { parts.append(words.gaps(gaps)) }
        if let note, !note.isEmpty { parts.append(note) }
        return joinSentences(parts, language: language)
    }
}

/// Sentences joined in the chart's language: "。" after each in Chinese, ". " in English.
func joinSentences(_ parts: [String], language: ChartLanguage) -> String {
    let trimmed = parts.map { part -> String in
        var part = part
        while let last = part.last, last == "." || last == "。" || last == " " { part.removeLast() }
        return part
    }.filter { !$0.isEmpty }
    return language == .zh ? trimmed.map { $0 + "。" }.joined() : trimmed.map { $0 + "." }.joined(separator: " ")
}

/// Labels under an ordered axis, one every few positions when they would collide, each cut to the
/// room it has. Returns the baseline used.
func drawCategoryLabels(_ svg: inout SVGBuilder, labels: [String], left: Double, band: Double, y: Double, size: Double = 11) -> Double {
    let widest = labels.map { TextMetrics.width($0, fontSize: size) }.max() ?? 0
    let every = max(1, Int(((widest + 8) / max(band, 1)).rounded(.up)))
    let room = band * Double(every) - 4
    svg.raw("<g class=\"axis category-axis\">")
    for (index, label) in labels.enumerated() where index % every == 0 {
        svg.text(label, x: left + (Double(index) + 0.5) * band, y: y, size: size, anchor: "middle", fill: ChartPalette.muted,
                 maxWidth: max(room, 12), className: "category")
    }
    svg.raw("</g>")
    return y
}

/// A horizontal dashed threshold line across the plot with its label above the right end.
func drawHorizontalThreshold(_ svg: inout SVGBuilder, _ threshold: ChartThreshold, y: Double, left: Double, right: Double,
                             unit: String, showLabel: Bool = true) {
    svg.raw("<g class=\"threshold\">")
    let text = "\(threshold.label) \(ChartNumber.format(threshold.value, unit: unit))"
    svg.line(x1: left, y1: y, x2: right, y2: y, stroke: ChartPalette.threshold, width: 1.5, dash: "5 4",
             className: "threshold-line", extra: ["data-value": ChartNumber.plain(threshold.value)],
             title: "\(threshold.label): \(ChartNumber.format(threshold.value, unit: unit))")
    if showLabel {
        svg.text(text, x: right - 2, y: y - 5, size: 11, anchor: "end", fill: ChartPalette.threshold,
                 maxWidth: right - left, className: "threshold-label", halo: true)
    }
    svg.raw("</g>")
}
