import ColBERTKit
import Foundation
#if canImport(CoreML)
import CoreML
#endif

/// The encoder `selftest` and `search` run: Core ML on Apple systems; `--replay FILE` (a TEST DOUBLE that
/// replays vectors recorded for exact inputs) anywhere, and the only one off Apple systems.
func engine(_ arguments: Arguments, _ bundle: ColBERTBundle) async throws(CLIError) -> any Encoder {
    if let replay = arguments.options["--replay"] {
        guard let data = FileManager.default.contents(atPath: replay) else {
            throw .usage("cannot read the replay file \(replay)")
        }
        do { return try ReplayEncoder(json: data, dim: bundle.settings.dim) } catch {
            throw .input(kind: "replay", "\(replay): \(error)")
        }
    }
    #if canImport(CoreML)
    if #available(macOS 15.0, iOS 18.0, *) {
        let choice: ComputeChoice
        if let name = arguments.options["--compute"] {
            guard let picked = ComputeChoice(rawValue: name) else {
                throw .usage("--compute takes \(ComputeChoice.allCases.map(\.rawValue).joined(separator: "|"))")
            }
            choice = picked
        } else {
            choice = .all
        }
        do { return try await CoreMLEncoder(bundle: bundle, computeUnits: choice.units) } catch let error as BundleError {
            throw .bundle(error)
        } catch {
            throw .bundle(BundleError(.unreadableModel, "\(bundle.artifactURL.path): \(error)"))
        }
    }
    #endif
    throw .usage("\(arguments.command) runs Core ML, which only Apple's systems have (macOS 15 or later); "
        + "here give --replay FILE (recorded encodings, a test double)")
}

/// Runs the pipeline, turning its errors into the CLI's kinds.
func encode(_ pipeline: ColBERTPipeline, _ texts: [String], isQuery: Bool) async throws(CLIError) -> [TokenVectors] {
    do { return try await pipeline.encode(texts, isQuery: isQuery) } catch { throw CLIError(error) }
}

extension CLIError {
    /// An error of the pipeline as the CLI reports it: a bundle's kind, or the encoder's.
    init(_ error: any Error) {
        switch error {
        case let error as CLIError: self = error
        case let error as BundleError: self = .bundle(error)
        case let error as EncoderError: self = .engine(kind: "replay", error.description)
        default: self = .engine(kind: "engine", "\(error)")
        }
    }
}
