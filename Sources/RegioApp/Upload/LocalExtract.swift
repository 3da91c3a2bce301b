import CompressNIO
import Crypto
import Foundation
import NIOCore
import RegioCore
import RegioDB
import RegioPipeline

/// An extract in a folder on the hospital's side: `manifest.json` and the CSV files it names.
public enum LocalExtract {
    public struct Problem: Error, CustomStringConvertible {
        public var description: String
        init(_ description: String) { self.description = description }
    }

    /// Data rows and SHA-256 of one file, read as the server will read it — and refused as the
    /// server would refuse it while it streams: a compressed file past the inflation limits (the
    /// service's defaults), or more data rows than `maxRows`; the reading stops there. The file
    /// is read 64 KiB at a time, about what a request body's chunks carry: the inflation ratio
    /// is judged against the compressed bytes read so far, so a larger read would let a bomb
    /// inflate (and be parsed) further before it is refused.
    public static func measure(path: String, gzip: Bool, encoding: TextEncoding, limits: StreamLimits = StreamLimits(),
                               maxRows: Int? = nil) throws -> (rows: Int, sha256: String) {
        guard let handle = FileHandle(forReadingAtPath: path) else { throw Problem("cannot read \(path)") }
        defer { try? handle.close() }
        var digest = SHA256()
        var parser = CSVParser()
        var records = 0
        let transcoder = try Transcoder(encoding)
        let inflater: (any NIODecompressor)? = gzip ? try Gunzip.start() : nil
        var (wire, inflated) = (0, 0)
        let name = (path as NSString).lastPathComponent
        func text(_ bytes: ByteBuffer) throws {
            inflated += bytes.readableBytes
            if let refused = limits.refusal(inflated: inflated, from: wire, compressed: gzip) {
                throw Problem("\(name): \(refused.code.rawValue): \(refused.message)")
            }
            if let maxRows, records - 1 > maxRows {
                throw Problem("\(name): manifest_mismatch: the file has more data rows than the manifest's \(maxRows); it was not read further")
            }
            bytes.withUnsafeReadableBytes { raw in
                let slice = raw.bindMemory(to: UInt8.self)
                if let transcoder {
                    transcoder.feed(slice) { parser.feed($0) { _ in records += 1 } }
                } else {
                    parser.feed(slice) { _ in records += 1 }
                }
            }
        }
        while let data = try handle.read(upToCount: 64 * 1024), !data.isEmpty {
            digest.update(data: data)
            wire += data.count
            let chunk = ByteBuffer(data: data)
            if let inflater {
                try Gunzip.inflate(chunk, with: inflater) { try text($0) }
            } else {
                try text(chunk)
            }
        }
        try inflater?.finishStream()
        transcoder?.finish { parser.feed($0) { _ in records += 1 } }
        parser.finish { _ in records += 1 }
        return (max(records - 1, 0), digest.finalize().hexString)
    }

    /// Writes `manifest.json` for the files in `directory` named after their kind
    /// (`patients.csv`, `encounters.csv.gz`, …). Facility, date and encoding come from the
    /// arguments or, when not given, from an existing manifest.
    @discardableResult
    public static func writeManifest(directory: String, facility: String?, businessDate: String?,
                                     encoding: TextEncoding?, sourceSystem: String? = nil) throws -> ExtractManifest {
        let manifestPath = (directory as NSString).appendingPathComponent("manifest.json")
        let existing = FileManager.default.contents(atPath: manifestPath).flatMap { try? JSONDecoder().decode(ExtractManifest.self, from: $0) }
        guard let facility = facility ?? existing?.facilityCode else { throw Problem("give --facility (no manifest.json to take it from)") }
        guard let businessDate = businessDate ?? existing?.businessDate else { throw Problem("give --business-date") }
        let encoding = encoding ?? existing?.encoding ?? .utf8
        let names = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        var files: [ExtractManifest.File] = []
        for kind in ExtractKind.allCases {
            guard let name = names.first(where: { $0 == "\(kind.rawValue).csv" || $0 == "\(kind.rawValue).csv.gz" }) else { continue }
            let path = (directory as NSString).appendingPathComponent(name)
            let (rows, sha) = try measure(path: path, gzip: name.hasSuffix(".gz"), encoding: encoding)
            files.append(.init(kind: kind, name: name, rows: rows, sha256: sha))
        }
        guard !files.isEmpty else { throw Problem("\(directory) holds no patients.csv, encounters.csv, … files") }
        let formatter = ISO8601DateFormatter()
        formatter.timeZone = TimeZone(identifier: "Asia/Shanghai")
        let manifest = ExtractManifest(facilityCode: facility, businessDate: businessDate, encoding: encoding,
                                       generatedAt: formatter.string(from: Date()),
                                       sourceSystem: sourceSystem ?? existing?.sourceSystem, files: files)
        if case .failure(let error) = ExtractManifest.parse(try manifest.encoded()) { throw Problem(error.description) }
        try manifest.encoded().write(to: URL(fileURLWithPath: manifestPath))
        return manifest
    }

    /// Reads `manifest.json` and checks each file against it, before anything is sent.
    public static func readAndVerify(directory: String) throws -> ExtractManifest {
        let path = (directory as NSString).appendingPathComponent("manifest.json")
        guard let data = FileManager.default.contents(atPath: path) else { throw Problem("\(path) does not exist; run `regio extract manifest`") }
        let manifest: ExtractManifest
        switch ExtractManifest.parse(data) {
        case .success(let parsed): manifest = parsed
        case .failure(let error): throw Problem("\(path): \(error)")
        }
        var problems: [String] = []
        for file in manifest.files {
            let filePath = (directory as NSString).appendingPathComponent(file.name)
            guard FileManager.default.fileExists(atPath: filePath) else {
                problems.append("\(file.name) is in the manifest but not in \(directory)")
                continue
            }
            let (rows, sha) = try measure(path: filePath, gzip: file.isGzip, encoding: manifest.encoding, maxRows: file.rows)
            if sha != file.sha256.lowercased() { problems.append("\(file.name): SHA-256 is \(sha), the manifest says \(file.sha256)") }
            if rows != file.rows { problems.append("\(file.name): \(rows) data rows, the manifest says \(file.rows)") }
        }
        guard problems.isEmpty else {
            throw Problem(problems.joined(separator: "\n") + "\n(re-run `regio extract manifest \(directory)` if the files are right)")
        }
        return manifest
    }
}
