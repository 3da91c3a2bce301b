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
final class RepeatedKeys {
    static let candidateLimit = 10_000
    /// What one remembered key costs at most: a hash in a set that keeps at most 75 % of its
    /// power-of-two buckets filled (8 bytes a bucket, so ≤ 21.3 bytes a key), and its metadata.
    static let bytesPerKey = 24

    private var seen: Set<Int>
    private let declared: Int
    private let memory: KeyMemory
    private let reserved: Int
    /// Keys whose hash was seen more than once, as staged.
    private(set) var candidates: Set<String> = []
    /// The database must check the whole file: too little memory, or too many rows or candidates.
    private(set) var checkInDatabase: Bool

    /// - Parameter rows: the data rows the manifest declares for the file.
    init(rows: Int, memory: KeyMemory) {
        self.declared = rows
        self.memory = memory
        let bytes = rows * Self.bytesPerKey
        if memory.take(bytes) {
            reserved = bytes
            seen = Set(minimumCapacity: rows)
            checkInDatabase = false
        } else {
            reserved = 0
            seen = []
            checkInDatabase = true
        }
    }

    deinit {
        memory.give(reserved)
    }

    /// The key column's staged value of the next row (nil: none, which never repeats).
    func add(_ key: String?) {
        guard !checkInDatabase, let key else { return }
        guard seen.count < declared else { return giveUp() }
        if !seen.insert(key.hashValue).inserted {
            candidates.insert(key)
            if candidates.count > Self.candidateLimit { giveUp() }
        }
    }

    private func giveUp() {
        checkInDatabase = true
        seen = []
        candidates = []
    }
}

/// Memory the service may spend remembering keys (`RepeatedKeys`) for all the files it receives
/// at once.
final class KeyMemory: Sendable {
    /// 64 MB: the benchmark's night (1.9 M rows in five files at once) needs 46 MB.
    static let shared = KeyMemory(bytes: 64 << 20)

    private let available: Mutex<Int>

    init(bytes: Int) {
        available = Mutex(bytes)
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
