import Foundation

/// Runs a program to completion and collects what it printed.
///
/// Plain `posix_spawn` and `waitpid`, with output going to temporary files: `pg_ctl start` leaves
/// a server running that must not inherit a pipe we wait on, and Foundation's `Process` was seen
/// to hang here waiting for it.
public enum Subprocess {
    public struct Output: Sendable {
        public var status: Int32
        public var stdout: String
        public var stderr: String
    }

    public struct Failure: Error, CustomStringConvertible {
        public var command: String
        public var output: Output
        public var description: String {
            "\(command) exited with status \(output.status):\n\(output.stdout)\(output.stderr)"
        }
    }

    /// Runs the program; a non-zero exit is a `Failure` carrying the output.
    @discardableResult
    public static func run(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> String {
        let output = try capture(executable, arguments, environment: environment)
        guard output.status == 0 else {
            throw Failure(command: ([executable] + arguments).joined(separator: " "), output: output)
        }
        return output.stdout + output.stderr
    }

    /// Runs the program and returns its exit status and output, whatever the status.
    /// `environment` replaces the inherited one when given.
    public static func capture(_ executable: String, _ arguments: [String], environment: [String: String]? = nil) throws -> Output {
        let base = FileManager.default.temporaryDirectory.appendingPathComponent("regio-\(UUID().uuidString)").path
        let outPath = base + ".out", errPath = base + ".err"
        defer { unlink(outPath); unlink(errPath) }

        var actions = posix_spawn_file_actions_t()
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_addopen(&actions, 1, outPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
        posix_spawn_file_actions_addopen(&actions, 2, errPath, O_WRONLY | O_CREAT | O_TRUNC, 0o644)

        let argv = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { argv.forEach { free($0) } }
        let envp = environment.map { $0.map { strdup("\($0.key)=\($0.value)") } + [nil] }
        defer { envp?.forEach { free($0) } }
        var pid: pid_t = 0
        let spawned = envp.map { posix_spawn(&pid, executable, &actions, nil, argv, $0) }
            ?? posix_spawn(&pid, executable, &actions, nil, argv, environ)
        guard spawned == 0 else {
            throw Failure(command: executable, output: Output(status: -1, stdout: "", stderr: String(cString: strerror(spawned))))
        }
        var status: Int32 = 0
        while waitpid(pid, &status, 0) == -1 && errno == EINTR {}
        let exited = status & 0x7f == 0
        return Output(status: exited ? (status >> 8) & 0xff : 128 + (status & 0x7f),
                      stdout: (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "",
                      stderr: (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "")
    }

    /// The first executable called `name` on PATH, if any.
    static func which(_ name: String) -> String? {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        return nil
    }
}
