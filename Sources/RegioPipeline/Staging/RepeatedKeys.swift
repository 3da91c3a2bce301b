import Synchronization

/// The keys a file repeats, found while its rows stream by, so that the database's duplicate
/// check — which sorts every key of the file, 0.4–0.6 s for a file of a million rows — runs only
/// for those, or not at all for a file without any (the common case). Keys are remembered by their
/// hash; a hash seen twice makes its key a candidate, and the database check of the candidates
/// tells real repeats from the rare hash collision.
///
/// Memory is bounded: a file takes room for its keys from `KeyMemory` by the row count its
/// manifest declares, and a file that finds too little room, holds more distinct keys than the
/// rows it declared, or repeats more than `candidateLimit` keys is checked whole in the database,
/// as before.
///
/// The same hashes tell the batch's decision which keys the file sends (`sentKeys`, kept by
/// `StagedKeys` for the files other files refer to).
final class RepeatedKeys {
    static let candidateLimit = 10_000
    /// What one remembered key costs at most: a hash in a set that keeps at most 75 % of its
    /// power-of-two buckets filled (8 bytes a bucket, so ≤ 21.3 bytes a key), and its metadata —
    /// with room for the keys of the rows that are not accepted upserts, of which at most one in
    /// `unavailableShare` is remembered a second time (≤ 1.4 bytes a key).
    static let bytesPerKey = 24
    static let unavailableShare = 16

    private var seen: Set<Int>
    /// The hashes of the keys of rows that are not accepted upserts (rejected as they streamed, or
    /// retractions): nil once there are too many to remember, and the keys then cannot be told
    /// apart for `sentKeys`.
    private var unavailable: Set<Int>? = []
    private let declared: Int
    /// What the keys take from `KeyMemory`, given back when the last holder lets it go (a file's
    /// `sentKeys` may outlive this).
    private let memory: KeyMemory.Reservation?
    /// Keys whose hash was seen more than once, as staged.
    private(set) var candidates: Set<String> = []
    /// The database must check the whole file: too little memory, or too many rows or candidates.
    private(set) var checkInDatabase: Bool

    /// - Parameter rows: the data rows the manifest declares for the file.
    init(rows: Int, memory: KeyMemory) {
        self.declared = rows
        self.memory = memory.reserve(rows: rows, bytesEach: Self.bytesPerKey)
        if self.memory != nil {
            seen = Set(minimumCapacity: rows)
            checkInDatabase = false
        } else {
            seen = []
            checkInDatabase = true
        }
    }

    /// The key column's staged value of the next row (nil: none, which never repeats), and whether
    /// the row is an accepted upsert (not rejected as it streamed, not a retraction).
    func add(_ key: String?, acceptedUpsert: Bool = true) {
        guard !checkInDatabase, let key else { return }
        guard seen.count < declared else { return giveUp() }
        let hash = key.hashValue
        if !seen.insert(hash).inserted {
            candidates.insert(key)
            if candidates.count > Self.candidateLimit { giveUp() }
        } else if !acceptedUpsert, unavailable != nil {
            if unavailable!.count < max(16, declared / Self.unavailableShare) {
                unavailable!.insert(hash)
            } else {
                unavailable = nil
            }
        }
    }

    /// The keys of the file's accepted upserts, when every row's key is known and none repeats
    /// (a repeated key's rows are all rejected by the database's check).
    var sentKeys: SentKeys? {
        guard !checkInDatabase, candidates.isEmpty, let unavailable, let memory else { return nil }
        return SentKeys(hashes: seen, unavailable: unavailable, memory: memory)
    }

    private func giveUp() {
        checkInDatabase = true
        seen = []
        unavailable = nil
        candidates = []
    }
}

/// The keys a staged file's accepted upserts hold, by hash (`RepeatedKeys.sentKeys`).
struct SentKeys: Sendable {
    let hashes: Set<Int>
    let unavailable: Set<Int>
    /// Keeps the memory the sets were counted against taken.
    let memory: KeyMemory.Reservation

    func contains(_ hash: Int) -> Bool {
        hashes.contains(hash) && !unavailable.contains(hash)
    }
}

/// Memory the service may spend remembering keys (`RepeatedKeys`) and references (`StagedKeys`)
/// for all the files it receives at once and the batches they belong to until those are decided.
/// One per ingestion service, shared by its uploads (`RegioServer` makes it).
public final class KeyMemory: Sendable {
    /// 96 MB: the benchmark's night (1.9 M rows in five files at once) takes 62 MB — 46 MB for its
    /// keys while they stream, 16 MB for its references.
    public static let defaultBytes = 96 << 20

    private let available: Mutex<Int>

    public init(bytes: Int = KeyMemory.defaultBytes) {
        available = Mutex(bytes)
    }

    /// Some of the memory, taken until the reservation is let go.
    final class Reservation: Sendable {
        let bytes: Int
        let memory: KeyMemory

        fileprivate init(bytes: Int, memory: KeyMemory) {
            self.bytes = bytes
            self.memory = memory
        }

        deinit {
            memory.give(bytes)
        }
    }

    /// `bytesEach` for each of `rows`, if that many are left.
    func reserve(rows: Int, bytesEach: Int) -> Reservation? {
        let (bytes, overflow) = rows.multipliedReportingOverflow(by: bytesEach)
        return !overflow && take(bytes) ? Reservation(bytes: bytes, memory: self) : nil
    }

    /// Takes `bytes` if that many are left.
    func take(_ bytes: Int) -> Bool {
        available.withLock { left in
            guard bytes <= left else { return false }
            left -= bytes
            return true
        }
    }

    func give(_ bytes: Int) {
        available.withLock { $0 += bytes }
    }
}
