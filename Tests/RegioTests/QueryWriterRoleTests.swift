import Foundation
import Hummingbird
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

/// The query service as deployed: reports read as the read-only `regio_query`, what users change
/// written as `regio_query_writer`, which may write only that.
@Suite("Query service roles")
struct QueryWriterRoleTests {
    @Test("thresholds are written through the writer role; the reading role refuses the write; the writer may write nothing else")
    func thresholdsWithDeployedRoles() async throws {
        try await TestDatabase.with { database in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let (readURL, writeURL) = try await Fixtures.deployedQueryRoles(database)
            let bureau = try await CredentialStore(database: database).issue(role: .bureau, scope: nil, label: "科长", expiresAt: nil, actor: "test").token

            try await withDatabase(readURL, name: "reader", poolSize: 2, logger: TestDatabase.logger) { reader in
                try await withDatabase(writeURL, name: "writer", poolSize: 2, logger: TestDatabase.logger) { writer in
                    let body = ByteBuffer(string: #"{"threshold": 45}"#)
                    try await Fixtures.queryApp(reader, writes: writer).test(.router) { client in
                        try await client.execute(uri: "/v1/admin/thresholds/alert/drug_share", method: .put,
                                                 headers: Fixtures.bearer(bureau), body: body) { response in
                            #expect(response.status == .ok, "\(String(buffer: response.body))")
                        }
                        try await client.execute(uri: "/v1/reports/registry-summary", method: .get, headers: Fixtures.bearer(bureau)) {
                            #expect($0.status == .ok, "reports read as regio_query")
                        }
                    }
                    // Wired as it was, through the reading connection: refused by the database.
                    try await Fixtures.queryApp(reader).test(.router) { client in
                        try await client.execute(uri: "/v1/admin/thresholds/alert/drug_share", method: .put,
                                                 headers: Fixtures.bearer(bureau), body: ByteBuffer(string: #"{"threshold": 46}"#)) { response in
                            #expect(response.status == .internalServerError)
                        }
                    }
                    for statement in ["UPDATE registry.facilities SET name = name", "DELETE FROM reports.thresholds",
                                      "UPDATE reports.thresholds SET unit = unit", "INSERT INTO reports.facility_month SELECT * FROM reports.facility_month",
                                      "DELETE FROM audit.events"] {
                        await #expect(throws: (any Error).self, "\(statement)") {
                            try await writer.query(PostgresQuery(unsafeSQL: statement))
                        }
                    }
                }
            }
            #expect(try await database.text("SELECT threshold::text FROM reports.thresholds WHERE kind = 'alert' AND indicator = 'drug_share'") == "45")
            #expect(try await database.text("SELECT actor FROM audit.events WHERE action = 'threshold.set'") == "bureau:科长")
        }
    }
}
