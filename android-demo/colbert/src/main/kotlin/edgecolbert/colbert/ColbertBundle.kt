package edgecolbert.colbert

/**
 * A bundle opened and checked as spec/bundle.md says, in its order: manifest.json and its format, every
 * file's sha256, the target, colbert.json, tokenizer.json (its kind), golden.json. The artifact is loaded
 * later, by an [EncoderFactory] ([ColbertModel.open]).
 */
class ColbertBundle private constructor(
    val files: BundleFiles,
    val manifest: Manifest,
    val settings: ColbertSettings,
    val tokenizer: ColbertTokenizer,
    val golden: Golden,
) {
    val modelDigest: String get() = manifest.modelDigest

    companion object {
        /**
         * Opens [files] for one of [targets] (the targets this app can run); throws a [BundleException] naming
         * the file. [hashProgress] gets the bytes hashed so far (a 70 MB model takes a moment on a phone).
         */
        fun open(files: BundleFiles, targets: Set<String>, hashProgress: (Long) -> Unit = {}): ColbertBundle {
            val manifest = Manifest.read(files)
            verifyFiles(files, manifest, hashProgress)
            if (manifest.target !in targets) {
                throw BundleException.UnknownTarget(Manifest.FILE, "${files.label}: target '${manifest.target}' is not one " +
                    "this app runs (${targets.sorted().joinToString()}); export that target or pick another bundle")
            }
            val settings = ColbertSettings.parse(files.readBytes(ColbertSettings.FILE))
            val tokenizer = HfTokenizer.parse(files.readBytes(HfTokenizer.FILE))
            val golden = Golden.parse(files.readBytes(Golden.FILE))
            return ColbertBundle(files, manifest, settings, ColbertTokenizer(tokenizer, settings), golden)
        }
    }
}
