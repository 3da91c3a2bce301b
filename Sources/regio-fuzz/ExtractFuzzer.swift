import Foundation
import RegioCore

/// A libFuzzer target for what reads a hospital's file before anything reaches the database: the
/// GB18030/GBK decoder (`Transcoder`), the CSV reader (`CSVParser`) and the row validator
/// (`RowValidator`). The input's first byte picks the file's kind, its encoding and where the
/// stream is cut in two; the rest is the file.
///
/// Besides not crashing (every overflow and out-of-bounds access traps, and with
/// `--sanitize=fuzzer` libFuzzer reports it with the input), it checks what must hold whatever
/// the input:
/// - cutting the bytes in two anywhere gives the same records as reading them whole, for the
///   decoder and for the reader (uploads arrive in chunks cut anywhere);
/// - a record holds at most `CSVParser.maxRecordBytes` bytes and `maxFields` fields, and its
///   lines count up;
/// - the validator gives one value per staging column and one issue per problem, each naming a
///   column of the file or none.
///
/// `scripts/fuzz.sh` builds it with libFuzzer and runs it; built plainly (as `swift build`
/// does), it replays the files or folders given as arguments, for reproducing a crash.
enum ExtractFuzzer {
    static let context = ValidationContext(businessDate: CalendarDate("2026-11-22")!,
                                           pseudonymizer: Pseudonymizer(secret: Data(repeating: 7, count: 32)))

    static func run(_ input: UnsafeBufferPointer<UInt8>) {
        guard let selector = input.first else { return }
        let kinds = ExtractKind.allCases
        let kind = kinds[Int(selector) % kinds.count]
        let encoding = TextEncoding.allCases[Int(selector / 8) % TextEncoding.allCases.count]
        let file = Array(input.dropFirst())
        let cut = file.isEmpty ? 0 : Int(selector) * 131 % file.count

        let whole = decode(file, encoding, cut: nil)
        let chunked = decode(file, encoding, cut: cut)
        precondition(whole == chunked, "decoding depends on where the stream is cut (\(encoding), at \(cut))")

        let records = read(whole, cut: nil)
        precondition(records == read(whole, cut: whole.isEmpty ? 0 : cut % whole.count),
                     "reading depends on where the stream is cut (at \(cut))")
        var lastLine = 0
        for record in records {
            precondition(record.byteCount <= CSVParser.maxRecordBytes, "a record over the byte limit: \(record.byteCount)")
            precondition(record.fields.count <= CSVParser.maxFields, "a record over the field limit: \(record.fields.count)")
            precondition(record.line > lastLine && record.lastLine >= record.line, "lines out of order: \(record.line) after \(lastLine)")
            lastLine = record.lastLine
        }

        guard let header = records.first else { return }
        let validator = RowValidator(spec: kind.spec, header: header.fields, context: context)
        let columns = Set(header.fields)
        for record in records.dropFirst() {
            let row = validator.validate(record.fields)
            precondition(row.values.count == validator.stagingColumns.count, "\(row.values.count) values for \(validator.stagingColumns.count) columns")
            for issue in row.issues {
                precondition(issue.column.map { columns.contains($0) || kind.spec.columns.contains { $0.name == issue.column } } ?? true,
                             "an issue names no column of the file: \(issue.column ?? "")")
            }
            _ = validator.rawValues(record.fields)
        }
    }

    /// The file's bytes as UTF-8, fed to the decoder whole or in two pieces.
    static func decode(_ file: [UInt8], _ encoding: TextEncoding, cut: Int?) -> [UInt8] {
        guard let transcoder = try? Transcoder(encoding) else { return file }
        var output: [UInt8] = []
        for piece in pieces(file, cut) { transcoder.feed(piece) { output.append(contentsOf: $0) } }
        transcoder.finish { output.append(contentsOf: $0) }
        return output
    }

    static func read(_ bytes: [UInt8], cut: Int?) -> [CSVParser.Record] {
        var parser = CSVParser()
        var records: [CSVParser.Record] = []
        for piece in pieces(bytes, cut) { parser.feed(piece) { records.append($0) } }
        parser.finish { records.append($0) }
        return records
    }

    static func pieces(_ bytes: [UInt8], _ cut: Int?) -> [ArraySlice<UInt8>] {
        guard let cut else { return [bytes[...]] }
        return [bytes[..<cut], bytes[cut...]]
    }
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzExtract(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    ExtractFuzzer.run(UnsafeBufferPointer(start: data, count: size))
    return 0
}

#if !REGIO_FUZZ
/// Built without libFuzzer: replays inputs (files, or every file of a folder).
@main
struct Replay {
    static func main() throws {
        var replayed = 0
        for path in CommandLine.arguments.dropFirst() {
            var isFolder: ObjCBool = false
            FileManager.default.fileExists(atPath: path, isDirectory: &isFolder)
            let files = isFolder.boolValue
                ? try FileManager.default.contentsOfDirectory(atPath: path).sorted().map { "\(path)/\($0)" } : [path]
            for file in files {
                let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: file)))
                bytes.withUnsafeBufferPointer { ExtractFuzzer.run($0) }
                replayed += 1
            }
        }
        print("replayed \(replayed) inputs without a failure")
    }
}
#endif
