import Foundation

/// Which compute units Core ML may use; a setting an app shows (`units` maps it to `MLComputeUnits`).
public enum ComputeChoice: String, CaseIterable, Codable, Sendable {
    case cpuOnly = "cpu", cpuAndGPU = "gpu", all

    public var label: String {
        switch self {
        case .cpuOnly: "CPU only"
        case .cpuAndGPU: "CPU and GPU"
        case .all: "All (Neural Engine)"
        }
    }
}
