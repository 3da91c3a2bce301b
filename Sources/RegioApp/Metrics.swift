import Metrics
import Prometheus

/// The process's Prometheus registry, bootstrapped into swift-metrics on first use so every
/// `Counter`, `Timer` and `Gauge` (Hummingbird's included) lands in `/metrics`.
public enum RegioMetrics {
    public static let registry: PrometheusCollectorRegistry = {
        let registry = PrometheusCollectorRegistry()
        var factory = PrometheusMetricsFactory(registry: registry)
        // Hummingbird names metrics the OpenTelemetry way (`http.server.request.duration`);
        // Prometheus allows only [a-zA-Z0-9_:] in names and labels.
        factory.nameAndLabelSanitizer = { name, labels in
            (sanitize(name), labels.map { (sanitize($0.0), $0.1) })
        }
        MetricsSystem.bootstrap(factory)
        return registry
    }()

    static func sanitize(_ name: String) -> String {
        String(name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == ":" ? $0 : "_" })
    }
}
