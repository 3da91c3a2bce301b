import Foundation

/// Bearer tokens: 32 random bytes shown once to whoever issues them; only their SHA-256 is stored,
/// so a database dump does not leak working credentials.
public enum AccessToken {
    public static let prefix = "rg_"

    public static func generate() -> String {
        var generator = SystemRandomNumberGenerator()
        let bytes = (0..<32).map { _ in UInt8.random(in: .min ... .max, using: &generator) }
        let encoded = Data(bytes).base64EncodedString()
            .replacingOccurrences(of: "+", with: "-")
            .replacingOccurrences(of: "/", with: "_")
            .replacingOccurrences(of: "=", with: "")
        return prefix + encoded
    }

    public static func hash(_ token: String) -> String {
        sha256Hex(token)
    }
}
