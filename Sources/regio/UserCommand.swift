import ArgumentParser
import Foundation
import RegioCore
import RegioDB
import RegioQuery

struct UserCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "user", abstract: "People's dashboard accounts: add, list, disable, enable, reset a password.",
        subcommands: [Add.self, List.self, Disable.self, Enable.self, ResetPassword.self])

    struct Add: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Add an account. Its password is read from standard input (one line) or, with --generate-password, made and printed once.")
        @Argument(help: "Username: 2–64 of a-z 0-9 . _ -") var username: String
        @Option(help: "facility, alliance, bureau, steward or admin.") var role: Role
        @Option(help: "Facility code (required for --role facility).") var facility: String?
        @Option(help: "Alliance code (required for --role alliance).") var alliance: String?
        @Option(help: "The person's name as pages show it.") var name: String?
        @Flag(help: "Generate a password and print it once, instead of reading one from standard input.") var generatePassword = false

        func validate() throws {
            if facility != nil, alliance != nil { throw ValidationError("give --facility or --alliance, not both") }
        }

        func run() async throws {
            let password = try readPassword(generate: generatePassword, username: username)
            try await withCommandDatabase { database, environment in
                let hash = try await Passwords.hash(password)
                let id = try await AccountStore(database: database).add(
                    username: username, displayName: name ?? username, role: role, scope: facility ?? alliance, passwordHash: hash,
                    actor: environment.actor)
                FileHandle.standardError.write(Data("user \(username.lowercased()) added (id \(id))\n".utf8))
                if generatePassword { print(password) }
            }
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List accounts (never their passwords).")
        func run() async throws {
            try await withCommandDatabase { database, _ in
                for user in try await AccountStore(database: database).list() {
                    let state = user.disabledAt != nil ? "disabled" : user.lockedUntil != nil ? "locked" : "enabled"
                    print(user.username.padding(toLength: 20, withPad: " ", startingAt: 0),
                          user.role.rawValue.padding(toLength: 9, withPad: " ", startingAt: 0),
                          (user.scope ?? "-").padding(toLength: 12, withPad: " ", startingAt: 0),
                          state.padding(toLength: 9, withPad: " ", startingAt: 0),
                          user.lastSignInAt.map { "last sign-in \($0.formatted(.iso8601))" } ?? "never signed in",
                          " ", user.displayName)
                }
            }
        }
    }

    struct Disable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Disable an account; its sessions end at once.")
        @Argument var username: String
        func run() async throws {
            try await withCommandDatabase { database, environment in
                try await AccountStore(database: database).setDisabled(username: username, true, actor: environment.actor)
            }
        }
    }

    struct Enable: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Enable a disabled account again.")
        @Argument var username: String
        func run() async throws {
            try await withCommandDatabase { database, environment in
                try await AccountStore(database: database).setDisabled(username: username, false, actor: environment.actor)
            }
        }
    }

    struct ResetPassword: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "reset-password",
            abstract: "Set a new password (standard input, or --generate-password), lift a lockout and end the account's sessions.")
        @Argument var username: String
        @Flag(help: "Generate a password and print it once.") var generatePassword = false
        func run() async throws {
            let password = try readPassword(generate: generatePassword, username: username)
            try await withCommandDatabase { database, environment in
                try await AccountStore(database: database).resetPassword(username: username, passwordHash: try await Passwords.hash(password),
                                                                         actor: environment.actor)
                if generatePassword { print(password) }
            }
        }
    }
}

/// A new password: generated, or one line of standard input that meets `Passwords.problem`.
private func readPassword(generate: Bool, username: String) throws -> String {
    if generate { return Passwords.generate() }
    guard let line = readLine(strippingNewline: true) else {
        throw ValidationError("give the password on standard input, or --generate-password")
    }
    if let problem = Passwords.problem(with: line, username: username) { throw ValidationError(problem) }
    return line
}
