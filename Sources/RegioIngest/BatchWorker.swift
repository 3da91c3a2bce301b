import Logging
import RegioDB
import ServiceLifecycle

/// Decides committed batches in the background: `workers` at once, each taking the next queued
/// batch (one facility's batches in business-date order). On graceful shutdown a worker finishes
/// the batch it holds and stops; a batch left `validating` by a crash is requeued at start, and
/// a side transaction it left prepared is settled.
/// A batch being decided holds one connection for its merge transaction while its checks take
/// others, so the database's pool must be larger than `workers`.
public struct BatchWorker: Service {
    let processor: BatchProcessor
    let workers: Int
    let idle: Duration
    let committed: BatchDoorbell
    let logger: Logger

    /// - Parameters:
    ///   - sideTransactions: see `BatchProcessor.sideTransactions`.
    ///   - stagedKeys: what the service's uploads keep of the files they stage (see `IngestService.buildRouter`).
    ///   - committed: rung by the service's uploads when a batch is committed: an idle worker
    ///     polls the queue every `idle`, and at once when it rings.
    public init(database: Database, workers: Int = 2, idle: Duration = .milliseconds(200), sideTransactions: Bool = true,
                stagedKeys: StagedKeys, committed: BatchDoorbell, logger: Logger) {
        self.committed = committed
        self.processor = BatchProcessor(database: database, sideTransactions: sideTransactions, stagedKeys: stagedKeys)
        self.workers = workers
        self.idle = idle
        self.logger = logger
    }

    public func run() async throws {
        try await processor.requeueAbandoned(olderThan: 3600)
        try await processor.resolvePrepared()
        await withTaskGroup(of: Void.self) { group in
            for worker in 0..<workers {
                group.addTask { await loop(worker) }
            }
        }
    }

    func loop(_ worker: Int) async {
        var settled = ContinuousClock.now
        while !Task.isShuttingDownGracefully && !Task.isCancelled {
            do {
                if try await processor.processNext() == nil {
                    // Once a minute when idle, a side transaction that could not be settled at
                    // the time (see BatchProcessor.resolvePrepared) is.
                    if worker == 0, ContinuousClock.now - settled > .seconds(60) {
                        settled = ContinuousClock.now
                        try await processor.resolvePrepared()
                    }
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
                logger.error("batch worker error", metadata: ["worker": "\(worker)", "error": "\(error)"])
                try? await Task.sleep(for: .seconds(1))
            }
        }
    }
}
