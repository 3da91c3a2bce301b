import AsyncHTTPClient
import Foundation
import Hummingbird
import HummingbirdTesting
import NIOCore
import NIOHTTP1
import RegioApp
import RegioCore
import RegioDB
import Testing

/// Every cross-facility lookup that reaches the records writes its audit row in the same
/// transaction, however many arrive at once; one refused at the door (a role that may not look
/// anyone up) reads nothing and writes none.
@Suite("Audit under load")
struct AuditUnderLoadTests {
    @Test("300 lookups at once over HTTP — allowed, refused, not found, and from the bureau — each answered as when alone, with one audit row per lookup that reached the records, by result")
    func lookupsAtOnce() async throws {
        try await IngestScenario.run { s in
            // The same woman at the first and second facilities, her ID number known at the second.
            try await RowSecurityTests.twoFacilities(s)
            let card = RowSecurityTests.card
            let bureau = try #require(try await Fixtures.seedDemoTokens(s.database)[.bureau])
            let (second, third) = (try await s.token(SharedEMRTests.second), try await s.token(SharedEMRTests.third))
            let kinds: [(token: String, body: String, status: UInt)] = [
                (second, #"{"patient_id": "B7", "purpose": "treatment"}"#, 200),
                (third, #"{"resident_id": "\#(card)", "purpose": "treatment"}"#, 403),
                (third, #"{"patient_id": "B7", "purpose": "treatment"}"#, 404),
                (bureau, #"{"patient_id": "B7", "purpose": "treatment"}"#, 403),
            ]
            let requests = 300
            var url = s.database.url
            url.username = "regio_lookup"
            try await withDatabase(url, name: "lookup", poolSize: 4, logger: TestDatabase.logger) { lookups in
                try await Fixtures.queryApp(s.database, lookups: lookups).test(.live) { client in
                    let port = try #require(client.port)
                    let statuses = try await withThrowingTaskGroup(of: (Int, UInt).self) { group in
                        for index in 0..<requests {
                            let kind = index % kinds.count
                            let (token, body) = (kinds[kind].token, kinds[kind].body)
                            group.addTask {
                                var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/v1/lookup")
                                request.method = .POST
                                request.headers.add(name: "Authorization", value: "Bearer \(token)")
                                request.headers.add(name: "Content-Type", value: "application/json")
                                request.body = .bytes(ByteBuffer(string: body))
                                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
                                return (kind, response.status.code)
                            }
                        }
                        var statuses = Array(repeating: [UInt: Int](), count: kinds.count)
                        for try await (kind, status) in group { statuses[kind][status, default: 0] += 1 }
                        return statuses
                    }
                    for (index, kind) in kinds.enumerated() {
                        #expect(statuses[index] == [kind.status: requests / kinds.count], "lookup kind \(index): \(statuses[index])")
                    }
                }
            }
            // One row per lookup that reached the records, by its result; none for the bureau's.
            let share = requests / kinds.count
            #expect(try await s.value("""
                SELECT string_agg(result || '=' || n, ',' ORDER BY result)
                FROM (SELECT result, count(*) AS n FROM audit.lookups GROUP BY result) r
                """) == "allowed=\(share),not_found=\(share),refused=\(share)")
        }
    }
}
