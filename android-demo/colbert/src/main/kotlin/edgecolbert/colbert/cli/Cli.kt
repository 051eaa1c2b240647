package edgecolbert.colbert.cli

import edgecolbert.colbert.BundleException
import edgecolbert.colbert.ColbertBundle
import edgecolbert.colbert.ColbertException
import edgecolbert.colbert.ColbertModel
import edgecolbert.colbert.DirectoryFiles
import edgecolbert.colbert.EngineOptions
import edgecolbert.colbert.IndexException
import edgecolbert.colbert.InputKind
import edgecolbert.colbert.SearchIndex
import edgecolbert.colbert.Scoring
import edgecolbert.colbert.Vectors
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonPrimitive
import java.io.PrintStream
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths
import kotlin.io.path.isDirectory
import kotlin.io.path.isRegularFile
import kotlin.system.exitProcess

/** Bad usage or input: exit 2, one line. */
internal class UsageError(message: String) : Exception(message)

private const val USAGE = "usage: java -jar colbert-cli.jar verify|scores|preprocess|tokenize|selftest|search|encode|bench-worker " +
    "--bundle DIR [--query|--document] [--corpus FILE.json] [--index FILE] [--k N] [--threads N] [TEXT...]"

/** The parsed command line: the command, its options, and its texts (arguments, else a JSON array on stdin). */
internal data class Args(val command: String, val options: Map<String, String>, val flags: Set<String>, val positional: List<String>) {
    fun option(name: String): String? = options[name]
    fun int(name: String, default: Int): Int {
        val value = options[name] ?: return default
        return value.toIntOrNull()?.takeIf { it >= 0 } ?: throw UsageError("--$name takes a whole number, not '$value'")
    }

    val bundle: Path
        get() {
            val dir = options["bundle"] ?: throw UsageError("$command needs --bundle DIR")
            return Paths.get(dir)
        }

    companion object {
        private val VALUED = setOf("bundle", "corpus", "index", "k", "threads", "batch-size")
        private val FLAGS = setOf("query", "document", "xnnpack")

        fun parse(argv: Array<String>): Args {
            if (argv.isEmpty() || argv[0] in setOf("-h", "--help", "help")) throw UsageError(USAGE)
            val options = HashMap<String, String>()
            val flags = HashSet<String>()
            val positional = ArrayList<String>()
            var i = 1
            while (i < argv.size) {
                val a = argv[i]
                when {
                    a == "--" -> { positional.addAll(argv.drop(i + 1)); break }
                    a.startsWith("--") && a.substring(2) in VALUED -> {
                        if (i + 1 >= argv.size) throw UsageError("$a needs a value")
                        options[a.substring(2)] = argv[i + 1]
                        i++
                    }
                    a.startsWith("--") && a.substring(2) in FLAGS -> flags.add(a.substring(2))
                    a.startsWith("--") -> throw UsageError("unknown option $a; $USAGE")
                    else -> positional.add(a)
                }
                i++
            }
            return Args(argv[0], options, flags, positional)
        }
    }
}

/** The texts of a command: its arguments, or when none are given a JSON array of strings on stdin. */
internal fun texts(args: Args, stdin: () -> String): List<String> {
    if (args.positional.isNotEmpty()) return args.positional
    val input = stdin()
    val parsed = try {
        Json.parseToJsonElement(input)
    } catch (e: Exception) {
        throw UsageError("stdin is not a JSON array of strings; pass texts as arguments or as [\"...\"] on stdin")
    }
    if (parsed !is JsonArray || !parsed.all { it is JsonPrimitive && it.isString }) {
        throw UsageError("stdin is not a JSON array of strings; pass texts as arguments or as [\"...\"] on stdin")
    }
    return parsed.map { (it as JsonPrimitive).content }
}

private fun kindOf(args: Args): InputKind = when {
    "query" in args.flags && "document" in args.flags -> throw UsageError("tokenize takes --query or --document, not both")
    "query" in args.flags -> InputKind.QUERY
    "document" in args.flags -> InputKind.DOCUMENT
    else -> throw UsageError("${args.command} takes --query or --document")
}

private fun checkBundleDir(path: Path) {
    if (!path.isDirectory()) throw UsageError("--bundle $path is not a directory; pass a bundle that python -m export wrote")
}

private fun openBundle(args: Args): ColbertBundle {
    checkBundleDir(args.bundle)
    return ColbertBundle.open(DirectoryFiles(args.bundle), setOf("onnx", "tflite", "executorch", "coreml"))
}

private fun openModel(args: Args): ColbertModel {
    checkBundleDir(args.bundle)
    return ColbertModel.open(DirectoryFiles(args.bundle), EngineOptions(args.int("threads", 0), "xnnpack" in args.flags),
        batchSize = args.int("batch-size", 16).coerceAtLeast(1))
}

private fun vectorsJson(v: Vectors): JsonElement = arr((0 until v.count).map { i -> arr(v.row(i).map { num(it) }) })

/** Runs one command; returns the exit code. Output is one line of JSON, except verify's. */
internal fun run(argv: Array<String>, out: PrintStream, err: PrintStream, stdin: () -> String): Int {
    return try {
        val args = Args.parse(argv)
        when (args.command) {
            "verify" -> {
                val bundle = openBundle(args)
                out.println("OK ${bundle.manifest.name} ${bundle.manifest.modelName}")
            }
            "scores" -> {
                val bundle = openBundle(args)
                val golden = bundle.golden
                fun vectors(rows: List<DoubleArray>, dim: Int) = Vectors.of(rows.map { r -> FloatArray(r.size) { r[it].toFloat() } }, dim)
                val dim = bundle.settings.dim
                val queries = golden.queries.map { vectors(it.vectors, dim) }
                val documents = golden.documents.map { vectors(it.vectors, dim) }
                out.println(arr(queries.map { q -> arr(documents.map { d -> num(Scoring.maxSim(q, d)) }) }))
            }
            "preprocess" -> {
                val bundle = openBundle(args)
                out.println(arr(texts(args, stdin).map { str(bundle.tokenizer.preprocess(it)) }))
            }
            "tokenize" -> {
                val kind = kindOf(args)
                val bundle = openBundle(args)
                val lines = texts(args, stdin).map { text ->
                    val t = bundle.tokenizer.tokenizeAlone(text, kind)
                    val fields = mutableListOf<Pair<String, JsonElement>>("input_ids" to arr(t.inputIds.map(::num)), "attention_mask" to arr(t.attentionMask.map(::num)),
                        "kept_positions" to arr(t.keptPositions.map(::num)))
                    t.bucket?.let { fields.add("bucket" to str(it)) }
                    obj(*fields.toTypedArray())
                }
                out.println(arr(lines))
            }
            "encode" -> { // the kept vectors of each text, for tests that hold them to the Python runtime's
                val kind = kindOf(args)
                val input = texts(args, stdin)
                openModel(args).use { model ->
                    val vectors = if (kind == InputKind.QUERY) model.encodeQueries(input) else model.encodeDocuments(input)
                    out.println(arr(vectors.map(::vectorsJson)))
                }
            }
            "selftest" -> {
                val report = openModel(args).use { it.selfTest() }
                out.println(obj("passed" to bool(report.passed), "idsExact" to bool(report.idsExact),
                    "idMismatches" to arr(report.idMismatches.map(::str)), "cosineMin" to num(report.cosineMin),
                    "cosineMean" to num(report.cosineMean), "maxsimRelativeErrorMax" to num(report.maxsimRelativeErrorMax),
                    "maxsimRelativeErrorP99" to num(report.maxsimRelativeErrorP99), "top10Agreement" to num(report.top10Agreement),
                    "failures" to arr(report.failures.map(::str))))
                if (!report.passed) return 1
            }
            "search" -> search(args, out)
            "bench-worker" -> {
                val spec = args.positional.singleOrNull() ?: throw UsageError("bench-worker takes one SPEC_JSON file")
                out.println(BenchWorker.measure(Paths.get(spec)))
            }
            else -> throw UsageError("unknown command '${args.command}'; $USAGE")
        }
        0
    } catch (e: UsageError) {
        err.println("error: ${e.message}")
        2
    } catch (e: BundleException) {
        err.println("error: ${e.kind}: ${e.message}")
        1
    } catch (e: IndexException) {
        err.println("error: ${e.kind}: ${e.message}")
        1
    } catch (e: ColbertException) { // input past the bundle's bound
        err.println("error: ${e.kind}: ${e.message}")
        2
    }
}

private fun search(args: Args, out: PrintStream) {
    val corpusPath = Paths.get(args.option("corpus") ?: throw UsageError("search needs --corpus FILE.json"))
    val query = args.positional.joinToString(" ").ifBlank { throw UsageError("search takes a QUERY") }
    val k = args.int("k", 10)
    val corpus = readCorpus(corpusPath)
    openModel(args).use { model ->
        val indexPath = args.option("index")?.let(Paths::get)
        val metadata = corpus.map(::JsonPrimitive)
        val index = if (indexPath != null && indexPath.isRegularFile()) {
            SearchIndex.load(indexPath, model.modelDigest).also { // either kind: the exact or the compressed file
                if (it.metadata != metadata) {
                    throw UsageError("$indexPath indexes another corpus than $corpusPath; delete it, or pass another --index")
                }
            }
        } else {
            model.buildIndex(corpus).also { built -> indexPath?.let(built::save) }
        }
        val started = System.nanoTime()
        val hits = model.search(index, query, k)
        val ms = (System.nanoTime() - started) / 1e6
        out.println(obj("hits" to arr(hits.map { obj("index" to num(it.index), "score" to num(it.score), "text" to it.metadata) }),
            "milliseconds" to num(ms)))
    }
}

private fun readCorpus(path: Path): List<String> {
    if (!path.isRegularFile()) throw UsageError("--corpus $path is not a file")
    val parsed = try {
        Json.parseToJsonElement(Files.readString(path))
    } catch (e: Exception) {
        throw UsageError("--corpus $path is not JSON; pass a JSON array of texts")
    }
    if (parsed !is JsonArray || !parsed.all { it is JsonPrimitive && it.isString }) {
        throw UsageError("--corpus $path is not a JSON array of texts")
    }
    return parsed.map { (it as JsonPrimitive).content }
}

fun main(argv: Array<String>) {
    val out = PrintStream(java.io.FileOutputStream(java.io.FileDescriptor.out), true, Charsets.UTF_8)
    val err = PrintStream(java.io.FileOutputStream(java.io.FileDescriptor.err), true, Charsets.UTF_8)
    val code = run(argv, out, err) { System.`in`.readBytes().toString(Charsets.UTF_8) }
    out.flush()
    exitProcess(code)
}
