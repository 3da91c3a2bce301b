import Foundation
import Hummingbird
import RegioCore
import RegioDB
import RegioPipeline
import RegioHTTP
import ServiceLifecycle

/// The batch API: a facility creates a batch from its manifest, uploads each file (streamed),
/// commits (or asks for a dry run), and reads back status, row errors and rejected rows.
public struct BatchController: Sendable {
    let store: BatchStore
    let loader: ExtractFileLoader
    let pseudonymizer: Pseudonymizer
    let committed: BatchDoorbell

    /// Roles that may read a batch's row-level detail (errors carry sent values): the facility
    /// itself, and the people who look after data quality.
    static let readers: Set<Role> = [.facility, .steward, .admin]

    /// - Parameters:
    ///   - keyMemory: what the uploads may spend remembering keys, all of them together.
    ///   - stagedKeys: shared with the batch worker that decides the batches.
    ///   - committed: rung when a batch is committed; the batch worker waits on it.
    ///   - faults: where the crash tests kill the process.
    public init(database: Database, pseudonymizer: Pseudonymizer, keyMemory: KeyMemory, stagedKeys: StagedKeys, committed: BatchDoorbell,
                faults: FaultInjection = .none, limits: StreamLimits = StreamLimits()) {
        self.store = BatchStore(database: database)
        self.loader = ExtractFileLoader(database: database, keyMemory: keyMemory, stagedKeys: stagedKeys, faults: faults, limits: limits)
        self.committed = committed
        self.pseudonymizer = pseudonymizer
    }

    public func addRoutes(to group: RouterGroup<RegioRequestContext>) {
        group.post("batches", use: create)
        group.get("batches", use: list)
        group.get("batches/{id}", use: show)
        group.put("batches/{id}/files/{name}", use: upload)
        group.post("batches/{id}/commit") { request, context in try await commit(request, context, dryRun: false) }
        group.post("batches/{id}/validate") { request, context in try await commit(request, context, dryRun: true) }
        group.get("batches/{id}/errors", use: errors)
        group.get("batches/{id}/files/{name}/rejected", use: rejected)
        group.post("batches/{id}/retract", use: retract)
    }

    // MARK: Handlers

    @Sendable func create(_ request: Request, context: RegioRequestContext) async throws -> EditedResponse<CreatedBatch> {
        let caller = try context.caller(in: [.facility])
        let body = try await request.body.collect(upTo: 1 << 20)
        let manifest: ExtractManifest
        switch ExtractManifest.parse(Data(buffer: body)) {
        case .success(let parsed): manifest = parsed
        case .failure(let error): throw Problem(status: .badRequest, type: "bad-manifest", detail: error.description)
        }
        guard manifest.facilityCode == caller.facilityCode else {
            throw Problem.forbidden("this token uploads for \(caller.facilityCode ?? "no facility"), the manifest is for \(manifest.facilityCode)")
        }
        let (batch, resumed) = try await mapped { try await store.create(manifest: manifest, credentialID: caller.tokenID) }
        context.logger.info("batch created", metadata: ["batch": "\(batch.id)", "resumed": "\(resumed)"])
        var headers = HTTPFields()
        headers[.location] = "/v1/batches/\(batch.id)"
        return EditedResponse(status: resumed ? .ok : .created, headers: headers, response: CreatedBatch(batch: batch, resumed: resumed))
    }

    @Sendable func list(_ request: Request, context: RegioRequestContext) async throws -> BatchList {
        let caller = try context.caller(in: Self.readers)
        var facility = request.uri.queryParameters.get("facility")
        if let facility, !Facility.isValidCode(facility) {
            throw Problem.badRequest("facility must be a facility code (4 to 32 capital letters and digits)", type: "bad-parameter")
        }
        if caller.role == .facility {
            if let facility, facility != caller.facilityCode { throw Problem.forbidden("a facility token sees only its own batches") }
            facility = caller.facilityCode
        }
        let limit = min(max(Int(request.uri.queryParameters.get("limit") ?? "") ?? 50, 1), 500)
        return BatchList(batches: try await store.list(facility: facility, limit: limit))
    }

    @Sendable func show(_ request: Request, context: RegioRequestContext) async throws -> BatchRecord {
        let id = try await authorisedBatch(context)
        guard let batch = try await store.batch(id: id) else { throw Problem.notFound("no batch \(id)") }
        return batch
    }

    @Sendable func upload(_ request: Request, context: RegioRequestContext) async throws -> FileReceipt {
        let id = try await authorisedBatch(context, roles: [.facility])
        let name = try context.parameters.require("name")
        guard let batch = try await store.batch(id: id) else { throw Problem.notFound("no batch \(id)") }
        guard batch.status == .receiving else {
            throw Problem(status: .conflict, type: "wrong-state", detail: "batch \(id) is \(batch.status.rawValue); files can only be sent while it is receiving")
        }
        guard let manifest = try await manifest(of: id), let file = manifest.file(named: name) else {
            throw Problem.notFound("batch \(id) has no file named \(name) in its manifest")
        }
        guard let businessDate = CalendarDate(manifest.businessDate) else { throw Problem.badRequest("bad business date") }
        if let length = request.headers[.contentLength].flatMap(Int.init), let refused = loader.limits.refusal(body: length) {
            throw Self.problem(refused, file: name)
        }
        let gzip = request.headers[.contentEncoding]?.lowercased() == "gzip"
        let (loader, pseudonymizer, body) = (loader, pseudonymizer, request.body)
        do {
            // A graceful shutdown does not wait for a file still streaming: it is abandoned at
            // once (its staging dropped) and the client sends it again to the next process.
            return try await cancelWhenGracefulShutdown {
                try await loader.load(
                    batchID: id, file: file, encoding: manifest.encoding,
                    context: ValidationContext(businessDate: businessDate, pseudonymizer: pseudonymizer),
                    transportGzip: gzip, body: body)
            }
        } catch let refused as FileRefused {
            throw Self.problem(refused, file: name)
        } catch is CancellationError {
            throw Problem(status: .serviceUnavailable, type: "shutting-down",
                          detail: "\(name): the service is shutting down; the file was not kept, send it again")
        }
    }

    /// The file is not received: the batch waits for a corrected one.
    static func problem(_ refused: FileRefused, file name: String) -> Problem {
        Problem(status: refused.code == .tooLarge ? .contentTooLarge : .unprocessableContent, type: "file-refused",
                detail: "\(name): \(refused.code.rawValue): \(refused.message)")
    }

    func commit(_ request: Request, _ context: RegioRequestContext, dryRun: Bool) async throws -> EditedResponse<BatchRecord> {
        let id = try await authorisedBatch(context, roles: [.facility])
        let batch = try await mapped { try await store.commit(id: id, dryRun: dryRun) }
        committed.ring()
        context.logger.info("batch committed", metadata: ["batch": "\(id)", "dry_run": "\(dryRun)"])
        return EditedResponse(status: .accepted, response: batch)
    }

    /// A steward or admin takes a loaded batch back (`BatchRetraction`).
    @Sendable func retract(_ request: Request, context: RegioRequestContext) async throws -> BatchRetraction.Outcome {
        let caller = try context.caller(in: [.steward, .admin])
        let id = try await authorisedBatch(context, roles: [.steward, .admin])
        struct Body: Decodable { var reason: String }
        let body = try await request.decodeJSON(Body.self, context: context, expected: #"a reason: {"reason": "…"}"#)
        let reason = body.reason.trimmingCharacters(in: .whitespacesAndNewlines)
        guard !reason.isEmpty else { throw Problem.badRequest(#"a retraction needs a reason: {"reason": "…"}"#) }
        do {
            let outcome = try await BatchRetraction(database: store.database)
                .retract(id: id, actor: "\(caller.role.rawValue):\(caller.label)", reason: reason)
            context.logger.notice("batch retracted", metadata: ["batch": "\(id)"])
            return outcome
        } catch let problem as BatchRetraction.Problem {
            switch problem {
            case .notFound: throw Problem.notFound(problem.description)
            case .notLoaded, .laterBatches, .beingDecided, .tooOld:
                throw Problem(status: .conflict, type: "not-retractable", detail: problem.description)
            }
        }
    }

    @Sendable func errors(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let id = try await authorisedBatch(context)
        // At most a billion pages, so that the offset stays a number (10,000 a page at most).
        let page = min(max(Int(request.uri.queryParameters.get("page") ?? "") ?? 1, 1), 1_000_000_000)
        let perPage = min(max(Int(request.uri.queryParameters.get("per_page") ?? "") ?? 1000, 1), 10_000)
        // Row errors quote the values they refuse: a patient-level read, audited first.
        try await Problem.auditingRead(try context.caller(), action: "read.batch-errors", subject: "\(id)", detail: ["page": "\(page)"],
                                       on: store.database, context: context)
        let issues = try await store.issues(batch: id, offset: (page - 1) * perPage, limit: perPage)
        let total = try await store.issueCount(batch: id)
        let fileNames = Dictionary(uniqueKeysWithValues: (try await store.batch(id: id)?.files ?? []).map { ($0.kind.rawValue, $0.name) })
        var headers = HTTPFields()
        headers[.init("X-Total-Count")!] = String(total)
        if page * perPage < total {
            headers[.init("Link")!] = "</v1/batches/\(id)/errors?page=\(page + 1)&per_page=\(perPage)>; rel=\"next\""
        }
        switch request.uri.queryParameters.get("format") ?? "json" {
        case "csv":
            headers[.contentType] = "text/csv; charset=utf-8"
            var text = CSVWriter.exportLine(["file", "line", "column", "code", "severity", "message", "value"])
            for issue in issues {
                text += CSVWriter.exportLine([fileNames[issue.kind] ?? issue.kind, issue.line.map(String.init) ?? "", issue.column ?? "",
                                        issue.code, issue.severity, issue.message, issue.raw ?? ""])
            }
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
        case "json":
            headers[.contentType] = "application/json; charset=utf-8"
            let body = ErrorPage(batch: id, page: page, perPage: perPage, total: total, errors: issues.map {
                ErrorPage.Entry(file: fileNames[$0.kind] ?? $0.kind, issue: $0)
            })
            let encoder = JSONEncoder()
            encoder.outputFormatting = [.sortedKeys]
            return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(data: try encoder.encode(body))))
        case let other:
            throw Problem.badRequest("format must be json or csv, got '\(other)'", type: "bad-parameter")
        }
    }

    @Sendable func rejected(_ request: Request, context: RegioRequestContext) async throws -> Response {
        let id = try await authorisedBatch(context)
        let name = try context.parameters.require("name")
        guard let file = try await manifest(of: id)?.file(named: name) else {
            throw Problem.notFound("batch \(id) has no file named \(name)")
        }
        try await Problem.auditingRead(try context.caller(), action: "read.rejected-rows", subject: "\(id)",
                                       detail: ["file": file.kind.rawValue], on: store.database, context: context)
        let columns = ["line"] + file.kind.spec.columns.filter { $0.type != .idNumber }.map(\.name) + ["errors"]
        var text = CSVWriter.exportLine(columns)
        for row in try await store.rejectedRows(batch: id, kind: file.kind) {
            var fields = [String(row.line)]
            for column in columns.dropFirst().dropLast() { fields.append((row.fields[column] ?? nil) ?? "") }
            fields.append(row.errors)
            text += CSVWriter.exportLine(fields)
        }
        var headers = HTTPFields()
        headers[.contentType] = "text/csv; charset=utf-8"
        headers[.contentDisposition] = "attachment; filename=\"batch-\(id)-\(file.kind.rawValue)-rejected.csv\""
        return Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: text)))
    }

    // MARK: Helpers

    /// The batch id in the path, once the caller is allowed to see it: 404 for no such batch, and
    /// the same 404 for another facility's, so that a facility cannot learn which batch ids exist.
    func authorisedBatch(_ context: RegioRequestContext, roles: Set<Role> = readers) async throws -> Int64 {
        let caller = try context.caller(in: roles)
        guard let id = Int64(try context.parameters.require("id")) else { throw Problem.notFound("no such batch") }
        let facility = try await store.facility(ofBatch: id)
        guard let facility, caller.role != .facility || facility == caller.facilityCode else {
            throw Problem.notFound("no batch \(id)")
        }
        return id
    }

    func manifest(of id: Int64) async throws -> ExtractManifest? {
        for try await json in try await store.database.query(
            "SELECT manifest::text FROM ingest.batches WHERE id = \(id)").decode(String.self) {
            return try? JSONDecoder().decode(ExtractManifest.self, from: Data(json.utf8))
        }
        return nil
    }

    func mapped<T>(_ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let problem as BatchStore.Problem {
            switch problem {
            case .notFound: throw Problem.notFound(problem.description)
            case .unknownFacility: throw Problem(status: .unprocessableContent, type: "unknown-facility", detail: problem.description)
            case .businessDateOutOfRange: throw Problem(status: .unprocessableContent, type: "business-date-out-of-range", detail: problem.description)
            case .wrongState, .filesMissing: throw Problem(status: .conflict, type: "wrong-state", detail: problem.description)
            }
        }
    }
}

struct CreatedBatch: ResponseEncodable {
    var batch: BatchRecord
    var resumed: Bool
}

struct BatchList: ResponseEncodable {
    var batches: [BatchRecord]
}

extension BatchRecord: ResponseEncodable {}
extension FileReceipt: ResponseEncodable {}
extension BatchRetraction.Outcome: ResponseEncodable {}

struct ErrorPage: Encodable {
    struct Entry: Encodable {
        var file: String
        var issue: StoredIssue
        func encode(to encoder: any Encoder) throws {
            var container = encoder.container(keyedBy: CodingKeys.self)
            try container.encode(file, forKey: .file)
            try container.encode(issue.line, forKey: .line)
            try container.encode(issue.column, forKey: .column)
            try container.encode(issue.code, forKey: .code)
            try container.encode(issue.severity, forKey: .severity)
            try container.encode(issue.message, forKey: .message)
            try container.encode(issue.raw, forKey: .value)
        }
        enum CodingKeys: String, CodingKey { case file, line, column, code, severity, message, value }
    }
    var batch: Int64
    var page: Int
    var perPage: Int
    var total: Int
    var errors: [Entry]
    enum CodingKeys: String, CodingKey { case batch, page, total, errors, perPage = "per_page" }
}
