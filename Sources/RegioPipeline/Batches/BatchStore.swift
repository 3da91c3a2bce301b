import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// Batches and their files in `ingest.*`: creation from a manifest, the upload receipts, the
/// queue the worker takes from, and what the API reads back.
public struct BatchStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public enum Problem: Error, Equatable, CustomStringConvertible {
        case unknownFacility(String)
        case notFound(Int64)
        case wrongState(Int64, BatchRecord.Status, expected: String)
        case filesMissing([String])
        /// The manifest's business date is after tomorrow or before the region's earliest.
        case businessDateOutOfRange(String)

        public var description: String {
            switch self {
            case .unknownFacility(let code): "facility \(code) is not registered"
            case .notFound(let id): "no batch \(id)"
            case .wrongState(let id, let status, let expected): "batch \(id) is \(status.rawValue); it must be \(expected)"
            case .filesMissing(let names): "files not uploaded yet: \(names.joined(separator: ", "))"
            case .businessDateOutOfRange(let reason): reason
            }
        }
    }

    /// Why a business date cannot be loaded, if it cannot: a night after tomorrow in the region's
    /// time (China time, as the reports count days) has not happened, and one before the region's
    /// `earliest_business_date` is out of the platform's range. Either would be loaded as the
    /// newest (or an ancient) version of the facility's rows, and a mistyped year in the future
    /// would make every later correction lose to it.
    private func businessDateOutOfRange(_ date: String, on connection: PostgresConnection) async throws -> String? {
        for try await reason in try await connection.query("""
            SELECT CASE
                WHEN d > today + 1 THEN format('business date %s is after tomorrow (%s, China time): no extract can cover a night that far ahead', d, today + 1)
                WHEN d < earliest THEN format('business date %s is before the region''s earliest business date %s (registry setting earliest_business_date)', d, earliest)
            END
            FROM (SELECT \(date)::date AS d, (now() AT TIME ZONE 'Asia/Shanghai')::date AS today,
                         coalesce((SELECT (value #>> '{}')::date FROM registry.settings WHERE key = 'earliest_business_date'), '-infinity') AS earliest) v
            """, logger: database.logger).decode(String?.self) {
            return reason
        }
        return nil
    }

    /// Creates a batch for a manifest — or, when the same facility already has a batch of the same
    /// content still receiving files, returns that one, so an interrupted upload resumes.
    public func create(manifest: ExtractManifest, credentialID: Int64?) async throws -> (batch: BatchRecord, resumed: Bool) {
        let manifestJSON = String(decoding: try manifest.encoded(), as: UTF8.self)
        let (id, resumed) = try await database.withTransaction { connection -> (Int64, Bool) in
            if let reason = try await businessDateOutOfRange(manifest.businessDate, on: connection) {
                throw Problem.businessDateOutOfRange(reason)
            }
            var facilityID: Int?
            for try await id in try await connection.query(
                "SELECT id FROM registry.facilities WHERE code = \(manifest.facilityCode) AND active", logger: database.logger
            ).decode(Int.self) { facilityID = id }
            guard let facilityID else { throw Problem.unknownFacility(manifest.facilityCode) }
            // Serialise creation per facility so two uploads of one extract cannot both create.
            try await connection.query("SELECT pg_advisory_xact_lock(7, \(facilityID)::int)", logger: database.logger)
            var receiving: Int64?
            for try await id in try await connection.query("""
                SELECT id FROM ingest.batches
                WHERE facility_id = \(facilityID) AND content_key = \(manifest.contentKey) AND status = 'receiving'
                ORDER BY id DESC LIMIT 1
                """, logger: database.logger).decode(Int64.self) {
                receiving = id
            }
            if let receiving {
                // A file received before a database crash may have lost its staged rows (they
                // are UNLOGGED): it is to be sent again, and the resume shows it as not received.
                var lost: [String] = []
                for try await name in try await connection.query(
                    "SELECT ingest.forget_lost_files(\(receiving))", logger: database.logger).decode(String.self) {
                    lost.append(name)
                }
                if !lost.isEmpty {
                    database.logger.warning("staged files lost; they are to be sent again", metadata: [
                        "batch": "\(receiving)", "files": "\(lost.joined(separator: ","))",
                    ])
                }
                return (receiving, true)
            }
            var newID: Int64 = 0
            for try await id in try await connection.query("""
                INSERT INTO ingest.batches (facility_id, business_date, manifest, content_key, encoding, credential_id)
                VALUES (\(facilityID), \(manifest.businessDate)::date, \(manifestJSON)::jsonb, \(manifest.contentKey),
                        \(manifest.encoding.rawValue), \(credentialID))
                RETURNING id
                """, logger: database.logger).decode(Int64.self) { newID = id }
            for file in manifest.files {
                try await connection.query("""
                    INSERT INTO ingest.batch_files (batch_id, kind, name, expected_rows, expected_sha256)
                    VALUES (\(newID), \(file.kind.rawValue), \(file.name), \(file.rows), \(file.sha256.lowercased()))
                    """, logger: database.logger)
            }
            return (newID, false)
        }
        return (try await batch(id: id)!, resumed)
    }

    public func batch(id: Int64) async throws -> BatchRecord? {
        try await batches(ids: [id]).first
    }

    /// The facility's batches (or everyone's, when `facility` is nil), newest first.
    public func list(facility: String?, limit: Int) async throws -> [BatchRecord] {
        var ids: [Int64] = []
        for try await id in try await database.query("""
            SELECT b.id FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id
            WHERE \(facility)::text IS NULL OR f.code = \(facility)
            ORDER BY b.id DESC LIMIT \(limit)
            """).decode(Int64.self) { ids.append(id) }
        return try await batches(ids: ids)
    }

    /// Batches with their files and issue counts, in the order of `ids`: three queries, however many.
    func batches(ids: [Int64]) async throws -> [BatchRecord] {
        guard !ids.isEmpty else { return [] }
        var records: [Int64: BatchRecord] = [:]
        let rows = try await database.query("""
            SELECT b.id, f.code, b.business_date::text,
                   -- loaded, but its side transaction is not committed yet: not all of it is visible
                   CASE WHEN b.status = 'loaded' AND b.id IN (SELECT ingest.pending_side_batches()) THEN 'validating'
                        ELSE b.status END,
                   b.dry_run, b.reason, b.duplicate_of,
                   b.created_at, b.committed_at, b.started_at, b.finished_at, b.linked_at
            FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id
            WHERE b.id = ANY(\(ids))
            """)
        for try await row in rows.decode((Int64, String, String, String, Bool, String?, Int64?, Date, Date?, Date?, Date?, Date?).self) {
            records[row.0] = BatchRecord(id: row.0, facility: row.1, businessDate: row.2, status: BatchRecord.Status(rawValue: row.3)!,
                                         dryRun: row.4, reason: row.5, duplicateOf: row.6, createdAt: row.7, committedAt: row.8,
                                         startedAt: row.9, finishedAt: row.10, linkedAt: row.11, files: [], issuesByCode: [:])
        }
        let files = try await database.query("""
            SELECT batch_id, kind, name, expected_rows, received_rows, received_bytes, received_at, file_error,
                   inserted, updated, unchanged, retracted, rejected, warnings
            FROM ingest.batch_files WHERE batch_id = ANY(\(ids))
            """)
        for try await row in files.decode((Int64, String, String, Int, Int?, Int?, Date?, String?, Int?, Int?, Int?, Int?, Int?, Int?).self) {
            records[row.0]?.files.append(BatchRecord.File(
                kind: ExtractKind(rawValue: row.1)!, name: row.2, expectedRows: row.3, receivedRows: row.4, receivedBytes: row.5,
                receivedAt: row.6, fileError: row.7, inserted: row.8, updated: row.9, unchanged: row.10, retracted: row.11,
                rejected: row.12, warnings: row.13))
        }
        for try await (id, code, count) in try await database.query("""
            SELECT batch_id, code, count(*)::bigint FROM ingest.row_errors WHERE batch_id = ANY(\(ids)) GROUP BY batch_id, code
            """).decode((Int64, String, Int).self) {
            records[id]?.issuesByCode[code] = count
        }
        return ids.compactMap { id in
            records[id].map { record in
                var sorted = record
                sorted.files.sort { $0.kind < $1.kind }
                return sorted
            }
        }
    }

    /// The facility a batch belongs to, for authorisation before anything else is read.
    public func facility(ofBatch id: Int64) async throws -> String? {
        for try await code in try await database.query("""
            SELECT f.code FROM ingest.batches b JOIN registry.facilities f ON f.id = b.facility_id WHERE b.id = \(id)
            """).decode(String.self) { return code }
        return nil
    }

    /// Hands a received, complete batch to the worker: to load it, or (`dryRun`) only to check it.
    public func commit(id: Int64, dryRun: Bool) async throws -> BatchRecord {
        guard let batch = try await batch(id: id) else { throw Problem.notFound(id) }
        guard batch.status == .receiving else {
            throw Problem.wrongState(id, batch.status, expected: "receiving files to be committed")
        }
        let missing = batch.files.filter { $0.receivedAt == nil }.map(\.name)
        guard missing.isEmpty else { throw Problem.filesMissing(missing) }
        try await database.query("""
            UPDATE ingest.batches SET status = 'queued', dry_run = \(dryRun), committed_at = now()
            WHERE id = \(id) AND status = 'receiving'
            """)
        return try await self.batch(id: id)!
    }

    /// Row errors and warnings, in file order, a page at a time.
    public func issues(batch id: Int64, offset: Int, limit: Int) async throws -> [StoredIssue] {
        var result: [StoredIssue] = []
        let rows = try await database.query("""
            SELECT kind, line, column_name, code, severity, message, raw_value FROM ingest.row_errors
            WHERE batch_id = \(id)
            ORDER BY array_position(ARRAY['patients','encounters','exams','purchases','referrals','beds'], kind), line NULLS FIRST, code
            OFFSET \(offset) LIMIT \(limit)
            """)
        for try await row in rows.decode((String, Int?, String?, String, String, String, String?).self) {
            result.append(StoredIssue(kind: row.0, line: row.1, column: row.2, code: row.3, severity: row.4, message: row.5, raw: row.6))
        }
        return result
    }

    public func issueCount(batch id: Int64) async throws -> Int {
        for try await count in try await database.query(
            "SELECT count(*)::bigint FROM ingest.row_errors WHERE batch_id = \(id)").decode(Int.self) { return count }
        return 0
    }

    /// The quarantined rows of one kind with their errors, in line order.
    public func rejectedRows(batch id: Int64, kind: ExtractKind) async throws -> [(line: Int, fields: [String: String?], errors: String)] {
        var result: [(line: Int, fields: [String: String?], errors: String)] = []
        let rows = try await database.query("""
            SELECT r.line, r.fields::text,
                   coalesce(string_agg(e.code || coalesce(' (' || e.column_name || ')', '') || ': ' || e.message, '; '
                                       ORDER BY e.code) FILTER (WHERE e.severity = 'error'), '')
            FROM ingest.rejected_rows r
            LEFT JOIN ingest.row_errors e ON e.batch_id = r.batch_id AND e.kind = r.kind AND e.line = r.line
            WHERE r.batch_id = \(id) AND r.kind = \(kind.rawValue)
            GROUP BY r.line, r.fields::text ORDER BY r.line
            """)
        for try await (line, json, errors) in rows.decode((Int, String, String).self) {
            let fields = (try? JSONDecoder().decode([String: String?].self, from: Data(json.utf8))) ?? [:]
            result.append((line, fields, errors))
        }
        return result
    }
}

/// One row of `ingest.row_errors`.
public struct StoredIssue: Sendable, Codable, Equatable {
    public var kind: String
    public var line: Int?
    public var column: String?
    public var code: String
    public var severity: String
    public var message: String
    public var raw: String?
}
