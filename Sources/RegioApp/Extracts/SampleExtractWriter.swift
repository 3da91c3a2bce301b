import Foundation
import RegioCore

/// Writes generated extracts as hospitals would send them: `OUT/<facility>/<date>/` with one CSV
/// per kind and a `manifest.json`. Facilities listed in `gb18030` write GB18030 files, as many
/// Chinese HIS exports do.
public struct SampleExtractWriter {
    public let output: URL
    public var gb18030: Set<String> = []

    public init(output: URL) {
        self.output = output
    }

    /// Generates and writes every night; returns the extract folders in night order.
    @discardableResult
    public func write(facilities: [Facility], options: SampleExtractGenerator.Options) throws -> [URL] {
        var generator = SampleExtractGenerator(facilities: facilities, options: options)
        var open: [String: (handle: FileHandle, buffer: Data, transcoder: Transcoder?)] = [:]
        var folders: [URL] = []
        var nightFolders: [String: URL] = [:]
        func flush(_ key: String) {
            guard var entry = open[key], !entry.buffer.isEmpty else { return }
            entry.handle.write(entry.buffer)
            entry.buffer.removeAll(keepingCapacity: true)
            open[key] = entry
        }
        try generator.generate({ facility, night, kind, line in
            let key = "\(facility)/\(night)/\(kind.rawValue)"
            if open[key] == nil {
                let folder = output.appendingPathComponent(facility).appendingPathComponent(night.description)
                try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
                nightFolders["\(facility)/\(night)"] = folder
                let path = folder.appendingPathComponent("\(kind.rawValue).csv")
                FileManager.default.createFile(atPath: path.path, contents: nil)
                let encoding: TextEncoding = gb18030.contains(facility) ? .gb18030 : .utf8
                open[key] = (try FileHandle(forWritingTo: path), Data(), try Transcoder(encoding, encoding: true))
            }
            if let transcoder = open[key]!.transcoder {
                transcoder.feed(Array(line.utf8)) { open[key]!.buffer.append(contentsOf: $0) }
            } else {
                open[key]!.buffer.append(contentsOf: line.utf8)
            }
            if open[key]!.buffer.count > 1 << 20 { flush(key) }
        }, nightDone: { night in
            for key in open.keys {
                flush(key)
                try open[key]!.handle.close()
            }
            open.removeAll()
            for (key, folder) in nightFolders.sorted(by: { $0.key < $1.key }) {
                let facility = String(key.split(separator: "/")[0])
                try LocalExtract.writeManifest(directory: folder.path, facility: facility, businessDate: night.description,
                                               encoding: gb18030.contains(facility) ? .gb18030 : .utf8,
                                               sourceSystem: "Regio sample generator")
                folders.append(folder)
            }
            nightFolders.removeAll()
        })
        return folders
    }
}
