import Foundation
import Logging
import PostgresNIO
import RegioCore
import RegioDB

/// The patient index's step after a batch has loaded: each patient record the batch wrote is
/// given its person. A record with a valid ID number has one already (the merge links it by the
/// number's hash); it is checked against that person's other records, and one whose number
/// disagrees with everything else about it (a child on a parent's card) goes to review. If the
/// number's person has no other record, the record may match a person known without the number:
/// it joins that person, and the number moves with it. A record
/// without one is decided by `PersonMatcher` against the stored records sharing a blocking key
/// with it (`emr.match_keys`): linked, a new person, or a new person with a review for a steward.
///
/// Every change of link is a row of `emr.person_links` (append-only: method, score, what each
/// field added), so a record's person on any date can be told. When a record's person changes,
/// the referral findings of its facility and of the facilities it is now linked with are
/// derived again, and their rollups refreshed.
///
/// Batches are linked one at a time across the cluster (an advisory lock), in the order they
/// loaded, each in one transaction: a link decided for one batch's record is a candidate for the
/// next batch's. Linking never waits for a merge while holding its connection (a lock it cannot
/// get within 2 s makes it try again later), and a merge waits for it at most for the length of
/// one batch's linking.
public struct PersonLinker: Sendable {
    let database: Database
    let model: MatchModel
    /// A blocking key shared by more records than this finds no candidates.
    let blockLimit: Int
    /// Records linked at a time.
    let chunk: Int

    public init(database: Database, model: MatchModel = .standard, blockLimit: Int = 400, chunk: Int = 5_000) {
        self.database = database
        self.model = model
        self.blockLimit = blockLimit
        self.chunk = chunk
    }

    /// What linking a batch did.
    public struct Outcome: Sendable, Equatable {
        public var batch: Int64
        public var records = 0
        public var linkedByID = 0
        public var linkedByScore = 0
        public var newPersons = 0
        public var reviews = 0
        /// Records whose person changed (a first link counts).
        public var changed = 0

        public init(batch: Int64) { self.batch = batch }
    }

    /// A stored or sent patient record, as linking reads it.
    struct Row {
        var facility: Int
        var patient: String
        var person: Int64?
        var record: MatchRecord

        var key: String { "\(facility)|\(patient)" }
    }

    /// Carries out the stewards' queued decisions (`applyStewardActions`), then links the records
    /// of the next loaded batch not linked yet; nil when there is none.
    public func linkNext() async throws -> Outcome? {
        let started = ContinuousClock.now
        // Most calls find nothing to do: one look at both queues (each an indexed one), no transaction.
        var (decisions, waiting) = (false, false)
        for try await found in try await database.query("""
            SELECT EXISTS (SELECT 1 FROM emr.steward_actions WHERE status = 'pending'),
                   EXISTS (SELECT 1 FROM ingest.batches WHERE status = 'loaded' AND linked_at IS NULL AND NOT dry_run)
            """).decode((Bool, Bool).self) {
            (decisions, waiting) = found
        }
        if decisions { try await applyQueuedActions() }
        guard waiting else { return nil }
        let linked: Outcome?
        do {
            linked = try await database.withTransaction { connection -> Outcome? in
                try await linkNext(on: connection)
            }
        } catch let error as PSQLError where error.serverInfo?[.sqlState] == "55P03" {
            // A lock held by a batch being merged (its rows, its referrals): linking waits for
            // it to commit rather than hold a connection meanwhile, and tries again.
            database.logger.debug("linking waits for a merge", metadata: ["error": "\(Database.message(for: error))"])
            return nil
        }
        if let outcome = linked {
            database.logger.info("batch linked", metadata: [
                "batch": "\(outcome.batch)", "records": "\(outcome.records)", "by_id": "\(outcome.linkedByID)",
                "by_score": "\(outcome.linkedByScore)", "new": "\(outcome.newPersons)", "reviews": "\(outcome.reviews)",
                "changed": "\(outcome.changed)", "seconds": "\(BatchStages.seconds(ContinuousClock.now - started))",
            ])
        }
        return linked
    }

    /// One batch linked in the transaction of `connection`; nil when there is none to link, or
    /// another process is linking (only one links at a time: a link decided for one batch's
    /// record is a candidate for the next batch's).
    private func linkNext(on connection: PostgresConnection) async throws -> Outcome? {
        guard try await PersonFacts.tryLock(on: connection, logger: database.logger) else { return nil }
        try await connection.query("SET LOCAL lock_timeout = '2s'", logger: database.logger)
        // A batch whose facility has a later batch being decided waits for it: that merge
        // rewrites the same records.
        var claimed: (id: Int64, facility: Int)?
        for try await row in try await connection.query("""
            SELECT b.id, b.facility_id FROM ingest.batches b
            WHERE b.status = 'loaded' AND b.linked_at IS NULL AND NOT b.dry_run
              AND NOT EXISTS (SELECT 1 FROM ingest.batches o WHERE o.facility_id = b.facility_id AND o.status = 'validating')
            ORDER BY b.finished_at, b.id LIMIT 1
            FOR UPDATE SKIP LOCKED
            """, logger: database.logger).decode((Int64, Int).self) {
            claimed = row
        }
        guard let claimed else { return nil }
        let outcome = try await link(batch: claimed.id, facility: claimed.facility, on: connection)
        try await connection.query("UPDATE ingest.batches SET linked_at = clock_timestamp() WHERE id = \(claimed.id)",
                                   logger: database.logger)
        return outcome
    }

    /// Links the patient records `batch` wrote, in the transaction of `connection`.
    /// The records are taken `chunk` at a time, so that memory stays bounded whatever the night's
    /// size; a chunk's links are written before the next is read, and are its candidates.
    /// The transaction writes the facility's records (`WriteScope`), and the region's derived facts.
    func link(batch: Int64, facility: Int, on connection: PostgresConnection) async throws -> Outcome {
        try await WriteScope.facility(facility).enter(on: connection, logger: database.logger)
        var outcome = Outcome(batch: batch)
        var moved: [Link] = []
        var persons = Set<Int64>()
        var after = ""
        // The records in the index, counted once (each chunk adds its own): an exact name's share.
        var indexed = 0
        for try await count in try await connection.query(
            "SELECT count(*)::int FROM emr.match_keys WHERE key LIKE 's%'", logger: database.logger).decode(Int.self) {
            indexed = count
        }
        while true {
            let sent = try await rows(on: connection, """
                SELECT facility_id, patient_id, person_id, name, sex, birth_date::text, phone, address, id_hash
                FROM emr.patients WHERE facility_id = \(facility) AND batch_id = \(batch) AND patient_id > \(after)
                ORDER BY patient_id LIMIT \(chunk)
                """)
            guard let last = sent.last else { break }
            after = last.patient
            let links = try await link(sent, batch: batch, facility: facility, indexed: indexed, outcome: &outcome, on: connection)
            moved += links.filter { $0.person != $0.row.person }
            persons.formUnion(links.compactMap(\.person) + links.compactMap(\.row.person))
            indexed += sent.count
        }
        try await rederiveReferrals(of: moved, on: connection)
        try await refreshFacts(batch: batch, facility: facility, persons: persons, on: connection)
        return outcome
    }

    /// The exam registry and the patient-index rollup (`PersonFacts`) of the batch's exams and of
    /// the persons its records have, had, and were linked with.
    private func refreshFacts(batch: Int64, facility: Int, persons: Set<Int64>, on connection: PostgresConnection) async throws {
        let touched = try await PersonFacts.touched(byBatch: batch, facility: facility, on: connection, logger: database.logger)
        try await PersonFacts.refresh(persons: persons.union(touched.persons).sorted(), exams: touched.exams,
                                      on: connection, logger: database.logger)
    }

    /// Links one chunk of the batch's records; their links.
    private func link(_ sent: [Row], batch: Int64, facility: Int, indexed: Int, outcome: inout Outcome,
                      on connection: PostgresConnection) async throws -> [Link] {
        outcome.records += sent.count

        // The linked records that share a looked-up key with one of them, and the other linked
        // records of their persons now (a corrected record may no longer be theirs; during a
        // relink, only those decided again count); the name counts.
        let lookups = Array(Set(sent.flatMap(\.record.lookupKeys)))
        let persons = Array(Set(sent.compactMap(\.person)))
        let candidates = try await rows(on: connection, """
            WITH wanted AS (
                SELECT k.key FROM emr.match_keys k WHERE k.key = ANY(\(lookups)) GROUP BY k.key HAVING count(*) <= \(blockLimit)
            ), keyed AS (
                SELECT DISTINCT k.facility_id, k.patient_id FROM emr.match_keys k JOIN wanted w ON w.key = k.key
            )
            SELECT p.facility_id, p.patient_id, p.person_id, p.name, p.sex, p.birth_date::text, p.phone, p.address, p.id_hash
            FROM emr.patients p
            WHERE p.person_id IS NOT NULL AND NOT (p.facility_id = \(facility) AND p.batch_id = \(batch))
              AND ((p.facility_id, p.patient_id) IN (SELECT facility_id, patient_id FROM keyed)
                   OR (p.person_id = ANY(\(persons))
                       AND EXISTS (SELECT 1 FROM emr.match_keys m WHERE m.facility_id = p.facility_id AND m.patient_id = p.patient_id)))
            """)
        var matcher = PersonMatcher(model: try await model(on: connection), blockLimit: blockLimit)
        let nameKeys = Array(Set(sent.map { "s\($0.record.name.simplified)" }))
        var names: [String: Int] = [:]
        for try await (key, count) in try await connection.query("""
            SELECT key, count(*)::int FROM emr.match_keys WHERE key = ANY(\(nameKeys)) GROUP BY key
            """, logger: database.logger).decode((String, Int).self) {
            names[String(key.dropFirst())] = count
        }
        matcher.drawnFrom(records: indexed, names: names)
        for candidate in candidates {
            matcher.place(candidate.record, person: Int(candidate.person!), counted: false)
        }

        // Stewards' decisions stand: a record a steward linked keeps its person, and one kept
        // apart from a person is never linked to it.
        let (stewarded, apart) = try await stewardDecisions(for: sent, on: connection)

        // Each sent record in turn; each decided one is a candidate for the next.
        var links: [Link] = []
        var reviews: [Review] = []
        var pendingNew: [Int] = []  // indexes into `links` waiting for a new person's id
        for row in sent {
            if stewarded.contains(row.key), let person = row.person {
                links.append(Link(row: row, person: person, method: "steward", score: nil))
                matcher.place(row.record, person: Int(person))
                continue
            }
            let decision = matcher.decide(row.record, excluding: apart[row.key] ?? [])
            // The record's person now, if it holds other records: what the record is measured against.
            let current = row.person.flatMap { person in matcher.score(row.record, against: Int(person)).map { (person, $0) } }
            var link = Link(row: row, person: row.person, method: "new", score: nil)
            if row.record.idHash != nil, let person = row.person {
                // Linked by the number in the merge: kept, and checked against the person's other
                // records. One the number disagrees with (a child on a parent's card) goes to review.
                link.method = "id"
                if case .link(let linked, _, let score) = decision, linked == Int(person) {
                    link.score = score
                } else if let (_, score) = current {
                    reviews.append(Review(row: row, person: person, score: score, reason: "id_conflict"))
                } else if case .link(let other, _, let score) = decision {
                    // The number's person holds no other record, and the record matches another
                    // person (whose records carry no other number): it joins that person, and
                    // the number with it, so that the next record with the number is linked there.
                    link.person = Int64(other)
                    link.method = "probabilistic"
                    link.score = score
                    link.numberFrom = person
                }
            } else {
                switch decision {
                case .link(let person, _, let score):
                    link.person = Int64(person)
                    link.method = "probabilistic"
                    link.score = score
                case .review(let person, let score):
                    reviews.append(Review(row: row, person: Int64(person), score: score, reason: "score"))
                    fallthrough
                case .new:
                    // Like no one placed: a person of its own. It keeps the one it has unless that
                    // person has other records it no longer matches (a correction).
                    if row.person == nil || current != nil {
                        link.person = nil
                        pendingNew.append(links.count)
                    }
                }
            }
            if link.method == "id" { outcome.linkedByID += 1 } else if link.method == "probabilistic" { outcome.linkedByScore += 1 }
            links.append(link)
            if let person = link.person { matcher.place(row.record, person: Int(person)) }
        }
        // New persons for the records like no one.
        if !pendingNew.isEmpty {
            var ids: [Int64] = []
            for try await id in try await connection.query("""
                INSERT INTO emr.persons (id_hash) SELECT NULL FROM generate_series(1, \(pendingNew.count)) RETURNING id
                """, logger: database.logger).decode(Int64.self) {
                ids.append(id)
            }
            for (index, id) in zip(pendingNew, ids) {
                links[index].person = id
                links[index].method = "new"
            }
            outcome.newPersons += ids.count
        }
        outcome.reviews += reviews.count
        outcome.changed += links.filter { $0.person != $0.row.person }.count
        try await write(links: links, reviews: reviews, batch: batch, facility: facility, on: connection)
        return links
    }

    /// Of these records, those whose current link a steward made, and the persons each was kept
    /// apart from.
    private func stewardDecisions(for rows: [Row], on connection: PostgresConnection) async throws
        -> (stewarded: Set<String>, apart: [String: Set<Int>]) {
        var stewarded = Set<String>()
        var apart: [String: Set<Int>] = [:]
        // A chunk's records are one facility's: its id and the patient ids make index lookups.
        let (facility, patients) = (rows.first?.facility ?? 0, rows.map(\.patient))
        for try await (kind, facility, patient, person) in try await connection.query("""
            SELECT 'steward', l.facility_id, l.patient_id, l.person_id FROM (
                SELECT DISTINCT ON (l.facility_id, l.patient_id) l.facility_id, l.patient_id, l.person_id, l.method
                FROM emr.person_links l
                WHERE l.facility_id = \(facility) AND l.patient_id = ANY(\(patients))
                ORDER BY l.facility_id, l.patient_id, l.linked_at DESC, l.id DESC
            ) l WHERE l.method = 'steward'
            UNION ALL
            SELECT 'apart', k.facility_id, k.patient_id, k.person_id FROM emr.kept_apart k
            WHERE k.facility_id = \(facility) AND k.patient_id = ANY(\(patients))
            """, logger: database.logger).decode((String, Int, String, Int64?).self) {
            let key = "\(facility)|\(patient)"
            if kind == "steward" {
                stewarded.insert(key)
            } else if let person {
                apart[key, default: []].insert(Int(person))
            }
        }
        return (stewarded, apart)
    }

    /// A record's link as this linking leaves it.
    struct Link {
        var row: Row
        var person: Int64?
        var method: String
        var score: MatchScore?
        /// The person whose ID number moves to `person` with the record (see `link`).
        var numberFrom: Int64?
    }

    struct Review {
        var row: Row
        var person: Int64
        var score: MatchScore
        var reason: String
    }

    /// The records' persons, their history rows (for records whose person changed, or that have
    /// none yet), the reviews (replacing a record's open one), and their blocking keys. The records
    /// are one chunk of `facility`'s batch: looked up by the facility and their patient ids, which
    /// the indexes serve (a join with the unnested pairs scanned `emr.match_keys` whole).
    private func write(links: [Link], reviews: [Review], batch: Int64, facility: Int, on connection: PostgresConnection) async throws {
        let logger = database.logger
        let moved = links.filter { $0.person != $0.row.person }
        if !moved.isEmpty {
            try await connection.query("""
                UPDATE emr.patients p SET person_id = m.person
                FROM unnest(\(moved.map(\.row.facility))::int[], \(moved.map(\.row.patient))::text[], \(moved.map { $0.person! })::int8[])
                     AS m (facility, patient, person)
                WHERE p.facility_id = m.facility AND p.patient_id = m.patient
                """, logger: logger)
        }
        // ID numbers that moved with their record: off the person left without records, onto the new one.
        let numbers = links.compactMap { link in link.numberFrom.map { (from: $0, to: link.person!) } }
        if !numbers.isEmpty {
            var hashes: [Int64: String] = [:]
            for try await (id, hash) in try await connection.query("""
                UPDATE emr.persons p SET id_hash = NULL FROM emr.persons o
                WHERE p.id = o.id AND p.id = ANY(\(numbers.map(\.from))) AND p.id_hash IS NOT NULL
                RETURNING p.id, o.id_hash
                """, logger: logger).decode((Int64, String).self) {
                hashes[id] = hash
            }
            let moves = numbers.compactMap { number in hashes[number.from].map { (to: number.to, hash: $0) } }
            try await connection.query("""
                UPDATE emr.persons p SET id_hash = m.hash
                FROM (SELECT DISTINCT ON (hash) * FROM unnest(\(moves.map(\.to))::int8[], \(moves.map(\.hash))::text[]) AS m (person, hash)) m
                WHERE p.id = m.person AND p.id_hash IS NULL
                """, logger: logger)
        }
        // History: a row for each record whose person changed, or whose current link has no row
        // yet (a record linked by ID number in the merge).
        var history = moved
        let unchanged = links.filter { $0.person == $0.row.person }
        if !unchanged.isEmpty {
            var known = Set<String>()
            for try await (facility, patient, person) in try await connection.query("""
                SELECT DISTINCT ON (l.facility_id, l.patient_id) l.facility_id, l.patient_id, l.person_id
                FROM emr.person_links l
                WHERE l.facility_id = \(facility) AND l.patient_id = ANY(\(unchanged.map(\.row.patient)))
                ORDER BY l.facility_id, l.patient_id, l.linked_at DESC, l.id DESC
                """, logger: logger).decode((Int, String, Int64?).self) {
                if let person { known.insert("\(facility)|\(patient)|\(person)") }
            }
            history += unchanged.filter { link in link.person.map { !known.contains("\(link.row.key)|\($0)") } ?? false }
        }
        if !history.isEmpty {
            try await connection.query("""
                INSERT INTO emr.person_links (facility_id, patient_id, person_id, method, score, contributions, batch_id, actor)
                SELECT facility, patient, person, method, CASE WHEN contributions <> '' THEN score END,
                       nullif(contributions, '')::jsonb, \(batch), 'linker'
                FROM unnest(\(history.map(\.row.facility))::int[], \(history.map(\.row.patient))::text[],
                            \(history.map { $0.person! })::int8[], \(history.map(\.method))::text[],
                            \(history.map { $0.score?.total ?? 0 })::float8[], \(history.map { $0.score.map(Self.json) ?? "" })::text[])
                     AS h (facility, patient, person, method, score, contributions)
                """, logger: logger)
        }
        // Reviews: a record's open review is superseded by this linking's, or closed if it has none.
        try await connection.query("""
            UPDATE emr.link_reviews r SET decided_at = now(), decision = 'superseded', decided_by = 'linker'
            WHERE r.decided_at IS NULL AND r.facility_id = \(facility) AND r.patient_id = ANY(\(links.map(\.row.patient)))
            """, logger: logger)
        if !reviews.isEmpty {
            try await connection.query("""
                INSERT INTO emr.link_reviews (facility_id, patient_id, candidate_person, score, contributions, reason)
                SELECT facility, patient, person, score, contributions::jsonb, reason
                FROM unnest(\(reviews.map(\.row.facility))::int[], \(reviews.map(\.row.patient))::text[],
                            \(reviews.map(\.person))::int8[], \(reviews.map(\.score.total))::float8[],
                            \(reviews.map { Self.json($0.score) })::text[], \(reviews.map(\.reason))::text[])
                     AS v (facility, patient, person, score, contributions, reason)
                """, logger: logger)
        }
        // Blocking keys: what each record is filed under now, and its name for the counts.
        try await connection.query("""
            DELETE FROM emr.match_keys k WHERE k.facility_id = \(facility) AND k.patient_id = ANY(\(links.map(\.row.patient)))
            """, logger: logger)
        var keys: [String] = [], facilities: [Int] = [], patients: [String] = []
        for link in links where link.person != nil {
            for key in Set(link.row.record.indexKeys + ["s\(link.row.record.name.simplified)"]) {
                keys.append(key)
                facilities.append(link.row.facility)
                patients.append(link.row.patient)
            }
        }
        try await connection.query("""
            INSERT INTO emr.match_keys (key, facility_id, patient_id)
            SELECT * FROM unnest(\(keys)::text[], \(facilities)::int[], \(patients)::text[])
            """, logger: logger)
        // A first night, or a relink, fills the keys in this one transaction: the next chunk's
        // statements are planned from statistics that count them (as the merge does, GrownTables).
        try await GrownTables.analyzeIfGrown("emr.match_keys", inserted: keys.count, on: connection, logger: logger)
    }

    /// A score's parts as stored: `{"total": 27.1, "name": {"level": "exact", "weight": 12.1}, …}`.
    static func json(_ score: MatchScore) -> String {
        var object: [String: Any] = ["total": (score.total * 100).rounded() / 100]
        for part in score.contributions {
            object[part.field.rawValue] = ["level": part.level, "weight": (part.weight * 100).rounded() / 100]
        }
        let data = try! JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])
        return String(decoding: data, as: UTF8.self)
    }

    /// The referral findings depend on which records are one person (a referral is completed by
    /// the person's encounter at the receiving facility): those of the facilities whose records
    /// changed person, and of the facilities holding the other records of those persons, are
    /// derived again and their rollups refreshed.
    private func rederiveReferrals(of moved: [Link], on connection: PostgresConnection) async throws {
        guard !moved.isEmpty else { return }
        try await rederiveReferrals(facilities: Set(moved.map(\.row.facility)),
                                    persons: Array(Set(moved.compactMap(\.person) + moved.compactMap(\.row.person))), on: connection)
    }

    /// The referral findings of these facilities and of those holding records of these persons.
    func rederiveReferrals(facilities: Set<Int>, persons: [Int64], on connection: PostgresConnection) async throws {
        var facilities = facilities
        for try await facility in try await connection.query(
            "SELECT DISTINCT facility_id FROM emr.patients WHERE person_id = ANY(\(persons))", logger: database.logger
        ).decode(Int.self) {
            facilities.insert(facility)
        }
        var keys: [Rollups.Key] = []
        for facility in facilities.sorted() {
            keys += try await Rollups.matchReferrals(facility: facility, touchedFrom: nil, on: connection, logger: database.logger)
        }
        try await Rollups.refreshReferralMonths(keys, on: connection, logger: database.logger)
    }

    /// The model in force: the region's thresholds (`registry.settings`) and its own m and u where
    /// it set them (`emr.match_weights`; a row naming no level of the model is logged and ignored).
    public func model(on connection: PostgresConnection) async throws -> MatchModel {
        var model = self.model
        for try await (link, review) in try await connection.query("""
            SELECT registry.setting_number('link_threshold', \(model.linkThreshold)::numeric)::float8,
                   registry.setting_number('review_threshold', \(model.reviewThreshold)::numeric)::float8
            """, logger: database.logger).decode((Double, Double).self) {
            model.linkThreshold = link
            model.reviewThreshold = review
        }
        for try await (field, level, m, u) in try await connection.query(
            "SELECT field, level, m, u FROM emr.match_weights ORDER BY field, level", logger: database.logger
        ).decode((String, String, Double, Double).self) where !model.set(field: field, level: level, m: m, u: u) {
            database.logger.warning("emr.match_weights names no level of the model; ignored", metadata: ["field": "\(field)", "level": "\(level)"])
        }
        return model
    }

    private func rows(on connection: PostgresConnection, _ query: PostgresQuery) async throws -> [Row] {
        var rows: [Row] = []
        for try await (facility, patient, person, name, sex, birth, phone, address, idHash) in try await connection.query(
            query, logger: database.logger
        ).decode((Int, String, Int64?, String, String, String?, String?, String?, String?).self) {
            rows.append(Row(facility: facility, patient: patient, person: person,
                            record: MatchRecord(name: name, sex: sex, birthDate: birth.flatMap { CalendarDate($0) }, phone: phone,
                                                address: address, idHash: idHash)))
        }
        return rows
    }
}

extension PersonLinker {
    /// Readies every loaded batch to be linked again, after a change of the model or its
    /// thresholds: the blocking keys are dropped and the batches marked not linked, so that
    /// `linkNext` (here, or in the service's workers) decides each record again, batch by batch in
    /// the order they loaded. Persons stay where the new decisions agree; every change is a new
    /// history row, none is erased. Audited. Returns how many batches will be linked again.
    public func resetForRelink(actor: String) async throws -> Int {
        try await database.withTransaction { connection in
            try await PersonFacts.lock(on: connection, logger: database.logger)
            try await connection.query("DELETE FROM emr.match_keys", logger: database.logger)
            let batches = try await connection.changedRows("""
                UPDATE ingest.batches SET linked_at = NULL WHERE status = 'loaded' AND NOT dry_run
                """, logger: database.logger)
            try await AuditLog.record(actor: actor, action: "mpi.relink", subject: nil, detail: ["batches": "\(batches)"],
                                      on: connection, logger: database.logger)
            return batches
        }
    }
}
