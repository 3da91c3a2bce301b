import Foundation

/// The language of a chart's own words: "no data", legends, the summary in `<desc>`, units.
public enum ChartLanguage: Sendable {
    case zh, en
}

/// One named row of values of a chart: a bar per category, or a point per x position. A nil value
/// is a gap: no bar, a break in the line.
public struct ChartSeries: Sendable {
    public var name: String
    public var values: [Double?]

    public init(name: String, values: [Double?]) {
        self.name = name
        self.values = values
    }
}

/// A reference or target value drawn across the plot as a dashed line with its label.
public struct ChartThreshold: Sendable {
    public var value: Double
    public var label: String

    public init(value: Double, label: String) {
        self.value = value
        self.label = label
    }
}

/// Escaping for XML text and attribute values. Characters XML 1.0 cannot carry at all (most
/// control characters, unpaired surrogates cannot occur in a Swift string) are dropped.
enum XML {
    static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for scalar in text.unicodeScalars {
            switch scalar {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&apos;"
            case "\t", "\n", "\r": out += " "
            default:
                if scalar.value < 0x20 || scalar.value == 0xFFFE || scalar.value == 0xFFFF { continue }
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// An id prefix reduced to what an XML id may hold everywhere (`[A-Za-z0-9_-]`), starting with a letter.
    static func idPrefix(_ raw: String) -> String {
        var out = ""
        for scalar in raw.unicodeScalars {
            if scalar.isASCII, scalar.properties.isAlphabetic || ("0"..."9").contains(scalar) || scalar == "-" || scalar == "_" {
                out.unicodeScalars.append(scalar)
            } else {
                out += "_"
            }
        }
        if out.first.map({ !$0.isLetter }) ?? true { out = "chart" + (out.isEmpty ? "" : "-" + out) }
        return out
    }
}

/// Numbers as a chart shows them: thousands separators, at most two decimals (four below 0.1, so
/// small prices stay visible), never scientific notation, no "-0".
enum ChartNumber {
    static func format(_ value: Double, decimals: Int? = nil) -> String {
        guard value.isFinite else { return "–" }
        let places: Int
        if let decimals {
            places = decimals
        } else {
            let magnitude = abs(value)
            places = magnitude > 0 && magnitude < 0.1 ? 4 : 2
        }
        var text = String(format: "%.\(places)f", abs(value))
        if decimals == nil, text.contains(".") {
            while text.hasSuffix("0") { text.removeLast() }
            if text.hasSuffix(".") { text.removeLast() }
        }
        let parts = text.split(separator: ".", maxSplits: 1)
        let integer = Array(parts[0])
        var grouped = ""
        for (offset, digit) in integer.enumerated() {
            if offset > 0, (integer.count - offset) % 3 == 0 { grouped.append(",") }
            grouped.append(digit)
        }
        if parts.count == 2 { grouped += "." + parts[1] }
        let isZero = !grouped.contains { ("1"..."9").contains($0) }
        return value < 0 && !isZero ? "−" + grouped : grouped
    }

    /// A value with its unit: `65%`, `1,234 visits`, `12.5 元`.
    static func format(_ value: Double, unit: String, decimals: Int? = nil) -> String {
        let number = format(value, decimals: decimals)
        if unit.isEmpty { return number }
        if unit == "%" || unit == "‰" { return number + unit }
        return number + " " + unit
    }

    /// Plain machine-readable text for `data-value` attributes: up to six decimals, no grouping.
    static func plain(_ value: Double) -> String {
        guard value.isFinite else { return "" }
        var text = String(format: "%.6f", value)
        while text.hasSuffix("0") { text.removeLast() }
        if text.hasSuffix(".") { text.removeLast() }
        return text == "-0" ? "0" : text
    }

    /// Decimals that show a tick step exactly (0 for 1/2/5 × 10^n with n ≥ 0).
    static func decimals(forStep step: Double) -> Int {
        guard step > 0, step.isFinite else { return 0 }
        return min(6, max(0, Int((-log10(step)).rounded(.up))))
    }
}

/// A linear value axis whose ticks fall on 1, 2 or 5 × 10^n.
struct ValueScale {
    var lower: Double
    var upper: Double
    var step: Double
    var ticks: [Double]

    /// Covers `values` (and zero when `includeZero`), with about `target` intervals; when every
    /// value is a whole number, ticks are too.
    init(values: [Double], includeZero: Bool, target: Int = 5) {
        // Clamped far beyond any report's figures, so the span and its ticks stay finite.
        let values = values.filter(\.isFinite).map { min(max($0, -1e300), 1e300) }
        let whole = !values.isEmpty && values.allSatisfy { $0 == $0.rounded() }
        var low = values.min() ?? 0
        var high = values.max() ?? 1
        if includeZero {
            low = min(low, 0)
            high = max(high, 0)
        }
        if low == high {
            if low == 0 {
                high = 1
            } else {
                let pad = abs(low) * 0.1
                low -= pad
                high += pad
            }
        }
        let raw = (high - low) / Double(max(1, target))
        let magnitude = pow(10, (log10(raw)).rounded(.down))
        let residual = raw / magnitude
        let nice: Double = residual <= 1 ? 1 : residual <= 2 ? 2 : residual <= 5 ? 5 : 10
        let step = whole ? max(1, nice * magnitude) : nice * magnitude
        let first = (low / step).rounded(.down) * step
        var last = (high / step).rounded(.up) * step
        if last <= first { last = first + step }
        let count = Int(((last - first) / step).rounded())
        let unit = pow(10, Double(ChartNumber.decimals(forStep: step)))
        let ticks = (0...count).map { index in
            let tick = first + Double(index) * step
            return (tick * unit).rounded() / unit
        }
        self.step = step
        self.ticks = ticks
        lower = ticks.first ?? first
        upper = ticks.last ?? last
    }

    /// Where `value` falls between `start` (at `lower`) and `end` (at `upper`).
    func position(_ value: Double, from start: Double, to end: Double) -> Double {
        guard upper > lower else { return start }
        return start + (value - lower) / (upper - lower) * (end - start)
    }

    var tickDecimals: Int { ChartNumber.decimals(forStep: step) }
}

/// Width estimates for text in the chart's sans-serif font: CJK and other wide characters take a
/// full em, Latin letters about half.
enum TextMetrics {
    static func width(_ text: String, fontSize: Double) -> Double {
        text.unicodeScalars.reduce(0) { $0 + ems($1) } * fontSize
    }

    /// The width of one character in ems.
    static func ems(_ scalar: Unicode.Scalar) -> Double {
        let value = scalar.value
        if value >= 0x1100 && (value <= 0x115F || (0x2E80...0xA4CF).contains(value) || (0xAC00...0xD7A3).contains(value)
            || (0xF900...0xFAFF).contains(value) || (0xFE30...0xFE4F).contains(value) || (0xFF00...0xFF60).contains(value)
            || (0xFFE0...0xFFE6).contains(value) || value >= 0x20000) {
            return 1.0
        }
        if " .,:;|!'ijlt()[]".unicodeScalars.contains(scalar) { return 0.34 }
        if "mwMW%@".unicodeScalars.contains(scalar) { return 0.9 }
        return scalar.properties.isUppercase ? 0.72 : 0.62
    }

    /// `text` cut to fit `maxWidth`, ending in "…" when cut.
    static func truncate(_ text: String, maxWidth: Double, fontSize: Double) -> (text: String, truncated: Bool) {
        guard width(text, fontSize: fontSize) > maxWidth else { return (text, false) }
        let room = maxWidth - width("…", fontSize: fontSize)
        var used = 0.0
        var kept = ""
        for character in text {
            let next = character.unicodeScalars.reduce(0) { $0 + ems($1) } * fontSize
            if used + next > room { break }
            used += next
            kept.append(character)
        }
        return (kept + "…", true)
    }
}

/// The fixed palette: Okabe–Ito colours, distinguishable with the common colour-vision deficiencies;
/// lines add a dash pattern per series so colour is never the only cue.
enum ChartPalette {
    static let series = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#000000", "#999999"]
    static let dashes = ["", "6 3", "2 3", "8 3 2 3", "4 4", "1 2", "10 4", "3 6"]
    static let threshold = "#333333"
    static let grid = "#e3e3e3"
    static let axis = "#666666"
    static let text = "#222222"
    static let muted = "#666666"
    static let missing = "#eeeeee"

    static func color(_ index: Int) -> String { series[index % series.count] }
    static func dash(_ index: Int) -> String { dashes[index % dashes.count] }

    /// The sequential scale of heat maps (ColorBrewer Blues, light to dark), readable in greyscale.
    static let sequential: [(Double, Double, Double)] = [
        (247, 251, 255), (198, 219, 239), (107, 174, 214), (33, 113, 181), (8, 48, 107),
    ]

    static func sequentialColor(_ fraction: Double) -> (hex: String, dark: Bool) {
        let t = min(1, max(0, fraction.isFinite ? fraction : 0)) * Double(sequential.count - 1)
        let index = min(sequential.count - 2, Int(t))
        let local = t - Double(index)
        let a = sequential[index], b = sequential[index + 1]
        let r = a.0 + (b.0 - a.0) * local, g = a.1 + (b.1 - a.1) * local, bl = a.2 + (b.2 - a.2) * local
        let luminance = 0.2126 * r + 0.7152 * g + 0.0722 * bl
        return (String(format: "#%02X%02X%02X", Int(r.rounded()), Int(g.rounded()), Int(bl.rounded())), luminance < 140)
    }
}

/// The words a chart writes itself, in its language.
struct ChartWords {
    let language: ChartLanguage

    var noData: String { language == .zh ? "暂无数据" : "No data" }
    var noValue: String { language == .zh ? "无数据" : "no value" }
    var separator: String { language == .zh ? "：" : ": " }
    var listSeparator: String { language == .zh ? "、" : ", " }
    var sentenceEnd: String { language == .zh ? "。" : ". " }

    func list(_ items: [String]) -> String { items.joined(separator: listSeparator) }

    func range(_ low: Double, _ high: Double, unit: String) -> String {
        let from = ChartNumber.format(low, unit: unit), to = ChartNumber.format(high, unit: unit)
        if low == high { return language == .zh ? "数值为 \(from)" : "Value \(from)" }
        return language == .zh ? "数值从 \(from) 到 \(to)" : "Values from \(from) to \(to)"
    }

    func threshold(_ threshold: ChartThreshold, unit: String) -> String {
        let value = ChartNumber.format(threshold.value, unit: unit)
        return language == .zh ? "参考线“\(threshold.label)”位于 \(value)" : "Reference line “\(threshold.label)” at \(value)"
    }

    func gaps(_ count: Int) -> String {
        language == .zh ? "\(count) 个值缺失（显示为空缺）" : "Missing values (gaps): \(count)"
    }
}

/// Builds the text of one `<svg>` element.
struct SVGBuilder {
    let kind: String
    let prefix: String
    let width: Double
    var height: Double
    private(set) var body = ""

    init(kind: String, idPrefix: String, width: Double, height: Double) {
        self.kind = kind
        self.prefix = XML.idPrefix(idPrefix)
        self.width = width
        self.height = height
    }

    func id(_ name: String) -> String { prefix + "-" + name }

    mutating func raw(_ text: String) { body += text }

    /// An element with attributes (values escaped) and optional children text (already markup).
    mutating func element(_ name: String, _ attributes: KeyValuePairs<String, String>, children: String? = nil) {
        body += Self.markup(name, attributes, children: children)
    }

    static func markup(_ name: String, _ attributes: KeyValuePairs<String, String>, children: String? = nil) -> String {
        var text = "<" + name
        for (key, value) in attributes where !value.isEmpty || key == "d" {
            text += " \(key)=\"\(XML.escape(value))\""
        }
        if let children {
            text += ">" + children + "</" + name + ">"
        } else {
            text += "/>"
        }
        return text
    }

    static func title(_ text: String) -> String { "<title>" + XML.escape(text) + "</title>" }

    /// A `<text>`; when `maxWidth` cuts it, the full text goes into its `<title>`.
    mutating func text(_ content: String, x: Double, y: Double, size: Double = 12, anchor: String = "start",
                       weight: String = "", fill: String = ChartPalette.text, maxWidth: Double? = nil,
                       className: String = "", transform: String = "", baseline: String = "", halo: Bool = false) {
        var shown = content
        var full: String?
        if let maxWidth {
            // Bold glyphs run about a tenth wider.
            let cut = TextMetrics.truncate(content, maxWidth: weight.isEmpty ? maxWidth : maxWidth / 1.1, fontSize: size)
            shown = cut.text
            if cut.truncated { full = content }
        }
        let children = (full.map(Self.title) ?? "") + XML.escape(shown)
        element("text", [
            "x": coord(x), "y": coord(y), "font-size": coord(size), "text-anchor": anchor == "start" ? "" : anchor,
            "font-weight": weight, "fill": fill, "class": className, "transform": transform, "dominant-baseline": baseline,
            "stroke": halo ? "#ffffff" : "", "stroke-width": halo ? "3" : "", "paint-order": halo ? "stroke" : "",
        ], children: children)
    }

    mutating func line(x1: Double, y1: Double, x2: Double, y2: Double, stroke: String, width: Double = 1,
                       dash: String = "", className: String = "", extra: KeyValuePairs<String, String> = [:], title: String? = nil) {
        var attributes = "x1=\"\(coord(x1))\" y1=\"\(coord(y1))\" x2=\"\(coord(x2))\" y2=\"\(coord(y2))\" stroke=\"\(stroke)\" stroke-width=\"\(coord(width))\""
        if !dash.isEmpty { attributes += " stroke-dasharray=\"\(dash)\"" }
        if !className.isEmpty { attributes += " class=\"\(XML.escape(className))\"" }
        for (key, value) in extra { attributes += " \(key)=\"\(XML.escape(value))\"" }
        if let title {
            body += "<line \(attributes)>\(Self.title(title))</line>"
        } else {
            body += "<line \(attributes)/>"
        }
    }

    /// The complete element: root attributes, `<title>`, `<desc>`, then the body.
    func finish(title: String, desc: String) -> String {
        let fonts = "system-ui, -apple-system, 'Segoe UI', 'PingFang SC', 'Hiragino Sans GB', 'Microsoft YaHei', 'Noto Sans CJK SC', sans-serif"
        var text = "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"chart\" data-chart=\"\(kind)\" role=\"img\""
        text += " aria-labelledby=\"\(id("title")) \(id("desc"))\" viewBox=\"0 0 \(coord(width)) \(coord(height))\" width=\"100%\""
        text += " preserveAspectRatio=\"xMidYMid meet\" font-family=\"\(fonts)\" font-size=\"12\">"
        text += "<title id=\"\(id("title"))\">\(XML.escape(title))</title>"
        text += "<desc id=\"\(id("desc"))\">\(XML.escape(desc))</desc>"
        text += body
        text += "</svg>"
        return text
    }

    /// The chart for no data: its title and the words "no data" in the middle.
    static func empty(kind: String, idPrefix: String, title: String, language: ChartLanguage, note: String? = nil) -> String {
        let words = ChartWords(language: language)
        var svg = SVGBuilder(kind: kind, idPrefix: idPrefix, width: 720, height: 160)
        svg.text(title, x: 16, y: 24, size: 15, weight: "600", maxWidth: 688, className: "chart-title")
        svg.element("rect", ["x": "16", "y": "40", "width": "688", "height": "104", "fill": "#f7f7f7", "stroke": ChartPalette.grid])
        svg.text(words.noData, x: 360, y: 97, size: 14, anchor: "middle", fill: ChartPalette.muted, className: "no-data")
        var desc = words.noData
        if let note, !note.isEmpty { desc += words.sentenceEnd + note }
        return svg.finish(title: title, desc: desc)
    }
}

/// A coordinate or length as SVG text: at most two decimals, no trailing zeros.
func coord(_ value: Double) -> String {
    guard value.isFinite else { return "0" }
    let rounded = (value * 100).rounded() / 100
    if rounded == rounded.rounded() { return String(Int(rounded)) }
    var text = String(format: "%.2f", rounded)
    while text.hasSuffix("0") { text.removeLast() }
    return text
}

/// Draws a row of legend entries (wrapping) from `y`; returns the y below it.
func drawLegend(_ svg: inout SVGBuilder, entries: [(name: String, color: String, dash: String, isLine: Bool)],
                x: Double, y: Double, maxWidth: Double) -> Double {
    guard !entries.isEmpty else { return y }
    var cursorX = x
    var cursorY = y
    let fontSize = 12.0
    let itemMax = min(220, maxWidth)
    svg.raw("<g class=\"legend\">")
    for entry in entries {
        let label = TextMetrics.truncate(entry.name, maxWidth: itemMax - 24, fontSize: fontSize)
        let itemWidth = 24 + TextMetrics.width(label.text, fontSize: fontSize) + 16
        if cursorX > x, cursorX + itemWidth > x + maxWidth {
            cursorX = x
            cursorY += 18
        }
        if entry.isLine {
            svg.line(x1: cursorX, y1: cursorY - 4, x2: cursorX + 18, y2: cursorY - 4, stroke: entry.color, width: 2, dash: entry.dash)
        } else {
            svg.element("rect", ["x": coord(cursorX + 4), "y": coord(cursorY - 10), "width": "12", "height": "12", "fill": entry.color])
        }
        svg.text(entry.name, x: cursorX + 24, y: cursorY, size: fontSize, maxWidth: itemMax - 24)
        cursorX += itemWidth
    }
    svg.raw("</g>")
    return cursorY + 14
}
