import Foundation
import Logging
import RegioCore
import RegioDB

/// Loads the demo's week of generated extracts through the real HTTP API with the upload client,
/// as the hospitals' nightly timers would: facilities in parallel, each one's nights in order.
struct DemoLoader {
    let folders: [URL]
    let tokens: [String: String]
    let logger: Logger

    func run(ingest: String) async {
        var byFacility: [String: [URL]] = [:]
        for folder in folders { byFacility[folder.deletingLastPathComponent().lastPathComponent, default: []].append(folder) }
        let started = ContinuousClock.now
        // Four lanes, each uploading its share of the facilities one after another.
        let facilities = byFacility.keys.sorted()
        let lanes = (0..<4).map { lane in stride(from: lane, to: facilities.count, by: 4).map { facilities[$0] } }
        let groups = byFacility
        let outcomes = await withTaskGroup(of: [String].self) { group -> [String] in
            for lane in lanes {
                group.addTask { [tokens, logger] in
                    var lines: [String] = []
                    for facility in lane {
                        let client = UploadClient(server: ingest, token: tokens[facility] ?? "", logger: logger)
                        for folder in groups[facility]!.sorted(by: { $0.path < $1.path }) {
                            do {
                                let batch = try await client.upload(directory: folder.path)
                                let rows = batch.files.reduce(0) { $0 + ($1.receivedRows ?? 0) }
                                let rejected = batch.files.reduce(0) { $0 + ($1.rejected ?? 0) }
                                lines.append("  \(facility) \(batch.businessDate)  batch \(batch.id) \(batch.status.rawValue): \(rows) rows, \(rejected) rejected")
                            } catch {
                                lines.append("  \(facility) \(folder.lastPathComponent)  upload failed: \(error)")
                            }
                        }
                    }
                    return lines
                }
            }
            var results: [String] = []
            for await lines in group { results += lines }
            return results.sorted()
        }
        let seconds = (ContinuousClock.now - started).components.seconds
        print((["Loaded \(folders.count) nightly extracts through the upload client in \(seconds) s:"] + outcomes).joined(separator: "\n") + "\n")
        fflush(nil)
    }
}
