/// Who is calling. A credential carries exactly one role and, for `facility` and `alliance`,
/// the one facility or alliance it is scoped to (see DESIGN.md, Roles).
public enum Role: String, Sendable, Codable, CaseIterable {
    /// A hospital: its nightly upload and its own staff's lookups.
    case facility
    /// Analysts of one procurement alliance: their members' purchase data.
    case alliance
    /// Regional health bureau analysts: aggregates over the whole region.
    case bureau
    /// Data steward: reviews patient links and keeps the registry right.
    case steward
    /// Operators of the platform.
    case admin

    /// Whether a credential of this role must name the facility or alliance it acts for.
    public var scopeKind: ScopeKind? {
        switch self {
        case .facility: .facility
        case .alliance: .alliance
        case .bureau, .steward, .admin: nil
        }
    }

    public enum ScopeKind: String, Sendable { case facility, alliance }
}

/// An authenticated caller, as resolved from a bearer token or a person's dashboard session.
public struct Identity: Sendable, Equatable {
    public var tokenID: Int64
    public var role: Role
    /// Set for `facility` tokens: the facility code it acts for.
    public var facilityCode: String?
    /// Set for `alliance` tokens: the alliance code it acts for.
    public var allianceCode: String?
    public var label: String
    /// An alliance token that may also change its alliance's agreed prices and commitments.
    public var managesAgreements: Bool
    /// Set for a person signed in to the dashboard (`tokenID` is then 0): their user id.
    public var userID: Int64?

    public init(tokenID: Int64, role: Role, facilityCode: String? = nil, allianceCode: String? = nil, label: String,
                managesAgreements: Bool = false, userID: Int64? = nil) {
        self.userID = userID
        self.tokenID = tokenID
        self.role = role
        self.facilityCode = facilityCode
        self.allianceCode = allianceCode
        self.label = label
        self.managesAgreements = managesAgreements
    }
}

/// Which facilities' patient-level rows a transaction of the query service may see: PostgreSQL's
/// row-level security reads it from the setting `regio.scope` (migration 0023), which
/// `Database.withScope` sets for the transaction. Without one, the query roles see no such row.
public struct RowScope: Sendable, Equatable, CustomStringConvertible {
    /// The setting's value: `*`, `facility:<code>` or `alliance:<code>`.
    public let description: String

    /// The whole region: the bureau, stewards and administrators.
    public static let region = RowScope(description: "*")
    public static func facility(_ code: String) -> RowScope { RowScope(description: "facility:\(code)") }
    public static func alliance(_ code: String) -> RowScope { RowScope(description: "alliance:\(code)") }

    /// What a caller's credential reaches: its facility, its alliance's members, or (regional
    /// roles) the region.
    public init(_ identity: Identity) {
        switch identity.role {
        case .facility: self = .facility(identity.facilityCode ?? "")
        case .alliance: self = .alliance(identity.allianceCode ?? "")
        case .bureau, .steward, .admin: self = .region
        }
    }

    private init(description: String) { self.description = description }
}
