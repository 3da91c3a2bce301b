import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// Stewards' decisions on the patient index, carried out by the linker: the query service queues
/// them (`emr.steward_actions`), and the ingestion service's first batch worker applies each under
/// the linking lock, in the order they were asked, so that a link changes in one place at a time.
///
/// - `link`: a review's record joins the review's candidate person.
/// - `keep_apart`: it never will (`emr.kept_apart`); if it is that person's now, it leaves for a
///   person of its own.
/// - `split`: the listed records of a person leave it for a new person, kept apart from the old.
/// - `merge`: every record of one person joins another.
///
/// Each moved record gets a `steward` row in its history (which the linker then keeps), the
/// referral findings and the exam registry of the persons involved are derived again, and the
/// decision is audited. A decision the index no longer allows (a review decided meanwhile, a
/// record that has moved) is refused with its reason, changing nothing.
extension PersonLinker {
    /// Applies the queued decisions; how many were done or refused.
    @discardableResult
    public func applyStewardActions() async throws -> Int {
        var pending = false
        for try await found in try await database.query(
            "SELECT EXISTS (SELECT 1 FROM emr.steward_actions WHERE status = 'pending')").decode(Bool.self) {
            pending = found
        }
        guard pending else { return 0 }
        return try await applyQueuedActions()
    }

    /// Applies the queued decisions one transaction each, until none is left or another process
    /// holds the linking lock.
    @discardableResult
    func applyQueuedActions() async throws -> Int {
        var handled = 0
        do {
            while try await database.withTransaction({ connection in try await applyNextAction(on: connection) }) {
                handled += 1
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            // A record locked by a batch being merged: tried again at the next poll.
            database.logger.debug("steward decisions wait for a merge", metadata: ["error": "\(Database.message(for: error))"])
        }
        return handled
    }

    struct Action {
        var id: Int64
        var kind: String
        var review: Int64?
        var person: Int64?
        var into: Int64?
        var records: [Record]
        var reason: String
        var actor: String
    }

    struct Record: Codable, Hashable {
        var facility_id: Int
        var patient_id: String
    }

    /// A record moving from one person to another.
    struct Move {
        var record: Record
        var from: Int64?
        var to: Int64
    }

    struct Refused: Error {
        var reason: String
    }

    /// One queued decision applied (or refused) in the transaction of `connection`; false when
    /// none is pending or another process holds the linking lock.
    private func applyNextAction(on connection: PostgresConnection) async throws -> Bool {
        let logger = database.logger
        guard try await PersonFacts.tryLock(on: connection, logger: logger) else { return false }
        try await connection.query("SET LOCAL lock_timeout = '2s'", logger: logger)
        // A decision moves records of any facility between persons: the region's write scope,
        // which updates records and adds history rows, and inserts or deletes no record.
        try await WriteScope.region.enter(on: connection, logger: logger)
        var next: Action?
        for try await (id, kind, review, person, into, records, reason, actor) in try await connection.query("""
            SELECT id, kind, review_id, person_id, into_person, coalesce(records, '[]')::text, reason, actor
            FROM emr.steward_actions WHERE status = 'pending' ORDER BY id LIMIT 1 FOR UPDATE
            """, logger: logger).decode((Int64, String, Int64?, Int64?, Int64?, String, String, String).self) {
            next = Action(id: id, kind: kind, review: review, person: person, into: into,
                          records: try JSONDecoder().decode([Record].self, from: Data(records.utf8)), reason: reason, actor: actor)
        }
        guard let action = next else { return false }
        let status: String, result: String
        do {
            result = try await apply(action, on: connection)
            status = "done"
        } catch let refused as Refused {
            (status, result) = ("refused", refused.reason)
        }
        try await connection.query("""
            UPDATE emr.steward_actions SET status = \(status), result = \(result), done_at = now() WHERE id = \(action.id)
            """, logger: logger)
        try await AuditLog.record(actor: action.actor, action: "mpi.steward.\(action.kind)", subject: "\(action.id)",
                                  detail: ["status": status, "result": result, "reason": action.reason],
                                  on: connection, logger: logger)
        logger.notice("steward decision", metadata: ["action": "\(action.id)", "kind": "\(action.kind)", "status": "\(status)",
                                                     "result": "\(result)"])
        return true
    }

    /// Checks the decision against the index as it is, then carries it out; what it did.
    private func apply(_ action: Action, on connection: PostgresConnection) async throws -> String {
        let logger = database.logger
        switch action.kind {
        case "link", "keep_apart":
            var found: (record: Record, candidate: Int64, decided: Bool)?
            for try await (facility, patient, candidate, decided) in try await connection.query("""
                SELECT facility_id, patient_id, candidate_person, decided_at IS NOT NULL FROM emr.link_reviews WHERE id = \(action.review)
                """, logger: logger).decode((Int, String, Int64, Bool).self) {
                found = (Record(facility_id: facility, patient_id: patient), candidate, decided)
            }
            guard let review = found else { throw Refused(reason: "no review \(action.review ?? 0)") }
            guard !review.decided else { throw Refused(reason: "review \(action.review ?? 0) was decided already") }
            let current = try await persons(of: [review.record], on: connection)[review.record] ?? nil
            var moves: [Move] = []
            if action.kind == "link" {
                if current != review.candidate { moves.append(Move(record: review.record, from: current, to: review.candidate)) }
                try await connection.query("""
                    DELETE FROM emr.kept_apart WHERE facility_id = \(review.record.facility_id)
                      AND patient_id = \(review.record.patient_id) AND person_id = \(review.candidate)
                    """, logger: logger)
            } else {
                try await keepApart([review.record], from: review.candidate, actor: action.actor, on: connection)
                if current == review.candidate {
                    moves.append(Move(record: review.record, from: current, to: try await newPerson(on: connection)))
                }
            }
            try await connection.query("""
                UPDATE emr.link_reviews SET decided_at = now(), decision = \(action.kind == "link" ? "linked" : "kept_apart"),
                       decided_by = \(action.actor)
                WHERE id = \(action.review)
                """, logger: logger)
            try await move(moves, action: action, on: connection)
            let record = "\(review.record.facility_id)/\(review.record.patient_id)"
            return action.kind == "link"
                ? "record \(record) linked to person \(review.candidate)"
                : "record \(record) kept apart from person \(review.candidate)" + (moves.first.map { ", now person \($0.to)" } ?? "")

        case "split":
            guard let person = action.person, !action.records.isEmpty else { throw Refused(reason: "a split names a person and records") }
            let all = try await records(of: person, on: connection)
            let leaving = Set(action.records)
            guard leaving.isSubset(of: Set(all)) else {
                throw Refused(reason: "not every record listed is person \(person)'s now")
            }
            guard leaving.count < all.count else { throw Refused(reason: "a split leaves at least one record with person \(person)") }
            let split = try await newPerson(on: connection)
            try await keepApart(Array(leaving), from: person, actor: action.actor, on: connection)
            try await keepApart(all.filter { !leaving.contains($0) }, from: split, actor: action.actor, on: connection)
            try await move(leaving.map { Move(record: $0, from: person, to: split) }, action: action, on: connection)
            return "\(leaving.count) of person \(person)'s \(all.count) records moved to person \(split)"

        case "merge":
            guard let person = action.person, let into = action.into, person != into else {
                throw Refused(reason: "a merge names two different persons")
            }
            let moving = try await records(of: person, on: connection)
            guard !moving.isEmpty else { throw Refused(reason: "person \(person) has no records") }
            guard !(try await records(of: into, on: connection)).isEmpty else { throw Refused(reason: "person \(into) has no records") }
            try await connection.query("""
                DELETE FROM emr.kept_apart k USING emr.patients p
                WHERE p.person_id = \(person) AND k.facility_id = p.facility_id AND k.patient_id = p.patient_id AND k.person_id = \(into)
                """, logger: logger)
            try await move(moving.map { Move(record: $0, from: person, to: into) }, action: action, on: connection)
            return "person \(person)'s \(moving.count) records merged into person \(into)"

        default:
            throw Refused(reason: "unknown decision \(action.kind)")
        }
    }

    /// Moves the records, with a `steward` history row each; closes their open reviews; derives
    /// again the referral findings and the exam registry of every person involved.
    private func move(_ moves: [Move], action: Action, on connection: PostgresConnection) async throws {
        guard !moves.isEmpty else { return }
        let logger = database.logger
        let (facilities, patients, targets) = (moves.map(\.record.facility_id), moves.map(\.record.patient_id), moves.map(\.to))
        try await connection.query("""
            UPDATE emr.patients p SET person_id = m.person
            FROM unnest(\(facilities)::int[], \(patients)::text[], \(targets)::int8[]) AS m (facility, patient, person)
            WHERE p.facility_id = m.facility AND p.patient_id = m.patient
            """, logger: logger)
        try await connection.query("""
            INSERT INTO emr.person_links (facility_id, patient_id, person_id, method, actor, reason)
            SELECT facility, patient, person, 'steward', \(action.actor), \(action.reason)
            FROM unnest(\(facilities)::int[], \(patients)::text[], \(targets)::int8[]) AS m (facility, patient, person)
            """, logger: logger)
        try await connection.query("""
            UPDATE emr.link_reviews r SET decided_at = now(), decision = 'superseded', decided_by = \(action.actor)
            FROM unnest(\(facilities)::int[], \(patients)::text[]) AS m (facility, patient)
            WHERE r.decided_at IS NULL AND r.facility_id = m.facility AND r.patient_id = m.patient
            """, logger: logger)
        let persons = Set(moves.map(\.to) + moves.compactMap(\.from))
        try await rederiveReferrals(facilities: Set(facilities), persons: Array(persons), on: connection)
        try await PersonFacts.refresh(persons: persons.sorted(), exams: [], on: connection, logger: logger)
    }

    private func keepApart(_ records: [Record], from person: Int64, actor: String, on connection: PostgresConnection) async throws {
        guard !records.isEmpty else { return }
        try await connection.query("""
            INSERT INTO emr.kept_apart (facility_id, patient_id, person_id, decided_by)
            SELECT facility, patient, \(person), \(actor)
            FROM unnest(\(records.map(\.facility_id))::int[], \(records.map(\.patient_id))::text[]) AS r (facility, patient)
            ON CONFLICT DO NOTHING
            """, logger: database.logger)
    }

    private func newPerson(on connection: PostgresConnection) async throws -> Int64 {
        for try await id in try await connection.query("INSERT INTO emr.persons (id_hash) VALUES (NULL) RETURNING id",
                                                       logger: database.logger).decode(Int64.self) {
            return id
        }
        throw Refused(reason: "no person could be made")
    }

    private func records(of person: Int64, on connection: PostgresConnection) async throws -> [Record] {
        var records: [Record] = []
        for try await (facility, patient) in try await connection.query("""
            SELECT facility_id, patient_id FROM emr.patients WHERE person_id = \(person) ORDER BY facility_id, patient_id FOR UPDATE
            """, logger: database.logger).decode((Int, String).self) {
            records.append(Record(facility_id: facility, patient_id: patient))
        }
        return records
    }

    private func persons(of records: [Record], on connection: PostgresConnection) async throws -> [Record: Int64?] {
        var persons: [Record: Int64?] = [:]
        for try await (facility, patient, person) in try await connection.query("""
            SELECT p.facility_id, p.patient_id, p.person_id FROM emr.patients p
            JOIN unnest(\(records.map(\.facility_id))::int[], \(records.map(\.patient_id))::text[]) AS r (facility, patient)
              ON p.facility_id = r.facility AND p.patient_id = r.patient
            FOR UPDATE OF p
            """, logger: database.logger).decode((Int, String, Int64?).self) {
            persons[Record(facility_id: facility, patient_id: patient)] = person
        }
        return persons
    }
}
