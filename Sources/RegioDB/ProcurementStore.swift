import Foundation
import Logging
import PostgresNIO
import RegioCore

/// The procurement catalogue and what alliances agree on (docs/procurement.md): standard items,
/// facilities' LOCAL codes mapped to them, stewards' decisions on suggestions and on pack sizes,
/// agreed prices, volume commitments and listed prices. Each change is one transaction, audited;
/// one that changes which purchase lines count (the catalogue, a mapping, a pack decision)
/// recomputes the purchase rollup of the facilities concerned in the same transaction.
public struct ProcurementStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    public struct ImportOutcome: Sendable, Equatable {
        public var inserted = 0
        public var updated = 0
        public var unchanged = 0
    }

    /// Problems only the database can see (an unknown alliance, member or item, an overlap), by
    /// line: the exam catalogue's kind of refusal.
    public typealias Refused = ExamCatalogStore.Refused

    private var logger: Logger { database.logger }

    // MARK: The catalogue and the item map

    /// Adds or updates catalogue items; when any changed, every facility's purchase rollup is
    /// recomputed (pack checks and mappings read the catalogue).
    public func importItems(_ items: [CatalogItem], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            var outcome = ImportOutcome()
            let optional = { (value: String?) in value ?? "" }
            for try await inserted in try await connection.query("""
                INSERT INTO procurement.items (national_code, category, generic_name, generic_group, dosage_form, strength, spec,
                                               pack_size, pack_unit, base_unit, manufacturer)
                SELECT national_code, category, generic_name, generic_group, nullif(dosage_form, ''), nullif(strength, ''),
                       nullif(spec, ''), pack_size::numeric, pack_unit, base_unit, nullif(manufacturer, '')
                FROM unnest(\(items.map(\.nationalCode))::text[], \(items.map(\.category.rawValue))::text[],
                            \(items.map(\.genericName))::text[], \(items.map(\.genericGroup))::text[],
                            \(items.map { optional($0.dosageForm) })::text[], \(items.map { optional($0.strength) })::text[],
                            \(items.map { optional($0.spec) })::text[], \(items.map { "\($0.packSize)" })::text[],
                            \(items.map(\.packUnit))::text[], \(items.map(\.baseUnit))::text[],
                            \(items.map { optional($0.manufacturer) })::text[])
                     AS i (national_code, category, generic_name, generic_group, dosage_form, strength, spec, pack_size,
                           pack_unit, base_unit, manufacturer)
                ON CONFLICT (national_code) DO UPDATE SET
                    category = excluded.category, generic_name = excluded.generic_name, generic_group = excluded.generic_group,
                    dosage_form = excluded.dosage_form, strength = excluded.strength, spec = excluded.spec,
                    pack_size = excluded.pack_size, pack_unit = excluded.pack_unit, base_unit = excluded.base_unit,
                    manufacturer = excluded.manufacturer, updated_at = now()
                WHERE (procurement.items.category, procurement.items.generic_name, procurement.items.generic_group,
                       procurement.items.dosage_form, procurement.items.strength, procurement.items.spec,
                       procurement.items.pack_size, procurement.items.pack_unit, procurement.items.base_unit,
                       procurement.items.manufacturer)
                      IS DISTINCT FROM (excluded.category, excluded.generic_name, excluded.generic_group, excluded.dosage_form,
                                        excluded.strength, excluded.spec, excluded.pack_size, excluded.pack_unit,
                                        excluded.base_unit, excluded.manufacturer)
                RETURNING xmax = 0
                """, logger: logger).decode(Bool.self) {
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = items.count - outcome.inserted - outcome.updated
            if outcome.inserted + outcome.updated > 0 {
                try await ProcurementRollups.refreshFacility(nil, on: connection, logger: logger)
            }
            try await AuditLog.record(actor: actor, action: "procurement.items", subject: nil,
                                      detail: ["inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)"],
                                      on: connection, logger: logger)
            return outcome
        }
    }

    /// Every catalogue item.
    public func items() async throws -> [CatalogItem] {
        var items: [CatalogItem] = []
        for try await (code, category, name, group, form, strength, spec, packSize, packUnit, baseUnit, manufacturer) in try await database.query("""
            SELECT national_code, category, generic_name, generic_group, dosage_form, strength, spec, pack_size, pack_unit, base_unit, manufacturer
            FROM procurement.items ORDER BY national_code
            """).decode((String, String, String, String, String?, String?, String?, Decimal, String, String, String?).self) {
            items.append(CatalogItem(nationalCode: code, category: CatalogItem.Category(rawValue: category) ?? .drug, genericName: name,
                                     genericGroup: group, dosageForm: form, strength: strength, spec: spec, packSize: packSize,
                                     packUnit: packUnit, baseUnit: baseUnit, manufacturer: manufacturer))
        }
        return items
    }

    /// Adds or updates facilities' mappings of LOCAL codes (`actor` decided them); refused whole
    /// when a facility or an item is unknown.
    public func importMappings(_ mappings: [ItemMapping], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            var problems: [CSVImport.Problem] = []
            for try await (line, facilityKnown, itemKnown, facility, code) in try await connection.query("""
                SELECT m.line, f.id IS NOT NULL, i.national_code IS NOT NULL, m.facility, m.national
                FROM unnest(\(mappings.map(\.line))::int[], \(mappings.map(\.facility))::text[], \(mappings.map(\.nationalCode))::text[])
                     AS m (line, facility, national)
                LEFT JOIN registry.facilities f ON f.code = m.facility
                LEFT JOIN procurement.items i ON i.national_code = m.national
                WHERE f.id IS NULL OR i.national_code IS NULL ORDER BY m.line
                """, logger: logger).decode((Int, Bool, Bool, String, String).self) {
                if !facilityKnown { problems.append(.init(line: line, column: "facility", message: "no facility '\(facility)' is registered")) }
                if !itemKnown { problems.append(.init(line: line, column: "national_code", message: "'\(code)' is not in the catalogue")) }
            }
            guard problems.isEmpty else { throw Refused(problems: problems) }
            var outcome = ImportOutcome()
            var facilities = Set<Int>()
            for try await (facility, inserted) in try await connection.query("""
                INSERT INTO procurement.item_map (facility_id, local_code, national_code, decided_by)
                SELECT f.id, m.local, m.national, \(actor)
                FROM unnest(\(mappings.map(\.facility))::text[], \(mappings.map(\.localCode))::text[], \(mappings.map(\.nationalCode))::text[])
                     AS m (facility, local, national)
                JOIN registry.facilities f ON f.code = m.facility
                ON CONFLICT (facility_id, local_code) DO UPDATE SET national_code = excluded.national_code,
                    decided_by = excluded.decided_by, updated_at = now()
                WHERE procurement.item_map.national_code <> excluded.national_code
                RETURNING facility_id, xmax = 0
                """, logger: logger).decode((Int, Bool).self) {
                facilities.insert(facility)
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = mappings.count - outcome.inserted - outcome.updated
            for facility in facilities.sorted() {
                try await ProcurementRollups.refreshFacility(facility, on: connection, logger: logger)
            }
            try await AuditLog.record(actor: actor, action: "procurement.item_map", subject: nil,
                                      detail: ["inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)"],
                                      on: connection, logger: logger)
            return outcome
        }
    }

    /// A steward's rejection of a suggested item for a LOCAL code: it is not suggested again.
    public func rejectSuggestion(facility: String, localCode: String, nationalCode: String, actor: String) async throws {
        try await database.withTransaction { connection in
            var known = false
            for try await _ in try await connection.query("""
                SELECT 1 FROM registry.facilities f, procurement.items i WHERE f.code = \(facility) AND i.national_code = \(nationalCode)
                """, logger: logger) {
                known = true
            }
            guard known else {
                throw Refused(problems: [.init(line: 0, column: nil, message: "no facility '\(facility)' or no item '\(nationalCode)'")])
            }
            try await connection.query("""
                INSERT INTO procurement.item_map_rejections (facility_id, local_code, national_code, decided_by)
                SELECT f.id, \(localCode), \(nationalCode), \(actor) FROM registry.facilities f WHERE f.code = \(facility)
                ON CONFLICT DO NOTHING
                """, logger: logger)
            try await AuditLog.record(actor: actor, action: "procurement.item_map.reject", subject: "\(facility)/\(localCode)",
                                      detail: ["national_code": nationalCode], on: connection, logger: logger)
        }
    }

    /// A LOCAL code no mapping covers, how much it is bought, and the catalogue items it may be.
    public struct UnmappedItem: Sendable, Codable, Equatable {
        public var facility: String
        public var localCode: String
        public var name: String
        public var spec: String?
        public var manufacturer: String?
        public var baseUnit: String
        public var lines: Int
        public var amount: Decimal
        public var lastPurchased: String
        public var suggestions: [ItemSuggestions.Suggestion]

        enum CodingKeys: String, CodingKey {
            case facility, name, spec, manufacturer, lines, amount, suggestions
            case localCode = "local_code", baseUnit = "base_unit", lastPurchased = "last_purchased"
        }
    }

    /// Unmapped LOCAL codes, most spent on first; of one facility, or all.
    public func unmappedItems(facility: String? = nil, limit: Int = 200) async throws -> [UnmappedItem] {
        let catalogue = try await items()
        var rows: [UnmappedItem] = []
        var rejected: [String: Set<String>] = [:]
        for try await (code, local, national) in try await database.query("""
            SELECT f.code, r.local_code, r.national_code FROM procurement.item_map_rejections r JOIN registry.facilities f ON f.id = r.facility_id
            WHERE \(facility)::text IS NULL OR f.code = \(facility)
            """).decode((String, String, String).self) {
            rejected["\(code)|\(local)", default: []].insert(national)
        }
        for try await (code, local, name, spec, manufacturer, baseUnit, lines, amount, last) in try await database.query("""
            SELECT f.code, p.item_code, mode() WITHIN GROUP (ORDER BY p.item_name), mode() WITHIN GROUP (ORDER BY p.spec),
                   mode() WITHIN GROUP (ORDER BY p.manufacturer), mode() WITHIN GROUP (ORDER BY p.base_unit),
                   count(*)::int, sum(p.unit_price * p.quantity), max(p.purchase_date)::text
            FROM procurement.purchases p
            JOIN registry.facilities f ON f.id = p.facility_id
            WHERE p.code_system = 'LOCAL' AND (\(facility)::text IS NULL OR f.code = \(facility))
              AND NOT EXISTS (SELECT 1 FROM procurement.item_map m WHERE m.facility_id = p.facility_id AND m.local_code = p.item_code)
            GROUP BY f.code, p.item_code
            ORDER BY sum(p.unit_price * p.quantity) DESC, f.code, p.item_code LIMIT \(limit)
            """).decode((String, String, String, String?, String?, String, Int, Decimal, String).self) {
            let line = ItemSuggestions.Line(name: name, spec: spec, manufacturer: manufacturer, baseUnit: baseUnit)
            rows.append(UnmappedItem(
                facility: code, localCode: local, name: name, spec: spec, manufacturer: manufacturer, baseUnit: baseUnit, lines: lines,
                amount: amount, lastPurchased: last,
                suggestions: ItemSuggestions.rank(line, among: catalogue, excluding: rejected["\(code)|\(local)"] ?? [])))
        }
        return rows
    }

    // MARK: Pack sizes

    /// Purchase lines of one facility, code, spec, purchase unit and pack size whose pack size
    /// disagrees with their spec or the catalogue, or whose base unit is not the item's — left out
    /// of the price statistics until a steward decides.
    public struct PackIssue: Sendable, Codable, Equatable {
        public var facility: String
        public var itemCode: String
        public var nationalCode: String
        public var itemName: String
        public var spec: String
        public var purchaseUnit: String
        public var packSize: Decimal
        public var baseUnit: String
        public var check: String
        /// What the spec counts per pack, when it says.
        public var specCount: Decimal?
        public var catalogueBaseUnit: String
        public var cataloguePackSize: Decimal
        public var cataloguePackUnit: String
        public var lines: Int

        enum CodingKeys: String, CodingKey {
            case facility, spec, check, lines
            case itemCode = "item_code", nationalCode = "national_code", itemName = "item_name", purchaseUnit = "purchase_unit"
            case packSize = "pack_size", baseUnit = "base_unit", specCount = "spec_count", catalogueBaseUnit = "catalogue_base_unit"
            case cataloguePackSize = "catalogue_pack_size", cataloguePackUnit = "catalogue_pack_unit"
        }
    }

    public func packIssues(facility: String? = nil, limit: Int = 200) async throws -> [PackIssue] {
        var issues: [PackIssue] = []
        for try await row in try await database.query("""
            SELECT f.code, p.item_code, l.national_code, min(p.item_name), coalesce(p.spec, ''), p.purchase_unit, p.pack_size,
                   p.base_unit, l.pack_check, s.count, i.base_unit, i.pack_size, i.pack_unit, count(*)::int
            FROM procurement.priced_lines l
            JOIN procurement.purchases p ON p.facility_id = l.facility_id AND p.line_id = l.line_id
            JOIN registry.facilities f ON f.id = p.facility_id
            JOIN procurement.items i ON i.national_code = l.national_code
            LEFT JOIN procurement.spec_parses s ON s.spec = p.spec
            WHERE l.pack_check IN ('base_unit', 'pack_spec', 'pack_catalogue') AND (\(facility)::text IS NULL OR f.code = \(facility))
            GROUP BY f.code, p.item_code, l.national_code, coalesce(p.spec, ''), p.purchase_unit, p.pack_size, p.base_unit,
                     l.pack_check, s.count, i.base_unit, i.pack_size, i.pack_unit
            ORDER BY count(*) DESC, f.code, p.item_code LIMIT \(limit)
            """).decode((String, String, String, String, String, String, Decimal, String, String, Decimal?, String, Decimal, String, Int).self) {
            issues.append(PackIssue(facility: row.0, itemCode: row.1, nationalCode: row.2, itemName: row.3, spec: row.4,
                                    purchaseUnit: row.5, packSize: row.6, baseUnit: row.7, check: row.8, specCount: row.9,
                                    catalogueBaseUnit: row.10, cataloguePackSize: row.11, cataloguePackUnit: row.12, lines: row.13))
        }
        return issues
    }

    /// A steward's word on lines of one facility, code, spec, purchase unit and pack size.
    public struct PackDecision: Sendable, Codable, Equatable {
        public enum Verdict: String, Sendable, Codable { case confirmed, rejected }
        public var facility: String
        public var itemCode: String
        public var spec: String
        public var purchaseUnit: String
        public var packSize: Decimal
        public var decision: Verdict

        public init(facility: String, itemCode: String, spec: String, purchaseUnit: String, packSize: Decimal, decision: Verdict) {
            self.facility = facility
            self.itemCode = itemCode
            self.spec = spec
            self.purchaseUnit = purchaseUnit
            self.packSize = packSize
            self.decision = decision
        }

        enum CodingKeys: String, CodingKey {
            case facility, spec, decision
            case itemCode = "item_code", purchaseUnit = "purchase_unit", packSize = "pack_size"
        }
    }

    /// Records the decision and recomputes the facility's purchase rollup; the lines it covers.
    public func decidePack(_ decision: PackDecision, actor: String) async throws -> Int {
        try await database.withTransaction { connection in
            var facilityID: Int?
            for try await id in try await connection.query("SELECT id FROM registry.facilities WHERE code = \(decision.facility)",
                                                           logger: logger).decode(Int.self) {
                facilityID = id
            }
            guard let facilityID else {
                throw Refused(problems: [.init(line: 0, column: "facility", message: "no facility '\(decision.facility)' is registered")])
            }
            try await connection.query("""
                INSERT INTO procurement.pack_decisions (facility_id, item_code, spec, purchase_unit, pack_size, decision, decided_by)
                VALUES (\(facilityID), \(decision.itemCode), \(decision.spec), \(decision.purchaseUnit), \("\(decision.packSize)")::numeric,
                        \(decision.decision.rawValue), \(actor))
                ON CONFLICT (facility_id, item_code, spec, purchase_unit, pack_size) DO UPDATE
                    SET decision = excluded.decision, decided_by = excluded.decided_by, decided_at = now()
                """, logger: logger)
            var lines = 0
            for try await count in try await connection.query("""
                SELECT count(*)::int FROM procurement.purchases
                WHERE facility_id = \(facilityID) AND item_code = \(decision.itemCode) AND coalesce(spec, '') = \(decision.spec)
                  AND purchase_unit = \(decision.purchaseUnit) AND pack_size = \("\(decision.packSize)")::numeric
                """, logger: logger).decode(Int.self) {
                lines = count
            }
            try await ProcurementRollups.refreshFacility(facilityID, on: connection, logger: logger)
            try await AuditLog.record(actor: actor, action: "procurement.pack_decision", subject: "\(decision.facility)/\(decision.itemCode)",
                                      detail: ["spec": decision.spec, "purchase_unit": decision.purchaseUnit,
                                               "pack_size": "\(decision.packSize)", "decision": decision.decision.rawValue,
                                               "lines": "\(lines)"],
                                      on: connection, logger: logger)
            return lines
        }
    }

    // MARK: Agreements

    /// Adds or updates agreed prices (by alliance, item and first month); refused whole when an
    /// alliance or item is unknown or a period overlaps another of the same alliance and item.
    public func importAgreedPrices(_ prices: [AgreedPrice], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            try await lockAgreements(on: connection)
            var problems = try await unknown(prices.map { ($0.line, $0.alliance, nil, $0.nationalCode) }, on: connection)
            // Overlaps among the new periods and with stored periods that keep their place.
            for try await (line, other) in try await connection.query("""
                WITH new AS (
                    SELECT n.line, a.id AS alliance_id, n.code, n.valid_from, t.valid_to
                    FROM unnest(\(prices.map(\.line))::int[], \(prices.map(\.alliance))::text[], \(prices.map(\.nationalCode))::text[],
                                \(prices.map(\.validFrom.description))::date[], \(prices.map { $0.validTo?.description ?? "" })::text[])
                         AS n (line, alliance, code, valid_from, valid_to_text)
                    JOIN registry.alliances a ON a.code = n.alliance
                    CROSS JOIN LATERAL (SELECT nullif(n.valid_to_text, '')::date AS valid_to) t
                ), periods AS (
                    SELECT line, alliance_id, code, valid_from, valid_to FROM new
                    UNION ALL
                    SELECT 0, p.alliance_id, p.national_code, p.valid_from, p.valid_to FROM procurement.agreed_prices p
                    WHERE NOT EXISTS (SELECT 1 FROM new n WHERE n.alliance_id = p.alliance_id AND n.code = p.national_code AND n.valid_from = p.valid_from)
                )
                SELECT a.line, coalesce(b.valid_from::text, '')
                FROM periods a JOIN periods b
                  ON a.alliance_id = b.alliance_id AND a.code = b.code AND (a.line, a.valid_from) <> (b.line, b.valid_from)
                 AND daterange(a.valid_from, a.valid_to, '[]') && daterange(b.valid_from, b.valid_to, '[]')
                WHERE a.line > 0 ORDER BY a.line
                """, logger: logger).decode((Int, String).self) {
                problems.append(.init(line: line, column: "valid_from", message: "overlaps the agreed price valid from \(other)"))
            }
            guard problems.isEmpty else { throw Refused(problems: problems.sorted { $0.line < $1.line }) }
            var outcome = ImportOutcome()
            for try await inserted in try await connection.query("""
                INSERT INTO procurement.agreed_prices (alliance_id, national_code, price, valid_from, valid_to)
                SELECT a.id, n.code, n.price::numeric, n.valid_from, nullif(n.valid_to, '')::date
                FROM unnest(\(prices.map(\.alliance))::text[], \(prices.map(\.nationalCode))::text[], \(prices.map { "\($0.price)" })::text[],
                            \(prices.map(\.validFrom.description))::date[], \(prices.map { $0.validTo?.description ?? "" })::text[])
                     AS n (alliance, code, price, valid_from, valid_to)
                JOIN registry.alliances a ON a.code = n.alliance
                ON CONFLICT (alliance_id, national_code, valid_from) DO UPDATE SET price = excluded.price, valid_to = excluded.valid_to,
                    updated_at = now()
                WHERE (procurement.agreed_prices.price, procurement.agreed_prices.valid_to) IS DISTINCT FROM (excluded.price, excluded.valid_to)
                RETURNING xmax = 0
                """, logger: logger).decode(Bool.self) {
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = prices.count - outcome.inserted - outcome.updated
            try await AuditLog.record(actor: actor, action: "procurement.agreed_prices", subject: Set(prices.map(\.alliance)).sorted().joined(separator: ","),
                                      detail: ["inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)"],
                                      on: connection, logger: logger)
            return outcome
        }
    }

    /// Adds or updates volume commitments (by alliance, member, item and cycle start); refused
    /// whole when an alliance, member (of that alliance) or item is unknown.
    public func importCommitments(_ commitments: [VolumeCommitment], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            try await lockAgreements(on: connection)
            let problems = try await unknown(commitments.map { ($0.line, $0.alliance, $0.member, $0.nationalCode) }, on: connection)
            guard problems.isEmpty else { throw Refused(problems: problems) }
            var outcome = ImportOutcome()
            for try await inserted in try await connection.query("""
                INSERT INTO procurement.commitments (alliance_id, facility_id, national_code, cycle_start, cycle_end, committed_units)
                SELECT a.id, f.id, n.code, n.cycle_start, n.cycle_end, n.units::numeric
                FROM unnest(\(commitments.map(\.alliance))::text[], \(commitments.map(\.member))::text[],
                            \(commitments.map(\.nationalCode))::text[], \(commitments.map(\.cycleStart.description))::date[],
                            \(commitments.map(\.cycleEnd.description))::date[], \(commitments.map { "\($0.committedUnits)" })::text[])
                     AS n (alliance, member, code, cycle_start, cycle_end, units)
                JOIN registry.alliances a ON a.code = n.alliance
                JOIN registry.facilities f ON f.code = n.member
                ON CONFLICT (alliance_id, facility_id, national_code, cycle_start) DO UPDATE SET cycle_end = excluded.cycle_end,
                    committed_units = excluded.committed_units, updated_at = now()
                WHERE (procurement.commitments.cycle_end, procurement.commitments.committed_units)
                      IS DISTINCT FROM (excluded.cycle_end, excluded.committed_units)
                RETURNING xmax = 0
                """, logger: logger).decode(Bool.self) {
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = commitments.count - outcome.inserted - outcome.updated
            try await AuditLog.record(actor: actor, action: "procurement.commitments",
                                      subject: Set(commitments.map(\.alliance)).sorted().joined(separator: ","),
                                      detail: ["inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)"],
                                      on: connection, logger: logger)
            return outcome
        }
    }

    /// Adds or updates the provincial platform's listed prices (by item and first month).
    public func importListedPrices(_ prices: [ListedPrice], actor: String) async throws -> ImportOutcome {
        try await database.withTransaction { connection in
            let problems = try await unknown(prices.map { ($0.line, nil, nil, $0.nationalCode) }, on: connection)
            guard problems.isEmpty else { throw Refused(problems: problems) }
            var outcome = ImportOutcome()
            for try await inserted in try await connection.query("""
                INSERT INTO procurement.listed_prices (national_code, price, valid_from, valid_to, source)
                SELECT n.code, n.price::numeric, n.valid_from, nullif(n.valid_to, '')::date, n.source
                FROM unnest(\(prices.map(\.nationalCode))::text[], \(prices.map { "\($0.price)" })::text[],
                            \(prices.map(\.validFrom.description))::date[], \(prices.map { $0.validTo?.description ?? "" })::text[],
                            \(prices.map(\.source))::text[]) AS n (code, price, valid_from, valid_to, source)
                ON CONFLICT (national_code, valid_from) DO UPDATE SET price = excluded.price, valid_to = excluded.valid_to, source = excluded.source
                WHERE (procurement.listed_prices.price, procurement.listed_prices.valid_to, procurement.listed_prices.source)
                      IS DISTINCT FROM (excluded.price, excluded.valid_to, excluded.source)
                RETURNING xmax = 0
                """, logger: logger).decode(Bool.self) {
                if inserted { outcome.inserted += 1 } else { outcome.updated += 1 }
            }
            outcome.unchanged = prices.count - outcome.inserted - outcome.updated
            try await AuditLog.record(actor: actor, action: "procurement.listed_prices", subject: nil,
                                      detail: ["inserted": "\(outcome.inserted)", "updated": "\(outcome.updated)"],
                                      on: connection, logger: logger)
            return outcome
        }
    }

    /// Removes one of an alliance's agreed prices or commitments; false when it has none by that id.
    public func delete(_ kind: AgreementKind, id: Int64, alliance: String, actor: String) async throws -> Bool {
        try await database.withTransaction { connection in
            try await lockAgreements(on: connection)
            let query: PostgresQuery = switch kind {
            case .agreedPrices:
                "DELETE FROM procurement.agreed_prices t USING registry.alliances a WHERE t.id = \(id) AND t.alliance_id = a.id AND a.code = \(alliance)"
            case .commitments:
                "DELETE FROM procurement.commitments t USING registry.alliances a WHERE t.id = \(id) AND t.alliance_id = a.id AND a.code = \(alliance)"
            }
            let deleted = try await connection.changedRows(query, logger: logger)
            if deleted > 0 {
                try await AuditLog.record(actor: actor, action: "procurement.\(kind.rawValue).delete", subject: alliance,
                                          detail: ["id": "\(id)"], on: connection, logger: logger)
            }
            return deleted > 0
        }
    }

    public enum AgreementKind: String, Sendable {
        case agreedPrices = "agreed_prices", commitments
    }

    /// An alliance's agreements as stored, with their ids.
    public struct Agreements: Sendable, Codable {
        public struct Price: Sendable, Codable {
            public var id: Int64
            public var alliance: String
            public var nationalCode: String
            public var genericName: String
            public var price: Decimal
            public var validFrom: String
            public var validTo: String?
            enum CodingKeys: String, CodingKey {
                case id, alliance, price
                case nationalCode = "national_code", genericName = "generic_name", validFrom = "valid_from", validTo = "valid_to"
            }
        }
        public struct Commitment: Sendable, Codable {
            public var id: Int64
            public var alliance: String
            public var member: String
            public var nationalCode: String
            public var genericName: String
            public var cycleStart: String
            public var cycleEnd: String
            public var committedBaseUnits: Decimal
            enum CodingKeys: String, CodingKey {
                case id, alliance, member
                case nationalCode = "national_code", genericName = "generic_name", cycleStart = "cycle_start", cycleEnd = "cycle_end"
                case committedBaseUnits = "committed_base_units"
            }
        }
        public var agreedPrices: [Price]
        public var commitments: [Commitment]
        enum CodingKeys: String, CodingKey {
            case agreedPrices = "agreed_prices", commitments
        }
    }

    /// The agreements of one alliance, or of all (nil).
    public func agreements(alliance: String?) async throws -> Agreements {
        var result = Agreements(agreedPrices: [], commitments: [])
        for try await (id, code, item, name, price, from, to) in try await database.query("""
            SELECT p.id, a.code, p.national_code, i.generic_name, p.price, p.valid_from::text, p.valid_to::text
            FROM procurement.agreed_prices p JOIN registry.alliances a ON a.id = p.alliance_id
            JOIN procurement.items i ON i.national_code = p.national_code
            WHERE \(alliance)::text IS NULL OR a.code = \(alliance)
            ORDER BY a.code, p.national_code, p.valid_from
            """).decode((Int64, String, String, String, Decimal, String, String?).self) {
            result.agreedPrices.append(.init(id: id, alliance: code, nationalCode: item, genericName: name, price: price, validFrom: from, validTo: to))
        }
        for try await (id, code, member, item, name, start, end, units) in try await database.query("""
            SELECT c.id, a.code, f.code, c.national_code, i.generic_name, c.cycle_start::text, c.cycle_end::text, c.committed_units
            FROM procurement.commitments c JOIN registry.alliances a ON a.id = c.alliance_id
            JOIN registry.facilities f ON f.id = c.facility_id
            JOIN procurement.items i ON i.national_code = c.national_code
            WHERE \(alliance)::text IS NULL OR a.code = \(alliance)
            ORDER BY a.code, f.code, c.national_code, c.cycle_start
            """).decode((Int64, String, String, String, String, String, String, Decimal).self) {
            result.commitments.append(.init(id: id, alliance: code, member: member, nationalCode: item, genericName: name, cycleStart: start,
                                            cycleEnd: end, committedBaseUnits: units))
        }
        return result
    }

    /// Changes to agreements wait for each other: an overlap check sees every committed period.
    private func lockAgreements(on connection: PostgresConnection) async throws {
        try await connection.query("SELECT pg_advisory_xact_lock(\(ProcurementRollups.lockSpace)::int, -1)", logger: logger)
    }

    /// Lines naming an unknown alliance, member (or a facility not a member of the alliance) or item.
    private func unknown(_ rows: [(line: Int, alliance: String?, member: String?, code: String)],
                         on connection: PostgresConnection) async throws -> [CSVImport.Problem] {
        var problems: [CSVImport.Problem] = []
        for try await (line, allianceKnown, memberKnown, itemKnown, alliance, member, code) in try await connection.query("""
            SELECT n.line, n.alliance = '' OR a.id IS NOT NULL,
                   n.member = '' OR EXISTS (SELECT 1 FROM registry.alliance_members m JOIN registry.facilities f ON f.id = m.facility_id
                                            WHERE m.alliance_id = a.id AND f.code = n.member),
                   i.national_code IS NOT NULL, n.alliance, n.member, n.code
            FROM unnest(\(rows.map(\.line))::int[], \(rows.map { $0.alliance ?? "" })::text[], \(rows.map { $0.member ?? "" })::text[],
                        \(rows.map(\.code))::text[]) AS n (line, alliance, member, code)
            LEFT JOIN registry.alliances a ON a.code = n.alliance
            LEFT JOIN procurement.items i ON i.national_code = n.code
            ORDER BY n.line
            """, logger: logger).decode((Int, Bool, Bool, Bool, String, String, String).self) {
            if !allianceKnown { problems.append(.init(line: line, column: "alliance", message: "no alliance '\(alliance)' is registered")) }
            if allianceKnown && !memberKnown {
                problems.append(.init(line: line, column: "member", message: "'\(member)' is not a member of alliance '\(alliance)'"))
            }
            if !itemKnown { problems.append(.init(line: line, column: "national_code", message: "'\(code)' is not in the catalogue")) }
        }
        return problems
    }
}
