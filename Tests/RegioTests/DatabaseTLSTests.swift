import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// TLS to PostgreSQL as `sslmode` asks: `verify-full` checks the chain to `sslrootcert` and the
/// host name, `verify-ca` the chain, `require` only encrypts.
@Suite("TLS to PostgreSQL")
struct DatabaseTLSTests {
    /// A test CA, a server certificate it signed for `localhost` only, and another CA.
    static func certificates(in directory: URL) throws {
        func openssl(_ arguments: String) throws {
            _ = try Subprocess.run("/usr/bin/openssl", arguments.split(separator: " ").map(String.init))
        }
        let d = directory.path
        try openssl("req -x509 -newkey rsa:2048 -nodes -keyout \(d)/ca.key -out \(d)/ca.crt -days 2 -subj /CN=regio-test-ca")
        try openssl("req -x509 -newkey rsa:2048 -nodes -keyout \(d)/other.key -out \(d)/other.crt -days 2 -subj /CN=another-ca")
        try openssl("req -newkey rsa:2048 -nodes -keyout \(d)/server.key -out \(d)/server.csr -subj /CN=localhost")
        try Data("subjectAltName=DNS:localhost\n".utf8).write(to: directory.appendingPathComponent("san.cnf"))
        try openssl("x509 -req -in \(d)/server.csr -CA \(d)/ca.crt -CAkey \(d)/ca.key -CAcreateserial -out \(d)/server.crt -days 2 -extfile \(d)/san.cnf")
        chmod("\(d)/server.key", 0o600)
        if geteuid() == 0 { _ = try Subprocess.run("/bin/chown", ["postgres", "\(d)/server.key", "\(d)/server.crt"]) }
    }

    @Test("verify-full connects to the name the certificate gives and refuses another name or another CA; verify-ca checks the chain only; require encrypts")
    func sslModes() async throws {
        let directory = URL(fileURLWithPath: NSTemporaryDirectory()).appendingPathComponent("regio-tls-\(UUID())")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        try Self.certificates(in: directory)
        let postgres = try EmbeddedPostgres(
            directory: directory.appendingPathComponent("cluster"),
            settings: ["ssl": "on", "ssl_cert_file": directory.appendingPathComponent("server.crt").path,
                       "ssl_key_file": directory.appendingPathComponent("server.key").path],
            logger: TestDatabase.logger)
        try postgres.start()
        defer { postgres.stop() }
        let (ca, other) = (directory.appendingPathComponent("ca.crt").path, directory.appendingPathComponent("other.crt").path)
        func url(_ host: String, _ mode: String, _ root: String?) throws -> DatabaseURL {
            try DatabaseURL("postgres://regio@\(host):\(postgres.port)/regio?sslmode=\(mode)" + (root.map { "&sslrootcert=\($0)" } ?? ""))
        }
        /// Whether a connection opens, and then whether it is encrypted.
        func connects(_ url: DatabaseURL) async -> Bool? {
            let database = Database(url: url, poolSize: 1, name: "tls", logger: TestDatabase.logger)
            do {
                let connection = try await database.dedicatedConnection(name: "tls")
                defer { Task { try? await connection.close() } }
                var encrypted = false
                for try await value in try await connection.query("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
                                                                  logger: TestDatabase.logger).decode(Bool.self) {
                    encrypted = value
                }
                return encrypted
            } catch {
                return nil
            }
        }
        #expect(await connects(try url("localhost", "verify-full", ca)) == true)
        #expect(await connects(try url("127.0.0.1", "verify-full", ca)) == nil, "the certificate names localhost, not 127.0.0.1")
        #expect(await connects(try url("localhost", "verify-full", other)) == nil, "another CA")
        #expect(await connects(try url("127.0.0.1", "verify-ca", ca)) == true, "verify-ca checks the chain, not the name")
        #expect(await connects(try url("127.0.0.1", "verify-ca", other)) == nil)
        #expect(await connects(try url("127.0.0.1", "require", nil)) == true, "require encrypts without checking")
        #expect(await connects(try url("127.0.0.1", "disable", nil)) == false)
        // And the pool, as the services use it.
        let answer = try await withDatabase(try url("localhost", "verify-full", ca), logger: TestDatabase.logger) { database in
            try await database.text("SELECT ssl::text FROM pg_stat_ssl WHERE pid = pg_backend_pid()")
        }
        #expect(answer == "true")
        #expect(throws: DatabaseURL.Invalid.self) { try DatabaseURL("postgres://u@h/d?sslmode=require&sslrootcert=/x.pem") }
    }
}
