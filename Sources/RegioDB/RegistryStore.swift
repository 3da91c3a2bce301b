import Foundation
import Logging
import PostgresNIO
import RegioCore

/// Errors about registry input that the caller can fix; they say what is wrong in its terms.
public struct RegistryError: Error, CustomStringConvertible, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
    public var description: String { message }
}

/// Regions, facilities, alliances and credentials (`registry` schema).
public struct RegistryStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Regions

    public func upsertRegion(_ region: Region) async throws {
        try await database.query("""
            INSERT INTO registry.regions (code, name, level, parent_code)
            VALUES (\(region.code), \(region.name), \(region.level.rawValue), \(region.parentCode))
            ON CONFLICT (code) DO UPDATE SET name = excluded.name, level = excluded.level, parent_code = excluded.parent_code
            """)
    }

    public func regions() async throws -> [Region] {
        var result: [Region] = []
        let rows = try await database.query("SELECT code, name, level, parent_code FROM registry.regions ORDER BY code")
        for try await (code, name, level, parent) in rows.decode((String, String, String, String?).self) {
            result.append(Region(code: code, name: name, level: RegionLevel(rawValue: level)!, parentCode: parent))
        }
        return result
    }

    // MARK: Facilities

    /// Adds or updates facilities in one transaction: all of them or none.
    public func upsertFacilities(_ facilities: [Facility], actor: String) async throws {
        try await database.withTransaction { connection in
            for facility in facilities {
                try await checkCounty(facility.regionCode, facility: facility.code, on: connection)
                try await connection.query("""
                    INSERT INTO registry.facilities (code, name, tier, grade, type, region_code, staffed_beds, consortium)
                    VALUES (\(facility.code), \(facility.name), \(facility.tier.rawValue), \(facility.grade.rawValue),
                            \(facility.type.rawValue), \(facility.regionCode), \(facility.staffedBeds), \(facility.consortium))
                    ON CONFLICT (code) DO UPDATE SET
                        name = excluded.name, tier = excluded.tier, grade = excluded.grade, type = excluded.type,
                        region_code = excluded.region_code, staffed_beds = excluded.staffed_beds,
                        consortium = excluded.consortium, updated_at = now()
                    """, logger: database.logger)
            }
            let codes = facilities.map(\.code)
            try await AuditLog.record(actor: actor, action: "facility.upsert", subject: nil,
                                      detail: ["codes": codes.joined(separator: ",")], on: connection, logger: database.logger)
        }
    }

    private func checkCounty(_ code: String, facility: String, on connection: PostgresConnection) async throws {
        let rows = try await connection.query(
            "SELECT level FROM registry.regions WHERE code = \(code)", logger: database.logger)
        var level: String?
        for try await value in rows.decode(String.self) { level = value }
        guard let level else { throw RegistryError("facility \(facility): region \(code) is not registered") }
        guard level == "county" else { throw RegistryError("facility \(facility): region \(code) is a \(level), not a county") }
    }

    public func facilities() async throws -> [Facility] {
        var result: [Facility] = []
        let rows = try await database.query("""
            SELECT code, name, tier, grade, type, region_code, staffed_beds, consortium
            FROM registry.facilities ORDER BY code
            """)
        for try await row in rows.decode((String, String, Int, String, String, String, Int, String?).self) {
            result.append(Facility(code: row.0, name: row.1, tier: FacilityTier(rawValue: row.2)!,
                                   grade: FacilityGrade(rawValue: row.3)!, type: FacilityType(rawValue: row.4)!,
                                   regionCode: row.5, staffedBeds: row.6, consortium: row.7))
        }
        return result
    }

    // MARK: Alliances

    public func upsertAlliance(code: String, name: String, actor: String) async throws {
        try await database.withTransaction { connection in
            try await connection.query("""
                INSERT INTO registry.alliances (code, name) VALUES (\(code), \(name))
                ON CONFLICT (code) DO UPDATE SET name = excluded.name
                """, logger: database.logger)
            try await AuditLog.record(actor: actor, action: "alliance.upsert", subject: code, detail: ["name": name],
                                      on: connection, logger: database.logger)
        }
    }

    public func addMembers(alliance: String, facilities codes: [String], actor: String) async throws {
        try await database.withTransaction { connection in
            for code in codes {
                let rows = try await connection.query("""
                    INSERT INTO registry.alliance_members (alliance_id, facility_id)
                    SELECT a.id, f.id FROM registry.alliances a, registry.facilities f
                    WHERE a.code = \(alliance) AND f.code = \(code)
                    ON CONFLICT DO NOTHING
                    RETURNING 1
                    """, logger: database.logger)
                var inserted = false
                for try await _ in rows { inserted = true }
                if !inserted { try await requireExists(alliance: alliance, facility: code, on: connection) }
            }
            try await AuditLog.record(actor: actor, action: "alliance.members.add", subject: alliance,
                                      detail: ["facilities": codes.joined(separator: ",")], on: connection, logger: database.logger)
        }
    }

    private func requireExists(alliance: String, facility: String, on connection: PostgresConnection) async throws {
        let rows = try await connection.query("""
            SELECT (SELECT count(*) FROM registry.alliances WHERE code = \(alliance)),
                   (SELECT count(*) FROM registry.facilities WHERE code = \(facility))
            """, logger: database.logger)
        for try await (alliances, facilities) in rows.decode((Int, Int).self) {
            if alliances == 0 { throw RegistryError("alliance \(alliance) is not registered") }
            if facilities == 0 { throw RegistryError("facility \(facility) is not registered") }
        }
    }

    public func alliances() async throws -> [Alliance] {
        var result: [Alliance] = []
        let rows = try await database.query("""
            SELECT a.code, a.name, coalesce(array_agg(f.code ORDER BY f.code) FILTER (WHERE f.code IS NOT NULL), '{}')
            FROM registry.alliances a
            LEFT JOIN registry.alliance_members m ON m.alliance_id = a.id
            LEFT JOIN registry.facilities f ON f.id = m.facility_id
            GROUP BY a.code, a.name ORDER BY a.code
            """)
        for try await (code, name, members) in rows.decode((String, String, [String]).self) {
            result.append(Alliance(code: code, name: name, memberCodes: members))
        }
        return result
    }
}
