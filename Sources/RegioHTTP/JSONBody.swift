import Foundation
import Hummingbird

extension Request {
    /// The body as JSON of type `T`, or 400 saying what was `expected`. A string holding NUL
    /// (`\u0000`) is refused too: no text column can store it, and PostgreSQL's refusal of it
    /// would otherwise reach the caller as a failure of the server.
    public func decodeJSON<T: Decodable>(_ type: T.Type, context: some RequestContext, expected: String) async throws -> T {
        let bad = Problem.badRequest("expected \(expected)")
        guard let body = try? await self.body.collect(upTo: context.maxUploadSize) else { throw bad }
        let bytes = Data(buffer: body)
        if Self.holdsEscapedNUL(bytes) { throw Problem.badRequest("text may not contain NUL (\\u0000)") }
        do {
            return try JSONDecoder().decode(type, from: bytes)
        } catch {
            throw bad
        }
    }

    /// Whether JSON text has a `\u0000` escape (a raw NUL is not JSON, and fails to decode anyway).
    static func holdsEscapedNUL(_ json: Data) -> Bool {
        var index = json.startIndex
        while index < json.endIndex {
            guard json[index] == UInt8(ascii: "\\") else {
                index += 1
                continue
            }
            let next = json.index(after: index)
            if next < json.endIndex, json[next] == UInt8(ascii: "u"), json.distance(from: next, to: json.endIndex) > 4,
               json[(next + 1)...(next + 4)].allSatisfy({ $0 == UInt8(ascii: "0") }) {
                return true
            }
            // Any other escape, `\\` included, is two bytes: its second is never the start of one.
            index += 2
        }
        return false
    }
}
