import ArgumentParser
import Foundation
import RegioDB

struct AuditCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "audit", abstract: "The audit trail: check that no row was edited or removed.", subcommands: [Verify.self])

    struct Verify: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Recompute the hash chain of audit.events and audit.lookups; print each table's rows and newest hash, and every row that was edited or whose predecessor was removed. Exits 1 when any was.")

        func run() async throws {
            try await withCommandDatabase { database, _ in
                var broken = false
                for table in try await AuditLog.verify(database) {
                    print("\(table.table): \(table.rows) rows, newest hash \(table.head ?? "-"), "
                          + (table.problems.isEmpty ? "chain intact" : "\(table.problems.count) problem(s)"))
                    for (id, problem) in table.problems { print("  row \(id): \(problem)") }
                    broken = broken || !table.problems.isEmpty
                }
                if broken { throw ExitCode(1) }
            }
        }
    }
}
