import Foundation
import HTTPTypes
import HummingbirdTesting
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

@Suite("The regio command")
struct CommandLineTests {
    @Test("migrate, register a region and facilities, issue a token, and use it")
    func registryByHand() async throws {
        try await TestDatabase.with(migrated: false) { database throws in
            let url = database.url
            var result = try RegioProcess.run(["migrate", "--status"], database: url)
            #expect(result.status == 0)
            #expect(result.stdout.contains("0001 registry") && result.stdout.contains("pending"))
            result = try RegioProcess.run(["migrate"], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("applied 0001 registry"))
            #expect(try RegioProcess.run(["migrate"], database: url).stdout.contains("up to date"))

            for arguments in [
                ["region", "add", "--code", "330000", "--name", "浙江省", "--level", "province"],
                ["region", "add", "--code", "339900", "--name", "清河市", "--level", "city", "--parent", "330000"],
                ["region", "add", "--code", "339901", "--name", "清河区", "--level", "county", "--parent", "339900"],
                ["facility", "add", "--code", "H0001", "--name", "第一医院", "--tier", "3", "--grade", "A",
                 "--type", "general_hospital", "--region", "339901", "--beds", "800"],
            ] {
                let run = try RegioProcess.run(arguments, database: url)
                #expect(run.status == 0, "\(arguments): \(run.stderr)")
            }

            let file = FileManager.default.temporaryDirectory.appendingPathComponent("facilities-\(UUID()).csv")
            try "code,name,tier,type,region_code,staffed_beds\nP0001,湖滨社区卫生服务中心,1,community_centre,339901,20\nP0002,清波社区卫生服务中心,1,community_centre,339901,25\n"
                .write(to: file, atomically: true, encoding: .utf8)
            result = try RegioProcess.run(["facility", "import", file.path], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("imported 2 facilities"))
            result = try RegioProcess.run(["facility", "list"], database: url)
            #expect(result.stdout.contains("3 facilities"))
            result = try RegioProcess.run(["facility", "list", "--csv"], database: url)
            #expect(result.stdout.contains("H0001,第一医院,3,general_hospital,339901,A,800,"))

            result = try RegioProcess.run(["token", "issue", "--role", "bureau", "--label", "analyst"], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            let token = result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            #expect(token.hasPrefix("rg_"))
            #expect(result.stderr.contains("shown only now"))

            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/v1/reports/registry-summary?format=csv", method: .get, headers: Fixtures.bearer(token)) { response in
                    #expect(response.status == .ok)
                    #expect(response.text.contains("339900,清河市,339901,清河区,1,2,45"))
                    #expect(response.text.contains("339900,清河市,339901,清河区,3,1,800"))
                }
            }

            result = try RegioProcess.run(["token", "list"], database: url)
            #expect(result.stdout.contains("bureau") && result.stdout.contains("active") && !result.stdout.contains(token))
            let id = try #require(result.stdout.split(separator: " ").first.map(String.init))
            #expect(try RegioProcess.run(["token", "revoke", id], database: url).status == 0)
            #expect(try RegioProcess.run(["token", "list"], database: url).stdout.contains("revoked"))
            try await Fixtures.queryApp(database).test(.router) { client in
                try await client.execute(uri: "/v1/whoami", method: .get, headers: Fixtures.bearer(token)) {
                    #expect($0.status == .unauthorized)
                }
            }
        }
    }

    @Test("a bad import file imports nothing and names every problem")
    func badImport() async throws {
        try await TestDatabase.with { database throws in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let file = FileManager.default.temporaryDirectory.appendingPathComponent("facilities-\(UUID()).csv")
            try "code,name,tier,type,region_code\nP9001,好,1,community_centre,339901\nbad,坏,7,community_centre,339901\n"
                .write(to: file, atomically: true, encoding: .utf8)
            let result = try RegioProcess.run(["facility", "import", file.path], database: database.url)
            #expect(result.status == 1)
            #expect(result.stderr.contains("line 3, column code"))
            #expect(result.stderr.contains("line 3, column tier"))
            #expect(result.stderr.contains("nothing was imported"))
            #expect(try await RegistryStore(database: database).facilities().contains { $0.code == "P9001" } == false)
        }
    }

    @Test("configuration errors stop the command with one clear line and status 2")
    func configurationErrors() throws {
        var result = try RegioProcess.run(["migrate"], environment: ["REGIO_DATABASE_URL": "postgres://h/db", "REGIO_INGEST_PORT": "x"])
        #expect(result.status == 2)
        let lines = result.stderr.split(separator: "\n")
        #expect(lines.count == 1)
        #expect(lines.first?.contains("REGIO_DATABASE_URL: the URL names no user") == true)
        #expect(lines.first?.contains("REGIO_INGEST_PORT must be a whole number") == true)

        result = try RegioProcess.run(["migrate"])
        #expect(result.status == 2)
        #expect(result.stderr == "regio: configuration error: REGIO_DATABASE_URL is not set\n")

        result = try RegioProcess.run(["serve", "ingest"], environment: ["REGIO_DATABASE_URL": "postgres://u@127.0.0.1/db"])
        #expect(result.status == 1)
        #expect(result.stderr.contains("REGIO_SECRET_FILE is not set"))
    }

    @Test("tokens for the wrong scope are refused at issue")
    func tokenScope() async throws {
        try await TestDatabase.with { database throws in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let result = try RegioProcess.run(["token", "issue", "--role", "facility"], database: database.url)
            #expect(result.status == 1)
            #expect(result.stderr.contains("needs the facility it acts for"))
        }
    }

    @Test("thresholds are listed and set from the command line; unknown ones and bad values are refused; rollups rebuild")
    func thresholdsAndRollups() async throws {
        try await TestDatabase.with { database throws in
            let url = database.url
            var result = try RegioProcess.run(["threshold", "list"], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout.contains("alert\tdrug_share\t> 30 %"))
            #expect(result.stdout.contains("quality\tencounters_without_diagnosis\t> 5 %"))
            result = try RegioProcess.run(["threshold", "set", "alert", "drug_share", "35.5"], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "alert\tdrug_share\t> 35.5 %\n")
            #expect(try await ThresholdStore(database: database).all().first { $0.indicator == "drug_share" }?.threshold == Decimal(string: "35.5"))
            result = try RegioProcess.run(["threshold", "set", "alert", "no_such", "1"], database: url)
            #expect(result.status == 1)
            #expect(result.stderr.contains("no alert threshold 'no_such'"))
            result = try RegioProcess.run(["threshold", "set", "quality", "warning_rows", "ten"], database: url)
            #expect(result.status != 0)
            #expect(result.stderr.contains("must be a number"))
            result = try RegioProcess.run(["threshold", "set", "quality", "warning_rows", "10", "--comparator", "="], database: url)
            #expect(result.status == 1)
            #expect(result.stderr.contains("comparator must be > or <"))
            result = try RegioProcess.run(["rollup", "rebuild"], database: url)
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stdout == "rollups rebuilt\n")
        }
    }
}
