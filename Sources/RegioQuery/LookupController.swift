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
///   row in the transaction that reads; if that row cannot be written, the request fails and
///   returns nothing.
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
    }

    struct Question: Decodable {
        var patient_id: String?
        var resident_id: String?
        var purpose: String?
    }

    struct Answer: ResponseEncodable {
        var patient_id: String
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
        let question: Question
        do {
            question = try await request.decode(as: Question.self, context: context)
        } catch {
            throw Problem.badRequest(#"expected {"patient_id": "…" or "resident_id": "…", "purpose": "…"}"#)
        }
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
        let actor = "\(caller.role.rawValue):\(caller.label)"
        let outcome: Outcome
        do {
            outcome = try await database.withTransaction { connection in
                try await read(patient, facility: facilityCode, actor: actor, purpose: purpose, on: connection)
            }
        } catch let problem as Problem {
            throw problem
        } catch {
            // Nothing read is answered unless its audit row committed with it.
            context.logger.error("lookup failed", metadata: ["error": "\(Database.message(for: error))"])
            throw Problem(status: .internalServerError, type: "lookup-failed",
                          detail: "the lookup failed and returned nothing; quote request id \(context.id) when reporting it")
        }
        switch outcome {
        case .refused:
            throw Problem.forbidden("your facility holds no record of this person: there is no treatment relationship to look up")
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

    /// The record, its person's reports elsewhere, and the audit row, in one transaction.
    private func read(_ patient: Patient, facility code: String, actor: String, purpose: String,
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
        if let person = record.person {
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
                """, logger: logger).decode(
                    (String, String, String?, String, String, String?, String?, String, String?, String?, String, String?, Bool).self) {
                reports.append(Report(facility: row.0, facility_name: row.1, regional_code: row.2, name: row.3, category: row.4,
                                      modality: row.5, body_site: row.6, performed_at: row.7, reported_at: row.8, summary: row.9,
                                      document_ref: row.10, recognised_until: row.11, within_window: row.12))
            }
        }
        try await audit(actor: actor, facility: facility, patient: record.patient, byResident: byResident,
                        person: record.person, purpose: purpose, result: "allowed", reports: reports.count, on: connection)
        return .allowed(Answer(patient_id: record.patient, linked: record.person != nil, reports: reports))
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
