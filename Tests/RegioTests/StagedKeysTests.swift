import Foundation
import RegioCore
@testable import RegioDB
@testable import RegioPipeline
import Testing

@Suite("References settled while files stream, and the checks the decision then skips")
struct StagedKeysTests {
    @Test("a file's sent keys leave out rejected and retracted rows; a repeat or too many such rows keep none")
    func sentKeys() throws {
        let keys = RepeatedKeys(rows: 1_000, memory: KeyMemory(bytes: 1 << 20))
        keys.add("P1")
        keys.add("P2", acceptedUpsert: false)
        keys.add(nil, acceptedUpsert: true)
        let sent = try #require(keys.sentKeys)
        #expect(sent.contains("P1".hashValue))
        #expect(!sent.contains("P2".hashValue), "a rejected or retracted row sends nothing to refer to")
        #expect(!sent.contains("P3".hashValue))
        keys.add("P1")
        #expect(keys.sentKeys == nil, "a repeated key's rows are all rejected later, by the database")

        let many = RepeatedKeys(rows: 1_000, memory: KeyMemory(bytes: 1 << 20))
        for index in 0..<(1_000 / RepeatedKeys.unavailableShare) { many.add("R\(index)", acceptedUpsert: false) }
        #expect(many.sentKeys != nil)
        many.add("R-last", acceptedUpsert: false)
        #expect(many.sentKeys == nil, "past one row in \(RepeatedKeys.unavailableShare), they are not told apart")
        #expect(!many.checkInDatabase, "the duplicate check still works")
    }

    @Test("a reference is settled only when every value is a sent key, and the referred file's own references are too")
    func allSent() throws {
        let memory = KeyMemory(bytes: 1 << 20)
        func keys(_ values: [String]) -> SentKeys? {
            let keys = RepeatedKeys(rows: values.count, memory: memory)
            for value in values { keys.add(value) }
            return keys.sentKeys
        }
        func file(keys: SentKeys? = nil, _ references: [String: [String]]) -> StagedFile {
            StagedFile(table: 1, keys: keys, references: references.mapValues { $0.map(\.hashValue) }, facilityCodes: [:])
        }
        let patients = file(keys: keys(["P1", "P2"]), [:])
        var remembered = RememberedFiles(files: [
            .patients: patients,
            .encounters: file(keys: keys(["E1", "E2"]), ["patient_id": ["P1", "P2", "P1"]]),
            .exams: file(["patient_id": ["P2"], "encounter_id": ["E2"]]),
            .referrals: file(["patient_id": []]),
        ])
        #expect(remembered.allSent(.encounters, "patient_id"))
        #expect(remembered.allSent(.exams, "patient_id"))
        #expect(remembered.allSent(.exams, "encounter_id"))
        #expect(remembered.allSent(.referrals, "patient_id"), "no value, nothing to find")
        #expect(!remembered.allSent(.purchases, "patient_id"), "no such reference")

        remembered.files[.encounters] = file(keys: keys(["E1", "E2"]), ["patient_id": ["P1", "P3"]])
        #expect(!remembered.allSent(.encounters, "patient_id"), "P3 is not sent")
        #expect(!remembered.allSent(.exams, "encounter_id"),
                "E2 is sent, but the encounters' own check may reject it")

        remembered.files[.encounters] = file(keys: keys(["E1", "E2"]), [:])
        #expect(!remembered.allSent(.encounters, "patient_id"), "references not remembered (no memory)")
        remembered.files[.patients] = nil
        #expect(!remembered.allSent(.exams, "patient_id"), "no patients file: only the database knows")
    }

    @Test("what an upload keeps: accepted upserts settle references, rejected and retracted patients do not")
    func keptByUpload() async throws {
        try await IngestScenario.run { s in
            let patients = "patient_id,name,sex,birth_date,id_type,id_number,phone,address,op\n"
                + "P001,张三,1,1980-05-06,,,,,\n"
                + "P002,李四,2,1975-11-30,,,,,D\n"
                + "P010,\(String(repeating: "长", count: 101)),1,1980-05-06,,,,,\n"
            let encounters = Extracts.encountersHeader.replacingOccurrences(of: ",op\n", with: ",referral_from,op\n")
                + "E001,P001,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,120.50,60.00,5.00,H339901002,\n"
            func remembered(_ encounters: String) async throws -> RememberedFiles {
                let batch = try await s.stage(["patients.csv": patients, "encounters.csv": encounters])
                var tables: [ExtractKind: Int64] = [:]
                for try await (kind, oid) in try await s.database.query(
                    "SELECT kind, to_regclass(format('staging.b%s_%s', batch_id, kind))::oid::int8 FROM ingest.batch_files WHERE batch_id = \(batch.id)"
                ).decode((String, Int64).self) {
                    tables[ExtractKind(rawValue: kind)!] = oid
                }
                let files = s.stagedKeys.take(batch: batch.id)
                #expect(files.mapValues(\.table) == tables, "each file is remembered with its staging table")
                return RememberedFiles(files: files)
            }
            let clean = try await remembered(encounters)
            #expect(clean.allSent(.encounters, "patient_id"))
            #expect(clean.facilityCodes(.encounters, "referral_from") == ["H339901002"])
            for (line, patient) in [("E002", "P002"), ("E003", "P010")] {
                let refers = encounters + "\(line),\(patient),O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,,\n"
                #expect(try await !remembered(refers).allSent(.encounters, "patient_id"), "\(patient) is not sent")
            }
        }
    }

    @Test("the decision skips a check the upload settled — only for the staging it was taken from")
    func decisionTrustsTheUpload() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            let encounters = Extracts.encounters + "E004,NOBODY,O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,\n"
            for (date, stale) in [("2026-11-22", true), ("2026-11-23", false)] {
                let batch = try await s.stage(["patients.csv": Extracts.patients, "encounters.csv": encounters], date: date)
                // What an upload that had settled every reference would have kept: E004 claims P001.
                var files = s.stagedKeys.take(batch: batch.id)
                var kept = try #require(files[.encounters])
                #expect(kept.references["patient_id"]?.contains("NOBODY".hashValue) == true)
                kept.references["patient_id"] = ["P001", "P002", "P003", "P001"].map(\.hashValue)
                if stale { kept.table += 1 }  // as if staged again since, elsewhere
                files[.encounters] = kept
                for (kind, file) in files { s.stagedKeys.remember(file, batch: batch.id, kind: kind) }

                try await s.commit(batch)
                let decided = try await waitForDecision(s, batch.id)
                #expect(decided.status == .loaded, "\(decided.reason ?? "")")
                let dangling = try await s.issues(batch.id).contains { $0.line == 5 && $0.code == "dangling_reference" }
                #expect(dangling == stale, stale ? "a stale memory is not used" : "the settled check does not run")
            }
        }
    }

    @Test("rows the patients file rejects or retracts settle nothing: the database finds them missing")
    func rejectedAndRetractedPatients() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            try await s.upload(["patients.csv": Extracts.patients])  // P001–P003 stored
            let patients = "patient_id,name,sex,birth_date,id_type,id_number,phone,address,op\n"
                + "P002,李四,2,1975-11-30,,,,,D\n"
                + "P010,\(String(repeating: "长", count: 101)),1,1980-05-06,,,,,\n"
                + "P004,赵六,1,1990-01-01,,,,,\n"
            let encounters = Extracts.encountersHeader
                + "E010,P002,O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,\n"
                + "E011,P010,O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,\n"
                + "E012,P004,O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,\n"
            let batch = try await s.upload(["patients.csv": patients, "encounters.csv": encounters], date: "2026-11-23")
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            let dangling = try await s.issues(batch.id).filter { $0.kind == "encounters" && $0.code == "dangling_reference" }
            #expect(dangling.map(\.line) == [2, 3], "the retracted P002 and the rejected P010")
            #expect(try await s.value("SELECT string_agg(encounter_id, ',') FROM emr.encounters") == "E012")
        }
    }
}
