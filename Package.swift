// swift-tools-version:6.1
import PackageDescription

let swiftSettings: [SwiftSetting] = [
    .enableUpcomingFeature("ExistentialAny")
]

let package = Package(
    name: "regio",
    platforms: [.macOS(.v14)],
    products: [
        .executable(name: "regio", targets: ["regio"])
    ],
    dependencies: [
        .package(url: "https://github.com/hummingbird-project/hummingbird.git", from: "2.28.1"),
        .package(url: "https://github.com/vapor/postgres-nio.git", from: "1.33.2"),
        .package(url: "https://github.com/apple/swift-argument-parser.git", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log.git", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus.git", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle.git", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client.git", from: "1.37.0"),
        .package(url: "https://github.com/apple/swift-crypto.git", from: "3.12.3"),
        .package(url: "https://github.com/apple/swift-nio-ssl.git", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-http-types.git", from: "1.8.0"),
        .package(url: "https://github.com/adam-fowler/compress-nio.git", from: "1.5.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird-auth.git", from: "2.5.0"),
    ],
    targets: [
        // Pure domain logic: tiers, manifests, row validation, ID checks, pseudonymisation. No I/O.
        .target(
            name: "RegioCore",
            dependencies: [
                .product(name: "Crypto", package: "swift-crypto")
            ],
            swiftSettings: swiftSettings
        ),
        // A libFuzzer target on the decoder, the CSV reader and the row validator (scripts/fuzz.sh);
        // built plainly, it replays inputs.
        .executableTarget(
            name: "regio-fuzz",
            dependencies: ["RegioCore"],
            swiftSettings: swiftSettings
        ),
        // The store: the pool, migrations, registry, credentials, audit, rollups, report queries.
        .target(
            name: "RegioDB",
            dependencies: [
                "RegioCore",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Logging", package: "swift-log"),
            ],
            resources: [.copy("sql")],
            swiftSettings: swiftSettings
        ),
        // The batch path, without HTTP: a file streamed into staging (decode, parse, validate,
        // COPY), the batch's decision (checks, threshold, merge), its recovery and retraction.
        .target(
            name: "RegioPipeline",
            dependencies: [
                "RegioCore", "RegioDB",
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "CompressNIO", package: "compress-nio"),
                .product(name: "Crypto", package: "swift-crypto"),
            ],
            resources: [.copy("sql")],
            swiftSettings: swiftSettings
        ),
        // What both HTTP services share: auth, problem bodies, health, metrics, request ids.
        .target(
            name: "RegioHTTP",
            dependencies: [
                "RegioCore", "RegioDB",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RegioIngest",
            dependencies: [
                "RegioCore", "RegioDB", "RegioPipeline", "RegioHTTP",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            resources: [.copy("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        .target(
            name: "RegioQuery",
            dependencies: [
                "RegioCore", "RegioDB", "RegioHTTP",
                .product(name: "HummingbirdBcrypt", package: "hummingbird-auth"),
            ],
            resources: [.copy("openapi.yaml")],
            swiftSettings: swiftSettings
        ),
        // Composition: service groups, the embedded PostgreSQL, the demo region, the upload client.
        .target(
            name: "RegioApp",
            dependencies: [
                "RegioCore", "RegioDB", "RegioPipeline", "RegioHTTP", "RegioIngest", "RegioQuery",
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Prometheus", package: "swift-prometheus"),
            ],
            swiftSettings: swiftSettings
        ),
        // The one executable: argument parsing only; every command calls into RegioApp.
        .executableTarget(
            name: "regio",
            dependencies: [
                "RegioApp", "RegioCore", "RegioDB", "RegioPipeline", "RegioQuery",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
            ],
            swiftSettings: swiftSettings
        ),
        .testTarget(
            name: "RegioTests",
            dependencies: [
                "RegioCore", "RegioDB", "RegioPipeline", "RegioHTTP", "RegioIngest", "RegioQuery", "RegioApp",
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "PostgresNIO", package: "postgres-nio"),
                .product(name: "HTTPTypes", package: "swift-http-types"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ],
            swiftSettings: swiftSettings
        ),
    ]
)
