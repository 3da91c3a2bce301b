import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import RegioCore
import RegioDB
import RegioHTTP

/// The cross-facility lookup (`POST /v1/lookup`): a facility's staff ask, for one of their own
/// patients, which exam reports the person has at other facilities, so that a recognised result is
/// not repeated. The body names the patient by the facility's own `patient_id` or by a
/// `resident_id` the facility holds, and states a `purpose`.
///
/// - Only `facility` tokens may look up (others: 403), and only persons the facility holds a
///   record of: a resident ID number none of its records carries is refused (403, no treatment
///   relationship), an unknown patient id is 404.
/// - Every lookup that reaches the index, allowed, refused or not found, writes an `audit.lookups`
///   row in the transaction that reads; if that row cannot be written, the request fails closed
///   (503) and returns nothing.
/// - In an emergency, a facility may look up a person it holds no record of, by resident ID
///   number, with `"emergency": {"code", "reason"}`: the grant covers that person for
///   `emergency_access_hours` (3), its lookups are audited as `emergency`, and the facilities
///   holding the person's records list the grants (`GET /v1/lookup/emergency-access`).
/// - It reads the primary through its own pool, as a role that may read `emr` and insert audit
///   rows, nothing more (`regio_lookup`, REGIO_QUERY_LOOKUP_DATABASE_URL).
/// - Every answer, error or not, carries `Cache-Control: no-store` (as every `/v1` answer does).
public struct LookupController: Sendable {
    let database: Database
    /// Hashes a resident ID number as the ingestion service stores it; nil when the query service
    /// has no region secret (REGIO_SECRET_FILE), and resident-ID lookups are then unavailable.
    let pseudonymizer: Pseudonymizer?
    /// Most reports one answer lists (newest first).
    let limit: Int

    public init(database: Database, pseudonymizer: Pseudonymizer?, limit: Int = 500) {
        self.database = database
        self.pseudonymizer = pseudonymizer
        self.limit = limit
    }

    public func addRoutes(to group: RouterGroup<RegioRequestContext>) {
        group.post("lookup", use: lookup)
        group.get("lookup/emergency-access", use: emergencyAccess)
    }

    struct Question: Codable {
        var patient_id: String?
        var resident_id: String?
        var purpose: String?
        /// Emergency access to a person the facility holds no record of (by `resident_id` only).
        var emergency: Emergency?
    }

    /// Why a facility looks up a person it has no record of: a coded purpose and a written reason.
    struct Emergency: Codable {
        static let codes: Set<String> = ["unconscious", "life_threatening", "emergency_transfer", "public_health"]
        var code: String
        var reason: String
    }

    /// An emergency grant as an answer shows it.
    struct Grant: Codable {
        var code: String
        var granted_at: String
        var expires_at: String
    }

    struct Answer: ResponseEncodable {
        /// The facility's own patient id; absent under emergency access (it holds no record).
        var patient_id: String?
        /// Set when the answer came under an emergency grant.
        var emergency: Grant?
        /// Whether the record is linked to a person yet (a record just loaded is linked within
        /// seconds; until then it has nothing elsewhere to show).
        var linked: Bool
        var reports: [Report]
    }

    struct Report: Codable {
        var facility: String
        var facility_name: String
        var regional_code: String?
        var name: String
        var category: String
        var modality: String?
        var body_site: String?
        var performed_at: String
        var reported_at: String?
        var summary: String?
        var document_ref: String
        /// The last day (China time) the result is recognised; nil without a regional code.
        var recognised_until: String?
        var within_window: Bool
    }

    @Sendable func lookup(_ request: Request, context: RegioRequestContext) async throws -> Answer {
        let caller = try context.caller(in: [.facility])
        guard let facilityCode = caller.facilityCode else { throw Problem.forbidden("this token acts for no facility") }
        let question = try await request.decodeJSON(Question.self, context: context,
                                                    expected: #"{"patient_id": "…" or "resident_id": "…", "purpose": "…"}"#)
        let purpose = (question.purpose ?? "").trimmingWhitespace()
        guard (2...200).contains(purpose.count) else {
            throw Problem.badRequest("state the purpose of the lookup (2 to 200 characters), e.g. \"treatment: chest pain\"")
        }
        let patient: Patient
        let (localID, residentID) = (question.patient_id?.trimmingWhitespace(), question.resident_id?.trimmingWhitespace())
        switch (localID, residentID) {
        case (.some(let id), .none) where !id.isEmpty && id.count <= 64:
            patient = .local(id)
        case (.none, .some(let number)):
            guard let pseudonymizer else {
                throw Problem(status: .serviceUnavailable, type: "not-configured",
                              detail: "lookups by resident ID number need the region secret (REGIO_SECRET_FILE) on the query service")
            }
            guard let hash = pseudonymizer.residentIDPseudonym(number) else {
                throw Problem.badRequest("resident_id is not a valid resident ID number (GB 11643)")
            }
            patient = .resident(hash)
        default:
            throw Problem.badRequest("name the patient by exactly one of patient_id (your own, at most 64 characters) or resident_id")
        }
        var emergency: Emergency?
        if var asked = question.emergency {
            guard case .resident = patient else {
                throw Problem.badRequest("emergency access is by resident_id: for your own patient, ask by patient_id without it")
            }
            asked.reason = asked.reason.trimmingWhitespace()
            guard Emergency.codes.contains(asked.code) else {
                throw Problem.badRequest("emergency.code is one of \(Emergency.codes.sorted().joined(separator: ", "))")
            }
            guard (10...500).contains(asked.reason.count) else {
                throw Problem.badRequest("emergency.reason: write why, in 10 to 500 characters")
            }
            emergency = asked
        }
        let actor = "\(caller.role.rawValue):\(caller.label)"
        let outcome: Outcome
        do {
            // Row-level security shows the lookup role its facility's records, and a person's
            // records elsewhere only when the facility is entitled to that person (migration 0023).
            outcome = try await database.withScope(.facility(facilityCode)) { [emergency] connection in
                try await read(patient, facility: facilityCode, actor: actor, purpose: purpose, emergency: emergency, on: connection)
            }
        } catch let problem as Problem {
            throw problem
        } catch where Problem.isDatabaseUnavailable(error) {
            // Fails closed: nothing is answered without its audit row.
            throw Problem.databaseUnavailable(requestID: context.id)
        } catch is BatchCommitting {
            throw Problem.batchCommitting(requestID: context.id)
        } catch {
            // Nothing read is answered unless its audit row committed with it.
            context.logger.error("lookup failed", metadata: ["error": "\(Database.message(for: error))"])
            throw Problem(status: .serviceUnavailable, type: "lookup-failed",
                          detail: "the lookup could not be audited and returned nothing; quote request id \(context.id) when reporting it")
        }
        switch outcome {
        case .refused:
            throw Problem.forbidden("your facility holds no record of this person: there is no treatment relationship to look up "
                                    + "(in an emergency, ask again with \"emergency\": {\"code\", \"reason\"})")
        case .notFound(let id):
            throw Problem.notFound("your facility has no patient \(id)")
        case .allowed(let answer):
            return answer
        }
    }

    enum Patient {
        case local(String)
        case resident(String)
    }

    enum Outcome {
        case allowed(Answer)
        case refused
        case notFound(String)
    }

    /// The record, its person's reports elsewhere, and the audit row, in one transaction. A
    /// person the facility holds no record of is answered only under an emergency grant: one
    /// still running, or one this lookup makes with `emergency`.
    private func read(_ patient: Patient, facility code: String, actor: String, purpose: String, emergency: Emergency?,
                      on connection: PostgresConnection) async throws -> Outcome {
        let logger = database.logger
        var facility: Int?
        for try await id in try await connection.query("SELECT id FROM emr.facility_names WHERE code = \(code)", logger: logger)
            .decode(Int.self) {
            facility = id
        }
        guard let facility else { throw Problem.forbidden("the facility \(code) is not registered") }
        var record: (patient: String, person: Int64?)?
        let byResident: Bool
        switch patient {
        case .local(let id):
            byResident = false
            for try await row in try await connection.query("""
                SELECT patient_id, person_id FROM emr.patients WHERE facility_id = \(facility) AND patient_id = \(id)
                """, logger: logger).decode((String, Int64?).self) {
                record = row
            }
        case .resident(let hash):
            byResident = true
            for try await row in try await connection.query("""
                SELECT patient_id, person_id FROM emr.patients WHERE id_hash = \(hash) AND facility_id = \(facility)
                ORDER BY person_id NULLS LAST, patient_id LIMIT 1
                """, logger: logger).decode((String, Int64?).self) {
                record = row
            }
        }
        if record == nil, case .resident(let hash) = patient,
           let grant = try await emergencyGrant(hash, facility: facility, actor: actor, emergency: emergency, on: connection) {
            let reports = try await reports(of: grant.person, apartFrom: facility, on: connection)
            try await audit(actor: actor, facility: facility, patient: nil, byResident: true, person: grant.person,
                            purpose: purpose, result: "emergency", reports: reports.count, on: connection)
            return .allowed(Answer(patient_id: nil, emergency: grant.grant, linked: true, reports: reports))
        }
        guard let record else {
            let result = byResident ? "refused" : "not_found"
            var localID: String?
            if case .local(let id) = patient { localID = id }
            try await audit(actor: actor, facility: facility, patient: localID, byResident: byResident, person: nil,
                                purpose: purpose, result: result, reports: nil, on: connection)
            if case .local(let id) = patient { return .notFound(id) }
            return .refused
        }
        var reports: [Report] = []
        if let person = record.person { reports = try await self.reports(of: person, apartFrom: facility, on: connection) }
        try await audit(actor: actor, facility: facility, patient: record.patient, byResident: byResident,
                        person: record.person, purpose: purpose, result: "allowed", reports: reports.count, on: connection)
        return .allowed(Answer(patient_id: record.patient, emergency: nil, linked: record.person != nil, reports: reports))
    }

    /// The person's exam reports at facilities other than `facility`, newest first.
    private func reports(of person: Int64, apartFrom facility: Int, on connection: PostgresConnection) async throws -> [Report] {
        var reports: [Report] = []
        for try await row in try await connection.query("""
            SELECT f.code, f.name, r.regional_code, coalesce(c.name, e.exam_name), e.category, e.modality, e.body_site,
                   to_char(e.performed_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS+08:00'),
                   to_char(e.reported_at AT TIME ZONE 'Asia/Shanghai', 'YYYY-MM-DD"T"HH24:MI:SS+08:00'),
                   e.summary, e.document_ref,
                   ((e.performed_at AT TIME ZONE 'Asia/Shanghai')::date + r.window_days)::text,
                   coalesce((now() AT TIME ZONE 'Asia/Shanghai')::date <= (e.performed_at AT TIME ZONE 'Asia/Shanghai')::date + r.window_days, false)
            FROM emr.patients p
            JOIN emr.exams e ON e.facility_id = p.facility_id AND e.patient_id = p.patient_id
            JOIN emr.facility_names f ON f.id = e.facility_id
            LEFT JOIN emr.exam_registry r ON r.facility_id = e.facility_id AND r.report_id = e.report_id
            LEFT JOIN emr.exam_codes c ON c.code = r.regional_code
            WHERE p.person_id = \(person) AND p.facility_id <> \(facility)
            ORDER BY e.performed_at DESC, f.code, e.report_id
            LIMIT \(limit)
            """, logger: database.logger).decode(
                (String, String, String?, String, String, String?, String?, String, String?, String?, String, String?, Bool).self) {
            reports.append(Report(facility: row.0, facility_name: row.1, regional_code: row.2, name: row.3, category: row.4,
                                  modality: row.5, body_site: row.6, performed_at: row.7, reported_at: row.8, summary: row.9,
                                  document_ref: row.10, recognised_until: row.11, within_window: row.12))
        }
        return reports
    }

    /// The facility's emergency grant for the person with this ID number's hash: the one still
    /// running, or — with `emergency` — a new one (`emergency_access_hours`). Nil when there is no
    /// such person, or no grant and no emergency.
    private func emergencyGrant(_ hash: String, facility: Int, actor: String, emergency: Emergency?,
                                on connection: PostgresConnection) async throws -> (person: Int64, grant: Grant)? {
        let logger = database.logger
        // The lookup's role reads only the persons its facility is entitled to: this one, maybe
        // not yet, is found by its number through a function that returns the id alone.
        var person: Int64?
        for try await id in try await connection.query("SELECT emr.person_with_number(\(hash))", logger: logger)
            .decode(Int64?.self) {
            person = id
        }
        guard let person else { return nil }
        let format = "YYYY-MM-DD\"T\"HH24:MI:SS+08:00"
        for try await row in try await connection.query("""
            SELECT code, to_char(granted_at AT TIME ZONE 'Asia/Shanghai', \(format)), to_char(expires_at AT TIME ZONE 'Asia/Shanghai', \(format))
            FROM emr.emergency_grants WHERE facility_id = \(facility) AND person_id = \(person) AND expires_at > now()
            ORDER BY expires_at DESC LIMIT 1
            """, logger: logger).decode((String, String, String).self) {
            return (person, Grant(code: row.0, granted_at: row.1, expires_at: row.2))
        }
        guard let emergency else { return nil }
        // No RETURNING: the lookup's role may insert grants and read them, and the times are computed here.
        var hours = 3
        for try await value in try await connection.query("SELECT value FROM registry.settings WHERE key = 'emergency_access_hours'",
                                                          logger: logger).decode(String.self) {
            hours = Int(value).flatMap { $0 > 0 ? $0 : nil } ?? hours
        }
        try await connection.query("""
            INSERT INTO emr.emergency_grants (facility_id, person_id, code, reason, actor, expires_at)
            VALUES (\(facility), \(person), \(emergency.code), \(emergency.reason), \(actor), now() + make_interval(hours => \(hours)::int))
            """, logger: logger)
        for try await row in try await connection.query("""
            SELECT to_char(now() AT TIME ZONE 'Asia/Shanghai', \(format)),
                   to_char((now() + make_interval(hours => \(hours)::int)) AT TIME ZONE 'Asia/Shanghai', \(format))
            """, logger: logger).decode((String, String).self) {
            return (person, Grant(code: emergency.code, granted_at: row.0, expires_at: row.1))
        }
        return nil
    }

    struct EmergencyAccess: ResponseEncodable {
        struct Entry: Codable {
            var granted_at: String
            var expires_at: String
            var by_facility: String
            var by_facility_name: String
            var code: String
            var reason: String
            /// The patient id the listing facility knows the person by.
            var patient_id: String?
        }
        var grants: [Entry]
    }

    /// `GET /v1/lookup/emergency-access`: the emergency grants on persons the caller's facility
    /// holds records of (for stewards and admins: every grant), newest first, the last 90 days.
    @Sendable func emergencyAccess(_ request: Request, context: RegioRequestContext) async throws -> EmergencyAccess {
        let caller = try context.caller(in: [.facility, .steward, .admin])
        let format = "YYYY-MM-DD\"T\"HH24:MI:SS+08:00"
        let grants = try await database.withScope(RowScope(caller)) { connection in
            var grants: [EmergencyAccess.Entry] = []
            for try await row in try await connection.query("""
                SELECT to_char(g.granted_at AT TIME ZONE 'Asia/Shanghai', \(format)), to_char(g.expires_at AT TIME ZONE 'Asia/Shanghai', \(format)),
                       f.code, f.name, g.code, g.reason,
                       (SELECT min(p.patient_id) FROM emr.patients p JOIN emr.facility_names own ON own.id = p.facility_id
                        WHERE p.person_id = g.person_id AND own.code = \(caller.facilityCode))
                FROM emr.emergency_grants g JOIN emr.facility_names f ON f.id = g.facility_id
                WHERE g.granted_at > now() - interval '90 days'
                  AND (\(caller.role != .facility) OR EXISTS (
                      SELECT 1 FROM emr.patients p JOIN emr.facility_names own ON own.id = p.facility_id
                      WHERE p.person_id = g.person_id AND own.code = \(caller.facilityCode)))
                ORDER BY g.granted_at DESC LIMIT 500
                """, logger: database.logger).decode((String, String, String, String, String, String, String?).self) {
                grants.append(EmergencyAccess.Entry(granted_at: row.0, expires_at: row.1, by_facility: row.2, by_facility_name: row.3,
                                                    code: row.4, reason: row.5, patient_id: row.6))
            }
            return grants
        }
        return EmergencyAccess(grants: grants)
    }

    /// The lookup's audit row. (No `RETURNING`: the lookup's role may insert audit rows, not read them.)
    private func audit(actor: String, facility: Int, patient: String?, byResident: Bool, person: Int64?, purpose: String,
                       result: String, reports: Int?, on connection: PostgresConnection) async throws {
        try await connection.query("""
            INSERT INTO audit.lookups (actor, facility_id, patient_id, by_resident_id, person_id, purpose, result, reports)
            VALUES (\(actor), \(facility), \(patient), \(byResident), \(person), \(purpose), \(result), \(reports))
            """, logger: database.logger)
    }
}
