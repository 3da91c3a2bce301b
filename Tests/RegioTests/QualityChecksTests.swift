import Foundation
import PostgresNIO
import RegioCore
@testable import RegioDB
@testable import RegioPipeline
import Testing

/// The data-quality checks of a batch's accepted rows are counted as the rows stream, and in SQL
/// (`sql/ingest/checks/`) when the upload's counts cannot be used; both give the same results.
@Suite("Ingestion: data-quality checks counted at upload")
struct QualityChecksTests {
    static let patients = """
        patient_id,name,sex,birth_date,id_type,id_number,phone,address,op
        P001,张三,1,1980-05-06,RID,\(Extracts.rid("339901", "19800506", 101)),,,
        P002,李四,2,,RID,\(Extracts.rid("339901", "19751130", 202)),,,
        P003,王五,1,2001-01-15,,,,,
        P005,,1,1990-01-01,,,,,
        P006,,,,,,,,D

        """
    static let encounters = """
        encounter_id,patient_id,encounter_type,dept_code,dept_name,start_time,end_time,primary_dx,total_cost,drug_cost,consumables_cost,op
        E001,P001,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,I10.x00,120.50,60.00,5.00,
        E002,P002,O,0301,内科,2026-11-22 08:30:00,2026-11-22 09:00:00,,120.50,60.00,5.00,
        E003,P003,E,1001,急诊科,2026-11-22 08:30:00,,J06.900,0.00,0,0,
        E004,P001,I,0401,外科,2026-09-01 10:00:00,2026-10-31 10:00:00,K35.800,8600.00,2100.00,900.00,
        E005,P001,I,0401,外科,2026-09-01 10:00:00,2026-10-31 10:00:01,K35.800,8600.00,2100.00,900.00,
        E006,P002,I,0401,外科,2026-11-20 08:00:00,,K35.800,8600.00,2100.00,900.00,
        E007,P001,I,0401,外科,2026-11-18 08:00:00,2026-11-22 08:00:00,K35.800,8600.00,2100.00,900.00,
        E008,P001,O,0301,内科,2026-11-22 08:30:00,,I10.x00,-5,0,0,
        E009,,,,,,,,,,,D
        E010,P002,I,0401,外科,2026-09-01 10:00:00,2026-10-31T02:00:00Z,K35.800,8600.00,2100.00,900.00,

        """
    static let exams = """
        report_id,patient_id,encounter_id,exam_code,code_system,exam_name,category,performed_at,summary,document_ref
        R1,P001,E001,LAB0001,REGIONAL,血常规,LAB,2026-11-22 08:40:00,正常,his://H339901001/R1
        R2,P002,E002,L-77,LOCAL,血糖,LAB,2026-11-22 08:45:00,正常,his://H339901001/R2
        R3,P002,E002,L-78,LOCAL,血脂,LAB,2026-13-01 08:45:00,正常,his://H339901001/R3

        """
    /// L2 twice: both rows are rejected as duplicates after the file streamed.
    static let purchases = """
        line_id,item_code,code_system,item_name,purchase_unit,pack_size,base_unit,unit_price,quantity,amount,supplier,purchase_date
        L1,X1,NHSA,药,盒,30,片,12.50,4,50.00,供应商,2026-11-22
        L2,X2,LOCAL,药,盒,30,片,12.50,4,50.00,供应商,2026-11-22
        L2,X2,LOCAL,药,盒,30,片,12.50,4,50.00,供应商,2026-11-22

        """
    static let night = ["patients.csv": patients, "encounters.csv": encounters, "exams.csv": exams, "purchases.csv": purchases]

    /// Accepted upserts: patients P001–P003, encounters all but E008 (a negative cost) and E009 (a
    /// retraction), exams R1–R2, purchases L1. Stays counted: the inpatient ones that ended (E004,
    /// E005, E007, E010), of which only E005 lasted more than 60 days — E004 and E010 (the same
    /// instant, written in UTC) lasted exactly 60.
    static let expected = [
        "encounters_without_diagnosis 1/8", "encounters_zero_cost 1/8", "exams_local_code 1/2",
        "patients_without_birth_date 1/3", "patients_without_resident_id 1/3", "purchases_local_code 0/1",
        "stays_over_60_days 1/4",
    ]

    static func checks(_ s: IngestScenario, _ batch: Int64) async throws -> [String] {
        var found: [String] = []
        for try await (id, failing, applicable) in try await s.database.query("""
            SELECT check_id, failing, applicable FROM ingest.batch_checks WHERE batch_id = \(batch) ORDER BY check_id
            """).decode((String, Int64, Int64).self) {
            found.append("\(id) \(failing)/\(applicable)")
        }
        return found
    }

    @Test("the upload's counts and the SQL checks agree", arguments: [true, false])
    func sameResults(remembered: Bool) async throws {
        let stagedKeys = remembered ? StagedKeys() : StagedKeys(lifetime: .zero)
        try await IngestScenario.run(stagedKeys: stagedKeys) { s in
            try await s.rejectThreshold(100)
            let batch = try await s.upload(Self.night)
            #expect(batch.status == .loaded, "\(batch.reason ?? "")")
            #expect(try await Self.checks(s, batch.id) == Self.expected)
        }
    }

    @Test("a decision uses the counts the upload kept, unless a check of its own may reject rows they counted")
    func decisionUsesTheUpload() async throws {
        try await IngestScenario.run { s in
            try await s.rejectThreshold(100)
            for (date, strangerNamed) in [("2026-11-22", false), ("2026-11-23", true)] {
                var encounters = Self.encounters
                if strangerNamed {  // a patient the batch does not send: the database checks the references
                    encounters += "E011,NOBODY,O,0301,内科,2026-11-22 08:30:00,,I10.x00,120.50,60.00,5.00,\n"
                }
                let batch = try await s.stage(["patients.csv": Self.patients, "encounters.csv": encounters], date: date)
                // Counts no SQL check would give: the decision shows whether it used them.
                var files = s.stagedKeys.take(batch: batch.id)
                var kept = try #require(files[.encounters])
                #expect(kept.quality?.failing == [1, 1, 1])
                kept.quality?.failing = [7, 7, 7]
                files[.encounters] = kept
                for (kind, file) in files { s.stagedKeys.remember(file, batch: batch.id, kind: kind) }

                try await s.commit(batch)
                let decided = try await waitForDecision(s, batch.id)
                #expect(decided.status == .loaded, "\(decided.reason ?? "")")
                let diagnosis = try await Self.checks(s, batch.id).first { $0.hasPrefix("encounters_without_diagnosis") }
                #expect(diagnosis == (strangerNamed ? "encounters_without_diagnosis 1/8" : "encounters_without_diagnosis 7/8"))
            }
        }
    }

    @Test("each row's outcome")
    func rowOutcome() throws {
        let context = ValidationContext(businessDate: try #require(CalendarDate("2026-11-22")),
                                        pseudonymizer: Pseudonymizer(secret: Data(repeating: 7, count: 32)))
        let header = "encounter_id,patient_id,encounter_type,dept_code,dept_name,start_time,end_time,primary_dx,total_cost,drug_cost,consumables_cost"
        let validator = RowValidator(spec: ExtractKind.encounters.spec, header: header.components(separatedBy: ","), context: context)
        func tally(_ row: String) -> QualityChecks.Tally {
            var tally = QualityChecks.Tally(kind: .encounters)
            tally.add(validator.validate(row.components(separatedBy: ",")).quality)
            return tally
        }
        let long = tally("E1,P1,I,04,外科,2026-09-01 10:00:00,2026-10-31 10:00:01,,0,0,0")
        #expect(long.applicable == [1, 1, 1] && long.failing == [1, 1, 1])
        let open = tally("E2,P1,I,04,外科,2026-11-20 10:00:00,,K35.800,10,0,0")
        #expect(open.applicable == [1, 1, 0] && open.failing == [0, 0, 0])
        let rejected = tally("E3,P1,O,04,外科,2026-11-20 10:00:00,,K35.800,-1,0,0")
        #expect(rejected.applicable == [0, 0, 0])
    }
}
