import PostgresNIO
import RegioCore
import RegioDB

/// The per-batch, per-kind UNLOGGED table a file streams into. Its name is built from the batch
/// id and the kind — never from input — so it can be spliced into SQL.
public struct StagingTable: Sendable {
    public var batchID: Int64
    public var kind: ExtractKind

    public init(batchID: Int64, kind: ExtractKind) {
        self.batchID = batchID
        self.kind = kind
    }

    public var name: String { "staging.\(unqualifiedName)" }
    var unqualifiedName: String { "b\(batchID)_\(kind.rawValue)" }

    /// Internal columns first, then the kind's staged columns (the ones COPY fills; `_stored`, set
    /// by the merge for keys already in the core table, is not among them).
    public static func columns(for kind: ExtractKind) -> [String] {
        ["_line", "_op", "_rejected", "_issues", "_raw", "_hash"] + stagingColumns(kind)
    }

    public static func stagingColumns(_ kind: ExtractKind) -> [String] {
        stagedSpecs(kind).map { $0.type == .idNumber ? "id_hash" : $0.name }
    }

    static func stagedSpecs(_ kind: ExtractKind) -> [ColumnSpec] {
        kind.spec.columns.filter { $0.type != .op }
    }

    /// A staged column's SQL type, and how `CopyRowEncoder` writes its values. Staging columns are
    /// typed, so the service sends dates, times and numbers in their binary forms and the merge
    /// casts nothing. A rejected row's values go to `_raw` (JSON, as sent); its typed columns stay
    /// empty, its text columns keep the text.
    static func storage(_ type: ColumnType) -> (sqlType: String, value: CopyRowEncoder.ValueType) {
        switch type {
        case .date: ("date", .date)
        case .timestamp: ("timestamptz", .timestamp)
        case .money: ("numeric(14, 2)", .numeric)
        case .positiveDecimal: ("numeric(14, 6)", .numeric)
        case .count: ("integer", .integer)
        case .text, .code, .icd10, .facilityCode, .idNumber, .flag, .op: ("text", .text)
        }
    }

    /// Scratch: unlogged, and never vacuumed — it is analyzed once staged (ExtractFileLoader) and
    /// dropped after the decision. Autovacuum would otherwise take a freshly staged million rows
    /// for work to do and scan them while the merge reads them, until the DROP cancelled it (a
    /// second later, PostgreSQL's deadlock_timeout).
    var createStatement: String {
        let data = Self.stagedSpecs(kind).map { "\($0.type == .idNumber ? "id_hash" : $0.name) \(Self.storage($0.type).sqlType)" }
            .joined(separator: ", ")
        return """
            CREATE UNLOGGED TABLE \(name) (_line integer NOT NULL, _op text NOT NULL, _rejected boolean NOT NULL,
                _issues text, _raw jsonb, _hash text, _stored boolean NOT NULL DEFAULT false, \(data))
            WITH (autovacuum_enabled = false, toast.autovacuum_enabled = false)
            """
    }

    /// The core table a kind's rows are merged into.
    var target: String {
        switch kind {
        case .patients: "emr.patients"
        case .encounters: "emr.encounters"
        case .exams: "emr.exams"
        case .purchases: "procurement.purchases"
        case .referrals: "referral.referrals"
        case .beds: "emr.bed_census"
        }
    }

    /// The placeholders a SQL file of this kind declares: `{staging}` (this table), `{kind}`,
    /// `{key}` (the kind's key column) and `{target}` (its core table).
    var fills: [String: String] {
        ["staging": name, "kind": kind.rawValue, "key": kind.spec.key[0], "target": target]
    }

    /// Drops a batch's staging tables, those of `kinds` (all by default). A side transaction left
    /// prepared holds its staging table until it is settled: the table then stays, for
    /// `BatchRecovery` to drop once it is.
    static func drop(batchID: Int64, kinds: [ExtractKind] = ExtractKind.allCases, database: Database) async throws {
        try await database.withTransaction { connection in
            try await connection.query("SET LOCAL lock_timeout = '5s'", logger: database.logger)
            for kind in kinds {
                try await connection.query(PostgresQuery(unsafeSQL: "DROP TABLE IF EXISTS \(StagingTable(batchID: batchID, kind: kind).name)"),
                                           logger: database.logger)
            }
        }
    }
}
