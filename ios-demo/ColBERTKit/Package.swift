// swift-tools-version:6.0
import PackageDescription

let package = Package(
    name: "ColBERTKit",
    platforms: [.iOS(.v17), .macOS(.v14)],
    products: [
        .library(name: "ColBERTKit", targets: ["ColBERTKit"]),
        .executable(name: "colbertkit", targets: ["colbertkit"]),
    ],
    targets: [
        .target(name: "ColBERTKit"),
        .executableTarget(name: "colbertkit", dependencies: ["ColBERTKit"]),
        .testTarget(name: "ColBERTKitTests", dependencies: ["ColBERTKit"]),
    ],
    swiftLanguageModes: [.v6]
)
