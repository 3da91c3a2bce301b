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
public struct Pseudonymizer: Sendable {
    // Kept as bytes: `SymmetricKey` is not `Sendable` in this swift-crypto, and making one is cheap.
    private let secret: Data

    public init(secret: Data) {
        self.secret = secret
    }

    public func pseudonym(_ value: String) -> String {
        HMAC<SHA256>.authenticationCode(for: Data(value.utf8), using: SymmetricKey(data: secret)).hexString
    }
}
