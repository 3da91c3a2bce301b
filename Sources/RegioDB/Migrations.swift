import Foundation
import Logging
import PostgresNIO
import RegioCore

/// One file of `sql/migrations`, named `NNNN_name.sql`.
public struct Migration: Sendable, Equatable {
    public var version: Int
    public var name: String
    public var sql: String
    /// SHA-256 of the file's text: an applied migration whose file changed since is refused.
    public var checksum: String

    public init(version: Int, name: String, sql: String) {
        self.version = version
        self.name = name
        self.sql = sql
        self.checksum = sha256Hex(sql)
    }

    /// Reads every `NNNN_name.sql` in a folder, in version order.
    public static func load(from folder: URL) throws -> [Migration] {
        let files = try FileManager.default.contentsOfDirectory(atPath: folder.path).filter { $0.hasSuffix(".sql") }
        var migrations: [Migration] = []
        for file in files {
            let stem = String(file.dropLast(4))
            guard let underscore = stem.firstIndex(of: "_"), let version = Int(stem[..<underscore]),
                  stem[..<underscore].count == 4 else {
                throw MigrationError.badFileName(file)
            }
            let text = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            migrations.append(Migration(version: version, name: String(stem[stem.index(after: underscore)...]), sql: text))
        }
        migrations.sort { $0.version < $1.version }
        for (a, b) in zip(migrations, migrations.dropFirst()) where a.version == b.version {
            throw MigrationError.duplicateVersion(a.version)
        }
        return migrations
    }

    /// The migrations shipped with this build.
    public static func bundled() throws -> [Migration] {
        try load(from: SQLFile.root.appendingPathComponent("migrations", isDirectory: true))
    }
}

public enum MigrationError: Error, CustomStringConvertible, Equatable {
    case badFileName(String)
    case duplicateVersion(Int)
    /// An applied migration's file was edited afterwards.
    case checksumMismatch(version: Int, name: String)
    /// The database has a migration this build does not know: it was migrated by a newer Regio.
    case unknownApplied(version: Int, name: String)
    case failed(version: Int, name: String, statement: Int, message: String)

    public var description: String {
        switch self {
        case .badFileName(let file):
            "migration file \(file) is not named NNNN_name.sql"
        case .duplicateVersion(let version):
            "two migration files have version \(version)"
        case .checksumMismatch(let version, let name):
            "migration \(version) (\(name)) was edited after it was applied; restore the file and add a new migration instead"
        case .unknownApplied(let version, let name):
            "the database has migration \(version) (\(name)) that this build does not know; run a newer Regio"
        case .failed(let version, let name, let statement, let message):
            "migration \(version) (\(name)) failed at statement \(statement): \(message)"
        }
    }
}

public struct MigrationStatus: Sendable, Equatable {
    public enum State: Sendable, Equatable {
        case applied(Date)
        case pending
        case modified(Date)
        case unknown(Date)
    }
    public var version: Int
    public var name: String
    public var state: State
}

/// Applies migrations in order, each in its own transaction, holding a PostgreSQL advisory lock so
/// that two instances starting at once do not race: the second waits, then finds nothing to do.
public struct MigrationRunner: Sendable {
    /// Arbitrary, fixed: the advisory lock key all Regio instances agree on ("regio" in ASCII).
    static let lockKey: Int64 = 0x7265_6769_6f
    public let migrations: [Migration]

    public init(migrations: [Migration]) {
        self.migrations = migrations
    }

    /// Applies the pending migrations and, when any ran, rebuilds the rollups and referral
    /// findings (`Rollups.rebuildAll`): a migration may change what they hold, and data loaded
    /// before it must not keep the old shape. Returns the migrations applied.
    @discardableResult
    public func upgrade(_ database: Database) async throws -> [Migration] {
        let applied = try await apply(on: database)
        if !applied.isEmpty { try await Rollups.rebuildAll(database) }
        return applied
    }

    /// Applies what is pending and returns it; refuses before applying anything if the database
    /// disagrees with the files about what was applied.
    @discardableResult
    public func apply(on database: Database) async throws -> [Migration] {
        try await database.withConnection { connection in
            try await withAdvisoryLock(connection, logger: database.logger) {
                try await createBookkeeping(connection, logger: database.logger)
                let applied = try await appliedMigrations(connection, logger: database.logger)
                try verify(applied)
                let pending = migrations.filter { applied[$0.version] == nil }
                for migration in pending {
                    try await run(migration, on: connection, logger: database.logger)
                }
                try await Self.grantServiceRoles(on: connection, logger: database.logger)
                return pending
            }
        }
    }

    /// Gives the service roles that exist their grants (migration 0014's
    /// `registry.grant_service_roles`) and row-level security policies (migration 0023's
    /// `registry.apply_row_security`): every migration run ends with it, so a role created since
    /// the last one gets them. A DO block, since a function that does not exist yet cannot even be planned.
    public static func grantServiceRoles(on connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            DO $$ BEGIN
                IF to_regprocedure('registry.grant_service_roles()') IS NOT NULL THEN PERFORM registry.grant_service_roles(); END IF;
                IF to_regprocedure('registry.apply_row_security()') IS NOT NULL THEN PERFORM registry.apply_row_security(); END IF;
            END $$
            """, logger: logger)
    }

    public static func grantServiceRoles(on database: Database) async throws {
        try await database.withConnection { try await grantServiceRoles(on: $0, logger: database.logger) }
    }

    public func status(on database: Database) async throws -> [MigrationStatus] {
        try await database.withConnection { connection in
            let applied = try await appliedMigrations(connection, logger: database.logger)
            var result = migrations.map { migration -> MigrationStatus in
                guard let row = applied[migration.version] else {
                    return MigrationStatus(version: migration.version, name: migration.name, state: .pending)
                }
                let state: MigrationStatus.State = row.checksum == migration.checksum ? .applied(row.at) : .modified(row.at)
                return MigrationStatus(version: migration.version, name: migration.name, state: state)
            }
            let known = Set(migrations.map(\.version))
            for (version, row) in applied where !known.contains(version) {
                result.append(MigrationStatus(version: version, name: row.name, state: .unknown(row.at)))
            }
            return result.sorted { $0.version < $1.version }
        }
    }

    /// True when every migration is applied unchanged (what `/ready` asks).
    public func isCurrent(on database: Database) async throws -> Bool {
        try await status(on: database).allSatisfy {
            if case .applied = $0.state { true } else { false }
        }
    }

    private func verify(_ applied: [Int: AppliedRow]) throws {
        for migration in migrations {
            if let row = applied[migration.version], row.checksum != migration.checksum {
                throw MigrationError.checksumMismatch(version: migration.version, name: migration.name)
            }
        }
        let known = Set(migrations.map(\.version))
        if let extra = applied.keys.sorted().first(where: { !known.contains($0) }) {
            throw MigrationError.unknownApplied(version: extra, name: applied[extra]!.name)
        }
    }

    private func run(_ migration: Migration, on connection: PostgresConnection, logger: Logger) async throws {
        logger.info("applying migration", metadata: ["version": "\(migration.version)", "name": "\(migration.name)"])
        let statements = SQLScript.statements(in: migration.sql)
        try await connection.query("BEGIN", logger: logger)
        do {
            for (index, statement) in statements.enumerated() {
                do {
                    // A statement's error can come with its first row (`SELECT f()`): read them all.
                    for try await _ in try await connection.query(PostgresQuery(unsafeSQL: statement), logger: logger) {}
                } catch let error as PSQLError {
                    throw MigrationError.failed(version: migration.version, name: migration.name,
                                                statement: index + 1, message: error.serverInfo?[.message] ?? "\(error)")
                }
            }
            try await connection.query("""
                INSERT INTO public.regio_migrations (version, name, checksum)
                VALUES (\(migration.version), \(migration.name), \(migration.checksum))
                """, logger: logger)
            try await connection.query("COMMIT", logger: logger)
        } catch {
            _ = try? await connection.query("ROLLBACK", logger: logger)
            throw error
        }
    }

    private struct AppliedRow { var name: String; var checksum: String; var at: Date }

    private func appliedMigrations(_ connection: PostgresConnection, logger: Logger) async throws -> [Int: AppliedRow] {
        var applied: [Int: AppliedRow] = [:]
        let exists = try await connection.query(
            "SELECT to_regclass('public.regio_migrations') IS NOT NULL", logger: logger)
        for try await present in exists.decode(Bool.self) where !present { return [:] }
        let rows = try await connection.query(
            "SELECT version, name, checksum, applied_at FROM public.regio_migrations", logger: logger)
        for try await (version, name, checksum, at) in rows.decode((Int, String, String, Date).self) {
            applied[version] = AppliedRow(name: name, checksum: checksum, at: at)
        }
        return applied
    }

    private func createBookkeeping(_ connection: PostgresConnection, logger: Logger) async throws {
        try await connection.query("""
            CREATE TABLE IF NOT EXISTS public.regio_migrations (
                version    integer PRIMARY KEY,
                name       text NOT NULL,
                checksum   text NOT NULL,
                applied_at timestamptz NOT NULL DEFAULT now()
            )
            """, logger: logger)
    }

    private func withAdvisoryLock<T: Sendable>(
        _ connection: PostgresConnection, logger: Logger, _ body: () async throws -> T
    ) async throws -> T {
        try await connection.query("SELECT pg_advisory_lock(\(Self.lockKey))", logger: logger)
        do {
            let result = try await body()
            try await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            return result
        } catch {
            _ = try? await connection.query("SELECT pg_advisory_unlock(\(Self.lockKey))", logger: logger)
            throw error
        }
    }
}
