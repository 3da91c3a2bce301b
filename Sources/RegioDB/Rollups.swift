import Foundation
import Logging
import PostgresNIO
import RegioCore

/// The bureau's report rollups (`reports.*`) and the referral findings they build on: refreshed for the
/// keys a batch touched, inside its transaction; or rebuilt whole, which must give the same rows.
public enum Rollups {
    /// A facility and a month, `YYYY-MM-01`.
    public typealias Key = (facility: Int, month: String)

    /// Recomputes `reports.facility_month` for these keys.
    public static func refreshFacilityMonths(_ keys: [Key], on connection: PostgresConnection, logger: Logger) async throws {
        try await refresh("reports/refresh_facility_month.sql", keys, on: connection, logger: logger)
    }

    /// Recomputes `reports.referral_month` for these (sending facility, month) keys.
    public static func refreshReferralMonths(_ keys: [Key], on connection: PostgresConnection, logger: Logger) async throws {
        try await refresh("reports/refresh_referral_month.sql", keys, on: connection, logger: logger)
    }

    /// Re-derives completion and origin of the referrals sent by or to `facility` from 90 days
    /// before `touchedFrom` (the earliest date a batch touched; nil: everything), and returns the
    /// (sending facility, month) keys whose findings changed. `batchPatients`: the facility's
    /// patient records a batch is merging in another transaction (see referral/match.sql).
    /// A receiver's visit completes the sender's referral: the findings are written in the
    /// region's write scope (`WriteScope.acrossFacilities`).
    public static func matchReferrals(facility: Int?, touchedFrom: String?, batchPatients: String? = nil,
                                      on connection: PostgresConnection, logger: Logger) async throws -> [Key] {
        let file = try SQLFile.load("referral/match.sql")
        let sql = try file.render([
            "batch_patients": batchPatients ?? "(SELECT NULL::text AS patient_id, NULL::text AS id_hash, NULL::text AS op WHERE false)",
        ])
        return try await WriteScope.acrossFacilities(on: connection, logger: logger) {
            try await keys(file.query(sql, ["facility": facility, "touched_from": touchedFrom]), on: connection, logger: logger)
        }
    }

    /// Runs a query returning (facility id, month) rows.
    private static func keys(_ query: PostgresQuery, on connection: PostgresConnection, logger: Logger) async throws -> [Key] {
        var keys: [Key] = []
        for try await (facility, month) in try await connection.query(query, logger: logger).decode((Int, String).self) {
            keys.append((facility, month))
        }
        return keys
    }

    private static func refresh(_ file: String, _ keys: [Key], on connection: PostgresConnection, logger: Logger) async throws {
        guard !keys.isEmpty else { return }
        let sql = try SQLFile.load(file)
        for statement in try sql.statements() {
            try await connection.query(sql.query(statement, ["facilities": keys.map(\.facility), "months": keys.map(\.month)]),
                                       logger: logger)
        }
    }

    /// Recomputes every rollup and referral finding of one facility, in the transaction of
    /// `connection`: after a batch's retraction, whose changes are not known month by month. The
    /// facility's months that have facts are recomputed, and those that no longer have any dropped.
    public static func refreshFacility(_ facility: Int, on connection: PostgresConnection, logger: Logger) async throws {
        let facilityMonths = try await keys(PostgresQuery(unsafeSQL: """
            SELECT facility_id, month FROM (\(try SQLFile.load("reports/facility_month_keys.sql").render())) k (facility_id, month) WHERE facility_id = \(facility)
            UNION SELECT facility_id, month::text FROM reports.facility_month WHERE facility_id = \(facility)
            """), on: connection, logger: logger)
        try await refreshFacilityMonths(facilityMonths, on: connection, logger: logger)
        var referralMonths = try await matchReferrals(facility: facility, touchedFrom: nil, on: connection, logger: logger)
        referralMonths += try await keys(PostgresQuery(unsafeSQL: """
            \(referralMonthsSQL) WHERE facility_id = \(facility)
            UNION SELECT facility_id, month::text FROM reports.referral_month WHERE facility_id = \(facility)
            """), on: connection, logger: logger)
        try await refreshReferralMonths(referralMonths, on: connection, logger: logger)
        try await ProcurementRollups.refreshFacility(facility, on: connection, logger: logger)
    }

    /// The (sending facility, month) of every referral: the keys `reports.referral_month` may hold.
    private static let referralMonthsSQL = """
        SELECT DISTINCT facility_id, date_trunc('month', referred_at AT TIME ZONE 'Asia/Shanghai')::date::text
        FROM referral.referrals
        """

    /// Rebuilds every rollup from the core tables in one transaction: the referral findings are
    /// re-derived, then every key that has facts (or a loaded extract) is recomputed and the rest dropped.
    public static func rebuildAll(_ database: Database) async throws {
        try await database.withTransaction { connection in
            let logger = database.logger
            try await PersonFacts.lock(on: connection, logger: logger)
            _ = try await matchReferrals(facility: nil, touchedFrom: nil, on: connection, logger: logger)
            let facilityMonths = try await keys(PostgresQuery(unsafeSQL: try SQLFile.load("reports/facility_month_keys.sql").render()),
                                                on: connection, logger: logger)
            let referralMonths = try await keys(PostgresQuery(unsafeSQL: referralMonthsSQL), on: connection, logger: logger)
            try await connection.query("DELETE FROM reports.facility_month", logger: database.logger)
            try await connection.query("DELETE FROM reports.referral_month", logger: database.logger)
            try await refreshFacilityMonths(facilityMonths, on: connection, logger: database.logger)
            try await refreshReferralMonths(referralMonths, on: connection, logger: database.logger)
            try await PersonFacts.rebuildAll(on: connection, logger: logger)
            try await ProcurementRollups.refreshFacility(nil, on: connection, logger: logger)
        }
    }
}
