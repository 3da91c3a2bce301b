import Foundation
import Logging
import PostgresNIO
import RegioCore

/// One bureau threshold (`reports.thresholds`): an alert rule or a data-quality check's pass mark.
public struct Threshold: Sendable, Codable, Equatable {
    public enum Kind: String, Sendable, Codable, CaseIterable { case alert, quality }

    public var kind: Kind
    public var indicator: String
    /// The value breaches (alert) or fails (quality) when `value <comparator> threshold`: ">" or "<".
    public var comparator: String
    public var threshold: Decimal
    public var unit: String
    public var description: String
}

/// Reads and edits the bureau's thresholds; every change is audited. The set of indicators is
/// fixed by the reports that evaluate them: only existing ones can be changed.
public struct ThresholdStore: Sendable {
    public let database: Database

    /// The kind has no such indicator.
    public struct Unknown: Error, CustomStringConvertible {
        public var kind: Threshold.Kind
        public var indicator: String
        public var description: String { "no \(kind.rawValue) threshold '\(indicator)'; `regio threshold list` shows them" }
    }

    public init(database: Database) {
        self.database = database
    }

    public func all() async throws -> [Threshold] {
        var result: [Threshold] = []
        let rows = try await database.query("""
            SELECT kind, indicator, comparator, threshold, unit, description FROM reports.thresholds ORDER BY kind, indicator
            """)
        for try await (kind, indicator, comparator, value, unit, description) in rows.decode((String, String, String, Decimal, String, String).self) {
            result.append(Threshold(kind: Threshold.Kind(rawValue: kind)!, indicator: indicator, comparator: comparator,
                                    threshold: value, unit: unit, description: description))
        }
        return result
    }

    /// Sets a threshold's value (and, when given, its comparator); returns the updated threshold.
    @discardableResult
    public func set(kind: Threshold.Kind, indicator: String, value: Decimal, comparator: String? = nil,
                    actor: String) async throws -> Threshold {
        if let comparator, ![">", "<"].contains(comparator) {
            throw RegistryError("comparator must be > or <, got '\(comparator)'")
        }
        guard value.isFinite, value >= 0 else { throw RegistryError("threshold must be a number ≥ 0") }
        return try await database.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE reports.thresholds SET threshold = \(value), comparator = coalesce(\(comparator), comparator), updated_at = now()
                WHERE kind = \(kind.rawValue) AND indicator = \(indicator)
                RETURNING comparator, threshold, unit, description
                """, logger: database.logger)
            for try await (comparator, value, unit, description) in rows.decode((String, Decimal, String, String).self) {
                try await AuditLog.record(actor: actor, action: "threshold.set", subject: "\(kind.rawValue)/\(indicator)",
                                          detail: ["comparator": comparator, "threshold": "\(value)"],
                                          on: connection, logger: database.logger)
                return Threshold(kind: kind, indicator: indicator, comparator: comparator, threshold: value, unit: unit,
                                 description: description)
            }
            throw Unknown(kind: kind, indicator: indicator)
        }
    }
}
