import Foundation

/// Rows × columns of values, each cell coloured on a sequential scale (darker is higher) and
/// labelled with its value, with the scale drawn as a legend. A nil cell is grey and says so.
public struct HeatMapChart: Sendable {
    public var title: String
    public var rows: [String]
    public var columns: [String]
    /// `values[row][column]`.
    public var values: [[Double?]]
    public var unit: String
    public var rowAxisTitle: String?
    public var columnAxisTitle: String?
    public var note: String?

    public init(title: String, rows: [String], columns: [String], values: [[Double?]], unit: String = "",
                rowAxisTitle: String? = nil, columnAxisTitle: String? = nil, note: String? = nil) {
        self.title = title
        self.rows = rows
        self.columns = columns
        self.values = values
        self.unit = unit
        self.rowAxisTitle = rowAxisTitle
        self.columnAxisTitle = columnAxisTitle
        self.note = note
    }

    static let width = 720.0

    private func value(_ row: Int, _ column: Int) -> Double? {
        guard row < values.count, column < values[row].count, let value = values[row][column], value.isFinite else { return nil }
        return value
    }

    public func svg(idPrefix: String, language: ChartLanguage) -> String {
        let words = ChartWords(language: language)
        let present = rows.indices.flatMap { row in columns.indices.compactMap { value(row, $0) } }
        guard !rows.isEmpty, !columns.isEmpty, !present.isEmpty else {
            return SVGBuilder.empty(kind: "heatmap", idPrefix: idPrefix, title: title, language: language, note: note)
        }
        let low = min(0, present.min() ?? 0), high = present.max() ?? 0
        func fraction(_ value: Double) -> Double { high > low ? (value - low) / (high - low) : 0 }

        var svg = SVGBuilder(kind: "heatmap", idPrefix: idPrefix, width: Self.width, height: 0)
        svg.text(title, x: 16, y: 24, size: 15, weight: "600", maxWidth: Self.width - 32, className: "chart-title")
        let labelWidth = min(200, max(30, rows.map { TextMetrics.width($0, fontSize: 12) }.max() ?? 30))
        let left = 16 + (rowAxisTitle != nil ? 22 : 0) + labelWidth + 10
        let cellWidth = min(140, (Self.width - 16 - left) / Double(columns.count))
        let cellHeight = 48.0
        var top = 44.0
        if let columnAxisTitle {
            svg.text(columnAxisTitle, x: left + cellWidth * Double(columns.count) / 2, y: top + 6, anchor: "middle",
                     fill: ChartPalette.muted, maxWidth: Self.width - left - 16, className: "axis-title")
            top += 22
        }
        svg.raw("<g class=\"axis column-axis\">")
        for (index, column) in columns.enumerated() {
            svg.text(column, x: left + (Double(index) + 0.5) * cellWidth, y: top + 6, anchor: "middle", maxWidth: cellWidth - 4,
                     className: "category")
        }
        svg.raw("</g>")
        let gridTop = top + 16
        let gridBottom = gridTop + cellHeight * Double(rows.count)
        if let rowAxisTitle {
            let middle = (gridTop + gridBottom) / 2
            svg.text(rowAxisTitle, x: 26, y: middle, anchor: "middle", fill: ChartPalette.muted,
                     maxWidth: max(cellHeight * Double(rows.count), 60), className: "axis-title",
                     transform: "rotate(-90 26 \(coord(middle)))")
        }
        svg.raw("<g class=\"axis row-axis\">")
        for (index, row) in rows.enumerated() {
            svg.text(row, x: left - 8, y: gridTop + (Double(index) + 0.5) * cellHeight + 4, anchor: "end", maxWidth: labelWidth,
                     className: "category")
        }
        svg.raw("</g>")

        svg.raw("<g class=\"cells\">")
        for (rowIndex, row) in rows.enumerated() {
            for (columnIndex, column) in columns.enumerated() {
                let x = left + Double(columnIndex) * cellWidth, y = gridTop + Double(rowIndex) * cellHeight
                let cellValue = value(rowIndex, columnIndex)
                let shown = cellValue.map { ChartNumber.format($0, unit: unit) } ?? words.noValue
                let color = cellValue.map { ChartPalette.sequentialColor(fraction($0)) } ?? (hex: ChartPalette.missing, dark: false)
                svg.raw("<g class=\"cell-group\">")
                svg.element("rect", [
                    "class": "cell", "x": coord(x + 1), "y": coord(y + 1), "width": coord(cellWidth - 2), "height": coord(cellHeight - 2),
                    "fill": color.hex, "data-value": cellValue.map(ChartNumber.plain) ?? "",
                ], children: SVGBuilder.title("\(row) → \(column): \(shown)"))
                svg.text(cellValue.map { ChartNumber.format($0) } ?? "–", x: x + cellWidth / 2, y: y + cellHeight / 2 + 5, size: 13,
                         anchor: "middle", fill: color.dark ? "#ffffff" : ChartPalette.text, maxWidth: cellWidth - 6,
                         className: "cell-label")
                svg.raw("</g>")
            }
        }
        svg.raw("</g>")

        // The legend: the colour ramp from the lowest to the highest value.
        let legendTop = gridBottom + 20
        let legendWidth = 220.0
        let gradient = svg.id("scale")
        var stops = ""
        for index in 0..<ChartPalette.sequential.count {
            let offset = Double(index) / Double(ChartPalette.sequential.count - 1)
            stops += "<stop offset=\"\(coord(offset * 100))%\" stop-color=\"\(ChartPalette.sequentialColor(offset).hex)\"/>"
        }
        svg.raw("<defs><linearGradient id=\"\(gradient)\" x1=\"0\" y1=\"0\" x2=\"1\" y2=\"0\">\(stops)</linearGradient></defs>")
        svg.raw("<g class=\"legend\">")
        svg.element("rect", ["x": coord(left), "y": coord(legendTop), "width": coord(legendWidth), "height": "12",
                             "fill": "url(#\(gradient))", "stroke": ChartPalette.grid])
        svg.text(ChartNumber.format(low, unit: unit), x: left, y: legendTop + 28, size: 11, fill: ChartPalette.muted)
        svg.text(ChartNumber.format(high, unit: unit), x: left + legendWidth, y: legendTop + 28, size: 11, anchor: "end",
                 fill: ChartPalette.muted)
        svg.text(language == .zh ? "颜色越深，数值越大" : "darker is higher", x: left + legendWidth + 12, y: legendTop + 10, size: 11,
                 fill: ChartPalette.muted)
        svg.raw("</g>")
        svg.height = legendTop + 40

        return svg.finish(title: title, desc: description(present: present, words: words))
    }

    private func description(present: [Double], words: ChartWords) -> String {
        let language = words.language
        let rowList = words.list(rows), columnList = words.list(columns)
        var parts = [language == .zh
            ? "热力图：\(rows.count) 行 × \(columns.count) 列，行为\(rowAxisTitle ?? "")（\(rowList)），列为\(columnAxisTitle ?? "")（\(columnList)），每格标出数值"
            : "Heat map of \(rows.count) rows × \(columns.count) columns; rows: \(rowAxisTitle.map { $0 + " " } ?? "")(\(rowList)); "
                + "columns: \(columnAxisTitle.map { $0 + " " } ?? "")(\(columnList)); each cell is labelled with its value"]
        parts.append(words.range(present.min() ?? 0, present.max() ?? 0, unit: unit))
        parts.append(language == .zh ? "颜色越深数值越大" : "Darker cells are higher")
        let missing = rows.count * columns.count - present.count
        if missing > 0 { parts.append(language == .zh ? "\(missing) 格无数据（灰色）" : "Cells without a value (grey): \(missing)") }
        if let note, !note.isEmpty { parts.append(note) }
        return joinSentences(parts, language: language)
    }
}
