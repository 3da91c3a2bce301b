import Foundation
import Logging
import PostgresNIO
import RegioCore

/// The report rollups (`reports.*`): refreshed for the keys a batch touched, inside its
/// transaction; or rebuilt whole, which must give the same rows.
public enum Rollups {
    /// Recomputes `reports.facility_month` for these (facility id, month `YYYY-MM-01`) keys.
    public static func refreshFacilityMonths(_ keys: [(facility: Int, month: String)], on connection: PostgresConnection,
                                             logger: Logger) async throws {
        guard !keys.isEmpty else { return }
        var binds = PostgresBindings()
        binds.append(keys.map(\.facility))
        binds.append(keys.map(\.month))
        for statement in SQLScript.statements(in: try SQLFile.load("reports/refresh_facility_month.sql")) {
            try await connection.query(PostgresQuery(unsafeSQL: statement, binds: binds), logger: logger)
        }
    }

    /// Rebuilds every facility-month that has encounters, and drops rollups that no longer have any.
    public static func rebuildAll(_ database: Database) async throws {
        try await database.withTransaction { connection in
            var keys: [(facility: Int, month: String)] = []
            let rows = try await connection.query("""
                SELECT DISTINCT facility_id, date_trunc('month', t AT TIME ZONE 'Asia/Shanghai')::date::text
                FROM (SELECT facility_id, start_time FROM emr.encounters
                      UNION ALL SELECT facility_id, end_time FROM emr.encounters WHERE end_time IS NOT NULL) e (facility_id, t)
                """, logger: database.logger)
            for try await (facility, month) in rows.decode((Int, String).self) { keys.append((facility, month)) }
            try await connection.query("DELETE FROM reports.facility_month", logger: database.logger)
            try await refreshFacilityMonths(keys, on: connection, logger: database.logger)
        }
    }
}
