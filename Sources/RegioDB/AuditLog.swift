import Foundation
import Logging
import PostgresNIO

/// `audit.events`: append-only, written in the same transaction as the action it records.
public enum AuditLog {
    public static func record(
        actor: String, action: String, subject: String?, detail: [String: String],
        on connection: PostgresConnection, logger: Logger
    ) async throws {
        let json = String(decoding: try JSONEncoder().encode(detail), as: UTF8.self)
        try await connection.query("""
            INSERT INTO audit.events (actor, action, subject, detail)
            VALUES (\(actor), \(action), \(subject), \(json)::jsonb)
            """, logger: logger)
    }
}

extension AuditLog {
    /// Records that `actor` is about to read patient-level data (a batch's row errors or rejected
    /// rows, a steward's view of records), before it is read: a read is never answered without
    /// its row, and one that fails after it leaves the row — recorded once too often, never once
    /// too few.
    public static func recordRead(actor: String, action: String, subject: String?, detail: [String: String] = [:],
                                  on database: Database) async throws {
        try await database.withConnection { connection in
            try await record(actor: actor, action: action, subject: subject, detail: detail, on: connection, logger: database.logger)
        }
    }
}

extension AuditLog {
    /// What `audit.verify` finds in one audit table, with the table's size and newest hash.
    public struct Verification: Sendable, Equatable {
        public var table: String
        public var rows: Int
        /// The newest row's hash: kept elsewhere, it shows later whether newest rows were removed.
        public var head: String?
        public var problems: [(id: Int64, problem: String)]

        public static func == (a: Self, b: Self) -> Bool {
            a.table == b.table && a.rows == b.rows && a.head == b.head
                && a.problems.map(\.id) == b.problems.map(\.id) && a.problems.map(\.problem) == b.problems.map(\.problem)
        }
    }

    /// Recomputes the hash chain of `audit.events` and `audit.lookups`.
    public static func verify(_ database: Database) async throws -> [Verification] {
        var results: [Verification] = []
        for table in ["events", "lookups"] {
            var verification = Verification(table: "audit.\(table)", rows: 0, head: nil, problems: [])
            for try await (count, head) in try await database.query(PostgresQuery(unsafeSQL: """
                SELECT count(*)::int, (SELECT hash FROM audit.\(table) ORDER BY id DESC LIMIT 1) FROM audit.\(table)
                """)).decode((Int, String?).self) {
                (verification.rows, verification.head) = (count, head)
            }
            for try await problem in try await database.query("SELECT row_id, problem FROM audit.verify(\(table))")
                .decode((Int64, String).self) {
                verification.problems.append(problem)
            }
            results.append(verification)
        }
        return results
    }
}
