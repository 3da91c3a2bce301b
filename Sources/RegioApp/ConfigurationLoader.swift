import Foundation
import RegioCore

extension RegioConfiguration {
    /// The process's configuration: the `REGIO_CONFIG_FILE` file if named, then the environment
    /// on top of it.
    public static func load(environment: [String: String] = ProcessInfo.processInfo.environment) throws(ConfigurationError) -> RegioConfiguration {
        var merged: [String: String] = [:]
        if let path = environment["REGIO_CONFIG_FILE"], !path.isEmpty {
            guard let text = try? String(contentsOfFile: path, encoding: .utf8) else {
                throw ConfigurationError(problems: ["REGIO_CONFIG_FILE: cannot read \(path)"])
            }
            merged = try parseFile(text, name: path)
        }
        merged.merge(environment) { _, fromEnvironment in fromEnvironment }
        return try RegioConfiguration(environment: merged)
    }

    /// The region secret, read from `REGIO_SECRET_FILE`; at least 32 bytes so the HMAC key is strong.
    public func loadSecret() throws(ConfigurationError) -> Data {
        guard let secretFile else {
            throw ConfigurationError(problems: ["REGIO_SECRET_FILE is not set; the ingestion service needs the region secret"])
        }
        guard let data = FileManager.default.contents(atPath: secretFile) else {
            throw ConfigurationError(problems: ["REGIO_SECRET_FILE: cannot read \(secretFile)"])
        }
        let trimmed = Data(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines).utf8)
        guard trimmed.count >= 32 else {
            throw ConfigurationError(problems: ["REGIO_SECRET_FILE: \(secretFile) holds \(trimmed.count) bytes; at least 32 are needed"])
        }
        return trimmed
    }
}
