import Foundation
import Logging
import RegioCore

/// A private PostgreSQL cluster for `regio demo` when no database URL is given: `initdb` into a
/// folder (once), `pg_ctl start` on a free loopback port, `pg_ctl stop` at the end.
///
/// Text compares byte by byte (`LC_COLLATE` C): Regio's text keys are identifiers, codes and hashes,
/// and the order is the same code-point order `C.UTF-8` gives, without a locale call per comparison
/// (see docs/benchmarks.md). Character classes stay `C.UTF-8`'s.
///
/// PostgreSQL refuses to run as root; when Regio runs as root (a container, CI) the cluster is
/// owned by and run as the `postgres` user that Debian's package creates.
public final class EmbeddedPostgres: Sendable {
    public let directory: URL
    public let binDirectory: URL
    public let port: Int
    let runAs: String?
    let logger: Logger
    /// Server settings beyond the scratch cluster's own (`-c name=value` at start).
    let settings: [String: String]

    public static let superuser = "regio"
    public static let databaseName = "regio"

    public struct Unavailable: Error, CustomStringConvertible {
        public var description: String
    }

    /// - Parameters:
    ///   - directory: where the cluster lives (`data/`) and logs (`postgres.log`).
    ///   - settings: server settings beyond the scratch cluster's own, e.g. `archive_mode`.
    public init(directory: URL, settings: [String: String] = [:], logger: Logger) throws {
        self.directory = directory
        self.settings = settings
        self.binDirectory = try Self.findBinaries()
        self.port = try Self.freePort()
        self.logger = logger
        if geteuid() == 0 {
            guard getpwnam("postgres") != nil else {
                throw Unavailable(description: "running as root, PostgreSQL needs an unprivileged user, and there is no 'postgres' user; install Debian's postgresql package or run as another user")
            }
            self.runAs = "postgres"
        } else {
            self.runAs = nil
        }
    }

    var dataDirectory: URL { directory.appendingPathComponent("data", isDirectory: true) }
    var logFile: URL { directory.appendingPathComponent("postgres.log") }

    public var url: DatabaseURL {
        DatabaseURL(host: "127.0.0.1", port: port, username: Self.superuser, password: nil, database: Self.databaseName)
    }

    /// Finds `initdb`: on PATH, else the newest `/usr/lib/postgresql/*/bin`.
    static func findBinaries() throws -> URL {
        var candidates: [URL] = []
        if let initdb = Subprocess.which("initdb") {
            candidates.append(URL(fileURLWithPath: initdb).resolvingSymlinksInPath().deletingLastPathComponent())
        }
        let root = "/usr/lib/postgresql"
        let versions = ((try? FileManager.default.contentsOfDirectory(atPath: root)) ?? [])
            .compactMap(Int.init).sorted(by: >)
        candidates += versions.map { URL(fileURLWithPath: "\(root)/\($0)/bin", isDirectory: true) }
        for directory in candidates
        where ["initdb", "pg_ctl", "postgres"].allSatisfy({
            FileManager.default.isExecutableFile(atPath: directory.appendingPathComponent($0).path)
        }) {
            return directory
        }
        throw Unavailable(description: "PostgreSQL is not installed (no initdb on PATH or under /usr/lib/postgresql/*/bin); `apt-get install -y postgresql`, or set REGIO_DATABASE_URL")
    }

    /// Asks the kernel for a free loopback port.
    public static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Unavailable(description: "cannot open a socket") }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0
            }
        }
        guard bound else { throw Unavailable(description: "cannot find a free port on 127.0.0.1") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Runs a PostgreSQL program, as `postgres` when we are root.
    func run(_ program: String, _ arguments: [String]) throws {
        let path = binDirectory.appendingPathComponent(program).path
        if let runAs {
            try Subprocess.run("/usr/sbin/runuser", ["-u", runAs, "--", path] + arguments)
        } else {
            try Subprocess.run(path, arguments)
        }
    }

    /// Creates the cluster if needed, starts it, and makes sure the `regio` database exists.
    /// `url` when there is one; otherwise a cluster under `directory`, started (the caller stops it).
    static func unless(_ url: DatabaseURL?, directory: URL, logger: Logger) throws -> (url: DatabaseURL, embedded: EmbeddedPostgres?) {
        if let url { return (url, nil) }
        let postgres = try EmbeddedPostgres(directory: directory, logger: logger)
        try postgres.start()
        return (postgres.url, postgres)
    }

    public func start() throws {
        let fileManager = FileManager.default
        try fileManager.createDirectory(at: directory, withIntermediateDirectories: true)
        if let runAs { try Subprocess.run("/bin/chown", [runAs, directory.path]) }
        let initialised = fileManager.fileExists(atPath: dataDirectory.appendingPathComponent("PG_VERSION").path)
        if !initialised {
            logger.info("creating a PostgreSQL cluster", metadata: ["directory": "\(dataDirectory.path)"])
            try run("initdb", ["-D", dataDirectory.path, "-U", Self.superuser, "--auth=trust",
                               "--encoding=UTF8", "--locale=C.UTF-8", "--lc-collate=C", "--no-sync"])
        }
        // A demo killed without stopping may have left its server running: stop it first — with
        // a fast shutdown, which checkpoints and keeps the staged rows of uploads in flight (an
        // immediate one forces crash recovery, which empties every unlogged staging table).
        if fileManager.fileExists(atPath: dataDirectory.appendingPathComponent("postmaster.pid").path) {
            stopLeftover()
        }
        // A scratch cluster: durability off. The load-related settings of deploy/postgresql/regio.conf
        // (not its memory sizes): a night's load between checkpoints, sorts and hashes of a batch's
        // checks in memory, no JIT compilation for the few large statements of a merge, prepared
        // transactions for the merge's side transaction.
        let options = "-p \(port) -c listen_addresses=127.0.0.1 -k \(dataDirectory.path) -c fsync=off -c full_page_writes=off"
            + " -c max_wal_size=4GB -c checkpoint_timeout=15min -c work_mem=32MB -c jit=off -c max_prepared_transactions=10"
            + settings.sorted { $0.key < $1.key }.map { " -c \($0.key)='\($0.value.replacingOccurrences(of: "'", with: "\\'"))'" }.joined()
        try run("pg_ctl", ["-D", dataDirectory.path, "-l", logFile.path, "-o", options, "-w", "-t", "60", "start"])
        logger.info("PostgreSQL started", metadata: ["port": "\(port)"])
        let createdb = binDirectory.appendingPathComponent("createdb").path
        // A cluster restored from a backup still replays its archive when `pg_ctl -w` returns:
        // wait for it (a minute at most) before its database can be made or found.
        for attempt in 1... {
            do {
                try Subprocess.run(createdb, ["-h", "127.0.0.1", "-p", "\(port)", "-U", Self.superuser, Self.databaseName])
                return
            } catch let failure as Subprocess.Failure where failure.output.stderr.contains("already exists") {
                return  // Kept from an earlier demo.
            } catch let failure as Subprocess.Failure
                        where attempt < 60 && ["not accepting connections", "read-only transaction", "starting up"]
                            .contains(where: failure.output.stderr.contains) {
                Thread.sleep(forTimeInterval: 1)
            }
        }
    }

    /// Stops a server an earlier run left: fast, else immediate (saying so), else nothing to stop.
    func stopLeftover() {
        do {
            try run("pg_ctl", ["-D", dataDirectory.path, "-m", "fast", "-w", "-t", "30", "stop"])
            logger.info("stopped the PostgreSQL an earlier run left running")
        } catch let failure as Subprocess.Failure
                    where ["Is server running?", "No such process"].contains(where: failure.output.stderr.contains) {
            // Only a stale postmaster.pid: nothing runs.
        } catch {
            logger.warning("a fast shutdown of the PostgreSQL an earlier run left failed; stopping it immediately (crash recovery follows)",
                           metadata: ["error": "\(error)"])
            try? run("pg_ctl", ["-D", dataDirectory.path, "-m", "immediate", "-w", "stop"])
        }
    }

    /// Stops the server the way a power cut would (`pg_ctl -m immediate`): the next `start` runs
    /// crash recovery, which empties every unlogged table. For crash drills and their tests.
    public func crash() throws {
        try run("pg_ctl", ["-D", dataDirectory.path, "-m", "immediate", "-w", "stop"])
        logger.info("PostgreSQL stopped immediately")
    }

    public func stop() {
        do {
            try run("pg_ctl", ["-D", dataDirectory.path, "-m", "fast", "-w", "stop"])
            logger.info("PostgreSQL stopped")
        } catch {
            logger.warning("stopping PostgreSQL failed", metadata: ["error": "\(error)"])
        }
    }
}
