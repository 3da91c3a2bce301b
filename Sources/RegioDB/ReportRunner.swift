import Foundation
import Logging
import PostgresNIO
import RegioCore

public struct ReportResult: Sendable {
    public var columns: [ReportColumn]
    public var rows: [[ReportValue]]
}

/// Runs a report's SQL file with its bind values and decodes each column by the type the catalog
/// declares; a query whose columns differ from the catalog's is a defect and fails loudly.
public struct ReportRunner: Sendable {
    public let database: Database
    private let sql: [String: SQLFile]

    /// Loads every report's SQL once, at start; a file whose declared parameters are not the
    /// catalog entry's, in its order, is refused.
    public init(database: Database, reports: [ReportDefinition]) throws {
        self.database = database
        var sql: [String: SQLFile] = [:]
        for report in reports {
            let file = try SQLFile.load(report.sqlPath)
            let names = report.parameters.map(\.name)
            guard file.parameters == names else {
                throw SQLFile.Malformed(path: file.path, reason: "declares parameters \(file.parameters), its catalog entry \(names)")
            }
            sql[report.id] = file
        }
        self.sql = sql
    }

    public struct ColumnMismatch: Error, CustomStringConvertible {
        public var report: String
        public var expected: [String]
        public var actual: [String]
        public var description: String {
            "report \(report) returns columns \(actual) but its catalog entry declares \(expected)"
        }
    }

    /// Runs the report in a transaction whose patient-level reads row-level security limits to
    /// `scope`, the caller's (`RowScope(identity)`).
    public func run(_ report: ReportDefinition, binds: [String?], scope: RowScope) async throws -> ReportResult {
        guard let file = sql[report.id] else { throw SQLFile.Missing(path: report.sqlPath) }
        let values = Dictionary(uniqueKeysWithValues: zip(file.parameters, binds.map { $0 as (any PostgresDynamicTypeEncodable)? }))
        let query = try file.query(try file.render(), values)
        let expected = report.columns.map(\.name)
        let rows = try await database.withScope(scope) { connection in
            var result: [[ReportValue]] = []
            for try await row in try await connection.query(query, logger: database.logger) {
                let cells = row.makeRandomAccess()
                if result.isEmpty {
                    let actual = (0..<cells.count).map { cells[$0].columnName }
                    guard actual == expected else { throw ColumnMismatch(report: report.id, expected: expected, actual: actual) }
                }
                result.append(try report.columns.indices.map { try Self.decode(cells[$0], as: report.columns[$0].type) })
            }
            return result
        }
        return ReportResult(columns: report.columns, rows: rows)
    }

    /// The regional small-cell threshold (setting `small_cell_threshold`, default 5).
    public func smallCellThreshold() async throws -> Int {
        let rows = try await database.query("SELECT registry.setting_number('small_cell_threshold', 5)::int")
        for try await value in rows.decode(Int.self) { return value }
        return 5
    }

    static func decode(_ cell: PostgresCell, as type: ReportColumn.ValueType) throws -> ReportValue {
        switch type {
        case .text, .date, .month:
            return try cell.decode(String?.self).map(ReportValue.text) ?? .null
        case .integer:
            return try cell.decode(Int?.self).map(ReportValue.integer) ?? .null
        case .decimal:
            return try cell.decode(Decimal?.self).map(ReportValue.decimal) ?? .null
        }
    }
}
