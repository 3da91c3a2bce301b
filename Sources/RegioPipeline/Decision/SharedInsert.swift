import RegioCore
import RegioDB
import Synchronization

/// The new rows of one kind (the exams), inserted by both merge transactions: its staging table's
/// pages are cut into ranges, and each transaction, once its own work is done, takes the next
/// range until none is left. Whichever chain of the merge finishes first takes over the rest of
/// the other's, so the two end together — on the benchmark's night the main transaction
/// (persons, patients, exams) had ended 0.3–0.75 s after the side one.
///
/// The ranges are of pages (`ctid`), which a TID range scan reads alone. They are fixed once the
/// staging table is final: its duplicate keys, rejected references and stored keys marked,
/// all committed (`KindMerge.share`), so both transactions see every row in exactly
/// one range. Both insert keys the batch sends and the core table does not hold, each key once:
/// neither waits for the other's index entries.
final class SharedInsert: Sendable {
    let kind: ExtractKind
    /// Sent keys already stored (`ingest/mark_stored.sql`'s count), for the main transaction's
    /// UPDATE of them.
    let stored: Int
    private let ranges: Mutex<[Range<Int>]>

    /// Into how many ranges the table's pages are cut.
    static let pieces = 16

    init(kind: ExtractKind, stored: Int, pages: Int) {
        self.kind = kind
        self.stored = stored
        let size = max(1, (pages + Self.pieces - 1) / Self.pieces)
        // The last range is open: a page the table gained since it was measured is not missed.
        var ranges = stride(from: 0, to: max(pages, 1), by: size).map { $0..<($0 + size) }
        ranges[ranges.count - 1] = ranges[ranges.count - 1].lowerBound..<Int.max
        self.ranges = Mutex(ranges)
    }

    /// The next range of pages to insert the rows of, or nil when all are taken.
    func take() -> Range<Int>? {
        ranges.withLock { $0.isEmpty ? nil : $0.removeFirst() }
    }

    /// No range is taken any more: the batch has failed, and what is left would be rolled back.
    func stop() {
        ranges.withLock { $0.removeAll() }
    }

    /// The condition that keeps a statement to the staging rows (alias `s`) of `pages`.
    static func condition(_ pages: Range<Int>) -> String {
        pages.upperBound == Int.max ? "s.ctid >= '(\(pages.lowerBound),0)'::tid"
            : "s.ctid >= '(\(pages.lowerBound),0)'::tid AND s.ctid < '(\(pages.upperBound),0)'::tid"
    }
}
