import Foundation
import PostgresNIO
import RegioApp
import RegioCore
import RegioDB
import Testing

@Suite("Registry")
struct RegistryTests {
    @Test("facilities are upserted by code and listed")
    func facilities() async throws {
        try await TestDatabase.with { database throws in
            let registry = RegistryStore(database: database)
            try await DemoRegion.seed(registry: registry, actor: "test")
            var listed = try await registry.facilities()
            #expect(listed.count == 32)
            #expect(listed.filter { $0.tier == .tertiary }.count == 2)
            #expect(listed.filter { $0.tier == .secondary }.count == 6)
            #expect(listed.filter { $0.tier == .primary }.count == 24)

            var changed = DemoRegion.facilities[0]
            changed.staffedBeds = 1300
            try await registry.upsertFacilities([changed], actor: "test")
            listed = try await registry.facilities()
            #expect(listed.count == 32)
            #expect(listed.first { $0.code == changed.code }?.staffedBeds == 1300)
        }
    }

    @Test("a facility must sit in a registered county, and a failed batch changes nothing")
    func county() async throws {
        try await TestDatabase.with { database throws in
            let registry = RegistryStore(database: database)
            try await DemoRegion.seed(registry: registry, actor: "test")
            let good = Facility(code: "H9999", name: "新医院", tier: .secondary, type: .generalHospital, regionCode: "339901", staffedBeds: 10)
            var inCity = good
            inCity.code = "H9998"
            inCity.regionCode = "339900"
            await #expect(throws: RegistryError("facility H9998: region 339900 is a city, not a county")) {
                try await registry.upsertFacilities([good, inCity], actor: "test")
            }
            #expect(try await registry.facilities().contains { $0.code == "H9999" } == false)
        }
    }

    @Test("alliances have members; unknown ones are named")
    func alliances() async throws {
        try await TestDatabase.with { database throws in
            let registry = RegistryStore(database: database)
            try await DemoRegion.seed(registry: registry, actor: "test")
            let alliances = try await registry.alliances()
            #expect(alliances.map(\.code).sorted() == [DemoRegion.countyAllianceCode, DemoRegion.allianceCode].sorted())
            let alliance = try #require(alliances.first { $0.code == DemoRegion.allianceCode })
            #expect(alliance.memberCodes == DemoRegion.allianceMembers.sorted())
            let county = try #require(alliances.first { $0.code == DemoRegion.countyAllianceCode })
            #expect(county.memberCodes == DemoRegion.countyAllianceMembers.sorted())
            await #expect(throws: RegistryError("facility NOPE0 is not registered")) {
                try await registry.addMembers(alliance: DemoRegion.allianceCode, facilities: ["NOPE0"], actor: "test")
            }
        }
    }

    @Test("tokens: issued once, stored hashed, scoped, revocable, expiring")
    func tokens() async throws {
        try await TestDatabase.with { database throws in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "test")
            let store = CredentialStore(database: database)
            let issued = try await store.issue(role: .facility, scope: "H339901001", label: "nightly upload", expiresAt: nil, actor: "test")
            guard case .valid(let identity) = try await store.authenticate(token: issued.token) else {
                Issue.record("a fresh token must authenticate"); return
            }
            #expect(identity.role == .facility)
            #expect(identity.facilityCode == "H339901001")

            let stored = try await database.query("SELECT token_hash FROM registry.credentials WHERE id = \(issued.id)")
            for try await hash in stored.decode(String.self) {
                #expect(hash == AccessToken.hash(issued.token))
                #expect(hash != issued.token)
            }
            try await store.revoke(id: issued.id, actor: "test")
            #expect(try await store.authenticate(token: issued.token) == .revoked)
            #expect(try await store.authenticate(token: "rg_nonsense") == .unknown)

            let old = try await store.issue(role: .bureau, scope: nil, label: "old", expiresAt: Date().addingTimeInterval(-60), actor: "test")
            #expect(try await store.authenticate(token: old.token) == .expired)
            #expect(try await store.list().count == 2)

            await #expect(throws: RegistryError("a facility token needs the facility it acts for")) {
                try await store.issue(role: .facility, scope: nil, label: "x", expiresAt: nil, actor: "test")
            }
            await #expect(throws: RegistryError("a bureau token is region-wide and takes no facility or alliance")) {
                try await store.issue(role: .bureau, scope: "H339901001", label: "x", expiresAt: nil, actor: "test")
            }
            await #expect(throws: RegistryError("alliance NOPE is not registered")) {
                try await store.issue(role: .alliance, scope: "NOPE", label: "x", expiresAt: nil, actor: "test")
            }
        }
    }

    @Test("admin actions land in the append-only audit log")
    func audit() async throws {
        try await TestDatabase.with { database throws in
            try await DemoRegion.seed(registry: RegistryStore(database: database), actor: "tester")
            var actions: [String] = []
            for try await action in try await database.query("SELECT action FROM audit.events WHERE actor = 'tester' ORDER BY id").decode(String.self) {
                actions.append(action)
            }
            #expect(actions == ["facility.upsert", "alliance.upsert", "alliance.members.add", "alliance.upsert", "alliance.members.add"])
            await #expect(throws: PSQLError.self) { try await database.query("DELETE FROM audit.events") }
        }
    }
}
