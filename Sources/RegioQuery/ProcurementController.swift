import Foundation
import HTTPTypes
import Hummingbird
import RegioCore
import RegioDB
import RegioHTTP

/// Alliances' agreements and the stewards' procurement work lists over HTTP (docs/procurement.md).
/// Changes go through the writer's connection, each audited with the caller.
///
/// Agreements — read by the alliance itself, the bureau and admins; changed by admins and by the
/// alliance's own tokens issued with `--manages-agreements`:
/// - `GET /v1/alliances/{code}/agreements`
/// - `POST /v1/alliances/{code}/agreed-prices` `{"national_code", "price", "valid_from", "valid_to"}`
///   (price in yuan per base unit, a string or a number; whole months; `valid_to` null: open)
/// - `DELETE /v1/alliances/{code}/agreed-prices/{id}`
/// - `POST /v1/alliances/{code}/commitments`
///   `{"member", "national_code", "cycle_start", "cycle_end", "committed_base_units"}`
/// - `DELETE /v1/alliances/{code}/commitments/{id}`
///
/// Stewards and admins:
/// - `GET /v1/steward/items/unmapped` — LOCAL codes without mapping, with ranked suggestions
/// - `POST /v1/steward/items/map` `{"facility", "local_code", "national_code"}` — confirm one
/// - `POST /v1/steward/items/reject` `{"facility", "local_code", "national_code"}` — not suggested again
/// - `GET /v1/steward/items/packs` — lines left out because their pack size is in doubt
/// - `POST /v1/steward/items/packs` `{"facility", "item_code", "spec", "purchase_unit", "pack_size", "decision"}`
public struct ProcurementController: Sendable {
    let database: Database
    let writes: Database

    public init(database: Database, writes: Database) {
        self.database = database
        self.writes = writes
    }

    public func addRoutes(to group: RouterGroup<RegioRequestContext>) {
        group.get("alliances/{code}/agreements", use: agreements)
        group.post("alliances/{code}/agreed-prices", use: addAgreedPrice)
        group.delete("alliances/{code}/agreed-prices/{id}") { try await delete(.agreedPrices, $0, $1) }
        group.post("alliances/{code}/commitments", use: addCommitment)
        group.delete("alliances/{code}/commitments/{id}") { try await delete(.commitments, $0, $1) }
        let steward = group.group("steward/items")
        steward.get("unmapped", use: unmapped)
        steward.post("map", use: map)
        steward.post("reject", use: reject)
        steward.get("packs", use: packs)
        steward.post("packs", use: decidePack)
    }

    static let stewards: Set<Role> = [.steward, .admin]

    /// The alliance in the path, if the caller may read its agreements.
    func readable(_ context: RegioRequestContext) throws -> String {
        let caller = try context.caller(in: [.alliance, .bureau, .admin])
        let code = try context.parameters.require("code")
        if caller.role == .alliance, caller.allianceCode != code {
            throw Problem.forbidden("an alliance token may only see its own alliance's agreements")
        }
        return code
    }

    /// The alliance in the path and who is changing it, if the caller may.
    func changeable(_ context: RegioRequestContext) throws -> (alliance: String, actor: String) {
        let caller = try context.caller(in: [.alliance, .admin])
        let code = try context.parameters.require("code")
        if caller.role == .alliance, caller.allianceCode != code || !caller.managesAgreements {
            throw Problem.forbidden("only admins and the alliance's own tokens issued with --manages-agreements may change its agreements")
        }
        return (code, Self.actor(caller))
    }

    static func actor(_ caller: Identity) -> String { "\(caller.role.rawValue):\(caller.label)" }

    @Sendable func agreements(_ request: Request, context: RegioRequestContext) async throws -> ProcurementStore.Agreements {
        try await ProcurementStore(database: database).agreements(alliance: try readable(context))
    }

    /// A decimal sent as a string (exact) or as a JSON number.
    struct DecimalValue: Decodable {
        var value: Decimal
        init(from decoder: any Decoder) throws {
            let container = try decoder.singleValueContainer()
            if let text = try? container.decode(String.self) {
                guard let value = PlainDecimal.parse(text) else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "not a number: \(text)")
                }
                self.value = value
            } else {
                value = try container.decode(Decimal.self)
            }
        }
    }

    struct NewAgreedPrice: Decodable {
        var national_code: String
        var price: DecimalValue
        var valid_from: String
        var valid_to: String?
    }

    struct NewCommitment: Decodable {
        var member: String
        var national_code: String
        var cycle_start: String
        var cycle_end: String
        var committed_base_units: DecimalValue
    }

    @Sendable func addAgreedPrice(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<ProcurementStore.Agreements> {
        let (alliance, actor) = try changeable(context)
        let body = try await decode(NewAgreedPrice.self, request, context, expected: #"{"national_code", "price", "valid_from", "valid_to"}"#)
        let price = try {
            let (from, to) = try Self.period(body.valid_from, body.valid_to, openEnded: true)
            guard CatalogItem.isValidCode(body.national_code) else { throw Problem.badRequest("national_code is not a national code") }
            // procurement.agreed_prices.price is numeric(14, 6).
            guard body.price.value > 0, PlainDecimal.fits(body.price.value, precision: 14, scale: 6) else {
                throw Problem.badRequest("price must be above 0 and below 100,000,000, with at most 6 decimals")
            }
            return AgreedPrice(alliance: alliance, nationalCode: body.national_code, price: body.price.value, validFrom: from, validTo: to, line: 1)
        }()
        try await Self.refusing { _ = try await ProcurementStore(database: writes).importAgreedPrices([price], actor: actor) }
        return EditedResponse(status: .created, response: try await ProcurementStore(database: writes).agreements(alliance: alliance))
    }

    @Sendable func addCommitment(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<ProcurementStore.Agreements> {
        let (alliance, actor) = try changeable(context)
        let body = try await decode(NewCommitment.self, request, context,
                                    expected: #"{"member", "national_code", "cycle_start", "cycle_end", "committed_base_units"}"#)
        let commitment = try {
            let (start, end) = try Self.period(body.cycle_start, body.cycle_end, openEnded: false)
            guard let end else { throw Problem.badRequest("cycle_end is required") }
            // procurement.commitments.committed_units is numeric(16, 2).
            guard body.committed_base_units.value > 0, PlainDecimal.fits(body.committed_base_units.value, precision: 16, scale: 2) else {
                throw Problem.badRequest("committed_base_units must be above 0 and below 100,000,000,000,000, with at most 2 decimals")
            }
            return VolumeCommitment(alliance: alliance, member: body.member, nationalCode: body.national_code, cycleStart: start,
                                    cycleEnd: end, committedUnits: body.committed_base_units.value, line: 1)
        }()
        try await Self.refusing { _ = try await ProcurementStore(database: writes).importCommitments([commitment], actor: actor) }
        return EditedResponse(status: .created, response: try await ProcurementStore(database: writes).agreements(alliance: alliance))
    }

    func delete(_ kind: ProcurementStore.AgreementKind, _ request: Request, _ context: RegioRequestContext) async throws -> Response {
        let (alliance, actor) = try changeable(context)
        guard let id = Int64(try context.parameters.require("id")) else { throw Problem.notFound("no such agreement") }
        guard try await ProcurementStore(database: writes).delete(kind, id: id, alliance: alliance, actor: actor) else {
            throw Problem.notFound("alliance \(alliance) has no \(kind == .agreedPrices ? "agreed price" : "commitment") \(id)")
        }
        return Response(status: .noContent)
    }

    struct UnmappedList: ResponseEncodable { var items: [ProcurementStore.UnmappedItem] }
    struct PackList: ResponseEncodable { var packs: [ProcurementStore.PackIssue] }
    struct Mapping: Decodable { var facility: String; var local_code: String; var national_code: String }
    struct Done: ResponseEncodable { var lines: Int? }

    @Sendable func unmapped(_ request: Request, context: RegioRequestContext) async throws -> UnmappedList {
        _ = try context.caller(in: Self.stewards)
        return UnmappedList(items: try await ProcurementStore(database: database).unmappedItems(facility: try Self.facilityFilter(request)))
    }

    @Sendable func map(_ request: Request, context: RegioRequestContext) async throws -> Done {
        let caller = try context.caller(in: Self.stewards)
        let body = try await mapping(request, context)
        try await Self.refusing {
            _ = try await ProcurementStore(database: writes).importMappings(
                [ItemMapping(facility: body.facility, localCode: body.local_code, nationalCode: body.national_code, line: 1)],
                actor: Self.actor(caller))
        }
        return Done()
    }

    @Sendable func reject(_ request: Request, context: RegioRequestContext) async throws -> Done {
        let caller = try context.caller(in: Self.stewards)
        let body = try await mapping(request, context)
        try await Self.refusing {
            try await ProcurementStore(database: writes).rejectSuggestion(facility: body.facility, localCode: body.local_code,
                                                                         nationalCode: body.national_code, actor: Self.actor(caller))
        }
        return Done()
    }

    @Sendable func packs(_ request: Request, context: RegioRequestContext) async throws -> PackList {
        _ = try context.caller(in: Self.stewards)
        return PackList(packs: try await ProcurementStore(database: database).packIssues(facility: try Self.facilityFilter(request)))
    }

    @Sendable func decidePack(_ request: Request, context: RegioRequestContext) async throws -> Done {
        let caller = try context.caller(in: Self.stewards)
        let decision = try await decode(ProcurementStore.PackDecision.self, request, context,
                                        expected: #"{"facility", "item_code", "spec", "purchase_unit", "pack_size", "decision": "confirmed" | "rejected"}"#)
        // What a purchase line can hold (docs/extract-format.md), and procurement.pack_decisions.pack_size, numeric(14, 6).
        guard (1...64).contains(decision.itemCode.count), decision.spec.count <= 200, (1...16).contains(decision.purchaseUnit.count) else {
            throw Problem.badRequest("item_code is 1 to 64 characters, spec at most 200, purchase_unit 1 to 16, as in a purchase line")
        }
        guard decision.packSize > 0, PlainDecimal.fits(decision.packSize, precision: 14, scale: 6) else {
            throw Problem.badRequest("pack_size must be above 0 and below 100,000,000, with at most 6 decimals")
        }
        var lines = 0
        try await Self.refusing { lines = try await ProcurementStore(database: writes).decidePack(decision, actor: Self.actor(caller)) }
        return Done(lines: lines)
    }

    /// A LOCAL code mapping's body, its code as long as a purchase line's may be.
    func mapping(_ request: Request, _ context: RegioRequestContext) async throws -> Mapping {
        let body = try await decode(Mapping.self, request, context, expected: #"{"facility", "local_code", "national_code"}"#)
        guard (1...64).contains(body.local_code.count) else { throw Problem.badRequest("local_code is 1 to 64 characters, as in a purchase line") }
        return body
    }

    /// The `facility` query parameter: nil when absent, 400 when it is not a facility code.
    static func facilityFilter(_ request: Request) throws -> String? {
        guard let facility = request.uri.queryParameters.get("facility") else { return nil }
        guard Facility.isValidCode(facility) else {
            throw Problem.badRequest("facility must be a facility code (4 to 32 capital letters and digits)", type: "bad-parameter")
        }
        return facility
    }

    func decode<T: Decodable>(_ type: T.Type, _ request: Request, _ context: RegioRequestContext, expected: String) async throws -> T {
        try await request.decodeJSON(type, context: context, expected: expected)
    }

    /// Dates of a whole-month period, or 400.
    static func period(_ from: String, _ to: String?, openEnded: Bool) throws -> (CalendarDate, CalendarDate?) {
        guard let start = CalendarDate(from) else { throw Problem.badRequest("expected a date YYYY-MM-DD, got '\(from)'") }
        var end: CalendarDate?
        if let to {
            guard let date = CalendarDate(to) else { throw Problem.badRequest("expected a date YYYY-MM-DD, got '\(to)'") }
            end = date
        } else if !openEnded {
            throw Problem.badRequest("the period needs an end")
        }
        if let problem = AgreementPeriod.problem(from: start, to: end) { throw Problem.badRequest("the period \(problem)") }
        return (start, end)
    }

    /// Runs a change; what the database refuses (unknown codes, an overlap) is 409 with the reasons.
    static func refusing(_ body: () async throws -> Void) async throws {
        do {
            try await body()
        } catch let refused as ProcurementStore.Refused {
            throw Problem(status: .conflict, type: "refused", detail: refused.problems.map(\.message).joined(separator: "; "))
        }
    }
}

extension ProcurementStore.Agreements: ResponseEncodable {}
