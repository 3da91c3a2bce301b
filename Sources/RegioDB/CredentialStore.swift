import Foundation
import Logging
import PostgresNIO
import RegioCore

public struct CredentialSummary: Sendable, Equatable {
    public var id: Int64
    public var role: Role
    public var scope: String?
    public var label: String
    public var createdAt: Date
    public var expiresAt: Date?
    public var revokedAt: Date?
}

/// Bearer credentials: issue (the token is returned once), list, revoke, and authenticate.
public struct CredentialStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    /// Issues a token for `role`, scoped to a facility or alliance code where the role needs one.
    /// `managesAgreements`: an alliance token that may also change its alliance's agreements.
    /// Returns the credential id and the token, which is not stored and cannot be shown again.
    public func issue(role: Role, scope: String?, label: String, expiresAt: Date?, managesAgreements: Bool = false,
                      actor: String) async throws -> (id: Int64, token: String) {
        switch (role.scopeKind, scope) {
        case (.some(let kind), nil): throw RegistryError("a \(role.rawValue) token needs the \(kind.rawValue) it acts for")
        case (nil, .some): throw RegistryError("a \(role.rawValue) token is region-wide and takes no facility or alliance")
        default: break
        }
        if managesAgreements, role != .alliance { throw RegistryError("only an alliance token can manage agreements") }
        let token = AccessToken.generate()
        let hash = AccessToken.hash(token)
        let id = try await database.withTransaction { connection -> Int64 in
            let (facilityID, allianceID) = try await Self.scopeIDs(role: role, scope: scope, on: connection, logger: database.logger)
            let rows = try await connection.query("""
                INSERT INTO registry.credentials (token_hash, role, facility_id, alliance_id, label, expires_at, manages_agreements)
                VALUES (\(hash), \(role.rawValue), \(facilityID), \(allianceID), \(label), \(expiresAt), \(managesAgreements))
                RETURNING id
                """, logger: database.logger)
            var id: Int64 = 0
            for try await value in rows.decode(Int64.self) { id = value }
            try await AuditLog.record(actor: actor, action: "token.issue", subject: "\(id)",
                                      detail: ["role": role.rawValue, "scope": scope ?? "", "label": label,
                                               "manages_agreements": "\(managesAgreements)"],
                                      on: connection, logger: database.logger)
            return id
        }
        return (id, token)
    }

    public func list() async throws -> [CredentialSummary] {
        var result: [CredentialSummary] = []
        let rows = try await database.query("""
            SELECT c.id, c.role, coalesce(f.code, a.code), c.label, c.created_at, c.expires_at, c.revoked_at
            FROM registry.credentials c
            LEFT JOIN registry.facilities f ON f.id = c.facility_id
            LEFT JOIN registry.alliances a ON a.id = c.alliance_id
            ORDER BY c.id
            """)
        for try await row in rows.decode((Int64, String, String?, String, Date, Date?, Date?).self) {
            result.append(CredentialSummary(id: row.0, role: Role(rawValue: row.1)!, scope: row.2, label: row.3,
                                            createdAt: row.4, expiresAt: row.5, revokedAt: row.6))
        }
        return result
    }

    public func revoke(id: Int64, actor: String) async throws {
        try await database.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE registry.credentials SET revoked_at = coalesce(revoked_at, now()) WHERE id = \(id) RETURNING 1
                """, logger: database.logger)
            var found = false
            for try await _ in rows { found = true }
            guard found else { throw RegistryError("no credential has id \(id)") }
            try await AuditLog.record(actor: actor, action: "token.revoke", subject: "\(id)", detail: [:],
                                      on: connection, logger: database.logger)
        }
    }

    public enum Verdict: Sendable, Equatable {
        case valid(Identity)
        case unknown, revoked, expired
    }

    /// Looks a presented token up by its hash.
    public func authenticate(token: String) async throws -> Verdict {
        let rows = try await database.query("""
            SELECT c.id, c.role, f.code, a.code, c.label, c.revoked_at IS NOT NULL, coalesce(c.expires_at <= now(), false), c.manages_agreements
            FROM registry.credentials c
            LEFT JOIN registry.facilities f ON f.id = c.facility_id
            LEFT JOIN registry.alliances a ON a.id = c.alliance_id
            WHERE c.token_hash = \(AccessToken.hash(token))
            """)
        for try await row in rows.decode((Int64, String, String?, String?, String, Bool, Bool, Bool).self) {
            if row.5 { return .revoked }
            if row.6 { return .expired }
            return .valid(Identity(tokenID: row.0, role: Role(rawValue: row.1)!, facilityCode: row.2,
                                   allianceCode: row.3, label: row.4, managesAgreements: row.7))
        }
        return .unknown
    }

    /// The registry ids of the facility or alliance a credential or account of `role` acts for.
    static func scopeIDs(role: Role, scope: String?, on connection: PostgresConnection,
                         logger: Logger) async throws -> (facility: Int?, alliance: Int?) {
        guard let scope, let kind = role.scopeKind else { return (nil, nil) }
        let rows = switch kind {
        case .facility: try await connection.query("SELECT id FROM registry.facilities WHERE code = \(scope)", logger: logger)
        case .alliance: try await connection.query("SELECT id FROM registry.alliances WHERE code = \(scope)", logger: logger)
        }
        for try await id in rows.decode(Int.self) { return kind == .facility ? (id, nil) : (nil, id) }
        throw RegistryError("\(kind.rawValue) \(scope) is not registered")
    }
}
