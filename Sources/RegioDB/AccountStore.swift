import Foundation
import Logging
import PostgresNIO
import RegioCore

public struct UserSummary: Sendable, Equatable {
    public var id: Int64
    public var username: String
    public var displayName: String
    public var role: Role
    /// The facility or alliance code a facility or alliance user acts for.
    public var scope: String?
    public var createdAt: Date
    public var lastSignInAt: Date?
    public var lockedUntil: Date?
    public var disabledAt: Date?
}

/// What bounds sign-in and sessions (`registry.settings`).
public struct SessionPolicy: Sendable, Equatable {
    public var idleMinutes: Int
    public var absoluteHours: Int
    public var lockoutFailures: Int
    public var lockoutMinutes: Int

    public static let defaults = SessionPolicy(idleMinutes: 30, absoluteHours: 12, lockoutFailures: 5, lockoutMinutes: 15)
}

/// A signed-in browser: who, and the token its forms must carry.
public struct WebSession: Sendable, Equatable {
    public var identity: Identity
    public var displayName: String
    public var csrfToken: String
}

/// Accounts for people (`accounts.users`, `accounts.sessions`): add, list, disable, reset a
/// password; sign-in attempts with lockout; sessions with idle and absolute expiry. Passwords
/// arrive hashed (bcrypt, by the caller); session ids are stored as SHA-256 only. Every change,
/// sign-in, failure and lockout writes its audit row in the same transaction.
public struct AccountStore: Sendable {
    public let database: Database

    public init(database: Database) {
        self.database = database
    }

    // MARK: Administration

    public func add(username: String, displayName: String, role: Role, scope: String?, passwordHash: String,
                    actor: String) async throws -> Int64 {
        let username = username.lowercased()
        guard Self.isValidUsername(username) else {
            throw RegistryError("a username is 2 to 64 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit")
        }
        switch (role.scopeKind, scope) {
        case (.some(let kind), nil): throw RegistryError("a \(role.rawValue) user needs the \(kind.rawValue) they act for")
        case (nil, .some): throw RegistryError("a \(role.rawValue) user is region-wide and takes no facility or alliance")
        default: break
        }
        return try await database.withTransaction { connection in
            let (facilityID, allianceID) = try await CredentialStore.scopeIDs(role: role, scope: scope, on: connection,
                                                                              logger: database.logger)
            let existing = try await connection.query("SELECT 1 FROM accounts.users WHERE username = \(username)", logger: database.logger)
            for try await _ in existing { throw RegistryError("user \(username) already exists") }
            let rows = try await connection.query("""
                INSERT INTO accounts.users (username, display_name, role, facility_id, alliance_id, password_hash)
                VALUES (\(username), \(displayName), \(role.rawValue), \(facilityID), \(allianceID), \(passwordHash))
                RETURNING id
                """, logger: database.logger)
            var id: Int64 = 0
            for try await value in rows.decode(Int64.self) { id = value }
            try await AuditLog.record(actor: actor, action: "user.add", subject: username,
                                      detail: ["role": role.rawValue, "scope": scope ?? ""], on: connection, logger: database.logger)
            return id
        }
    }

    public func list() async throws -> [UserSummary] {
        let rows = try await database.query("""
            SELECT u.id, u.username, u.display_name, u.role, coalesce(f.code, a.code), u.created_at, u.last_sign_in_at,
                   CASE WHEN u.locked_until > now() THEN u.locked_until END, u.disabled_at
            FROM accounts.users u
            LEFT JOIN registry.facilities f ON f.id = u.facility_id
            LEFT JOIN registry.alliances a ON a.id = u.alliance_id
            ORDER BY u.username
            """)
        var users: [UserSummary] = []
        for try await row in rows.decode((Int64, String, String, String, String?, Date, Date?, Date?, Date?).self) {
            users.append(UserSummary(id: row.0, username: row.1, displayName: row.2, role: Role(rawValue: row.3)!, scope: row.4,
                                     createdAt: row.5, lastSignInAt: row.6, lockedUntil: row.7, disabledAt: row.8))
        }
        return users
    }

    /// Disables (or enables again) an account; disabling ends its sessions.
    public func setDisabled(username: String, _ disabled: Bool, actor: String) async throws {
        try await database.withTransaction { connection in
            let id = try await userID(username, on: connection)
            try await connection.query("""
                UPDATE accounts.users SET disabled_at = CASE WHEN \(disabled) THEN coalesce(disabled_at, now()) END WHERE id = \(id)
                """, logger: database.logger)
            if disabled { try await endSessions(of: id, on: connection) }
            try await AuditLog.record(actor: actor, action: disabled ? "user.disable" : "user.enable", subject: username.lowercased(),
                                      detail: [:], on: connection, logger: database.logger)
        }
    }

    /// Sets a new password, lifts a lockout and ends the account's sessions.
    public func resetPassword(username: String, passwordHash: String, actor: String) async throws {
        try await database.withTransaction { connection in
            let id = try await userID(username, on: connection)
            try await connection.query("""
                UPDATE accounts.users SET password_hash = \(passwordHash), password_changed_at = now(), failed_attempts = 0,
                       locked_until = NULL
                WHERE id = \(id)
                """, logger: database.logger)
            try await endSessions(of: id, on: connection)
            try await AuditLog.record(actor: actor, action: "user.reset-password", subject: username.lowercased(), detail: [:],
                                      on: connection, logger: database.logger)
        }
    }

    // MARK: Sign-in

    /// What a sign-in needs to know of an account before checking the password.
    public struct Candidate: Sendable {
        public var id: Int64
        public var passwordHash: String
        public var disabled: Bool
        public var lockedUntil: Date?
    }

    public func candidate(username: String) async throws -> Candidate? {
        let rows = try await database.query("""
            SELECT id, password_hash, disabled_at IS NOT NULL, CASE WHEN locked_until > now() THEN locked_until END
            FROM accounts.users WHERE username = \(username.lowercased())
            """)
        for try await row in rows.decode((Int64, String, Bool, Date?).self) {
            return Candidate(id: row.0, passwordHash: row.1, disabled: row.2, lockedUntil: row.3)
        }
        return nil
    }

    /// A failed sign-in: counted against the account (when there is one), which is locked at the
    /// policy's number of failures in a row. Returns when the account is now locked until.
    @discardableResult
    public func recordFailure(username: String, reason: String, address: String?) async throws -> Date? {
        let username = username.lowercased()
        let policy = try await policy()
        return try await database.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE accounts.users
                SET failed_attempts = failed_attempts + 1,
                    locked_until = CASE WHEN failed_attempts + 1 >= \(policy.lockoutFailures)
                                        THEN now() + make_interval(mins => \(policy.lockoutMinutes)::int) ELSE locked_until END
                WHERE username = \(username) AND disabled_at IS NULL AND coalesce(locked_until <= now(), true)
                RETURNING failed_attempts, CASE WHEN failed_attempts >= \(policy.lockoutFailures) THEN locked_until END
                """, logger: database.logger)
            var lockedUntil: Date?
            var attempts = 0
            for try await row in rows.decode((Int, Date?).self) { (attempts, lockedUntil) = row }
            // A username that is not an account is audited under a fixed subject: it may be a password typed into the wrong field.
            let known = try await connection.query("SELECT 1 FROM accounts.users WHERE username = \(username)", logger: database.logger)
            var exists = false
            for try await _ in known { exists = true }
            try await AuditLog.record(actor: "sign-in", action: "sign-in.failure", subject: exists ? username : "(unknown user)",
                                      detail: ["reason": reason, "address": address ?? "", "attempts": "\(attempts)"],
                                      on: connection, logger: database.logger)
            if let lockedUntil {
                try await connection.query("""
                    UPDATE accounts.users SET failed_attempts = 0 WHERE username = \(username)
                    """, logger: database.logger)
                try await AuditLog.record(actor: "sign-in", action: "sign-in.lockout", subject: username,
                                          detail: ["address": address ?? "", "minutes": "\(policy.lockoutMinutes)"],
                                          on: connection, logger: database.logger)
            }
            return lockedUntil
        }
    }

    /// A successful sign-in: clears the failures and starts a session. Returns the session's
    /// cookie value (shown once; stored hashed) and its CSRF token.
    public func startSession(userID: Int64, address: String?) async throws -> (cookie: String, csrf: String) {
        let cookie = AccessToken.generate()
        let csrf = AccessToken.generate()
        try await database.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE accounts.users SET failed_attempts = 0, locked_until = NULL, last_sign_in_at = now()
                WHERE id = \(userID) RETURNING username
                """, logger: database.logger)
            var username = ""
            for try await name in rows.decode(String.self) { username = name }
            try await connection.query("""
                INSERT INTO accounts.sessions (id_hash, user_id, csrf_token) VALUES (\(AccessToken.hash(cookie)), \(userID), \(csrf))
                """, logger: database.logger)
            try await AuditLog.record(actor: "user:\(username)", action: "sign-in", subject: username,
                                      detail: ["address": address ?? ""], on: connection, logger: database.logger)
        }
        return (cookie, csrf)
    }

    /// The session a cookie names, if it is open and within the idle and absolute limits; its
    /// last-seen time moves on. A session past either limit is ended here.
    public func session(cookie: String) async throws -> WebSession? {
        let policy = try await policy()
        let hash = AccessToken.hash(cookie)
        return try await database.withTransaction { connection -> WebSession? in
            let rows = try await connection.query("""
                UPDATE accounts.sessions s
                SET last_seen_at = now(),
                    ended_at = CASE WHEN s.last_seen_at < now() - make_interval(mins => \(policy.idleMinutes)::int)
                                      OR s.created_at < now() - make_interval(hours => \(policy.absoluteHours)::int)
                                      OR u.disabled_at IS NOT NULL
                                    THEN now() END
                FROM accounts.users u
                WHERE s.id_hash = \(hash) AND s.ended_at IS NULL AND u.id = s.user_id
                RETURNING s.ended_at IS NULL, u.id, u.username, u.display_name, u.role, s.csrf_token,
                          (SELECT code FROM registry.facilities WHERE id = u.facility_id),
                          (SELECT code FROM registry.alliances WHERE id = u.alliance_id)
                """, logger: database.logger)
            for try await row in rows.decode((Bool, Int64, String, String, String, String, String?, String?).self) where row.0 {
                let identity = Identity(tokenID: 0, role: Role(rawValue: row.4)!, facilityCode: row.6, allianceCode: row.7,
                                        label: row.2, userID: row.1)
                return WebSession(identity: identity, displayName: row.3, csrfToken: row.5)
            }
            return nil
        }
    }

    /// Sign-out: ends the session the cookie names.
    public func endSession(cookie: String) async throws {
        try await database.withTransaction { connection in
            let rows = try await connection.query("""
                UPDATE accounts.sessions s SET ended_at = now() FROM accounts.users u
                WHERE s.id_hash = \(AccessToken.hash(cookie)) AND s.ended_at IS NULL AND u.id = s.user_id
                RETURNING u.username
                """, logger: database.logger)
            for try await username in rows.decode(String.self) {
                try await AuditLog.record(actor: "user:\(username)", action: "sign-out", subject: username, detail: [:],
                                          on: connection, logger: database.logger)
            }
        }
    }

    public func policy() async throws -> SessionPolicy {
        let rows = try await database.query("""
            SELECT key, value FROM registry.settings
            WHERE key IN ('session_idle_minutes', 'session_absolute_hours', 'sign_in_lockout_failures', 'sign_in_lockout_minutes')
            """)
        var policy = SessionPolicy.defaults
        for try await (key, value) in rows.decode((String, String).self) {
            guard let number = Int(value), number > 0 else { continue }
            switch key {
            case "session_idle_minutes": policy.idleMinutes = number
            case "session_absolute_hours": policy.absoluteHours = number
            case "sign_in_lockout_failures": policy.lockoutFailures = number
            case "sign_in_lockout_minutes": policy.lockoutMinutes = number
            default: break
            }
        }
        return policy
    }

    public static func isValidUsername(_ username: String) -> Bool {
        (2...64).contains(username.count) && username.first.map { $0.isASCII && ($0.isLetter || $0.isNumber) } == true
            && username.allSatisfy { $0.isASCII && ($0.isLowercase || $0.isNumber || ".-_".contains($0)) }
    }

    private func userID(_ username: String, on connection: PostgresConnection) async throws -> Int64 {
        let rows = try await connection.query("SELECT id FROM accounts.users WHERE username = \(username.lowercased())",
                                              logger: database.logger)
        for try await id in rows.decode(Int64.self) { return id }
        throw RegistryError("no user \(username)")
    }

    private func endSessions(of user: Int64, on connection: PostgresConnection) async throws {
        try await connection.query("UPDATE accounts.sessions SET ended_at = now() WHERE user_id = \(user) AND ended_at IS NULL",
                                   logger: database.logger)
    }
}
