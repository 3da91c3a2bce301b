import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// Row-level security on the patient-level tables (migration 0023), tried with raw SQL as each of
/// the query service's deployed roles, past every check the application makes.
@Suite("Row-level security")
struct RowSecurityTests {
    static let (first, second, third) = (SharedEMRTests.first, SharedEMRTests.second, SharedEMRTests.third)

    static let card = Extracts.rid("339901", "19800506", 31)
    static let stranger = Extracts.rid("339901", "19700101", 77)

    /// The same woman at the first facility (beside a row rejected with errors) and the second; a
    /// man at the second only. The first refers to the second. Loaded by the ingestion service.
    static func twoFacilities(_ s: IngestScenario) async throws {
        try await SharedEMRTests.codes(s.database)
        let night = SharedEMRTests.daysAgo(1)
        try await s.rejectThreshold(100)
        try await s.upload([
            "patients.csv": Extracts.patientsHeader + "A1,吴晓燕,2,1980-05-06,RID,\(card),13900002222,清河区解放路3号\n"
                + "A9,错行,5,1980-05-06,,,,\n",
            "exams.csv": SharedEMRTests.examsHeader + SharedEMRTests.exam("RA1", "A1", "LAB0001", "LAB", "\(night) 09:00:00"),
            "referrals.csv": "referral_id,patient_id,to_facility_code,referred_at,reason_dx,status,status_at,op\n"
                + "F1,A1,\(Self.second),\(night) 10:00:00,I10.x00,SENT,\(night) 10:00:00,\n",
        ], facility: Self.first, date: night)
        try await s.upload([
            "patients.csv": Extracts.patientsHeader + "B7,吴晓燕,2,1980-05-06,RID,\(card),13900002222,清河区解放路3号\n"
                + "B8,孙强,1,1970-01-01,RID,\(stranger),,\n",
            "exams.csv": SharedEMRTests.examsHeader + SharedEMRTests.exam("RB1", "B7", "LAB0002", "LAB", "\(night) 11:00:00")
                + SharedEMRTests.exam("RB2", "B8", "LAB0001", "LAB", "\(night) 11:30:00"),
        ], facility: Self.second, date: night)
    }

    /// The first column of the first row of `sql`, read in a transaction with `scope` (none: nil).
    static func value(_ sql: String, as database: Database, scope: RowScope?) async throws -> String? {
        guard let scope else { return try await database.text(sql) }
        return try await database.withScope(scope) { connection in
            for try await value in try await connection.query(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger)
                .decode(String?.self) {
                return value
            }
            return nil
        }
    }

    /// Which facilities' rows of each table the role sees under `scope`, as "table: codes; …".
    static func seen(as database: Database, scope: RowScope?) async throws -> String {
        var parts: [String] = []
        for (table, facility) in [("emr.patients", "t.facility_id"), ("emr.exams", "t.facility_id"),
                                  ("emr.exam_registry", "t.facility_id"), ("referral.referrals", "t.facility_id"),
                                  ("ingest.row_errors", "(SELECT b.facility_id FROM ingest.batches b WHERE b.id = t.batch_id)")] {
            let codes = try await value("""
                SELECT coalesce(string_agg(DISTINCT f.code, ',' ORDER BY f.code), '-')
                FROM \(table) t JOIN emr.facility_names f ON f.id = \(facility)
                """, as: database, scope: scope)
            parts.append("\(table): \(codes ?? "-")")
        }
        return parts.joined(separator: "; ")
    }

    @Test("raw SQL as each query role sees only the scope's facilities, nothing without a scope; the lookup role sees a person's records elsewhere only when its facility holds one of the person's or an emergency grant")
    func rawSQLPerRole() async throws {
        try await IngestScenario.run { s in
            try await Self.twoFacilities(s)
            let stranger = Self.stranger
            // The owner sees it all: the baseline.
            _ = try await Fixtures.deployedQueryRoles(s.database)
            let all = try await Self.seen(as: s.database, scope: nil)
            #expect(all == [
                "emr.patients: \(Self.first),\(Self.second)", "emr.exams: \(Self.first),\(Self.second)",
                "emr.exam_registry: \(Self.first),\(Self.second)", "referral.referrals: \(Self.first)",
                "ingest.row_errors: \(Self.first),\(Self.second)",
            ].joined(separator: "; "), "\(all)")
            let nothing = "emr.patients: -; emr.exams: -; emr.exam_registry: -; referral.referrals: -; ingest.row_errors: -"

            // The writer reads no patient-level table at all.
            var writerURL = s.database.url
            writerURL.username = "regio_query_writer"
            try await withDatabase(writerURL, name: "writer", poolSize: 1, logger: TestDatabase.logger) { writer in
                for table in ["emr.patients", "emr.exams", "referral.referrals", "ingest.row_errors"] {
                    let state = await DatabaseRolesTests.sqlState(of: "SELECT count(*) FROM \(table)", on: writer)
                    #expect(state == "42501", "regio_query_writer reads \(table)")
                }
            }
            for role in ["regio_query"] {
                var url = s.database.url
                url.username = role
                try await withDatabase(url, name: role, poolSize: 1, logger: TestDatabase.logger) { reader in
                    #expect(try await Self.seen(as: reader, scope: nil) == nothing, "\(role) without a scope")
                    #expect(try await Self.seen(as: reader, scope: .facility(Self.third)) == nothing, "\(role) as a facility with no records")
                    let asFirst = try await Self.seen(as: reader, scope: .facility(Self.first))
                    #expect(asFirst == [
                        "emr.patients: \(Self.first)", "emr.exams: \(Self.first)", "emr.exam_registry: \(Self.first)",
                        "referral.referrals: \(Self.first)", "ingest.row_errors: \(Self.first)",
                    ].joined(separator: "; "), "\(role) as the first facility: \(asFirst)")
                    // The receiving facility sees the referral sent to it, and its own row errors only.
                    let asSecond = try await Self.seen(as: reader, scope: .facility(Self.second))
                    #expect(asSecond == [
                        "emr.patients: \(Self.second)", "emr.exams: \(Self.second)", "emr.exam_registry: \(Self.second)",
                        "referral.referrals: \(Self.first)", "ingest.row_errors: \(Self.second)",
                    ].joined(separator: "; "), "\(role) as the second facility: \(asSecond)")
                    #expect(try await Self.seen(as: reader, scope: .region) == all, "\(role) for the region")
                    // The alliance's members (the demo alliance holds the first facility, not the second).
                    let members = try await s.value("""
                        SELECT string_agg(f.code, ',' ORDER BY f.code) FROM registry.alliance_members m
                        JOIN registry.alliances a ON a.id = m.alliance_id JOIN registry.facilities f ON f.id = m.facility_id
                        WHERE a.code = 'QH-ALLIANCE' AND f.code IN ('\(Self.first)', '\(Self.second)')
                        """)
                    let patients = try await Self.value("""
                        SELECT coalesce(string_agg(DISTINCT f.code, ',' ORDER BY f.code), '') FROM emr.patients p
                        JOIN emr.facility_names f ON f.id = p.facility_id
                        """, as: reader, scope: .alliance("QH-ALLIANCE"))
                    #expect(patients == (members ?? ""), "\(role) for the alliance")
                    // Writing is refused whatever the scope.
                    await #expect(throws: PSQLError.self) {
                        try await reader.withScope(.region) { try await $0.query("DELETE FROM emr.patients", logger: TestDatabase.logger) }
                    }
                }
            }

            var url = s.database.url
            url.username = "regio_lookup"
            try await withDatabase(url, name: "lookup", poolSize: 1, logger: TestDatabase.logger) { lookup in
                let persons = """
                    SELECT coalesce(string_agg(f.code || '/' || p.patient_id, ',' ORDER BY f.code, p.patient_id), '-')
                    FROM emr.patients p JOIN emr.facility_names f ON f.id = p.facility_id
                    """
                let exams = "SELECT coalesce(string_agg(report_id, ',' ORDER BY report_id), '-') FROM emr.exams"
                #expect(try await Self.value(persons, as: lookup, scope: nil) == "-")
                // The first facility: its own records, and her record at the second, not the man's.
                let forFirst = try await Self.value(persons, as: lookup, scope: .facility(Self.first))
                #expect(forFirst == "\(Self.first)/A1,\(Self.second)/B7", "\(forFirst ?? "")")
                #expect(try await Self.value(exams, as: lookup, scope: .facility(Self.first)) == "RA1,RB1")
                // The third facility holds no record of anyone: nothing, until an emergency grant
                // for the man, which shows his records and only his.
                #expect(try await Self.value(persons, as: lookup, scope: .facility(Self.third)) == "-")
                let shown = try await lookup.withScope(.facility(Self.third)) { connection in
                    try await connection.query("""
                        INSERT INTO emr.emergency_grants (facility_id, person_id, code, reason, actor, expires_at)
                        SELECT f.id, emr.person_with_number(\(Fixtures.pseudonymizer.residentIDPseudonym(stranger)!)), 'unconscious', '送入急诊时昏迷，需查既往检验', 'test', now() + interval '3 hours'
                        FROM emr.facility_names f WHERE f.code = \(Self.third)
                        """, logger: TestDatabase.logger)
                    var shown: [String] = []
                    for try await id in try await connection.query("SELECT report_id FROM emr.exams ORDER BY report_id",
                                                                   logger: TestDatabase.logger).decode(String.self) {
                        shown.append(id)
                    }
                    return shown
                }
                #expect(shown == ["RB2"])
                // Row errors and referrals are not the lookup's to read at all.
                await #expect(throws: PSQLError.self) { try await lookup.query("SELECT count(*) FROM ingest.row_errors") }
            }
        }
    }
    private struct RolledBack: Error {
        var rows: Int
    }

    /// Runs `sql` as `database`'s role in a transaction with the write scope `scope` (none: nil),
    /// then rolls it back: the rows it changed, or the SQLSTATE it failed with.
    static func changed(_ sql: String, scope: WriteScope?, as database: Database) async -> String {
        do {
            _ = try await database.withTransaction { connection -> Int in
                if let scope { try await scope.enter(on: connection, logger: TestDatabase.logger) }
                throw RolledBack(rows: try await connection.changedRows(PostgresQuery(unsafeSQL: sql), logger: TestDatabase.logger))
            }
            return "committed"
        } catch let done as RolledBack {
            return "\(done.rows)"
        } catch let error as PSQLError {
            return error.serverInfo?[.sqlState] ?? "\(error)"
        } catch {
            return "\(error)"
        }
    }

    @Test("raw SQL as the ingestion role reads every row but writes only under its write scope: nothing without one, one facility's rows and its batches' under a facility scope, and under the region scope only the updates that cross facilities, never an insert or delete of a record")
    func ingestWritesOnlyItsScope() async throws {
        try await IngestScenario.run { s in
            try await Self.twoFacilities(s)
            let first = try #require(try await s.value("SELECT id::text FROM registry.facilities WHERE code = '\(Self.first)'"))
            let second = try #require(try await s.value("SELECT id::text FROM registry.facilities WHERE code = '\(Self.second)'"))
            let (firstID, secondID) = (try #require(Int(first)), try #require(Int(second)))
            func count(_ sql: String) async throws -> String { try #require(try await s.value("SELECT count(*)::text \(sql)")) }
            let errors = "FROM ingest.row_errors e JOIN ingest.batches b ON b.id = e.batch_id WHERE b.facility_id ="
            let (firstErrors, secondErrors, allErrors) = (try await count("\(errors) \(first)"), try await count("\(errors) \(second)"),
                                                          try await count("FROM ingest.row_errors"))
            #expect(firstErrors != "0", "the first facility's batch has row errors")
            let (firstExams, secondExams, registry) = (try await count("FROM emr.exam_registry WHERE facility_id = \(first)"),
                                                       try await count("FROM emr.exam_registry WHERE facility_id = \(second)"),
                                                       try await count("FROM emr.exam_registry"))
            #expect([firstExams, secondExams] == ["1", "2"])
            let insert = { (facility: String, patient: String) in """
                INSERT INTO emr.patients (facility_id, patient_id, name, sex, row_hash, as_of, batch_id)
                SELECT \(facility), '\(patient)', '测试', '9', 'x', current_date, max(id) FROM ingest.batches WHERE facility_id = \(facility)
                """ }
            let statements: [(label: String, sql: String)] = [
                ("read patients", "SELECT 1 FROM emr.patients"),
                ("delete patients", "DELETE FROM emr.patients"),
                ("update exams", "UPDATE emr.exams SET exam_name = exam_name"),
                ("update patients", "UPDATE emr.patients SET person_id = person_id"),
                ("update referrals", "UPDATE referral.referrals SET completion_days = completion_days"),
                ("delete row errors", "DELETE FROM ingest.row_errors"),
                ("delete exam registry", "DELETE FROM emr.exam_registry"),
                ("insert a first's patient", insert(first, "X1")),
                ("insert a second's patient", insert(second, "X2")),
                ("insert a person", "INSERT INTO emr.persons (id_hash) VALUES (NULL)"),
            ]
            // The owner: every row.
            let owner = ["3", "3", "3", "3", "1", allErrors, registry, "1", "1", "1"]
            // 42501: the new row breaks the policy.
            let expected: [(scope: WriteScope?, name: String, rows: [String])] = [
                (nil, "no scope", ["3", "0", "0", "0", "0", "0", "0", "42501", "42501", "42501"]),
                (.facility(secondID), "the second facility", ["3", "2", "2", "2", "0", secondErrors, secondExams, "42501", "1", "1"]),
                (.facility(firstID), "the first facility", ["3", "1", "1", "1", "1", firstErrors, firstExams, "1", "42501", "1"]),
                (.region, "the region", ["3", "0", "0", "3", "1", "0", registry, "42501", "42501", "1"]),
            ]
            for (index, statement) in statements.enumerated() {
                #expect(await Self.changed(statement.sql, scope: nil, as: s.database) == owner[index], "the owner: \(statement.label)")
            }
            try await withDatabase(TestDatabase.ingestURL(of: s.database), name: "ingest", poolSize: 1, logger: TestDatabase.logger) { ingest in
                for (scope, name, rows) in expected {
                    for (index, statement) in statements.enumerated() {
                        let got = await Self.changed(statement.sql, scope: scope, as: ingest)
                        #expect(got == rows[index], "regio_ingest under \(name): \(statement.label) gave \(got)")
                    }
                }
                // A session's scope (the upload's connection, `withConnection(writing:)`) is reset
                // when the connection goes back to the pool.
                let left = try await ingest.withConnection(writing: .facility(firstID)) { _ in 0 }
                #expect(left == 0)
                #expect(try await ingest.text("SELECT coalesce(current_setting('regio.writes', true), '')") == "")
            }
        }
    }

    /// How many rows of `emr.persons`, `emr.person_links` and `emr.match_keys` the role sees under `scope`.
    static func indexCounts(_ database: Database, _ scope: RowScope?) async throws -> [String] {
        var counts: [String] = []
        for table in ["emr.persons", "emr.person_links", "emr.match_keys"] {
            counts.append(try await value("SELECT count(*)::text FROM \(table)", as: database, scope: scope) ?? "-")
        }
        return counts
    }

    @Test("the patient index under row-level security: the reporting role sees the persons with a record in its scope, the lookup role the persons its facility is entitled to (found by number only through emr.person_with_number), the stewards' writer role the index only for the region")
    func patientIndex() async throws {
        try await IngestScenario.run { s in
            try await Self.twoFacilities(s)
            _ = try await Fixtures.deployedQueryRoles(s.database)
            // Two persons: the woman (a record at each facility) and the man (the second only).
            let all = try await Self.indexCounts(s.database, nil)
            #expect(all[0] == "2", "\(all)")
            var url = s.database.url
            url.username = "regio_query"
            try await withDatabase(url, name: "query", poolSize: 1, logger: TestDatabase.logger) { reader in
                #expect(try await Self.indexCounts(reader, nil) == ["0", "0", "0"])
                #expect(try await Self.indexCounts(reader, .region) == all)
                let asFirst = try await Self.indexCounts(reader, .facility(Self.first))
                #expect(asFirst[0] == "1", "the first facility's one person: \(asFirst)")
                #expect(asFirst[1] != "0" && asFirst[1] != all[1], "the first facility's links only: \(asFirst) of \(all)")
            }
            url.username = "regio_lookup"
            try await withDatabase(url, name: "lookup", poolSize: 1, logger: TestDatabase.logger) { lookup in
                // The first facility is entitled to the woman, not the man; the third to no one.
                #expect(try await Self.indexCounts(lookup, .facility(Self.first))[0] == "1")
                #expect(try await Self.indexCounts(lookup, .facility(Self.third))[0] == "0")
                let hash = try #require(Fixtures.pseudonymizer.residentIDPseudonym(Self.stranger))
                let found = try await Self.value("SELECT emr.person_with_number('\(hash)')::text", as: lookup, scope: .facility(Self.third))
                #expect(found != nil, "the man is found by his number")
                #expect(try await Self.value("SELECT count(*)::text FROM emr.persons WHERE id_hash = '\(hash)'", as: lookup,
                                             scope: .facility(Self.third)) == "0", "but not read")
            }
            url.username = "regio_query_writer"
            try await withDatabase(url, name: "writer", poolSize: 1, logger: TestDatabase.logger) { writer in
                let seen = [
                    try await Self.value("SELECT count(*)::text FROM emr.persons", as: writer, scope: nil),
                    try await Self.value("SELECT count(*)::text FROM emr.persons", as: writer, scope: .facility(Self.first)),
                    try await Self.value("SELECT count(*)::text FROM emr.persons", as: writer, scope: .region),
                ]
                #expect(seen == ["0", "0", all[0]], "no scope, a facility, the region")
            }
        }
    }
}
