import Logging
import NIOCore
import PostgresNIO

extension PostgresConnection {
    /// `COPY <schema>.<table> (<columns>) FROM STDIN WITH (FORMAT binary)`: `writeData` writes the
    /// rows (`CopyRowEncoder`'s), between the format's header and trailer, which this writes.
    ///
    /// PostgresNIO's `copyFrom` streams COPY but builds its statement itself —
    /// `COPY "<table>" (…) FROM STDIN WITH (FORMAT text)` — and offers no other format. This is the
    /// one place that works around it: the "table" it is given closes the quotes itself (reopening
    /// them around the dot names the schema too), names the columns, asks for the binary format,
    /// and ends in a comment that swallows the rest of the library's text. The names are Regio's
    /// own (a staging table's, built from the batch id and the kind), never input.
    func copyBinary(into schema: String, table: String, columns: [String], logger: Logger,
                    writeData: (PostgresCopyFromWriter) async throws -> Void) async throws {
        try await copyFrom(table: Self.binaryCopyTarget(schema: schema, table: table, columns: columns), logger: logger) { writer in
            try await writer.write(ByteBuffer(bytes: CopyRowEncoder.header))
            try await writeData(writer)
            try await writer.write(ByteBuffer(bytes: CopyRowEncoder.trailer))
        }
    }

    static func binaryCopyTarget(schema: String, table: String, columns: [String]) -> String {
        let columns = columns.map { "\"\($0)\"" }.joined(separator: ", ")
        return "\(schema)\".\"\(table)\" (\(columns)) FROM STDIN WITH (FORMAT binary) --"
    }
}
