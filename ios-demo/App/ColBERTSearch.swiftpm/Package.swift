// swift-tools-version: 6.0
// A Swift Playgrounds-style app package: Xcode opens this folder and builds the app, no generator step.
// It needs the bundle's platform: Core ML multifunction packages (one function per bucket) need iOS 18.
import AppleProductTypes
import PackageDescription

let package = Package(
    name: "ColBERTSearch",
    platforms: [.iOS("18.0")],
    products: [
        .iOSApplication(
            name: "ColBERTSearch",
            targets: ["AppModule"],
            bundleIdentifier: "ai.mixedbread.colbertsearch",
            teamIdentifier: "",
            displayVersion: "1.0",
            bundleVersion: "1",
            appIcon: .placeholder(icon: .box),
            accentColor: .presetColor(.orange),
            supportedDeviceFamilies: [.pad, .phone],
            supportedInterfaceOrientations: [.portrait, .landscapeLeft, .landscapeRight]
        ),
    ],
    dependencies: [.package(path: "../../ColBERTKit")],
    targets: [
        .executableTarget(
            name: "AppModule",
            dependencies: [.product(name: "ColBERTKit", package: "ColBERTKit")],
            path: "Sources",
            resources: [.copy("Resources")]
        ),
    ],
    swiftLanguageModes: [.v6]
)
