import Foundation

/// Every setting Regio reads, from environment variables (and, underneath them, an optional
/// `KEY=VALUE` file). `docs/configuration.md` lists the same settings; a test keeps them in step.
public struct RegioConfiguration: Sendable, Equatable {
    /// The primary database; `nil` means "no database given", which only `regio demo` accepts.
    public var databaseURL: DatabaseURL?
    /// Where the ingestion service loads (the primary, as `regio_ingest`, a role that owns
    /// nothing); defaults to `databaseURL`.
    public var ingestDatabaseURL: DatabaseURL?
    /// Where the query service reads (a streaming replica); defaults to `databaseURL`.
    public var queryDatabaseURL: DatabaseURL?
    /// Where the query service writes what its users change (the primary, as a role that may
    /// write only that); defaults to `databaseURL`.
    public var queryWriteDatabaseURL: DatabaseURL?
    /// Where the query service's cross-facility lookups read and audit (the primary, as a role
    /// that may read `emr` and write lookup audit rows only); defaults to `databaseURL`.
    public var queryLookupDatabaseURL: DatabaseURL?
    /// Where the query service keeps people's accounts and sessions (the primary, as a role that
    /// may write only those and audit rows); defaults to `databaseURL`.
    public var queryAccountsDatabaseURL: DatabaseURL?
    public var ingestListener: Listener
    public var queryListener: Listener
    /// PEM files of the services' own TLS (`REGIO_TLS_CERT_FILE`, `REGIO_TLS_KEY_FILE`): both or
    /// neither; without them the services speak plain HTTP behind a proxy that terminates TLS.
    public var tlsCertificateFile: String?
    public var tlsKeyFile: String?
    /// File holding the region secret that keys national-ID pseudonyms.
    public var secretFile: String?
    public var logLevel: LogLevel
    public var logFormat: LogFormat
    /// Connections each service keeps to PostgreSQL at most.
    public var poolSize: Int
    /// Where the ingestion service kills itself (`FaultPoint`): set by the crash tests only.
    public var fault: FaultPoint?
    /// How long a batch may be decided before the ingestion service warns, with what it waits on.
    public var slowBatchSeconds: Int
    /// How far a compressed upload may inflate: in all, and times its compressed size.
    public var maxInflatedMB: Int
    public var maxInflationRatio: Int
    /// Most MiB one upload's request body may carry (compressed or not).
    public var maxBodyMB: Int
    /// How long a connection may send nothing (mid-request or between requests) before it is closed.
    public var idleTimeoutSeconds: Int
    /// Requests per minute one credential (token or signed-in person) may make; 0: no limit.
    public var rateLimitPerMinute: Int
    /// How long a graceful shutdown (SIGTERM, SIGINT) may take before what is left is cancelled.
    public var shutdownSeconds: Int
    /// Not fatal, but worth a log line at start: e.g. a misspelt `REGIO_` variable.
    public var warnings: [String]

    public struct Listener: Sendable, Equatable {
        public var host: String
        public var port: Int
    }

    public enum LogLevel: String, Sendable, CaseIterable {
        case trace, debug, info, notice, warning, error, critical
    }

    public enum LogFormat: String, Sendable, CaseIterable {
        case text, json
    }

    /// One documented entry per setting: name, default, meaning.
    public struct Setting: Sendable {
        public var name: String
        public var defaultValue: String
        public var meaning: String
    }

    public static let settings: [Setting] = [
        Setting(name: "REGIO_CONFIG_FILE", defaultValue: "(none)",
                meaning: "Optional file of KEY=VALUE lines read before the environment; the environment wins."),
        Setting(name: "REGIO_DATABASE_URL", defaultValue: "(none: `regio demo` starts an embedded PostgreSQL)",
                meaning: "Primary database, postgres://user:password@host:port/database[?sslmode=disable|prefer|require]."),
        Setting(name: "REGIO_INGEST_DATABASE_URL", defaultValue: "REGIO_DATABASE_URL",
                meaning: "Where the ingestion service loads the uploads: the primary, as a role that owns nothing and holds only the ingest path's grants (regio_ingest); the migrations run as the owner of REGIO_DATABASE_URL."),
        Setting(name: "REGIO_QUERY_DATABASE_URL", defaultValue: "REGIO_DATABASE_URL",
                meaning: "Database the query service reads, typically a streaming replica."),
        Setting(name: "REGIO_QUERY_WRITE_DATABASE_URL", defaultValue: "REGIO_DATABASE_URL",
                meaning: "Where the query service writes what its users change (thresholds): the primary, as a role that may write only that (regio_query_writer)."),
        Setting(name: "REGIO_QUERY_LOOKUP_DATABASE_URL", defaultValue: "REGIO_DATABASE_URL",
                meaning: "Where the query service's cross-facility lookups read and write their audit rows: the primary, as a role that may read emr and insert into audit.lookups only (regio_lookup)."),
        Setting(name: "REGIO_QUERY_ACCOUNTS_DATABASE_URL", defaultValue: "REGIO_DATABASE_URL",
                meaning: "Where the query service keeps people's accounts and sessions: the primary, as a role that may write only those and audit rows (regio_web)."),
        Setting(name: "REGIO_INGEST_HOST", defaultValue: "127.0.0.1", meaning: "Address the ingestion service listens on."),
        Setting(name: "REGIO_INGEST_PORT", defaultValue: "8081", meaning: "Port of the ingestion service (0 picks a free one)."),
        Setting(name: "REGIO_QUERY_HOST", defaultValue: "127.0.0.1", meaning: "Address the query service listens on."),
        Setting(name: "REGIO_QUERY_PORT", defaultValue: "8082", meaning: "Port of the query service (0 picks a free one)."),
        Setting(name: "REGIO_TLS_CERT_FILE", defaultValue: "(none: plain HTTP)",
                meaning: "PEM file with the services' certificate (then its intermediates): both services then speak HTTPS only, TLS 1.2 or later. Needs REGIO_TLS_KEY_FILE."),
        Setting(name: "REGIO_TLS_KEY_FILE", defaultValue: "(none)",
                meaning: "PEM file with the private key of REGIO_TLS_CERT_FILE's certificate (readable by the service only)."),
        Setting(name: "REGIO_SECRET_FILE", defaultValue: "(none; required by the ingestion service)",
                meaning: "File holding the region secret (at least 32 bytes) that keys national-ID pseudonyms. The query service needs it only for lookups by resident ID number."),
        Setting(name: "REGIO_LOG_LEVEL", defaultValue: "info",
                meaning: "trace, debug, info, notice, warning, error or critical."),
        Setting(name: "REGIO_LOG_FORMAT", defaultValue: "text", meaning: "text (for people) or json (one object a line)."),
        Setting(name: "REGIO_DB_POOL_SIZE", defaultValue: "10",
                meaning: "Most connections each service opens to PostgreSQL (2 to 200; a batch being decided uses two at once)."),
        Setting(name: "REGIO_SLOW_BATCH_SECONDS", defaultValue: "120",
                meaning: "A batch decided for longer than this is logged as a warning, with its stages running and what they wait on, and again each time as long."),
        Setting(name: "REGIO_MAX_INFLATED_MB", defaultValue: "8192",
                meaning: "Most MiB a compressed file (.csv.gz, or gzip transport) may inflate to; past it the upload is refused at once."),
        Setting(name: "REGIO_MAX_INFLATION_RATIO", defaultValue: "100",
                meaning: "Most times a compressed file may inflate its compressed size (judged past its first MiB); past it the upload is refused at once."),
        Setting(name: "REGIO_MAX_BODY_MB", defaultValue: "4096",
                meaning: "Most MiB one upload's request body may carry, compressed or not; a larger upload is refused (413) before or while it streams."),
        Setting(name: "REGIO_IDLE_TIMEOUT_SECONDS", defaultValue: "60",
                meaning: "A connection that sends nothing for this long, in the middle of an upload or between requests, is closed; an upload cut off so is dropped."),
        Setting(name: "REGIO_SHUTDOWN_SECONDS", defaultValue: "10",
                meaning: "Most seconds a graceful shutdown (SIGTERM, SIGINT) takes: uploads in flight are abandoned at once, batches being decided get this long to finish, then are cancelled (recovery settles them at the next start)."),
        Setting(name: "REGIO_FAULT", defaultValue: "(none)",
                meaning: "For the crash tests only: the point of a batch's life where the ingestion service kills itself (SIGKILL)."),
    ]

    /// Reads every setting; collects every problem before failing, so one start shows them all.
    public init(environment: [String: String]) throws(ConfigurationError) {
        var problems: [String] = []
        let known = Set(Self.settings.map(\.name))
        self.warnings = environment.keys.sorted()
            .filter { $0.hasPrefix("REGIO_") && !$0.hasPrefix("REGIO_TEST_") && !known.contains($0) }
            .map { "\($0) is not a Regio setting (see docs/configuration.md); ignored" }

        func string(_ name: String) -> String? {
            guard let value = environment[name]?.trimmingCharacters(in: .whitespaces), !value.isEmpty else { return nil }
            return value
        }
        func url(_ name: String) -> DatabaseURL? {
            guard let text = string(name) else { return nil }
            do { return try DatabaseURL(text) } catch {
                problems.append("\(name): \(error.reason)")
                return nil
            }
        }
        func int(_ name: String, default value: Int, range: ClosedRange<Int>) -> Int {
            guard let text = string(name) else { return value }
            guard let number = Int(text), range.contains(number) else {
                problems.append("\(name) must be a whole number from \(range.lowerBound) to \(range.upperBound), got '\(text)'")
                return value
            }
            return number
        }
        func choice<T: RawRepresentable & CaseIterable>(_ name: String, default value: T) -> T where T.RawValue == String {
            guard let text = string(name) else { return value }
            guard let parsed = T(rawValue: text.lowercased()) else {
                let allowed = T.allCases.map(\.rawValue).joined(separator: ", ")
                problems.append("\(name) must be one of \(allowed), got '\(text)'")
                return value
            }
            return parsed
        }

        self.databaseURL = url("REGIO_DATABASE_URL")
        self.ingestDatabaseURL = url("REGIO_INGEST_DATABASE_URL") ?? databaseURL
        self.queryDatabaseURL = url("REGIO_QUERY_DATABASE_URL") ?? databaseURL
        self.queryWriteDatabaseURL = url("REGIO_QUERY_WRITE_DATABASE_URL") ?? databaseURL
        self.queryLookupDatabaseURL = url("REGIO_QUERY_LOOKUP_DATABASE_URL") ?? databaseURL
        self.queryAccountsDatabaseURL = url("REGIO_QUERY_ACCOUNTS_DATABASE_URL") ?? databaseURL
        self.ingestListener = Listener(host: string("REGIO_INGEST_HOST") ?? "127.0.0.1",
                                       port: int("REGIO_INGEST_PORT", default: 8081, range: 0...65535))
        self.queryListener = Listener(host: string("REGIO_QUERY_HOST") ?? "127.0.0.1",
                                      port: int("REGIO_QUERY_PORT", default: 8082, range: 0...65535))
        self.secretFile = string("REGIO_SECRET_FILE")
        self.tlsCertificateFile = string("REGIO_TLS_CERT_FILE")
        self.tlsKeyFile = string("REGIO_TLS_KEY_FILE")
        if (tlsCertificateFile == nil) != (tlsKeyFile == nil) {
            problems.append("REGIO_TLS_CERT_FILE and REGIO_TLS_KEY_FILE go together: set both, or neither for plain HTTP")
        }
        self.logLevel = choice("REGIO_LOG_LEVEL", default: .info)
        self.logFormat = choice("REGIO_LOG_FORMAT", default: .text)
        self.poolSize = int("REGIO_DB_POOL_SIZE", default: 10, range: 2...200)
        self.slowBatchSeconds = int("REGIO_SLOW_BATCH_SECONDS", default: 120, range: 1...86_400)
        self.maxInflatedMB = int("REGIO_MAX_INFLATED_MB", default: 8192, range: 1...1_048_576)
        self.maxInflationRatio = int("REGIO_MAX_INFLATION_RATIO", default: 100, range: 2...100_000)
        self.maxBodyMB = int("REGIO_MAX_BODY_MB", default: 4096, range: 1...1_048_576)
        self.idleTimeoutSeconds = int("REGIO_IDLE_TIMEOUT_SECONDS", default: 60, range: 1...3600)
        self.rateLimitPerMinute = int("REGIO_RATE_LIMIT_PER_MINUTE", default: 600, range: 0...1_000_000)
        self.shutdownSeconds = int("REGIO_SHUTDOWN_SECONDS", default: 10, range: 1...3600)
        self.fault = string("REGIO_FAULT").flatMap { text in
            guard let point = FaultPoint(rawValue: text) else {
                problems.append("REGIO_FAULT must be one of \(FaultPoint.allCases.map(\.rawValue).joined(separator: ", ")), got '\(text)'")
                return nil
            }
            return point
        }
        if environment["REGIO_INGEST_DATABASE_URL"] != nil, databaseURL == nil, ingestDatabaseURL != nil {
            problems.append("REGIO_INGEST_DATABASE_URL is set but REGIO_DATABASE_URL is not")
        }
        if environment["REGIO_QUERY_DATABASE_URL"] != nil, databaseURL == nil, queryDatabaseURL != nil {
            problems.append("REGIO_QUERY_DATABASE_URL is set but REGIO_DATABASE_URL is not")
        }
        if environment["REGIO_QUERY_WRITE_DATABASE_URL"] != nil, databaseURL == nil, queryWriteDatabaseURL != nil {
            problems.append("REGIO_QUERY_WRITE_DATABASE_URL is set but REGIO_DATABASE_URL is not")
        }
        if environment["REGIO_QUERY_LOOKUP_DATABASE_URL"] != nil, databaseURL == nil, queryLookupDatabaseURL != nil {
            problems.append("REGIO_QUERY_LOOKUP_DATABASE_URL is set but REGIO_DATABASE_URL is not")
        }
        if environment["REGIO_QUERY_ACCOUNTS_DATABASE_URL"] != nil, databaseURL == nil, queryAccountsDatabaseURL != nil {
            problems.append("REGIO_QUERY_ACCOUNTS_DATABASE_URL is set but REGIO_DATABASE_URL is not")
        }
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
    }

    /// Parses a `KEY=VALUE` file: `#` comments and blank lines are skipped, values may be quoted.
    public static func parseFile(_ text: String, name: String) throws(ConfigurationError) -> [String: String] {
        var values: [String: String] = [:]
        var problems: [String] = []
        for (index, raw) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
            let line = raw.trimmingCharacters(in: .whitespacesAndNewlines)
            if line.isEmpty || line.hasPrefix("#") { continue }
            let body = line.hasPrefix("export ") ? String(line.dropFirst(7)) : line
            guard let equals = body.firstIndex(of: "=") else {
                problems.append("\(name):\(index + 1): expected KEY=VALUE")
                continue
            }
            let key = body[..<equals].trimmingCharacters(in: .whitespaces)
            var value = body[body.index(after: equals)...].trimmingCharacters(in: .whitespaces)
            if value.count >= 2, let first = value.first, first == "\"" || first == "'", value.last == first {
                value = String(value.dropFirst().dropLast())
            }
            values[key] = value
        }
        if !problems.isEmpty { throw ConfigurationError(problems: problems) }
        return values
    }
}

/// Start-up failure: every problem found, each on its own line, in one message.
public struct ConfigurationError: Error, CustomStringConvertible, Equatable {
    public var problems: [String]
    public init(problems: [String]) { self.problems = problems }
    public var description: String {
        "configuration error: " + problems.joined(separator: "; ")
    }
}

/// A PostgreSQL connection URL, taken apart.
public struct DatabaseURL: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int
    public var username: String
    public var password: String?
    public var database: String
    public var tlsMode: TLSMode
    /// `sslrootcert`: the CA certificate file (PEM) the server's certificate must chain to under
    /// `verify-ca` and `verify-full` (without it, the system's trusted roots).
    public var rootCertificate: String?

    /// As libpq's `sslmode`: `prefer` and `require` encrypt without checking the server's
    /// certificate; `verify-ca` checks it chains to the trusted CA; `verify-full` also checks it
    /// names the host connected to.
    public enum TLSMode: String, Sendable {
        case disable, prefer, require
        case verifyCA = "verify-ca"
        case verifyFull = "verify-full"
    }

    public struct Invalid: Error { public var reason: String }

    public init(host: String, port: Int, username: String, password: String?, database: String, tlsMode: TLSMode = .disable,
                rootCertificate: String? = nil) {
        self.rootCertificate = rootCertificate
        self.host = host
        self.port = port
        self.username = username
        self.password = password
        self.database = database
        self.tlsMode = tlsMode
    }

    public init(_ text: String) throws(Invalid) {
        guard let components = URLComponents(string: text),
              let scheme = components.scheme, ["postgres", "postgresql"].contains(scheme) else {
            throw Invalid(reason: "expected postgres://user:password@host:port/database")
        }
        guard let host = components.host, !host.isEmpty else { throw Invalid(reason: "the URL names no host") }
        guard let user = components.user, !user.isEmpty else { throw Invalid(reason: "the URL names no user") }
        let database = String(components.path.drop(while: { $0 == "/" }))
        guard !database.isEmpty else { throw Invalid(reason: "the URL names no database") }
        var mode = TLSMode.disable
        if let value = components.queryItems?.first(where: { $0.name == "sslmode" })?.value {
            switch value {
            case "disable": mode = .disable
            case "allow", "prefer": mode = .prefer
            case "require": mode = .require
            case "verify-ca": mode = .verifyCA
            case "verify-full": mode = .verifyFull
            default: throw Invalid(reason: "sslmode '\(value)' is not one of disable, prefer, require, verify-ca, verify-full")
            }
        }
        let rootCertificate = components.queryItems?.first(where: { $0.name == "sslrootcert" })?.value
        if rootCertificate != nil, ![.verifyCA, .verifyFull].contains(mode) {
            throw Invalid(reason: "sslrootcert is checked only with sslmode=verify-ca or verify-full")
        }
        self.init(host: host, port: components.port ?? 5432, username: user.removingPercentEncoding ?? user,
                  password: components.password?.removingPercentEncoding, database: database, tlsMode: mode,
                  rootCertificate: rootCertificate)
    }

    /// The URL without its password, for logs.
    public var description: String {
        "postgres://\(username)@\(host):\(port)/\(database)"
    }

    /// The full URL, password included, for handing to child processes and clients.
    public var urlString: String {
        var components = URLComponents()
        components.scheme = "postgres"
        components.host = host
        components.port = port
        components.user = username
        components.password = password
        components.path = "/" + database
        if tlsMode != .disable { components.queryItems = [URLQueryItem(name: "sslmode", value: tlsMode.rawValue)] }
        if let rootCertificate { components.queryItems?.append(URLQueryItem(name: "sslrootcert", value: rootCertificate)) }
        return components.string ?? description
    }
}
