/// Generates realistic, deterministic nightly extracts for a region: a population of persons with
/// valid resident ID numbers who are seen at several facilities, outpatient, emergency and
/// inpatient encounters with ICD-10 diagnoses and costs, exam reports, purchases of drugs and
/// consumables (SampleProcurement), referrals up and down the tiers (most of which
/// arrive), bed census, corrections and retractions of earlier rows, and a small share of
/// deliberately bad rows. The same seed gives the same files.
public struct SampleExtractGenerator {
    public struct Options: Sendable {
        public var seed: UInt64 = 20_261_122
        public var firstNight: CalendarDate
        public var nights: Int = 7
        /// Multiplies every volume (1 = demo size: about 2,000 encounters a night in the sample region).
        public var scale: Double = 1
        /// Overrides the per-facility encounter count of every night (for benchmarks).
        public var encountersPerFacility: Int?
        /// Share of rows deliberately broken (each reported by the platform as an error or warning).
        public var badRowShare: Double = 0.01
        public var populationSize: Int = 60_000
        /// Only these facilities send extracts (the others still receive referrals); nil for all.
        public var only: Set<String>?
        /// Days of purchases before the first night that the first night's extract carries.
        public var purchaseHistoryDays = 0

        public init(firstNight: CalendarDate, nights: Int = 7, seed: UInt64 = 20_261_122) {
            self.firstNight = firstNight
            self.nights = nights
            self.seed = seed
        }
    }

    /// Receives the generated rows: `line` is one CSV line (with its line break) of `kind` for the
    /// facility and night; the header comes first. `nightDone` follows each night.
    public typealias Sink = (_ facility: String, _ night: CalendarDate, _ kind: ExtractKind, _ line: String) throws -> Void

    public static let headers: [ExtractKind: [String]] = [
        .patients: ["patient_id", "name", "sex", "birth_date", "id_type", "id_number", "phone", "address", "op"],
        .encounters: ["encounter_id", "patient_id", "encounter_type", "dept_code", "dept_name", "start_time", "end_time",
                      "primary_dx", "total_cost", "drug_cost", "consumables_cost", "referral_from", "referral_id", "op"],
        .exams: ["report_id", "patient_id", "encounter_id", "exam_code", "code_system", "exam_name", "category", "modality",
                 "body_site", "performed_at", "reported_at", "summary", "document_ref", "price", "op"],
        .purchases: ["line_id", "item_code", "code_system", "item_name", "spec", "manufacturer", "purchase_unit", "pack_size",
                     "base_unit", "unit_price", "quantity", "amount", "supplier", "purchase_date", "invoice_no", "vbp", "op"],
        .referrals: ["referral_id", "patient_id", "to_facility_code", "referred_at", "reason_dx", "status", "status_at", "op"],
        .beds: ["dept_code", "staffed_beds", "occupied_beds"],
    ]

    let facilities: [Facility]
    let options: Options
    let procurement: SampleProcurement
    private var seen: [String: Set<Int>] = [:]
    private var scheduled: [Int: [Scheduled]] = [:]   // by day number
    private var yesterday: [String: [Encounter]] = [:]
    private var counters: [String: Int] = [:]

    struct Encounter {
        var id: String, patient: String, type: String, dept: (code: String, name: String), start: String, end: String?
        var dx: String, total: Double, drug: Double, consumables: Double, referralFrom: String?, referralID: String?
    }

    enum Scheduled {
        case discharge(facility: String, encounter: Encounter, person: Int)
        case arrival(facility: String, person: Int, from: String, referralID: String, inpatient: Bool)
    }

    public init(facilities: [Facility], options: Options) {
        self.facilities = facilities
        self.options = options
        self.procurement = SampleProcurement(seed: options.seed, scale: options.scale)
    }

    public mutating func generate(_ sink: Sink, nightDone: (CalendarDate) throws -> Void = { _ in }) throws {
        for offset in 0..<options.nights {
            let night = options.firstNight.adding(days: offset)
            for (index, facility) in facilities.enumerated() where options.only?.contains(facility.code) ?? true {
                var rng = SplitMix64.derived(options.seed, 2, UInt64(night.dayNumber), UInt64(index))
                try generate(facility: facility, night: night, rng: &rng, sink)
            }
            scheduled[night.dayNumber] = nil
            try nightDone(night)
        }
    }

    // MARK: One facility, one night

    private mutating func generate(facility: Facility, night: CalendarDate, rng: inout SplitMix64, _ sink: Sink) throws {
        var emitted = Set<ExtractKind>()
        func emit(_ kind: ExtractKind, _ fields: [String?]) throws {
            if emitted.insert(kind).inserted {
                try sink(facility.code, night, kind, Self.headers[kind]!.joined(separator: ",") + "\n")
            }
            try sink(facility.code, night, kind, fields.map { CSVWriter.field($0 ?? "") }.joined(separator: ",") + "\n")
        }
        let date = night.description
        var todays: [Encounter] = []

        func ensurePatient(_ person: Int) throws -> String {
            let local = Self.localPatientID(person, facility: facility)
            if seen[facility.code, default: []].insert(person).inserted {
                try emit(.patients, patientRow(person, localID: local, facility: facility, rng: &rng))
            }
            return local
        }

        func nextID(_ prefix: String) -> String {
            let key = facility.code + prefix
            counters[key, default: 0] += 1
            return prefix + date.replacingOccurrences(of: "-", with: "") + pad(counters[key]!, 6)
        }

        func writeEncounter(_ encounter: Encounter, op: String = "U") throws {
            var fields: [String?] = [encounter.id, encounter.patient, encounter.type, encounter.dept.code, encounter.dept.name,
                                     encounter.start, encounter.end, encounter.dx, money(encounter.total), money(encounter.drug),
                                     money(encounter.consumables), encounter.referralFrom, encounter.referralID, op == "U" ? nil : op]
            if op == "U", rng.chance(options.badRowShare) { breakEncounter(&fields, rng: &rng, todays: todays) }
            try emit(.encounters, fields)
        }

        /// `usual`: the person's usual exam only (a patient arriving on a referral is examined again).
        func exams(for encounter: Encounter, count: Int, person: Int, usual: Bool = false) throws {
            for _ in 0..<count {
                // Some exams are the person's usual one, whichever facility sees them: the repeats
                // the duplicate-exam report counts.
                let exam = usual || rng.chance(0.3) ? Self.usualExam(person, seed: options.seed) : rng.pick(SampleCatalog.exams)
                let regional = rng.chance(0.85)
                let id = nextID("R")
                let performed = encounter.start
                let summary: String? = switch exam.category {
                case "LAB": rng.chance(0.8) ? "各项指标在参考范围内" : "指标轻度异常，建议复查"
                case "IMAGING": rng.chance(0.7) ? "未见明显异常" : "见少许斑片影，建议结合临床,随诊复查"
                default: rng.chance(0.1) ? "报告摘要：\n第一行\n第二行" : "未见明显异常"
                }
                try emit(.exams, [id, encounter.patient, encounter.id, regional ? exam.code : Self.localExamCode(exam.code), regional ? "REGIONAL" : "LOCAL",
                                  exam.name, exam.category, exam.modality, exam.bodySite, performed, performed,
                                  summary, "his://\(facility.code)/reports/\(id)", money(exam.price), nil])
            }
        }

        // Discharges of earlier admissions and referred patients arriving today.
        for event in scheduled[night.dayNumber] ?? [] {
            switch event {
            case .discharge(let code, var encounter, let person) where code == facility.code:
                let hour = Int.random(in: 8...16, using: &rng)
                encounter.end = "\(date) \(pad(hour, 2)):\(pad(Int.random(in: 0...59, using: &rng), 2)):00"
                let days = Double(max(1, night.dayNumber - CalendarDate(String(encounter.start.prefix(10)))!.dayNumber))
                encounter.total = (Double.random(in: 1500...4500, using: &rng) * days).rounded()
                encounter.drug = (encounter.total * Double.random(in: 0.2...0.4, using: &rng)).rounded()
                encounter.consumables = (encounter.total * Double.random(in: 0.08...0.2, using: &rng)).rounded()
                try writeEncounter(encounter)
                if facility.tier != .primary, rng.chance(0.08), let target = pickFacility(tier: .primary, near: person, rng: &rng) {
                    try refer(person: person, patient: encounter.patient, to: target, dx: encounter.dx, inpatient: false)
                }
            case .arrival(let code, let person, let from, let referralID, let inpatient) where code == facility.code:
                let patient = try ensurePatient(person)
                let encounter = newEncounter(patient: patient, type: inpatient ? "I" : "O", referral: (from, referralID))
                try writeEncounter(encounter)
                todays.append(encounter)
                try exams(for: encounter, count: rng.chance(0.7) ? 1 : 0, person: person, usual: true)
                if inpatient { schedule(discharge: encounter, person: person) }
            default:
                break
            }
        }

        func newEncounter(patient: String, type: String, referral: (String, String)?) -> Encounter {
            let hour = type == "E" ? Int.random(in: 0...22, using: &rng) : Int.random(in: 8...16, using: &rng)
            let start = "\(date) \(pad(hour, 2)):\(pad(Int.random(in: 0...59, using: &rng), 2)):\(pad(Int.random(in: 0...59, using: &rng), 2))"
            let dept = type == "E" ? SampleCatalog.departments[4] : rng.pick(facility.tier == .primary ? [SampleCatalog.departments[6], SampleCatalog.departments[0]] : SampleCatalog.departments)
            let inpatient = type == "I"
            let total = inpatient ? Double(Int.random(in: 800...3000, using: &rng))
                : (Double.random(in: 40...(facility.tier == .primary ? 220 : 650), using: &rng) * 100).rounded() / 100
            let drug = (total * Double.random(in: facility.tier == .primary ? 0.35...0.6 : 0.2...0.45, using: &rng) * 100).rounded() / 100
            let consumables = (total * Double.random(in: 0.02...0.15, using: &rng) * 100).rounded() / 100
            // Seen within the next hour: the visit ends the same day, after it started.
            let end: String? = inpatient ? nil : start.prefix(11) + "\(pad(hour + 1, 2)):\(pad(Int.random(in: 0...59, using: &rng), 2)):00"
            return Encounter(id: nextID("E"), patient: patient, type: type, dept: dept, start: start, end: end,
                             dx: rng.pick(inpatient ? SampleCatalog.inpatientDiagnoses : SampleCatalog.outpatientDiagnoses),
                             total: total, drug: drug, consumables: consumables, referralFrom: referral?.0, referralID: referral?.1)
        }

        func refer(person: Int, patient: String, to target: Facility, dx: String, inpatient: Bool) throws {
            let id = nextID("RF")
            try emit(.referrals, [id, patient, target.code, "\(date) \(pad(Int.random(in: 8...17, using: &rng), 2)):30:00", dx,
                                  rng.chance(0.7) ? "ACCEPTED" : "SENT", nil, nil])
            // Most referred patients arrive within days; some only after the 30-day window, some never.
            if rng.chance(0.75) {
                let delay = rng.chance(0.9) ? Int.random(in: 1...10, using: &rng) : Int.random(in: 31...40, using: &rng)
                scheduled[night.dayNumber + delay, default: []].append(
                    .arrival(facility: target.code, person: person, from: facility.code, referralID: id, inpatient: inpatient))
            }
        }

        func schedule(discharge encounter: Encounter, person: Int) {
            let stay = Int.random(in: 2...12, using: &rng)
            scheduled[night.dayNumber + stay, default: []].append(.discharge(facility: facility.code, encounter: encounter, person: person))
        }

        // Today's new encounters.
        let count = options.encountersPerFacility ?? Self.volume(facility, night: night, scale: options.scale, rng: &rng)
        let shares: (emergency: Double, inpatient: Double) = switch facility.tier {
        case .primary: (0.02, 0.015)
        case .secondary: (0.08, 0.06)
        case .tertiary: (0.1, 0.07)
        }
        for _ in 0..<count {
            let person = pickPerson(near: facility, rng: &rng)
            let patient = try ensurePatient(person)
            let roll = Double.random(in: 0..<1, using: &rng)
            let type = roll < shares.inpatient ? "I" : roll < shares.inpatient + shares.emergency ? "E" : "O"
            let encounter = newEncounter(patient: patient, type: type, referral: nil)
            try writeEncounter(encounter)
            todays.append(encounter)
            if type == "I" { schedule(discharge: encounter, person: person) }
            let examCount = type == "I" ? Int.random(in: 1...3, using: &rng) : rng.chance(0.3) ? Int.random(in: 1...2, using: &rng) : 0
            try exams(for: encounter, count: examCount, person: person)
            if facility.tier == .primary, type == "O", rng.chance(0.025), let target = pickFacility(tier: rng.chance(0.6) ? .secondary : .tertiary, near: person, rng: &rng) {
                try refer(person: person, patient: patient, to: target, dx: encounter.dx, inpatient: rng.chance(0.3))
            }
        }

        // A correction and a retraction of yesterday's rows now and then.
        if var corrected = yesterday[facility.code]?.first, rng.chance(0.3) {
            corrected.total = (corrected.total * 1.1 * 100).rounded() / 100
            try writeEncounter(corrected)
        }
        if let retracted = yesterday[facility.code]?.last, (yesterday[facility.code]?.count ?? 0) > 1, rng.chance(0.1) {
            try writeEncounter(retracted, op: "D")
        }
        yesterday[facility.code] = Array(todays.filter { $0.type != "I" }.prefix(5))

        // Purchases: hospitals and township centres buy most days (SampleProcurement). The first
        // night also carries the purchases of the `purchaseHistoryDays` before it, as a facility's
        // initial load would.
        let history = night == options.firstNight ? options.purchaseHistoryDays : 0
        for day in (0...history).reversed().map({ night.adding(days: -$0) }) {
            for line in procurement.day(facility, day) { try emit(.purchases, line.row(id: nextID("L"))) }
        }

        // Midnight bed census of hospitals.
        if facility.tier != .primary {
            let departments = SampleCatalog.departments.prefix(facility.tier == .tertiary ? 6 : 4)
            let perDepartment = facility.staffedBeds / departments.count
            for department in departments {
                let occupied = Int(Double(perDepartment) * Double.random(in: 0.7...1.02, using: &rng))
                try emit(.beds, [department.code, String(perDepartment), String(occupied)])
            }
        }
    }

    // MARK: Volumes and people

    static func volume(_ facility: Facility, night: CalendarDate, scale: Double, rng: inout SplitMix64) -> Int {
        let base: Double = switch facility.tier {
        case .primary: 45
        case .secondary: 160
        case .tertiary: 420
        }
        // Fewer visits at weekends (1970-01-01 was a Thursday: day 2 and 3 of the week are Sat/Sun).
        let weekday = ((night.dayNumber % 7) + 7) % 7
        let weekend = weekday == 2 || weekday == 3 ? 0.6 : 1.0
        return max(1, Int(base * scale * weekend * Double.random(in: 0.85...1.15, using: &rng)))
    }

    func pickPerson(near facility: Facility, rng: inout SplitMix64) -> Int {
        let counties = countyCodes
        let countyIndex = counties.firstIndex(of: facility.regionCode) ?? 0
        let local = facility.tier == .tertiary ? rng.chance(0.5) : rng.chance(0.85)
        let county = local ? countyIndex : Int.random(in: 0..<counties.count, using: &rng)
        let perCounty = max(1, options.populationSize / counties.count)
        return county + counties.count * Int.random(in: 0..<perCounty, using: &rng)
    }

    var countyCodes: [String] { Array(Set(facilities.map(\.regionCode))).sorted() }

    func pickFacility(tier: FacilityTier, near person: Int, rng: inout SplitMix64) -> Facility? {
        let county = countyCodes[person % countyCodes.count]
        let candidates = facilities.filter { $0.tier == tier }
        guard !candidates.isEmpty else { return nil }
        let nearby = candidates.filter { $0.regionCode == county }
        return rng.pick(nearby.isEmpty || tier == .tertiary ? candidates : nearby)
    }

    /// The sample region's regional exam catalogue.
    public static var examCatalog: [ExamCode] {
        SampleCatalog.exams.map { ExamCode(code: $0.code, name: $0.name, category: $0.category) }
    }

    /// The code a facility's own system gives a regional exam code, in the sample region.
    public static func localExamCode(_ regional: String) -> String { "L" + regional }

    static func localPatientID(_ person: Int, facility: Facility) -> String {
        // Each hospital numbers its own patients (病案号); the same person has different numbers.
        let salt = facility.code.unicodeScalars.reduce(0) { $0 &* 31 &+ Int($1.value) } & 0xFFFF
        return "MRN" + pad((person &* 7919 &+ salt &* 104_729) % 100_000_000, 8)
    }

    /// The exam a person has wherever they go (their chronic condition's check).
    static func usualExam(_ person: Int, seed: UInt64) -> SampleCatalog.Exam {
        var usual = SplitMix64.derived(seed, 6, UInt64(person))
        return usual.pick(SampleCatalog.exams)
    }

    /// Person `index` of the population as `facility` records them: the same every time. A record
    /// without an ID number (the person has none, or this facility did not take it) is sometimes
    /// written with the name in traditional characters or a homophone, or an older phone number:
    /// what the patient index links by score.
    func patientRow(_ index: Int, localID: String, facility: Facility, rng: inout SplitMix64) -> [String?] {
        var person = SplitMix64.derived(options.seed, 1, UInt64(index))
        let county = countyCodes[index % countyCodes.count]
        let year = 2024 - Int((Double.random(in: 0..<1, using: &person) * Double.random(in: 0..<1, using: &person) * 0.6 + Double.random(in: 0..<0.4, using: &person)) * 84)
        let month = Int.random(in: 1...12, using: &person)
        let birth = CalendarDate(year: year, month: month, day: Int.random(in: 1...CalendarDate.daysIn(month: month, year: year), using: &person))!
        let male = person.chance(0.5)
        var sequence = Int.random(in: 0...99, using: &person) * 10 + Int.random(in: 0...4, using: &person) * 2 + (male ? 1 : 0)
        sequence %= 1000
        let first17 = Array((county + birth.description.replacingOccurrences(of: "-", with: "") + pad(sequence, 3)).utf8)
        var idNumber = String(decoding: first17 + [FieldChecks.checkCharacter(first17)], as: UTF8.self)
        let name = person.pick(SampleCatalog.surnames) + person.pick(SampleCatalog.givenCharacters) + (person.chance(0.6) ? person.pick(SampleCatalog.givenCharacters) : "")
        let idRoll = Double.random(in: 0..<1, using: &person)
        let phone = "1" + person.pick(["3", "5", "8"]) + pad(Int.random(in: 0...999_999_999, using: &person), 9)
        let address = "浙江省清河市" + person.pick(SampleCatalog.streets) + "\(Int.random(in: 1...400, using: &person))号"
        var row: [String?] = [localID, name, male ? "1" : "2", birth.description, "RID", idNumber, phone, address, nil]
        if idRoll < 0.04 { row[4] = nil; row[5] = nil }                                   // no ID on record
        else if idRoll < 0.05 { row[4] = "PASSPORT"; row[5] = "E" + pad(index % 100_000_000, 8) }
        var here = SplitMix64.derived(options.seed, 7, UInt64(index), UInt64(facility.code.hashValueStable))
        if idRoll >= 0.05, here.chance(0.08) { row[4] = nil; row[5] = nil }               // not taken at this facility
        if row[5] == nil {
            if here.chance(0.3) { row[1] = SampleCatalog.variant(of: name, rng: &here) }
            if here.chance(0.3) { row[6] = "1" + here.pick(["3", "5", "8"]) + pad(Int.random(in: 0...999_999_999, using: &here), 9) }
        }
        if rng.chance(options.badRowShare) {
            switch Int.random(in: 0..<4, using: &rng) {
            case 0:  // a typo in the ID number: the check character no longer fits (a warning)
                idNumber = String(idNumber.prefix(16)) + (idNumber.dropFirst(16).first == "1" ? "2" : "1") + String(idNumber.suffix(1))
                row[4] = "RID"; row[5] = idNumber
            case 1: row[3] = "2099-01-01"          // birth date in the future (a warning)
            case 2: row[1] = nil                    // name missing (an error)
            default: row[2] = "M"                   // sex not a GB/T 2261.1 code (an error)
            }
        }
        return row
    }

    /// Breaks one field the way real extracts go wrong.
    func breakEncounter(_ fields: inout [String?], rng: inout SplitMix64, todays: [Encounter]) {
        switch Int.random(in: 0..<8, using: &rng) {
        case 0: fields[5] = nil                                   // start_time missing
        case 1: fields[5] = "2026/11/03 08:00"                    // not a date format we take
        case 2: fields[8] = "-12.00"                              // negative cost
        case 3: fields[9] = money((Double(fields[8]! ?? "0") ?? 0) + 100)  // drug cost above total
        case 4: fields[2] = "X"                                   // unknown encounter type
        case 5: fields[1] = "MRN99999999X"                        // patient never sent
        case 6: fields[7] = "高血压"                               // not an ICD-10 code (a warning)
        default: if let earlier = todays.last { fields[0] = earlier.id }  // the same encounter id twice
        }
    }
}

func money(_ value: Double) -> String {
    let cents = Int((value * 100).rounded())
    return "\(cents / 100).\(pad(cents % 100, 2))"
}

extension String {
    /// A hash that does not change between runs (Swift's `hashValue` is seeded per process).
    var hashValueStable: Int {
        unicodeScalars.reduce(5381) { ($0 &* 33) &+ Int($1.value) } & 0x7FFF_FFFF
    }
}
