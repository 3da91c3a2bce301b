import Foundation
import NIOCore
import PostgresNIO
@testable import RegioDB
@testable import RegioPipeline
import Testing

@Suite("Binary COPY of staged values")
struct CopyEncodingTests {
    /// Values as the row validator normalises them, per staged type.
    static let rows: [(date: String?, time: String?, money: String?, decimal: String?, count: String?, text: String?)] = [
        ("2026-11-22", "2026-11-22 08:30:00+08:00", "120.50", "1.5", "0", "内科"),
        ("2000-01-01", "2000-01-01 00:00:00+00:00", "0", "0.000001", "42", ""),
        ("1999-12-31", "1999-12-31 23:59:59-05:30", "0.00", "12345678.123456", "999999", "tab\there"),
        ("1970-01-01", "1970-01-01 00:00:00+00:00", "0.5", "99999999.999999", "7", "new\nline, \"quoted\""),
        ("1900-02-28", "1900-03-01 12:00:00+08:00", "8600.00", "0.1", "1", "back\\slash"),
        ("2024-02-29", "2026-03-01 00:00:00+14:00", "999999999999.99", "100", "10000", "é 中文 ✓"),
        ("2096-12-31", "2016-12-31 23:59:60+00:00", "10000", "10000.0001", "100000000", "x"),
        (nil, nil, nil, nil, nil, nil),
        ("2026-01-31", "2026-11-22 23:10:00-00:30", "0.01", "5", "12", nil),
        ("2026-06-15", "2026-06-15 00:00:00+08:00", "100000000", "0.5", "3", "last"),
    ]

    @Test("dates, timestamps, amounts, decimals, counts, text, flags and JSON read back as PostgreSQL parses their text")
    func roundTrip() async throws {
        try await TestDatabase.with { database in
            let columns = "id integer, d date, t timestamptz, m numeric(14, 2), q numeric(14, 6), c integer, s text, b boolean, j jsonb"
            try await database.query(PostgresQuery(unsafeSQL: "CREATE TABLE public.copied (\(columns))"))
            try await database.query(PostgresQuery(unsafeSQL: "CREATE TABLE public.parsed (\(columns))"))

            var encoder = CopyRowEncoder(capacity: 4096)
            for (id, row) in Self.rows.enumerated() {
                encoder.beginRow(fields: 9)
                encoder.integer(id)
                try encoder.value(row.date, as: .date)
                try encoder.value(row.time, as: .timestamp)
                try encoder.value(row.money, as: .numeric)
                try encoder.value(row.decimal, as: .numeric)
                try encoder.value(row.count, as: .integer)
                encoder.text(row.text)
                encoder.bool(id % 2 == 0)
                encoder.jsonb(row.text.map { "{\"v\": \"\($0.replacingOccurrences(of: "\\", with: "\\\\").replacingOccurrences(of: "\"", with: "\\\"").replacingOccurrences(of: "\n", with: "\\n").replacingOccurrences(of: "\t", with: "\\t"))\"}" })

                var binds = PostgresBindings()
                binds.append(id)
                for value in [row.date, row.time, row.money, row.decimal, row.count, row.text] { binds.append(value) }
                binds.append(id % 2 == 0)
                try await database.query(PostgresQuery(unsafeSQL: """
                    INSERT INTO public.parsed VALUES ($1, $2::text::date, $3::text::timestamptz, $4::text::numeric(14, 2),
                        $5::text::numeric(14, 6), $6::text::integer, $7::text, $8,
                        CASE WHEN $7::text IS NULL THEN NULL ELSE jsonb_build_object('v', $7::text) END)
                    """, binds: binds))
            }
            try await database.withConnection { connection in
                try await connection.copyBinary(into: "public", table: "copied", columns: ["id", "d", "t", "m", "q", "c", "s", "b", "j"],
                                                logger: TestDatabase.logger) { writer in
                    try await writer.write(encoder.buffer)
                }
            }
            func rows(_ table: String) async throws -> [String] {
                var result: [String] = []
                for try await line in try await database.query(PostgresQuery(unsafeSQL:
                    "SELECT row_to_json(x)::text FROM (SELECT * FROM public.\(table) ORDER BY id) x")).decode(String.self) {
                    result.append(line)
                }
                return result
            }
            let copied = try await rows("copied")
            #expect(copied.count == Self.rows.count)
            #expect(copied == (try await rows("parsed")))
            // And a sample spelled out, so that a shared mistake in both paths would show too.
            #expect(copied[0].contains(#""t":"2026-11-22T00:30:00+00:00""#), "\(copied[0])")
            #expect(copied[0].contains(#""m":120.50"#) && copied[0].contains(#""q":1.500000"#), "\(copied[0])")
        }
    }

    @Test("a value the validator would never pass is refused, not written wrong")
    func refusesMalformed() {
        var encoder = CopyRowEncoder(capacity: 64)
        #expect(throws: CopyRowEncoder.Failure.self) { try encoder.value("2026-13-01", as: .date) }
        #expect(throws: CopyRowEncoder.Failure.self) { try encoder.value("2026-11-22 08:30:00", as: .timestamp) }
        #expect(throws: CopyRowEncoder.Failure.self) { try encoder.value("-1.5", as: .numeric) }
        #expect(throws: CopyRowEncoder.Failure.self) { try encoder.value("1e3", as: .numeric) }
        #expect(throws: CopyRowEncoder.Failure.self) { try encoder.value("twelve", as: .integer) }
    }
}
