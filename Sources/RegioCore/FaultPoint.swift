/// Points of a batch's life where the crash tests kill the ingestion service (`REGIO_FAULT`, a
/// setting only tests set): the process sends itself SIGKILL there, as a power cut or an
/// out-of-memory kill would stop it, with no chance to clean up.
public enum FaultPoint: String, Sendable, CaseIterable {
    /// A file's rows are parsed and written into its staging table's COPY, which has not ended.
    case duringCopy = "during_copy"
    /// A file was staged and recorded as received; the batch is still receiving.
    case afterStage = "after_stage"
    /// The decision's checks are done (row errors and quarantine written); the main transaction is open.
    case afterChecks = "after_checks"
    /// The side transaction has merged the activity and is about to be prepared.
    case beforePrepare = "before_prepare"
    /// The side transaction is prepared; the main one has not committed.
    case afterPrepare = "after_prepare"
    /// The main transaction recorded the batch loaded and is about to commit.
    case beforeMainCommit = "before_main_commit"
    /// The main transaction committed (the batch reads loaded); the side one is still prepared.
    case afterMainCommit = "after_main_commit"
    /// Both transactions committed; dropping the staging tables and linking are still to come.
    case afterSideCommit = "after_side_commit"
}
