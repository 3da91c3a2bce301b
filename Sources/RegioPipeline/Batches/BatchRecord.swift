import Foundation
import RegioCore
import RegioDB

/// A batch as the API shows it: its lifecycle, and per file what arrived and what became of it.
public struct BatchRecord: Sendable, Codable, Equatable {
    public enum Status: String, Sendable, Codable {
        /// Created; files are being uploaded.
        case receiving
        /// Committed (or sent for validation); waiting for the worker.
        case queued
        case validating
        /// Merged into the core tables.
        case loaded
        /// A dry run finished: everything was checked, nothing was changed.
        case validated
        /// Refused for what it contains (a structural problem, or too many rejected rows).
        case rejected
        /// Refused for a fault of ours (a database error); nothing was changed.
        case failed
        /// Loaded, then retracted by a steward or admin: the rows it brought were removed and
        /// the ones it replaced put back (`BatchRetraction`).
        case retracted

        public var isFinal: Bool { [.loaded, .validated, .rejected, .failed, .retracted].contains(self) }
    }

    public struct File: Sendable, Codable, Equatable {
        public var kind: ExtractKind
        public var name: String
        public var expectedRows: Int
        public var receivedRows: Int?
        public var receivedBytes: Int?
        public var receivedAt: Date?
        public var fileError: String?
        public var inserted: Int?
        public var updated: Int?
        public var unchanged: Int?
        public var retracted: Int?
        public var rejected: Int?
        public var warnings: Int?

        enum CodingKeys: String, CodingKey {
            case kind, name, inserted, updated, unchanged, retracted, rejected, warnings
            case expectedRows = "expected_rows", receivedRows = "received_rows", receivedBytes = "received_bytes"
            case receivedAt = "received_at", fileError = "file_error"
        }
    }

    public var id: Int64
    public var facility: String
    public var businessDate: String
    public var status: Status
    public var dryRun: Bool
    public var reason: String?
    public var duplicateOf: Int64?
    public var createdAt: Date
    public var committedAt: Date?
    public var startedAt: Date?
    public var finishedAt: Date?
    /// When the patient index linked the batch's patient records (`PersonLinker`), after it loaded.
    public var linkedAt: Date?
    public var files: [File]
    /// Row errors and warnings by code, e.g. `{"bad_date": 3}`.
    public var issuesByCode: [String: Int]

    enum CodingKeys: String, CodingKey {
        case id, facility, status, reason, files
        case businessDate = "business_date", dryRun = "dry_run", duplicateOf = "duplicate_of"
        case createdAt = "created_at", committedAt = "committed_at", startedAt = "started_at", finishedAt = "finished_at"
        case linkedAt = "linked_at"
        case issuesByCode = "issues_by_code"
    }

    public func file(named name: String) -> File? { files.first { $0.name == name } }
}
