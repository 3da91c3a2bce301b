import Foundation
import HTTPTypes
import Hummingbird
import PostgresNIO
import RegioCore
import RegioDB
import RegioHTTP

/// The data stewards' side of the patient index (`steward` tokens only):
///
/// - `GET /v1/steward/reviews` — the open review queue, oldest first: each record beside the
///   candidate person's records, with the score and what each field added to it.
/// - `POST /v1/steward/reviews/{id}` `{"decision": "link" | "keep_apart", "reason": "…"}`
/// - `GET /v1/steward/persons/{id}` — a person's records and their link history.
/// - `POST /v1/steward/persons/{id}/split` `{"records": [{"facility": "H…", "patient_id": "…"}], "reason": "…"}`
/// - `POST /v1/steward/persons/{id}/merge` `{"into": 42, "reason": "…"}`
/// - `GET /v1/steward/actions/{id}` — what became of a decision.
/// - `GET /v1/steward/exam-codes/unmapped` — local exam codes with no regional mapping, by volume.
///
/// A decision is queued (`emr.steward_actions`, through the writer's connection) and carried out
/// by the ingestion service's linker, which changes links one at a time (`StewardActions`); the
/// request waits for it up to a few seconds: 200 when done, 409 when the index no longer allowed
/// it (with the reason), 202 while it is still queued.
public struct StewardController: Sendable {
    let database: Database
    let writes: Database
    /// How long a decision's request waits for the linker.
    let wait: Duration

    public init(database: Database, writes: Database, wait: Duration = .seconds(10)) {
        self.database = database
        self.writes = writes
        self.wait = wait
    }

    public func addRoutes(to group: RouterGroup<RegioRequestContext>) {
        let steward = group.group("steward")
        steward.get("reviews", use: reviews)
        steward.post("reviews/{id}", use: decideReview)
        steward.get("persons/{id}", use: person)
        steward.post("persons/{id}/split", use: split)
        steward.post("persons/{id}/merge", use: merge)
        steward.get("actions/{id}", use: action)
        steward.get("exam-codes/unmapped", use: unmapped)
    }

    struct PatientRecord: Codable {
        var facility: String
        var patient_id: String
        var name: String
        var sex: String
        var birth_date: String?
        var phone: String?
        var address: String?
        var has_id_number: Bool
        var person_id: Int64?
    }

    struct Review: Codable {
        var id: Int64
        var reason: String
        var score: Double
        var created_at: String
        var age_days: Int
        var record: PatientRecord
        var candidate_person: Int64
        var candidate_records: [PatientRecord]
        /// `{"total": 12.3, "name": {"level": "pinyin", "weight": 6.1}, …}`
        var contributions: [String: JSONValue]
    }

    struct Reviews: ResponseEncodable {
        var open: Int
        var reviews: [Review]
    }

    @Sendable func reviews(_ request: Request, context: RegioRequestContext) async throws -> Reviews {
        let caller = try context.caller(in: [.steward])
        let limit = min(max(request.uri.queryParameters.get("limit", as: Int.self) ?? 50, 1), 500)
        // Names, birth dates, phones and addresses side by side: a patient-level read, audited first.
        try await Problem.auditingRead(caller, action: "read.link-reviews", subject: nil, detail: ["limit": "\(limit)"],
                                       on: writes, context: context)
        typealias Row = (id: Int64, reason: String, score: Double, created: String, age: Int, facility: Int, patient: String,
                         candidate: Int64, contributions: String)
        let (open, rows) = try await database.withScope(.region) { connection -> (Int, [Row]) in
            var open = 0
            for try await count in try await connection.query("SELECT count(*)::int FROM emr.link_reviews WHERE decided_at IS NULL",
                                                              logger: database.logger).decode(Int.self) {
                open = count
            }
            var rows: [Row] = []
            for try await row in try await connection.query("""
                SELECT r.id, r.reason, r.score, to_char(r.created_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM'), (current_date - r.created_at::date),
                       r.facility_id, r.patient_id, r.candidate_person, r.contributions::text
                FROM emr.link_reviews r WHERE r.decided_at IS NULL ORDER BY r.created_at, r.id LIMIT \(limit)
                """, logger: database.logger).decode((Int64, String, Double, String, Int, Int, String, Int64, String).self) {
                rows.append(row)
            }
            return (open, rows)
        }
        // The reviewed records and the candidates' records, in one query for the page.
        let records = try await patientRecords(facilities: rows.map(\.facility), patients: rows.map(\.patient),
                                               persons: rows.map(\.candidate))
        let reviews = rows.compactMap { row -> Review? in
            guard let record = records.first(where: { $0.facilityID == row.facility && $0.record.patient_id == row.patient }) else {
                return nil
            }
            return Review(id: row.id, reason: row.reason, score: row.score, created_at: row.created, age_days: row.age,
                          record: record.record, candidate_person: row.candidate,
                          candidate_records: records.map(\.record).filter { $0.person_id == row.candidate },
                          contributions: (try? JSONDecoder().decode([String: JSONValue].self, from: Data(row.contributions.utf8))) ?? [:])
        }
        return Reviews(open: open, reviews: reviews)
    }

    /// The records named by (facility, patient id) pairs and those of `persons`, by facility and id.
    private func patientRecords(facilities: [Int] = [], patients: [String] = [], persons: [Int64])
        async throws -> [(facilityID: Int, record: PatientRecord)] {
        // Stewards work across the region: the whole region's rows, as row-level security allows them.
        try await database.withScope(.region) { connection in
            var records: [(Int, PatientRecord)] = []
            for try await row in try await connection.query("""
                SELECT f.code, p.patient_id, p.name, p.sex, p.birth_date::text, p.phone, p.address, p.id_hash IS NOT NULL, p.person_id, p.facility_id
                FROM emr.patients p JOIN registry.facilities f ON f.id = p.facility_id
                WHERE (p.facility_id, p.patient_id) IN (SELECT * FROM unnest(\(facilities)::int[], \(patients)::text[]))
                   OR p.person_id = ANY(\(persons))
                ORDER BY f.code, p.patient_id
                """, logger: database.logger).decode((String, String, String, String, String?, String?, String?, Bool, Int64?, Int).self) {
                records.append((row.9, PatientRecord(facility: row.0, patient_id: row.1, name: row.2, sex: row.3, birth_date: row.4,
                                                     phone: row.5, address: row.6, has_id_number: row.7, person_id: row.8)))
            }
            return records
        }
    }

    struct Person: ResponseEncodable {
        var person_id: Int64
        var records: [PatientRecord]
        var history: [Link]
    }

    struct Link: Codable {
        var facility: String
        var patient_id: String
        var person_id: Int64?
        var method: String
        var score: Double?
        var actor: String
        var reason: String?
        var linked_at: String
    }

    @Sendable func person(_ request: Request, context: RegioRequestContext) async throws -> Person {
        let caller = try context.caller(in: [.steward])
        let id = try personID(context)
        try await Problem.auditingRead(caller, action: "read.person", subject: "\(id)", on: writes, context: context)
        let records = try await patientRecords(persons: [id]).map(\.record)
        guard !records.isEmpty else { throw Problem.notFound("person \(id) has no records") }
        let history = try await database.withScope(.region) { connection in
            var history: [Link] = []
            for try await row in try await connection.query("""
                SELECT f.code, l.patient_id, l.person_id, l.method, l.score, l.actor, l.reason,
                       to_char(l.linked_at, 'YYYY-MM-DD"T"HH24:MI:SS.USTZH:TZM')
                FROM emr.person_links l JOIN registry.facilities f ON f.id = l.facility_id
                WHERE (l.facility_id, l.patient_id) IN (SELECT facility_id, patient_id FROM emr.patients WHERE person_id = \(id))
                   OR l.person_id = \(id)
                ORDER BY l.linked_at, l.id
                """, logger: database.logger).decode((String, String, Int64?, String, Double?, String, String?, String).self) {
                history.append(Link(facility: row.0, patient_id: row.1, person_id: row.2, method: row.3, score: row.4,
                                    actor: row.5, reason: row.6, linked_at: row.7))
            }
            return history
        }
        return Person(person_id: id, records: records, history: history)
    }

    struct Decision: Decodable {
        var decision: String
        var reason: String?
    }

    struct SplitRequest: Decodable {
        struct Record: Decodable {
            var facility: String
            var patient_id: String
        }
        var records: [Record]
        var reason: String?
    }

    struct MergeRequest: Decodable {
        var into: Int64
        var reason: String?
    }

    struct Action: ResponseEncodable {
        var id: Int64
        var kind: String
        var status: String
        var result: String?
        var actor: String
        var reason: String
        var requested_at: String
    }

    @Sendable func decideReview(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<Action> {
        let caller = try context.caller(in: [.steward])
        guard let review = Int64(try context.parameters.require("id")) else { throw Problem.notFound("no such review") }
        let body = try await decode(Decision.self, request, context, expected: #"{"decision": "link" or "keep_apart", "reason": "…"}"#)
        guard ["link", "keep_apart"].contains(body.decision) else { throw Problem.badRequest("decision is link or keep_apart") }
        let reason = try reason(body.reason)
        let open = try await writes.withScope(.region) { connection -> Bool? in
            for try await value in try await connection.query("SELECT decided_at IS NULL FROM emr.link_reviews WHERE id = \(review)",
                                                              logger: writes.logger).decode(Bool.self) {
                return value
            }
            return nil
        }
        guard let open else { throw Problem.notFound("no review \(review)") }
        guard open else { throw Problem(status: .conflict, type: "decided", detail: "review \(review) was decided already") }
        return try await submit("""
            INSERT INTO emr.steward_actions (kind, review_id, reason, actor)
            VALUES (\(body.decision), \(review), \(reason), \(actor(caller))) RETURNING id
            """)
    }

    @Sendable func split(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<Action> {
        let caller = try context.caller(in: [.steward])
        let person = try personID(context)
        let body = try await decode(SplitRequest.self, request, context,
                                    expected: #"{"records": [{"facility": "H…", "patient_id": "…"}], "reason": "…"}"#)
        let reason = try reason(body.reason)
        guard !body.records.isEmpty, body.records.count <= 1_000 else { throw Problem.badRequest("name 1 to 1,000 records to split off") }
        var ids: [String: Int] = [:]
        for try await (code, id) in try await writes.query("""
            SELECT f.code, f.id FROM emr.facility_names f WHERE f.code = ANY(\(body.records.map(\.facility)))
            """).decode((String, Int).self) {
            ids[code] = id
        }
        if let unknown = body.records.first(where: { ids[$0.facility] == nil }) {
            throw Problem.badRequest("no facility \(unknown.facility)")
        }
        let json = String(decoding: try JSONSerialization.data(withJSONObject: body.records.map { record -> [String: Any] in
            ["facility_id": ids[record.facility]!, "patient_id": record.patient_id]
        }), as: UTF8.self)
        return try await submit("""
            INSERT INTO emr.steward_actions (kind, person_id, records, reason, actor)
            VALUES ('split', \(person), \(json)::jsonb, \(reason), \(actor(caller))) RETURNING id
            """)
    }

    @Sendable func merge(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<Action> {
        let caller = try context.caller(in: [.steward])
        let person = try personID(context)
        let body = try await decode(MergeRequest.self, request, context, expected: #"{"into": person id, "reason": "…"}"#)
        let reason = try reason(body.reason)
        guard body.into != person else { throw Problem.badRequest("a person cannot be merged into itself") }
        return try await submit("""
            INSERT INTO emr.steward_actions (kind, person_id, into_person, reason, actor)
            VALUES ('merge', \(person), \(body.into), \(reason), \(actor(caller))) RETURNING id
            """)
    }

    @Sendable func action(_ request: Request, context: RegioRequestContext) async throws -> Action {
        _ = try context.caller(in: [.steward])
        guard let id = Int64(try context.parameters.require("id")), let action = try await action(id) else {
            throw Problem.notFound("no such decision")
        }
        return action
    }

    struct Unmapped: ResponseEncodable {
        var codes: [ExamCatalogStore.Unmapped]
    }

    @Sendable func unmapped(_ request: Request, context: RegioRequestContext) async throws -> Unmapped {
        _ = try context.caller(in: [.steward])
        return Unmapped(codes: try await ExamCatalogStore(database: database).unmapped(facility: try ProcurementController.facilityFilter(request)))
    }

    // MARK: Helpers

    private func actor(_ caller: Identity) -> String { "\(caller.role.rawValue):\(caller.label)" }

    private func personID(_ context: RegioRequestContext) throws -> Int64 {
        guard let id = Int64(try context.parameters.require("id")) else { throw Problem.notFound("no such person") }
        return id
    }

    private func reason(_ text: String?) throws -> String {
        let reason = (text ?? "").trimmingWhitespace()
        guard (2...500).contains(reason.count) else { throw Problem.badRequest("give the reason for the decision (2 to 500 characters)") }
        return reason
    }

    private func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: RegioRequestContext, expected: String) async throws -> T {
        try await request.decodeJSON(type, context: context, expected: expected)
    }

    /// Queues the decision, then waits for the linker to carry it out.
    private func submit(_ insert: PostgresQuery) async throws -> EditedResponse<Action> {
        var queued: Int64?
        do {
            for try await id in try await writes.query(insert).decode(Int64.self) { queued = id }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "23503" {
            throw Problem.notFound("no such person")
        }
        guard let id = queued else { throw Problem(status: .internalServerError, type: "internal", detail: "the decision was not queued") }
        let deadline = ContinuousClock.now + wait
        while true {
            guard let action = try await action(id) else { break }
            switch action.status {
            case "done": return EditedResponse(status: .ok, response: action)
            case "refused": return EditedResponse(status: .conflict, response: action)
            default:
                if ContinuousClock.now >= deadline { return EditedResponse(status: .accepted, response: action) }
                try await Task.sleep(for: .milliseconds(100))
            }
        }
        throw Problem(status: .internalServerError, type: "internal", detail: "the decision \(id) was lost")
    }

    private func action(_ id: Int64) async throws -> Action? {
        for try await row in try await writes.query("""
            SELECT id, kind, status, result, actor, reason, to_char(requested_at, 'YYYY-MM-DD"T"HH24:MI:SSTZH:TZM')
            FROM emr.steward_actions WHERE id = \(id)
            """).decode((Int64, String, String, String?, String, String, String).self) {
            return Action(id: row.0, kind: row.1, status: row.2, result: row.3, actor: row.4, reason: row.5, requested_at: row.6)
        }
        return nil
    }
}

/// Any JSON value: a score's stored contributions, passed through as they are.
enum JSONValue: Codable, Sendable {
    case number(Double)
    case string(String)
    case bool(Bool)
    case object([String: JSONValue])
    case array([JSONValue])
    case null

    init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() { self = .null }
        else if let value = try? container.decode(Bool.self) { self = .bool(value) }
        else if let value = try? container.decode(Double.self) { self = .number(value) }
        else if let value = try? container.decode(String.self) { self = .string(value) }
        else if let value = try? container.decode([String: JSONValue].self) { self = .object(value) }
        else { self = .array(try container.decode([JSONValue].self)) }
    }

    func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        switch self {
        case .number(let value): try container.encode(value)
        case .string(let value): try container.encode(value)
        case .bool(let value): try container.encode(value)
        case .object(let value): try container.encode(value)
        case .array(let value): try container.encode(value)
        case .null: try container.encodeNil()
        }
    }
}
