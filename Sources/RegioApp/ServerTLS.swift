import NIOSSL
import RegioCore

extension RegioConfiguration {
    /// The services' own TLS, when `REGIO_TLS_CERT_FILE` and `REGIO_TLS_KEY_FILE` name a
    /// certificate chain and its key: TLS 1.2 or later, NIOSSL's default cipher suites (forward
    /// secret AEAD ones). Nil without them: plain HTTP, for a proxy that terminates TLS.
    func serverTLS() throws -> TLSConfiguration? {
        guard let certificateFile = tlsCertificateFile, let keyFile = tlsKeyFile else { return nil }
        let chain: [NIOSSLCertificate]
        let key: NIOSSLPrivateKey
        do {
            chain = try NIOSSLCertificate.fromPEMFile(certificateFile)
        } catch {
            throw ConfigurationError(problems: ["REGIO_TLS_CERT_FILE: cannot read a PEM certificate from \(certificateFile): \(error)"])
        }
        do {
            key = try NIOSSLPrivateKey(file: keyFile, format: .pem)
        } catch {
            throw ConfigurationError(problems: ["REGIO_TLS_KEY_FILE: cannot read a PEM private key from \(keyFile): \(error)"])
        }
        guard !chain.isEmpty else {
            throw ConfigurationError(problems: ["REGIO_TLS_CERT_FILE: \(certificateFile) holds no certificate"])
        }
        var tls = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        tls.minimumTLSVersion = .tlsv12
        return tls
    }
}
