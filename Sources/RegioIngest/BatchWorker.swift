import Logging
import RegioDB
import RegioPipeline
import ServiceLifecycle

/// Decides committed batches in the background: `workers` at once, each taking the next queued
/// batch (one facility's batches in business-date order) under this process's lease
/// (`IngestInstance`); when none is queued, the first worker links the next loaded batch's
/// patient records to persons (`PersonLinker`). Beside them, `BatchRecovery` settles what stopped processes left — at once
/// on start, then every `sweep` (10 s) — so that a batch whose owner died is taken up again within
/// seconds, and a side transaction left prepared is settled. On graceful shutdown a worker
/// finishes the batch it holds and stops.
/// A batch being decided holds one connection for its merge transaction while its checks take
/// others, so the database's pool must be larger than `workers`.
public struct BatchWorker: Service {
    let processor: BatchProcessor
    let linker: PersonLinker
    let recovery: BatchRecovery
    let instance: IngestInstance
    let workers: Int
    let idle: Duration
    let sweep: Duration
    let committed: BatchDoorbell
    let logger: Logger

    /// - Parameters:
    ///   - sideTransactions: see `BatchProcessor.sideTransactions`.
    ///   - stagedKeys: what the service's uploads keep of the files they stage (see `IngestService.buildRouter`).
    ///   - committed: rung by the service's uploads when a batch is committed: an idle worker
    ///     polls the queue every `idle`, and at once when it rings.
    ///   - sweep: how often abandoned batches and leftover side transactions are looked for.
    ///   - faults: where the crash tests kill the process.
    ///   - slowBatch: how long a decision runs before it is logged as slow (`BatchWatchdog`).
    public init(database: Database, workers: Int = 2, idle: Duration = .milliseconds(200), sweep: Duration = .seconds(10),
                sideTransactions: Bool = true, stagedKeys: StagedKeys, committed: BatchDoorbell,
                faults: FaultInjection = .none, slowBatch: Duration = .seconds(120), logger: Logger) {
        self.committed = committed
        self.processor = BatchProcessor(database: database, sideTransactions: sideTransactions, stagedKeys: stagedKeys,
                                        faults: faults, slowBatch: slowBatch)
        self.linker = PersonLinker(database: database)
        self.recovery = BatchRecovery(database: database)
        self.instance = IngestInstance(database: database, logger: logger)
        self.workers = workers
        self.idle = idle
        self.sweep = sweep
        self.logger = logger
    }

    public func run() async throws {
        await withTaskGroup(of: Void.self) { background in
            background.addTask { await instance.run() }
            background.addTask { await recover() }
            await withTaskGroup(of: Void.self) { group in
                for worker in 0..<workers {
                    group.addTask { await loop(worker) }
                }
            }
            background.cancelAll()
        }
    }

    /// Settles what stopped processes left, now and every `sweep`; a batch put back in the
    /// queue rings the workers.
    func recover() async {
        while !Task.isCancelled {
            do {
                if try await recovery.settle().contains(where: { $0.actions.contains { $0.hasPrefix("requeued") } }) {
                    committed.ring()
                }
                try await Task.sleep(for: sweep)
            } catch is CancellationError {
                return
            } catch {
                logger.error("batch recovery failed", metadata: ["error": "\(Database.message(for: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }

    func loop(_ worker: Int) async {
        // When the first worker looks for a batch to link next: at once after a decision (rung),
        // else at most once a second, so that idle polling stays one query per poll.
        var linkDue = ContinuousClock.now
        func linkNow() async throws -> Bool {
            guard worker == 0, ContinuousClock.now >= linkDue else { return false }
            guard try await linker.linkNext() != nil else {
                linkDue = .now + .seconds(1)
                return false
            }
            return true
        }
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                // No batch is taken without a lease (the database out of reach, or the lease
                // being taken again).
                guard let owner = instance.current else {
                    try await Task.sleep(for: .milliseconds(100))
                    continue
                }
                // Deciding comes first; the first worker links loaded batches' records to persons
                // when none waits (one process links at a time anyway). A decided batch rings the
                // doorbell, so that an idle first worker links it at once.
                if try await processor.processNext(owner: owner) != nil {
                    committed.ring()
                    linkDue = .now
                } else if try await !linkNow() {
                    // A graceful shutdown need not wait for the poll.
                    await withGracefulShutdownHandler {
                        await committed.wait(upTo: idle)
                    } onGracefulShutdown: {
                        committed.ring()
                    }
                }
            } catch is CancellationError {
                return
            } catch {
                logger.error("batch worker error", metadata: ["worker": "\(worker)", "error": "\(Database.message(for: error))"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
