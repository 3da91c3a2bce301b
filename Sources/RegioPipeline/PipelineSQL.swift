import Foundation
import RegioDB

/// The pipeline's SQL files (`sql/ingest/` in this module's resources): the duplicate and
/// reference checks, the quarantine, the quality counts and the merges. `sql/ingest/README.md`
/// says what each placeholder becomes.
enum PipelineSQL {
    static var root: URL {
        Bundle.module.resourceURL!.appendingPathComponent("sql", isDirectory: true)
    }

    /// Reads `sql/<path>`, e.g. `ingest/merge/exams.sql`, with its declaration.
    static func load(_ path: String) throws -> SQLFile {
        try SQLFile.load(path, in: root)
    }
}
