import Crypto
import Foundation

/// Hex SHA-256 of some bytes: migration checksums, extract file digests, token hashes.
public func sha256Hex<D: DataProtocol>(_ data: D) -> String {
    SHA256.hash(data: data).hexString
}

public func sha256Hex(_ string: String) -> String {
    sha256Hex(Data(string.utf8))
}

extension Sequence where Element == UInt8 {
    /// Lower-case hexadecimal, two digits a byte.
    public var hexString: String {
        let digits: StaticString = "0123456789abcdef"
        var out: [UInt8] = []
        out.reserveCapacity(underestimatedCount * 2)
        digits.withUTF8Buffer { digits in
            for byte in self {
                out.append(digits[Int(byte >> 4)])
                out.append(digits[Int(byte & 0x0F)])
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}

/// Keyed hash of national ID numbers (HMAC-SHA256 under the region secret). The clear number is
/// never stored: deterministic patient links compare these values instead.
///
/// HMAC (RFC 2104) is spelled out over swift-crypto's SHA-256 so that the key's two pads are
/// hashed once, not for every number: `HMAC<SHA256>(key:)` hashes both pads each time it is made,
/// and `SymmetricKey` is not `Sendable` in this swift-crypto. Tests compare it with `HMAC<SHA256>`.
public struct Pseudonymizer: Sendable {
    /// SHA-256 after absorbing the key XOR the inner pad, and after the outer pad. `SHA256` is not
    /// marked `Sendable`, but it is a value whose state is copied on write (swift-crypto's
    /// `OpenSSLDigestImpl`), and these two are only ever copied, never updated in place.
    private struct Pads: @unchecked Sendable {
        let inner: SHA256
        let outer: SHA256
    }
    private let pads: Pads

    public init(secret: Data) {
        // Keys longer than the hash's 64-byte block are hashed first; shorter ones are zero-padded.
        var key = secret.count > 64 ? Array(SHA256.hash(data: secret)) : Array(secret)
        key += [UInt8](repeating: 0, count: 64 - key.count)
        var inner = SHA256()
        inner.update(data: key.map { $0 ^ 0x36 })
        var outer = SHA256()
        outer.update(data: key.map { $0 ^ 0x5C })
        self.pads = Pads(inner: inner, outer: outer)
    }

    public func pseudonym(_ value: String) -> String {
        var inner = pads.inner
        var value = value
        value.withUTF8 { inner.update(bufferPointer: UnsafeRawBufferPointer($0)) }
        var outer = pads.outer
        inner.finalize().withUnsafeBytes { outer.update(bufferPointer: $0) }
        return outer.finalize().hexString
    }
}
