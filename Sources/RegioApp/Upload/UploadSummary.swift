import Foundation
import RegioDB
import RegioPipeline

/// The text `regio upload` (and the demo) prints about a decided batch.
public enum UploadSummary {
    public static func render(_ batch: BatchRecord, client: UploadClient?, errors limit: Int) async throws -> String {
        var lines = ["batch \(batch.id) \(batch.facility) \(batch.businessDate): \(batch.status.rawValue)"
                     + (batch.reason.map { " — \($0)" } ?? "")]
        lines.append("  file             rows  inserted  updated  unchanged  retracted  rejected  warnings")
        for file in batch.files {
            func n(_ value: Int?) -> String { value.map(String.init) ?? "-" }
            lines.append("  " + [file.name.padding(toLength: 15, withPad: " ", startingAt: 0), pad(n(file.receivedRows), 5),
                                 pad(n(file.inserted), 9), pad(n(file.updated), 8), pad(n(file.unchanged), 10),
                                 pad(n(file.retracted), 10), pad(n(file.rejected), 9), pad(n(file.warnings), 9)].joined(separator: " "))
        }
        if !batch.issuesByCode.isEmpty {
            lines.append("  issues by code: " + batch.issuesByCode.sorted { $0.key < $1.key }.map { "\($0.key) \($0.value)" }.joined(separator: ", "))
        }
        if let client, limit > 0, !batch.issuesByCode.isEmpty {
            let (total, entries) = try await client.issues(batch: batch.id, limit: limit)
            lines.append("  first \(entries.count) of \(total) row issues:")
            for entry in entries {
                let place = entry.file + (entry.line.map { ":\($0)" } ?? "") + (entry.column.map { " \($0)" } ?? "")
                lines.append("    \(place): \(entry.severity) \(entry.code) — \(entry.message)")
            }
        }
        return lines.joined(separator: "\n")
    }

    static func pad(_ text: String, _ width: Int) -> String {
        String(repeating: " ", count: max(0, width - text.count)) + text
    }
}
