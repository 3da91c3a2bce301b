import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// Least privilege in the database, proved against the catalog: every service role, what it may
/// do, what it owns, every security definer function and every row-level security policy, as a
/// fresh deployment gets them (deploy/postgresql/init-roles.sh, then `regio migrate`), compared
/// with `Tests/expected/privileges.txt` — modelled on PostgreSQL's own regression suites, whose
/// expected output is a file under review. A grant, role attribute or policy that changes without
/// that file changing with it fails here.
///
/// To accept an intended change, run `REGIO_UPDATE_EXPECTED=1 scripts/test.sh --filter DatabaseRolesTests`
/// and review the file's diff.
@Suite("Database roles")
struct DatabaseRolesTests {
    /// The login roles deploy/postgresql/init-roles.sh makes besides the owner.
    static let serviceRoles = ["regio_ingest", "regio_query", "regio_query_writer", "regio_lookup", "regio_web"]

    static let expectedFile = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("expected/privileges.txt")

    @Test("roles, grants, ownership, security definer functions and policies are exactly the reviewed ones")
    func noDrift() async throws {
        try await TestDatabase.with(migrated: false) { database in
            try await Self.deploy(database)
            let actual = try await Self.catalog(database).joined(separator: "\n") + "\n"
            if ProcessInfo.processInfo.environment["REGIO_UPDATE_EXPECTED"] == "1" {
                try actual.write(to: Self.expectedFile, atomically: true, encoding: .utf8)
            }
            let expected = try String(contentsOf: Self.expectedFile, encoding: .utf8)
            let (actualLines, expectedLines) = (Set(actual.split(separator: "\n")), Set(expected.split(separator: "\n")))
            let added = actualLines.subtracting(expectedLines).sorted()
            let missing = expectedLines.subtracting(actualLines).sorted()
            #expect(added.isEmpty && missing.isEmpty, """
                the database's privileges drifted from Tests/expected/privileges.txt
                in the database, not in the file:
                \(added.joined(separator: "\n"))
                in the file, not in the database:
                \(missing.joined(separator: "\n"))
                """)
            // The properties the file must keep, whatever else it says.
            #expect(!actual.contains(" owns "), "a service role owns something outside `staging`")
            #expect(!actual.contains("bypassrls=true") && !actual.contains("superuser=true") && !actual.contains("createrole=true"))
        }
    }

    @Test("the ingestion role is refused what it was not granted, by the database")
    func ingestRoleRefusals() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            try await withDatabase(TestDatabase.ingestURL(of: database), name: "ingest", poolSize: 1, logger: TestDatabase.logger) { ingest in
                for statement in [
                    "UPDATE registry.facilities SET name = name",
                    "INSERT INTO registry.credentials (token_hash, role, label) VALUES ('x', 'bureau', 'x')",
                    "UPDATE reports.thresholds SET threshold = 0",
                    "DELETE FROM audit.events",
                    "TRUNCATE emr.patients",
                    "SELECT * FROM accounts.users",
                    "INSERT INTO emr.steward_actions (kind, reason, actor) VALUES ('split', 'x', 'x')",
                    "UPDATE procurement.agreed_prices SET price = 0",
                    "CREATE TABLE emr.mine (id int)",
                    "ALTER TABLE emr.patients DISABLE TRIGGER ALL",
                    "SELECT ingest.analyze_grown('registry.credentials')",
                    "CREATE ROLE sneaky",
                    "SET ROLE regio",
                ] {
                    let state = await Self.sqlState(of: statement, on: ingest)
                    #expect(state == "42501", "\(statement): \(state ?? "allowed")")
                }
                // ANALYZE of a table it does not own only warns in PostgreSQL 15, and does nothing.
                try await ingest.query("ANALYZE emr.encounters")
                #expect(try await database.text("SELECT last_analyze::text FROM pg_stat_user_tables WHERE relid = 'emr.encounters'::regclass") == nil)
                // What it was given works: its scratch schema, the narrow ANALYZE, the tables it loads.
                try await ingest.query("CREATE UNLOGGED TABLE staging.scratch (id int)")
                try await ingest.query("DROP TABLE staging.scratch")
                try await ingest.query("SELECT ingest.analyze_grown('emr.patients')")
                try await ingest.query("SELECT count(*) FROM emr.patients")
            }
        }
    }

    /// The SQLSTATE `statement` fails with, nil when it succeeds.
    static func sqlState(of statement: String, on database: Database) async -> String? {
        do {
            // A statement's error may come with its first row: read them all.
            for try await _ in try await database.query(PostgresQuery(unsafeSQL: statement)) {}
            return nil
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState]
        } catch {
            return "\(error)"
        }
    }

    /// What deploy/postgresql/init-roles.sh does in a new database (the roles are the cluster's,
    /// made once), then the migrations as the owner.
    static func deploy(_ database: Database) async throws {
        for role in serviceRoles {
            try await database.query(PostgresQuery(unsafeSQL: """
                DO $$ BEGIN CREATE ROLE \(role) LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$
                """))
        }
        try await database.query("ALTER DEFAULT PRIVILEGES FOR ROLE regio GRANT USAGE ON SCHEMAS TO regio_query")
        try await database.query("ALTER DEFAULT PRIVILEGES FOR ROLE regio GRANT SELECT ON TABLES TO regio_query")
        try await MigrationRunner(migrations: try Migration.bundled()).apply(on: database)
    }

    /// The catalog's answer, one sorted line per fact.
    static func catalog(_ database: Database) async throws -> [String] {
        let roles = serviceRoles.map { "'\($0)'" }.joined(separator: ", ")
        let sql = """
            WITH service AS (SELECT oid, rolname FROM pg_roles WHERE rolname IN (\(roles)))
            SELECT 'role ' || rolname || ' login=' || rolcanlogin || ' superuser=' || rolsuper || ' createrole=' || rolcreaterole
                   || ' createdb=' || rolcreatedb || ' replication=' || rolreplication || ' bypassrls=' || rolbypassrls
            FROM pg_roles WHERE rolname IN (\(roles))
            UNION ALL
            SELECT 'member ' || m.rolname || ' of ' || r.rolname
            FROM pg_auth_members a JOIN pg_roles m ON m.oid = a.member JOIN pg_roles r ON r.oid = a.roleid
            WHERE m.rolname IN (\(roles)) OR r.rolname IN (\(roles))
            UNION ALL
            -- Ownership: nothing outside the scratch schema.
            SELECT 'owns ' || s.rolname || ' ' || c.oid::regclass::text
            FROM pg_class c JOIN service s ON s.oid = c.relowner JOIN pg_namespace n ON n.oid = c.relnamespace
            WHERE n.nspname <> 'staging'
            UNION ALL
            SELECT 'owns ' || s.rolname || ' schema ' || n.nspname FROM pg_namespace n JOIN service s ON s.oid = n.nspowner
            UNION ALL
            SELECT 'owns ' || s.rolname || ' function ' || p.oid::regprocedure::text FROM pg_proc p JOIN service s ON s.oid = p.proowner
            UNION ALL
            SELECT 'grant ' || coalesce(s.rolname, 'PUBLIC') || ' ' || a.privilege_type || ' on schema ' || n.nspname
            FROM pg_namespace n, aclexplode(n.nspacl) a LEFT JOIN service s ON s.oid = a.grantee
            WHERE (s.oid IS NOT NULL OR a.grantee = 0) AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            UNION ALL
            SELECT 'grant ' || s.rolname || ' ' || a.privilege_type || ' on ' || c.oid::regclass::text
            FROM pg_class c, aclexplode(c.relacl) a JOIN service s ON s.oid = a.grantee
            UNION ALL
            SELECT 'grant ' || s.rolname || ' ' || a.privilege_type || ' (' || att.attname || ') on ' || c.oid::regclass::text
            FROM pg_attribute att JOIN pg_class c ON c.oid = att.attrelid, aclexplode(att.attacl) a JOIN service s ON s.oid = a.grantee
            UNION ALL
            -- Security definer functions: who may call them, and that each pins its search_path.
            SELECT 'definer ' || p.oid::regprocedure::text || ' owner=' || pg_get_userbyid(p.proowner)
                   || ' config=' || coalesce(array_to_string(p.proconfig, ','), '(none)')
            FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
            WHERE p.prosecdef AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
            UNION ALL
            SELECT 'grant ' || coalesce(s.rolname, 'PUBLIC') || ' EXECUTE on ' || p.oid::regprocedure::text
            FROM pg_proc p, aclexplode(coalesce(p.proacl, acldefault('f', p.proowner))) a LEFT JOIN service s ON s.oid = a.grantee
            WHERE p.prosecdef AND (s.oid IS NOT NULL OR a.grantee = 0)
            UNION ALL
            SELECT 'rls ' || c.oid::regclass::text || ' enabled=' || c.relrowsecurity || ' forced=' || c.relforcerowsecurity
            FROM pg_class c WHERE c.relrowsecurity OR c.relforcerowsecurity
            UNION ALL
            SELECT 'policy ' || schemaname || '.' || tablename || ' ' || policyname || ' ' || permissive || ' ' || cmd
                   || ' to ' || array_to_string(roles, ',') || ' using (' || regexp_replace(coalesce(qual, ''), '\\s+', ' ', 'g')
                   || ') check (' || regexp_replace(coalesce(with_check, ''), '\\s+', ' ', 'g') || ')'
            FROM pg_policies
            UNION ALL
            SELECT 'default ' || pg_get_userbyid(d.defaclrole) || ' ' || d.defaclobjtype::text || ' '
                   || CASE a.grantee WHEN 0 THEN 'PUBLIC' ELSE pg_get_userbyid(a.grantee) END || ' ' || a.privilege_type
            FROM pg_default_acl d, aclexplode(d.defaclacl) a
            """
        var lines: [String] = []
        for try await line in try await database.query(PostgresQuery(unsafeSQL: sql)).decode(String.self) {
            lines.append(line)
        }
        return lines.sorted()
    }
}
