import Foundation

/// `manifest.json` of an extract: who sends it, for which night, in which encoding, and each
/// file's kind, name, data-row count and SHA-256 (of the bytes as uploaded).
public struct ExtractManifest: Sendable, Codable, Equatable {
    public static let format1 = "regio-extract/1"

    public var format: String
    public var facilityCode: String
    public var businessDate: String
    public var generatedAt: String?
    public var encoding: TextEncoding
    public var sourceSystem: String?
    public var files: [File]

    public struct File: Sendable, Codable, Equatable {
        public var kind: ExtractKind
        public var name: String
        public var rows: Int
        public var sha256: String

        public init(kind: ExtractKind, name: String, rows: Int, sha256: String) {
            self.kind = kind
            self.name = name
            self.rows = rows
            self.sha256 = sha256
        }

        /// `.csv.gz` files are gunzipped on arrival; the digest is of the compressed bytes.
        public var isGzip: Bool { name.hasSuffix(".gz") }
    }

    enum CodingKeys: String, CodingKey {
        case format, encoding, files
        case facilityCode = "facility_code"
        case businessDate = "business_date"
        case generatedAt = "generated_at"
        case sourceSystem = "source_system"
    }

    public init(facilityCode: String, businessDate: String, encoding: TextEncoding = .utf8, generatedAt: String? = nil,
                sourceSystem: String? = nil, files: [File]) {
        self.format = Self.format1
        self.facilityCode = facilityCode
        self.businessDate = businessDate
        self.generatedAt = generatedAt
        self.encoding = encoding
        self.sourceSystem = sourceSystem
        self.files = files
    }

    public func file(named name: String) -> File? { files.first { $0.name == name } }

    /// Parses and checks a manifest; every problem is listed (`manifest_mismatch` is for files).
    public static func parse(_ data: Data) -> Result<ExtractManifest, ManifestError> {
        let manifest: ExtractManifest
        do {
            manifest = try JSONDecoder().decode(ExtractManifest.self, from: data)
        } catch let DecodingError.dataCorrupted(context) {
            return .failure(ManifestError(problems: ["manifest.json is not valid JSON: \(context.debugDescription)"]))
        } catch let DecodingError.keyNotFound(key, _) {
            return .failure(ManifestError(problems: ["manifest.json has no '\(key.stringValue)'"]))
        } catch let DecodingError.typeMismatch(_, context), let DecodingError.valueNotFound(_, context) {
            let path = context.codingPath.map(\.stringValue).joined(separator: ".")
            return .failure(ManifestError(problems: ["manifest.json: '\(path)' \(context.debugDescription)"]))
        } catch {
            return .failure(ManifestError(problems: ["manifest.json cannot be read: \(error)"]))
        }
        let problems = manifest.problems()
        return problems.isEmpty ? .success(manifest) : .failure(ManifestError(problems: problems))
    }

    /// The most rows a file may declare: far beyond any night (the service sizes its memory for
    /// a file's keys by the declared count, and a count near `Int.max` would overflow).
    public static let maxRows = 1_000_000_000

    func problems() -> [String] {
        var problems: [String] = []
        if format != Self.format1 { problems.append("format must be \(Self.format1), got '\(format)'") }
        if !Facility.isValidCode(facilityCode) { problems.append("facility_code '\(facilityCode)' is not a facility code") }
        if CalendarDate(businessDate) == nil { problems.append("business_date must be YYYY-MM-DD, got '\(businessDate)'") }
        if files.isEmpty { problems.append("files is empty") }
        // Stored with the batch (jsonb), which cannot hold NUL.
        for (field, value) in [("generated_at", generatedAt), ("source_system", sourceSystem)] where value?.contains("\u{0}") == true {
            problems.append("\(field) may not contain NUL (\\u0000)")
        }
        var kinds = Set<ExtractKind>()
        var names = Set<String>()
        for file in files {
            if !kinds.insert(file.kind).inserted { problems.append("two files of kind \(file.kind.rawValue)") }
            if !names.insert(file.name).inserted { problems.append("two files named \(file.name)") }
            if !Self.isSafeName(file.name) {
                problems.append("file name '\(file.name)' must be letters, digits, '-', '_' and '.', ending in .csv or .csv.gz")
            }
            if file.rows < 0 { problems.append("\(file.name): rows must be ≥ 0") }
            if file.rows > Self.maxRows { problems.append("\(file.name): rows must be at most \(Self.maxRows)") }
            if file.sha256.count != 64 || !file.sha256.allSatisfy(\.isHexDigit) {
                problems.append("\(file.name): sha256 must be 64 hexadecimal digits")
            }
        }
        return problems
    }

    static func isSafeName(_ name: String) -> Bool {
        (name.hasSuffix(".csv") || name.hasSuffix(".csv.gz")) && name.count <= 128 && !name.hasPrefix(".")
            && name.unicodeScalars.allSatisfy { $0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0) || "-_.".unicodeScalars.contains($0)) }
    }

    /// Identifies the extract's content: the same files for the same facility and night give the
    /// same value, whatever the manifest's other fields say.
    public var contentKey: String {
        let parts = files.sorted { $0.kind < $1.kind }.map { "\($0.kind.rawValue):\($0.sha256.lowercased())" }
        return sha256Hex(([facilityCode, businessDate] + parts).joined(separator: "\n"))
    }

    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        return try encoder.encode(self)
    }
}

public struct ManifestError: Error, Equatable, CustomStringConvertible {
    public var problems: [String]
    public var description: String { problems.joined(separator: "; ") }
}

/// The text encodings an extract may declare.
public enum TextEncoding: String, Sendable, Codable, CaseIterable {
    case utf8 = "UTF-8"
    case gb18030 = "GB18030"
    /// Windows code page 936: GB18030's GBK part plus 0x80 for €.
    case gbk = "GBK"
}
