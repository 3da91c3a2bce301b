import ArgumentParser
import Foundation
import RegioApp
import RegioCore
import RegioDB

struct TokenCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "token", abstract: "API credentials: issue, list, revoke.", subcommands: [Issue.self, List.self, Revoke.self])

    struct Issue: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Issue a bearer token; it is printed once and only its hash is kept.")
        @Option(help: "facility, alliance, bureau, steward or admin.") var role: Role
        @Option(help: "Facility code (required for --role facility).") var facility: String?
        @Option(help: "Alliance code (required for --role alliance).") var alliance: String?
        @Option(help: "Who or what the token is for.") var label: String?
        @Option(help: "Expiry date YYYY-MM-DD (the token ends at the start of that day, UTC).") var expires: String?
        @Flag(help: "An alliance token that may also change its alliance's agreed prices and commitments.") var managesAgreements = false

        func validate() throws {
            if facility != nil, alliance != nil { throw ValidationError("give --facility or --alliance, not both") }
            if managesAgreements, role != .alliance { throw ValidationError("--manages-agreements is for alliance tokens") }
            if let expires, CalendarDate(expires) == nil { throw ValidationError("--expires must be a date YYYY-MM-DD") }
        }

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            let expiry: Date? = expires.flatMap {
                let formatter = ISO8601DateFormatter()
                formatter.formatOptions = [.withFullDate]
                return formatter.date(from: $0)
            }
            let scope = facility ?? alliance
            let label = self.label ?? "\(role.rawValue)\(scope.map { " \($0)" } ?? "")"
            try await reportingFailure {
                let issued = try await withDatabase(url, logger: environment.logger) { database in
                    try await CredentialStore(database: database).issue(
                        role: role, scope: scope, label: label, expiresAt: expiry, managesAgreements: managesAgreements,
                        actor: environment.actor)
                }
                FileHandle.standardError.write(Data("token \(issued.id) issued; it is shown only now:\n".utf8))
                print(issued.token)
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List credentials (never the tokens).")
        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                let credentials = try await withDatabase(url, logger: environment.logger) {
                    try await CredentialStore(database: $0).list()
                }
                for c in credentials {
                    let state = if c.revokedAt != nil { "revoked" }
                        else if let expires = c.expiresAt, expires <= Date() { "expired" }
                        else { "active" }
                    print(String(c.id).padding(toLength: 5, withPad: " ", startingAt: 0),
                          c.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                          (c.scope ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0),
                          state.padding(toLength: 8, withPad: " ", startingAt: 0),
                          c.expiresAt.map { "expires \($0.formatted(.iso8601))" } ?? "no expiry",
                          " ", c.label)
                }
            }
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a credential by id; it stops working at once.")
        @Argument var id: Int64

        func run() async throws {
            let environment = try Environment.load()
            let url = try environment.databaseURL()
            try await reportingFailure {
                try await withDatabase(url, logger: environment.logger) { database in
                    try await CredentialStore(database: database).revoke(id: id, actor: environment.actor)
                }
                print("credential \(id) revoked")
            }
        }
    }
}
