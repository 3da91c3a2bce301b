import Foundation
import Logging
import RegioCore
import RegioDB

/// Loads the demo's week of generated extracts through the real HTTP API with the upload client,
/// as the hospitals' nightly timers would: facilities in parallel, each one's nights in order.
struct DemoLoader {
    let folders: [URL]
    let tokens: [String: String]
    /// Where the demo's data is: read once the week is loaded, to print a lookup that shows something.
    let database: DatabaseURL
    let logger: Logger

    /// A facility, its token and the query service: whose cross-facility lookup to print.
    typealias Lookup = (facility: String, token: String, query: String)

    func run(ingest: String, lookup: Lookup?) async {
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
        if let lookup {
            do {
                try await printLookup(lookup)
            } catch {
                logger.warning("no lookup to show", metadata: ["error": "\(Database.message(for: error))"])
            }
        }
    }

    /// Once the patient index has linked the week: a lookup, by the facility's own patient id, of a
    /// patient who has reports at other facilities — one known there without an ID number when
    /// there is one (linked by score).
    private func printLookup(_ lookup: Lookup) async throws {
        try await withDatabase(database, logger: logger) { database in
            let deadline = ContinuousClock.now + .seconds(300)
            while ContinuousClock.now < deadline {
                var waiting = 0
                for try await count in try await database.query("""
                    SELECT count(*)::int FROM ingest.batches WHERE status = 'loaded' AND linked_at IS NULL AND NOT dry_run
                    """).decode(Int.self) {
                    waiting = count
                }
                if waiting == 0 { break }
                try await Task.sleep(for: .seconds(1))
            }
            for try await (patient, others) in try await database.query("""
                SELECT p.patient_id, count(DISTINCT e.facility_id)::int
                FROM emr.patients p
                JOIN registry.facilities f ON f.id = p.facility_id
                JOIN emr.patients o ON o.person_id = p.person_id AND o.facility_id <> p.facility_id
                JOIN emr.exams e ON e.facility_id = o.facility_id AND e.patient_id = o.patient_id
                WHERE f.code = \(lookup.facility)
                GROUP BY p.patient_id, p.id_hash
                ORDER BY (p.id_hash IS NULL) DESC, count(*) DESC, p.patient_id LIMIT 1
                """).decode((String, Int).self) {
                print("""
                    The patient index has linked the week. \(lookup.facility)'s patient \(patient) has reports at \(others) other facilities:
                      curl -X POST -H "Authorization: Bearer \(lookup.token)" -H "Content-Type: application/json" \\
                        -d '{"patient_id": "\(patient)", "purpose": "treatment"}' "\(lookup.query)/v1/lookup"

                    """)
                fflush(nil)
            }
        }
    }
}
