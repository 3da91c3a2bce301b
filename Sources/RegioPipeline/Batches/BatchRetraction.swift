import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// Takes a loaded batch back: the rows it brought are removed, the stored rows it replaced or
/// retracted are put back as they were (kept by migration 0013's triggers while it merged), its
/// referral statuses are dropped, and the facility's rollups and referral findings recomputed, and
/// the exam registry of the exams and persons it touched (`PersonFacts`) —
/// one transaction, audited. A batch sent with a wrong business date or wrong content so never
/// freezes its facility: once it is retracted, the corrected extract loads.
///
/// Batches are taken back newest first: a batch can be retracted only while no later batch of
/// its facility is loaded (the later one may have replaced its rows), and only within the
/// region's `retraction_days` of its decision (the replaced rows are kept that long).
public struct BatchRetraction: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// What a retraction changed, per core table.
    public struct Outcome: Sendable, Codable, Equatable {
        public struct TableCounts: Sendable, Codable, Equatable {
            public var table: String
            public var removed: Int
            public var restored: Int
        }
        public var batch: Int64
        public var facility: String
        public var businessDate: String
        public var tables: [TableCounts]

        enum CodingKeys: String, CodingKey {
            case batch, facility, tables
            case businessDate = "business_date"
        }
    }

    public enum Problem: Error, CustomStringConvertible, Equatable {
        case notFound(Int64)
        case notLoaded(Int64, status: String)
        case laterBatches(Int64, later: [Int64])
        case beingDecided(Int64, deciding: [Int64])
        case tooOld(Int64, days: Int)

        public var description: String {
            switch self {
            case .notFound(let id): "no batch \(id)"
            case .notLoaded(let id, let status): "batch \(id) is \(status); only a loaded batch can be retracted"
            case .laterBatches(let id, let later):
                "batch \(id) is not its facility's latest loaded batch: retract \(later.map { "\($0)" }.joined(separator: ", ")) first (newest first)"
            case .beingDecided(let id, let deciding):
                "a batch of batch \(id)'s facility is being decided (\(deciding.map { "\($0)" }.joined(separator: ", "))); try again when it is"
            case .tooOld(let id, let days):
                "batch \(id) was decided more than \(days) days ago (the region's retraction_days): the rows it replaced are no longer kept"
            }
        }
    }

    /// Retracts batch `id`; `actor` and `reason` go to the audit log and the batch's reason.
    public func retract(id: Int64, actor: String, reason: String) async throws -> Outcome {
        let logger = database.logger
        let outcome = try await database.withTransaction { connection -> Outcome in
            var found: (facilityID: Int, facility: String, businessDate: String)?
            for try await row in try await connection.query("""
                SELECT b.facility_id, f.code, b.business_date::text FROM ingest.batches b
                JOIN registry.facilities f ON f.id = b.facility_id WHERE b.id = \(id)
                """, logger: logger).decode((Int, String, String).self) {
                found = (row.0, row.1, row.2)
            }
            guard let found else { throw Problem.notFound(id) }
            try await WriteScope.facility(found.facilityID).enter(on: connection, logger: logger)
            // No batch of the facility is created (lock 7, as BatchStore.create), committed or
            // taken up for a decision (its row locked: the worker's claim skips it) meanwhile.
            try await connection.query("SELECT pg_advisory_xact_lock(7, \(found.facilityID)::int)", logger: logger)
            var days = 0
            for try await value in try await connection.query(
                "SELECT value::int FROM registry.settings WHERE key = 'retraction_days'", logger: logger).decode(Int.self) {
                days = value
            }
            var batches: [(id: Int64, status: String, finished: Bool, expired: Bool)] = []
            for try await row in try await connection.query("""
                SELECT id, status, finished_at > coalesce((SELECT finished_at FROM ingest.batches WHERE id = \(id)), 'infinity'),
                       coalesce(finished_at < now() - make_interval(days => \(days)::int), false)
                FROM ingest.batches WHERE facility_id = \(found.facilityID) ORDER BY id FOR UPDATE
                """, logger: logger).decode((Int64, String, Bool?, Bool).self) {
                batches.append((row.0, row.1, row.2 ?? false, row.3))
            }
            guard let batch = batches.first(where: { $0.id == id }) else { throw Problem.notFound(id) }
            guard batch.status == BatchRecord.Status.loaded.rawValue else { throw Problem.notLoaded(id, status: batch.status) }
            var pending: [Int64] = []
            for try await side in try await connection.query("SELECT ingest.pending_side_batches()", logger: logger).decode(Int64.self) {
                pending.append(side)
            }
            let deciding = batches.filter { $0.status == "validating" || pending.contains($0.id) }.map(\.id)
            guard deciding.isEmpty else { throw Problem.beingDecided(id, deciding: deciding) }
            let later = batches.filter { $0.status == "loaded" && $0.id != id && $0.finished }.map(\.id)
            guard later.isEmpty else { throw Problem.laterBatches(id, later: later) }
            if batch.expired {
                throw Problem.tooOld(id, days: days)
            }

            // The exams and persons it touched, while its rows still say so; no linking meanwhile.
            try await PersonFacts.lock(on: connection, logger: logger)
            let touched = try await PersonFacts.touched(byBatch: id, facility: found.facilityID, on: connection, logger: logger)
            var tables: [Outcome.TableCounts] = []
            for try await (table, removed, restored) in try await connection.query(
                "SELECT table_name, removed, restored FROM ingest.retract_rows(\(id), \(found.facilityID)::int)", logger: logger
            ).decode((String, Int, Int).self) {
                tables.append(.init(table: table, removed: removed, restored: restored))
            }
            try await connection.query("""
                UPDATE ingest.batches SET status = 'retracted', reason = \("retracted by \(actor): \(reason)") WHERE id = \(id)
                """, logger: logger)
            try await Rollups.refreshFacility(found.facilityID, on: connection, logger: logger)
            try await PersonFacts.refresh(persons: touched.persons, exams: touched.exams, on: connection, logger: logger)
            var detail = ["facility": found.facility, "business_date": found.businessDate, "reason": reason]
            for counts in tables where counts.removed + counts.restored > 0 {
                detail[counts.table] = "\(counts.removed) removed, \(counts.restored) restored"
            }
            try await AuditLog.record(actor: actor, action: "batch.retracted", subject: "\(id)", detail: detail,
                                      on: connection, logger: logger)
            return Outcome(batch: id, facility: found.facility, businessDate: found.businessDate, tables: tables)
        }
        logger.notice("batch retracted", metadata: [
            "batch": "\(id)", "facility": "\(outcome.facility)", "actor": "\(actor)",
            "removed": "\(outcome.tables.map(\.removed).reduce(0, +))", "restored": "\(outcome.tables.map(\.restored).reduce(0, +))",
        ])
        return outcome
    }
}
