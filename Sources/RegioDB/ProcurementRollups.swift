import Foundation
import Logging
import PostgresNIO
import RegioCore

/// The procurement rollup (`reports.purchase_month`) and the parsed specs its pack checks read
/// (`procurement.spec_parses`): refreshed for the months a batch touched, inside its
/// transaction; for a whole facility after a steward's decision; or rebuilt whole, which must give
/// the same rows.
public enum ProcurementRollups {
    /// The first key of the rollup's advisory locks: (9, facility id), and (9, 0) for a rebuild.
    static let lockSpace = 9

    /// Parses the spec texts of `relation` (any relation with a text column `spec`) that are not
    /// parsed yet. Texts are few — a catalogue's worth — so each is parsed once, ever.
    public static func parseSpecs(in relation: String, on connection: PostgresConnection, logger: Logger) async throws {
        var fresh: [String] = []
        for try await spec in try await connection.query(PostgresQuery(unsafeSQL: """
            SELECT DISTINCT s.spec FROM \(relation) s
            WHERE s.spec IS NOT NULL AND NOT EXISTS (SELECT 1 FROM procurement.spec_parses p WHERE p.spec = s.spec)
            """), logger: logger).decode(String.self) {
            fresh.append(spec)
        }
        guard !fresh.isEmpty else { return }
        var counts: [String] = [], baseUnits: [String] = [], packUnits: [String] = [], refusals: [String] = []
        for spec in fresh {
            switch PackSpec.parse(spec) {
            case .success(let parsed):
                counts.append(parsed.count.map { "\($0)" } ?? "")
                baseUnits.append(parsed.baseUnit ?? "")
                packUnits.append(parsed.packUnit ?? "")
                refusals.append("")
            case .failure(let refusal):
                counts.append("")
                baseUnits.append("")
                packUnits.append("")
                refusals.append(refusal.description)
            }
        }
        // '' stands for none: the arrays are of text.
        try await connection.query("""
            INSERT INTO procurement.spec_parses (spec, count, base_unit, pack_unit, refusal)
            SELECT spec, nullif(count, '')::numeric, nullif(base_unit, ''), nullif(pack_unit, ''), nullif(refusal, '')
            FROM unnest(\(fresh)::text[], \(counts)::text[], \(baseUnits)::text[], \(packUnits)::text[], \(refusals)::text[])
                 AS s (spec, count, base_unit, pack_unit, refusal)
            ON CONFLICT (spec) DO NOTHING
            """, logger: logger)
    }

    /// Recomputes `reports.purchase_month` for these (facility, month) keys. Refreshes of one
    /// facility's months wait for each other (a batch's and a steward's decision's), and all of them
    /// for a rebuild: each takes the facility's transaction lock, after a shared hold on the rebuild's.
    public static func refresh(_ keys: [Rollups.Key], on connection: PostgresConnection, logger: Logger) async throws {
        guard !keys.isEmpty else { return }
        try await connection.query("SELECT pg_advisory_xact_lock_shared(\(lockSpace)::int, 0)", logger: logger)
        for facility in Set(keys.map(\.facility)).sorted() {
            try await connection.query("SELECT pg_advisory_xact_lock(\(lockSpace)::int, \(facility)::int)", logger: logger)
        }
        let file = try SQLFile.load("procurement/refresh_purchase_month.sql")
        for statement in try file.statements() {
            try await connection.query(file.query(statement, ["facilities": keys.map(\.facility), "months": keys.map(\.month)]),
                                       logger: logger)
        }
    }

    /// Recomputes every month of one facility (nil: of every facility — a rebuild): after a
    /// decision that may change any of its lines (a mapping, a pack decision, the catalogue).
    public static func refreshFacility(_ facility: Int?, on connection: PostgresConnection, logger: Logger) async throws {
        if facility == nil { try await connection.query("SELECT pg_advisory_xact_lock(\(lockSpace)::int, 0)", logger: logger) }
        let file = try SQLFile.load("procurement/facility_months.sql")
        var keys: [Rollups.Key] = []
        for try await key in try await connection.query(file.query(try file.render(), ["facility": facility]), logger: logger)
            .decode((Int, String).self) {
            keys.append(key)
        }
        // Each batch parses the specs it brings; a rebuild also covers lines stored before there was a parse.
        if facility == nil { try await parseSpecs(in: "procurement.purchases", on: connection, logger: logger) }
        try await refresh(keys, on: connection, logger: logger)
    }
}
