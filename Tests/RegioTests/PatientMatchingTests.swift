import Testing

@testable import RegioApp
@testable import RegioCore

@Suite("Patient index: names, comparisons and decisions")
struct PatientMatchingTests {
    func record(_ name: String, sex: String? = "1", born: String? = "1980-05-06", phone: String? = nil, address: String? = nil,
                id: String? = nil) -> MatchRecord {
        MatchRecord(name: name, sex: sex, birthDate: born.flatMap { CalendarDate($0) }, phone: phone, address: address, idHash: id)
    }

    @Test("names: traditional and simplified agree, surnames are read as surnames, Latin words in any order")
    func names() {
        #expect(PersonName("張偉").simplified == "张伟")
        #expect(PersonName("张伟").syllables == ["zhang", "wei"])
        #expect(PersonName("曾小明").syllables == ["zeng", "xiao", "ming"], "曾 as a surname is zēng, not céng")
        #expect(PersonName("单田芳").syllables.first == "shan")
        #expect(PersonName("解放").syllables == ["xie", "fang"])
        #expect(PersonName("欧阳震华").surnameKey == "ouyang" && PersonName("欧阳震华").surnameLength == 2)
        #expect(PersonName("万俟卨").syllables.prefix(2) == ["mo", "qi"])
        #expect(PersonName("王 伟").simplified == "王伟")
        #expect(PersonName("José  García").simplified == "GARCIA JOSE")
        #expect(PersonName("García José").simplified == "GARCIA JOSE")
    }

    @Test("field levels: homophones, close sounds, swapped and mistyped dates")
    func levels() {
        #expect(MatchModel.compareNames(PersonName("王伟"), PersonName("王玮")) == "homophone")
        #expect(MatchModel.compareNames(PersonName("王伟"), PersonName("王偉")) == "exact")
        #expect(MatchModel.compareNames(PersonName("张敏"), PersonName("张明")) == "close", "min and ming")
        #expect(MatchModel.compareNames(PersonName("王小明"), PersonName("王小红")) == "different")
        #expect(MatchModel.compareNames(PersonName("李娜"), PersonName("王娜")) == "different", "another surname")
        let date = { (text: String) in CalendarDate(text)! }
        #expect(MatchModel.compareDates(date("1980-05-06"), date("1980-06-05")) == "swapped")
        #expect(MatchModel.compareDates(date("1980-05-06"), date("1980-05-08")) == "one_digit")
        #expect(MatchModel.compareDates(date("1980-05-06"), date("1980-11-23")) == "same_year")
        #expect(MatchModel.compareDates(date("1980-05-06"), date("1981-05-06")) == "one_digit")
        #expect(MatchModel.compareDates(date("1980-05-06"), date("1975-01-30")) == "different")
    }

    @Test("Jaro–Winkler gives the published values")
    func jaroWinkler() {
        #expect(abs(JaroWinkler.similarity("MARTHA", "MARHTA") - 0.9611) < 0.001)
        #expect(abs(JaroWinkler.similarity("DWAYNE", "DUANE") - 0.84) < 0.001)
        #expect(abs(JaroWinkler.similarity("DIXON", "DICKSONX") - 0.8133) < 0.001)
        #expect(JaroWinkler.similarity("", "") == 1 && JaroWinkler.similarity("A", "") == 0)
        #expect(JaroWinkler.similarity("ABCDEFGHIJ", "AB") > 0)  // a short one against a long one
    }

    @Test("one person written in simplified and in traditional characters is linked, with every field's part")
    func traditionalLinked() {
        var matcher = PersonMatcher()
        let first = matcher.add(record("张伟", phone: "13800000001", address: "清河区解放路1号"))
        #expect(first.decision == .new)
        let second = matcher.add(record("張偉", phone: "13800000001", address: "清河区解放路1号"))
        guard case .link(let person, .probabilistic, let score) = second.decision else {
            Issue.record("not linked: \(second.decision)")
            return
        }
        #expect(person == first.person)
        #expect(Set(score.contributions.map(\.field)) == [.name, .birthDate, .sex, .phone, .address])
        #expect(score.total >= MatchModel.standard.linkThreshold)
        #expect(abs(score.contributions.reduce(0) { $0 + $1.weight } - score.total) < 1e-9)
    }

    @Test("two people with the same name and birth date are kept apart")
    func sameNameAndBirthDateKeptApart() {
        var matcher = PersonMatcher()
        // A common name: many records of it in the index make an exact name weigh less.
        for index in 0..<60 {
            _ = matcher.add(record("王伟", born: "19\(60 + index % 30)-0\(index % 9 + 1)-1\(index % 9)", phone: "1390000\(1000 + index)"))
        }
        let one = matcher.add(record("王伟", phone: "13800000001", address: "清河区解放路1号"))
        let other = matcher.add(record("王伟", phone: "13911112222", address: "西湖区文化路88号"))
        #expect(one.decision == .new)
        if case .link = other.decision { Issue.record("two people linked: \(other.decision)") }
        #expect(one.person != other.person)
    }

    @Test("twins sharing birth date, address and phone are kept apart")
    func twins() {
        var matcher = PersonMatcher()
        let one = matcher.add(record("王小明", phone: "13800000001", address: "清河区解放路1号"))
        let other = matcher.add(record("王小红", sex: "2", phone: "13800000001", address: "清河区解放路1号"))
        if case .link = other.decision { Issue.record("twins linked: \(other.decision)") }
        #expect(one.person != other.person)
    }

    @Test("a child registered with a parent's ID card is not linked to the parent by it")
    func parentsCard() {
        var matcher = PersonMatcher()
        let parent = matcher.add(record("李强", born: "1985-03-02", phone: "13800000001", address: "清河区解放路1号", id: "H1"))
        let child = matcher.add(record("李子涵", born: "2016-09-21", phone: "13800000001", address: "清河区解放路1号", id: "H1"))
        if case .link = child.decision { Issue.record("child linked to the parent: \(child.decision)") }
        #expect(parent.person != child.person)
        // The same card with the name and date agreeing is the same person, by ID.
        let again = matcher.add(record("李强", born: "1985-03-02", id: "H1"))
        guard case .link(let person, .id, _) = again.decision else {
            Issue.record("not linked by ID: \(again.decision)")
            return
        }
        #expect(person == parent.person)
    }

    @Test("a homophone with day and month swapped is linked; the same name with nothing else to compare goes to review")
    func noisyLinks() {
        var matcher = PersonMatcher()
        // An index of some size: a name's share of it sets what an exact name is worth.
        for index in 0..<500 {
            matcher.place(record("填充\(index)", born: "1950-01-01", phone: "1370000\(1000 + index)"), person: 10_000 + index)
        }
        let first = matcher.add(record("刘德华", born: "1961-09-07", phone: "13800000001"))
        let second = matcher.add(record("刘得华", born: "1961-07-09", phone: "13800000001"))
        guard case .link(let person, .probabilistic, _) = second.decision else {
            Issue.record("not linked: \(second.decision)")
            return
        }
        #expect(person == first.person)
        let third = matcher.add(record("陈敏", sex: "2", born: "1990-02-03", phone: "13900000002", address: "清河区解放路1号"))
        let fourth = matcher.add(record("陈敏", sex: "2", born: nil))
        #expect(third.decision == .new)
        guard case .review(let candidate, let score) = fourth.decision else {
            Issue.record("expected a review: \(fourth.decision)")
            return
        }
        #expect(candidate == third.person)
        #expect(score.total >= MatchModel.standard.reviewThreshold && score.total < MatchModel.standard.linkThreshold)
        #expect(fourth.person != third.person, "a record waiting for review is a person of its own meanwhile")
    }

    @Test("the benchmark's scorer counts pairs: precision, recall and F1 of a small labelled region")
    func scorer() {
        let r = record("张三")
        let region = [0, 0, 0, 1, 1, 2].map { PatientIndexBenchmark.Generated(record: r, person: $0, noise: []) }
        // Truth pairs: 3 + 1 = 4. Predicted: {0,0} {0,1,1} {2}: pairs 1 + 3 = 4, correct 1 + 1 = 2.
        let figures = PatientIndexBenchmark.score(region, [10, 10, 11, 11, 11, 12])
        #expect(figures.precision == 0.5 && figures.recall == 0.5 && figures.f1 == 0.5)
        #expect(figures.persons == 3 && figures.records == 6)
    }

    @Test("the generated region is the same for the same seed")
    func generatorIsSeeded() {
        let a = RegionGenerator(persons: 300, seed: 3, withIDs: true).records()
        let b = RegionGenerator(persons: 300, seed: 3, withIDs: true).records()
        #expect(a.map(\.record.name.simplified) == b.map(\.record.name.simplified))
        #expect(a.count > 300)
        #expect(a.contains { $0.noise.contains("homophone") } && a.contains { $0.noise.contains("traditional") })
    }
}
