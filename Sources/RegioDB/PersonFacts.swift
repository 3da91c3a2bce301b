import Foundation
import Logging
import PostgresNIO

/// What depends on which records are one person, besides the referral findings (`Rollups`): the
/// exam registry (`emr.exam_registry`: each exam's person, regional code, window and the earlier
/// result it repeats), the duplicate-exam rollup built on it (`reports.exam_month`), and the
/// patient-index rollup (`reports.person_index`). Refreshed, in the caller's transaction, for the
/// persons and exam reports a change touched: a batch's linking, a steward's decision, a
/// retraction; or rebuilt whole after a change of the catalogue, its mapping or the windows.
public enum PersonFacts {
    /// The advisory lock of every change to which records are one person and of what is derived
    /// from it (the linker's, stewards' decisions, a retraction, a catalogue import): one at a time.
    public static let linkingLock: Int64 = 0x6c69_6e6b

    /// Takes the linking lock for the transaction of `connection` if no one holds it; whether it did.
    public static func tryLock(on connection: PostgresConnection, logger: Logger) async throws -> Bool {
        for try await got in try await connection.query("SELECT pg_try_advisory_xact_lock(\(linkingLock))", logger: logger)
            .decode(Bool.self) {
            return got
        }
        return false
    }

    /// Waits for the linking lock, held until the transaction of `connection` ends.
    public static func lock(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(linkingLock))", logger: logger)
    }

    /// An exam report: a facility and its `report_id`.
    public typealias Exam = (facility: Int, report: String)

    /// Derives again the facts of `persons` and of the persons of `exams` (now and as last derived).
    public static func refresh(persons: [Int64], exams: [Exam], on connection: PostgresConnection, logger: Logger) async throws {
        guard !persons.isEmpty || !exams.isEmpty else { return }
        let values: [String: (any PostgresDynamicTypeEncodable)?] = [
            "persons": persons, "facilities": exams.map(\.facility), "reports": exams.map(\.report),
        ]
        var touched: [Int64] = []
        let expand = try SQLFile.load("emr/exam_persons.sql")
        for try await person in try await connection.query(try expand.query(expand.render(), values), logger: logger)
            .decode(Int64.self) {
            touched.append(person)
        }
        try await derive(persons: touched, exams: exams, everything: false, on: connection, logger: logger)
    }

    /// What a batch touched: the exams it wrote and those it replaced or retracted (kept in
    /// `ingest.superseded_rows`), and the persons its records have and had. Read before a
    /// retraction removes them, or after the batch's linking.
    public static func touched(byBatch batch: Int64, facility: Int, on connection: PostgresConnection,
                               logger: Logger) async throws -> (persons: [Int64], exams: [Exam]) {
        var persons: [Int64] = [], exams: [Exam] = []
        for try await (kind, value) in try await connection.query("""
            SELECT 'exam', report_id FROM emr.exams WHERE facility_id = \(facility) AND batch_id = \(batch)
            UNION
            SELECT 'exam', row->>'report_id' FROM ingest.superseded_rows WHERE batch_id = \(batch) AND table_name = 'emr.exams'
            UNION
            SELECT 'person', person_id::text FROM emr.patients
            WHERE facility_id = \(facility) AND batch_id = \(batch) AND person_id IS NOT NULL
            UNION
            SELECT 'person', row->>'person_id' FROM ingest.superseded_rows
            WHERE batch_id = \(batch) AND table_name = 'emr.patients' AND row->>'person_id' IS NOT NULL
            """, logger: logger).decode((String, String).self) {
            if kind == "exam" { exams.append((facility, value)) } else if let person = Int64(value) { persons.append(person) }
        }
        return (persons, exams)
    }

    /// Rebuilds every exam registry row and both rollups.
    public static func rebuildAll(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("DELETE FROM reports.exam_month", logger: logger)
        try await derive(persons: [], exams: [], everything: true, on: connection, logger: logger)
    }

    private static func derive(persons: [Int64], exams: [Exam], everything: Bool,
                               on connection: PostgresConnection, logger: Logger) async throws {
        let registry = try SQLFile.load("emr/exam_registry.sql")
        let values: [String: (any PostgresDynamicTypeEncodable)?] = [
            "persons": persons, "facilities": exams.map(\.facility), "reports": exams.map(\.report), "everything": everything,
        ]
        var months = Set<String>()
        var keys: [Rollups.Key] = []
        // An exam at one facility repeats, or is repeated by, exams at others: the registry is
        // the region's, written in its write scope.
        try await WriteScope.acrossFacilities(on: connection, logger: logger) {
            for statement in try registry.statements() {
                for try await (facility, month) in try await connection.query(try registry.query(statement, values), logger: logger)
                    .decode((Int, String).self) where months.insert("\(facility)|\(month)").inserted {
                    keys.append((facility, month))
                }
            }
        }
        if !keys.isEmpty {
            let rollup = try SQLFile.load("reports/refresh_exam_month.sql")
            for statement in try rollup.statements() {
                try await connection.query(try rollup.query(statement, ["facilities": keys.map(\.facility), "months": keys.map(\.month)]),
                                           logger: logger)
            }
        }
        let index = try SQLFile.load("reports/refresh_person_index.sql")
        for statement in try index.statements() {
            try await connection.query(try index.query(statement, ["persons": persons, "everything": everything]), logger: logger)
        }
    }
}
