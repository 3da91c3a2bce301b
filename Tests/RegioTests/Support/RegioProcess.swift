import Foundation
import RegioApp
import RegioCore

/// The built `regio` executable, run as a user would run it.
enum RegioProcess {
    static var executable: String {
        get throws {
            let beside = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("regio")
            if FileManager.default.isExecutableFile(atPath: beside.path) { return beside.path }
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
                .deletingLastPathComponent().deletingLastPathComponent()
            let built = root.appendingPathComponent(".build/debug/regio")
            guard FileManager.default.isExecutableFile(atPath: built.path) else {
                throw TestSetupError("cannot find the regio executable beside the tests or in .build/debug")
            }
            return built.path
        }
    }

    /// Runs `regio arguments…` with only the given REGIO_ variables set (plus PATH, USER and HOME).
    static func run(_ arguments: [String], database: DatabaseURL? = nil, environment: [String: String] = [:]) throws -> Subprocess.Output {
        var env = ["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin", "USER": "tester",
                   "HOME": NSTemporaryDirectory(), "REGIO_LOG_LEVEL": "warning"]
        if let database { env["REGIO_DATABASE_URL"] = database.urlString }
        env.merge(environment) { _, new in new }
        return try Subprocess.capture(try executable, arguments, environment: env)
    }
}
