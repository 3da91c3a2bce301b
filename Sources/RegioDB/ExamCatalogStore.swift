import Foundation
import Logging
import PostgresNIO
import RegioCore

/// The regional exam catalogue (`emr.exam_codes`), facilities' local codes mapped to it
/// (`emr.exam_code_map`) and the categories' default recognition windows
/// (`emr.recognition_defaults`). Each change is one transaction, audited, that also derives again
/// the exam registry of the exams it concerns (`PersonFacts`), so that the duplicate-exam figures
/// follow at once.
public struct ExamCatalogStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// What an import changed.
    public struct ImportOutcome: Sendable, Equatable {
        public var inserted = 0
        public var updated = 0
        public var unchanged = 0
        /// Exam reports whose registry row was derived again.
        public var exams = 0
    }

    /// Problems only the database can see (an unknown facility or code, an overlap), by line: what
    /// refuses a catalogue import whole (this one's and ProcurementStore's).
    public struct Refused: Error, CustomStringConvertible {
        public var problems: [CSVImport.Problem]
        public var description: String { problems.map(\.description).joined(separator: "\n") }
    }

    /// Adds or updates catalogue codes.
    public func importCodes(_ codes: [ExamCode], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            try await PersonFacts.lock(on: connection, logger: database.logger)
            var outcome = ImportOutcome()
            var changed: [String] = []
            for try await (code, inserted) in try await connection.query("""
                INSERT INTO emr.exam_codes (code, name, category, window_days)
                SELECT code, name, category, nullif(window_days, -1)  -- -1: none of its own
                FROM unnest(\(codes.map(\.code))::text[], \(codes.map(\.name))::text[], \(codes.map(\.category))::text[],
                            \(codes.map { $0.windowDays ?? -1 })::int[]) AS c (code, name, category, window_days)
                ON CONFLICT (code) DO UPDATE SET name = excluded.name, category = excluded.category,
                    window_days = excluded.window_days, updated_at = now()
                WHERE (emr.exam_codes.name, emr.exam_codes.category, emr.exam_codes.window_days)
                      IS DISTINCT FROM (excluded.name, excluded.category, excluded.window_days)
                RETURNING code, xmax = 0
                """, logger: database.logger).decode((String, Bool).self) {
                changed.append(code)
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = codes.count - changed.count
            outcome.exams = try await refresh("""
                SELECT facility_id, report_id FROM emr.exam_registry WHERE regional_code = ANY(\(changed))
                """, on: connection)
            try await AuditLog.record(actor: actor, action: "catalog.exam_codes", subject: nil, detail: [
                "inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)", "exams": "\(outcome.exams)",
            ], on: connection, logger: database.logger)
            return outcome
        }
    }

    /// Adds or updates facilities' mappings of local codes; refused whole when a facility or a
    /// regional code is unknown.
    public func importMappings(_ mappings: [ExamCodeMapping], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            try await PersonFacts.lock(on: connection, logger: database.logger)
            var problems: [CSVImport.Problem] = []
            for try await (line, facilityKnown, codeKnown, facility, code) in try await connection.query("""
                SELECT m.line, f.id IS NOT NULL, c.code IS NOT NULL, m.facility, m.regional
                FROM unnest(\(mappings.map(\.line))::int[], \(mappings.map(\.facility))::text[], \(mappings.map(\.regionalCode))::text[])
                     AS m (line, facility, regional)
                LEFT JOIN registry.facilities f ON f.code = m.facility
                LEFT JOIN emr.exam_codes c ON c.code = m.regional
                WHERE f.id IS NULL OR c.code IS NULL ORDER BY m.line
                """, logger: database.logger).decode((Int, Bool, Bool, String, String).self) {
                if !facilityKnown { problems.append(.init(line: line, column: "facility", message: "no facility '\(facility)' is registered")) }
                if !codeKnown {
                    problems.append(.init(line: line, column: "regional_code", message: "'\(code)' is not in the regional catalogue"))
                }
            }
            guard problems.isEmpty else { throw Refused(problems: problems) }
            var outcome = ImportOutcome()
            var facilities: [Int] = [], locals: [String] = []
            for try await (facility, local, inserted) in try await connection.query("""
                INSERT INTO emr.exam_code_map (facility_id, local_code, regional_code)
                SELECT f.id, m.local, m.regional
                FROM unnest(\(mappings.map(\.facility))::text[], \(mappings.map(\.localCode))::text[], \(mappings.map(\.regionalCode))::text[])
                     AS m (facility, local, regional)
                JOIN registry.facilities f ON f.code = m.facility
                ON CONFLICT (facility_id, local_code) DO UPDATE SET regional_code = excluded.regional_code, updated_at = now()
                WHERE emr.exam_code_map.regional_code <> excluded.regional_code
                RETURNING facility_id, local_code, xmax = 0
                """, logger: database.logger).decode((Int, String, Bool).self) {
                facilities.append(facility)
                locals.append(local)
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = mappings.count - facilities.count
            outcome.exams = try await refresh("""
                SELECT r.facility_id, r.report_id FROM emr.exam_registry r
                JOIN unnest(\(facilities)::int[], \(locals)::text[]) AS m (facility, local) ON r.facility_id = m.facility AND r.local_code = m.local
                """, on: connection)
            try await AuditLog.record(actor: actor, action: "catalog.exam_map", subject: nil, detail: [
                "inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)", "exams": "\(outcome.exams)",
            ], on: connection, logger: database.logger)
            return outcome
        }
    }

    /// Sets the recognition window of a category's codes that name none of their own.
    public func setDefaultWindow(category: String, days: Int, actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            try await PersonFacts.lock(on: connection, logger: database.logger)
            let changed = try await connection.changedRows("""
                UPDATE emr.recognition_defaults SET window_days = \(days) WHERE category = \(category) AND window_days <> \(days)
                """, logger: database.logger)
            var outcome = ImportOutcome(updated: changed, unchanged: 1 - changed)
            if changed > 0 {
                // The exams whose window is the category's default.
                outcome.exams = try await refresh("""
                    SELECT r.facility_id, r.report_id FROM emr.exam_registry r
                    LEFT JOIN emr.exam_codes c ON c.code = r.regional_code
                    WHERE r.regional_code IS NOT NULL AND c.window_days IS NULL AND coalesce(c.category, r.category) = \(category)
                    """, on: connection)
            }
            try await AuditLog.record(actor: actor, action: "catalog.window", subject: category,
                                      detail: ["window_days": "\(days)", "exams": "\(outcome.exams)"],
                                      on: connection, logger: database.logger)
            return outcome
        }
    }

    /// The categories' default windows, in days.
    public func defaultWindows() async throws -> [(category: String, days: Int)] {
        var windows: [(String, Int)] = []
        for try await row in try await database.query("SELECT category, window_days FROM emr.recognition_defaults ORDER BY category")
            .decode((String, Int).self) {
            windows.append(row)
        }
        return windows
    }

    /// A local code with no mapping, and how much it is used: what stewards map next.
    public struct Unmapped: Sendable, Codable, Equatable {
        public var facility: String
        public var localCode: String
        public var name: String
        public var exams: Int
        public var lastPerformed: String

        enum CodingKeys: String, CodingKey {
            case facility, name, exams
            case localCode = "local_code"
            case lastPerformed = "last_performed"
        }
    }

    /// Unmapped local codes, most used first; of one facility, or all.
    /// Read under the region's row-level security scope: stewards and administrators ask.
    public func unmapped(facility: String? = nil, limit: Int = 500) async throws -> [Unmapped] {
        try await database.withScope(.region) { connection in try await unmapped(facility: facility, limit: limit, on: connection) }
    }

    private func unmapped(facility: String?, limit: Int, on connection: PostgresConnection) async throws -> [Unmapped] {
        var rows: [Unmapped] = []
        for try await (code, local, name, exams, last) in try await connection.query("""
            SELECT f.code, r.local_code, min(e.exam_name), count(*)::int, max(r.performed_at AT TIME ZONE 'Asia/Shanghai')::date::text
            FROM emr.exam_registry r
            JOIN registry.facilities f ON f.id = r.facility_id
            JOIN emr.exams e ON e.facility_id = r.facility_id AND e.report_id = r.report_id
            WHERE r.regional_code IS NULL AND r.local_code IS NOT NULL AND (\(facility)::text IS NULL OR f.code = \(facility))
            GROUP BY f.code, r.local_code
            ORDER BY count(*) DESC, f.code, r.local_code LIMIT \(limit)
            """, logger: database.logger).decode((String, String, String, Int, String).self) {
            rows.append(Unmapped(facility: code, localCode: local, name: name, exams: exams, lastPerformed: last))
        }
        return rows
    }

    /// Derives again the registry rows of the exams `query` returns (facility id, report id).
    private func refresh(_ query: PostgresQuery, on connection: PostgresConnection) async throws -> Int {
        var exams: [PersonFacts.Exam] = []
        for try await (facility, report) in try await connection.query(query, logger: database.logger).decode((Int, String).self) {
            exams.append((facility, report))
        }
        try await PersonFacts.refresh(persons: [], exams: exams, on: connection, logger: database.logger)
        return exams.count
    }
}
