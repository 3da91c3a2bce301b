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
