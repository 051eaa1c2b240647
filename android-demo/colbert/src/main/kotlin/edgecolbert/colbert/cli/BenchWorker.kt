package edgecolbert.colbert.cli

import edgecolbert.colbert.ColbertModel
import edgecolbert.colbert.DirectoryFiles
import edgecolbert.colbert.EngineOptions
import edgecolbert.colbert.GoldenRule
import edgecolbert.colbert.MultiVectorIndex
import kotlinx.serialization.json.Json
import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonElement
import kotlinx.serialization.json.JsonObject
import kotlinx.serialization.json.JsonPrimitive
import java.nio.file.Files
import java.nio.file.Path
import java.nio.file.Paths

/**
 * One `python -m export bench --against kotlin` row: the spec's texts through this library, with the keys and
 * the method of export/tools/bench_worker.py (query latency at batch 1, documents one at a time and in length-sorted
 * batches, index search over the encoded corpus repeated). What the JVM cannot measure as Python does (the
 * model's resident memory) is null.
 */
internal object BenchWorker {
    fun measure(specFile: Path): JsonElement {
        val spec = Json.parseToJsonElement(Files.readString(specFile)) as JsonObject
        fun strings(key: String) = (spec.getValue(key) as JsonArray).map { (it as JsonPrimitive).content }
        fun int(key: String, default: Int) = (spec[key] as? JsonPrimitive)?.content?.toIntOrNull() ?: default
        val queries = strings("queries")
        val documents = strings("documents")
        val threads = int("threads", 1)
        val batchSize = int("batch_size", 16)
        val started = System.nanoTime()
        ColbertModel.open(DirectoryFiles(Paths.get((spec.getValue("path") as JsonPrimitive).content)), EngineOptions(threads),
            batchSize = batchSize).use { model ->
            model.encodeQueries(queries.take(1))
            val coldStart = (System.nanoTime() - started) / 1e9
            val queryMs = ArrayList<Double>()
            repeat(int("query_passes", 3)) {
                for (q in queries) {
                    val t = System.nanoTime()
                    model.encodeQueries(listOf(q))
                    queryMs.add((System.nanoTime() - t) / 1e6)
                }
            }
            val result = linkedMapOf<String, JsonElement>(
                "cold_start_s" to num(coldStart), "query_p50_ms" to num(median(queryMs)),
                "query_p95_ms" to num(percentile(queryMs, 95.0)), "threads" to num(threads),
            )
            if ((spec["batch_1_documents"] as? JsonPrimitive)?.content == "true") {
                val t = System.nanoTime()
                for (d in documents) model.encodeDocuments(listOf(d))
                result["docs_per_s_batch_1"] = num(documents.size / ((System.nanoTime() - t) / 1e9))
            }
            val t = System.nanoTime()
            val vectors = model.encodeDocuments(documents)
            result["docs_per_s_batched"] = num(documents.size / ((System.nanoTime() - t) / 1e9))
            val count = int("index_documents", 0)
            if (count > 0) {
                val index = MultiVectorIndex.build(List(count) { vectors[it % vectors.size] }, List(count) { JsonPrimitive(it) },
                    "0".repeat(64))
                val encoded = model.encodeQueries(queries)
                val searchMs = encoded.map { q ->
                    val s = System.nanoTime()
                    index.search(q, 10)
                    (System.nanoTime() - s) / 1e6
                }
                result["index_search_p50_ms"] = num(median(searchMs))
                result["index_documents"] = num(count)
                result["index_vectors"] = num(index.vectorCount)
            }
            result["peak_rss_mb"] = peakRssMb()?.let(::num) ?: kotlinx.serialization.json.JsonNull
            result["model_rss_mb"] = kotlinx.serialization.json.JsonNull
            return JsonObject(result)
        }
    }

    /** The process's peak resident memory (Linux VmHWM), as the Python worker reports it; null elsewhere. */
    private fun peakRssMb(): Double? = runCatching {
        Files.readAllLines(Paths.get("/proc/self/status")).first { it.startsWith("VmHWM:") }.split(Regex("\\s+"))[1].toDouble() / 1024
    }.getOrNull()

    private fun median(values: List<Double>): Double = GoldenRule.percentile(values, 50.0)

    private fun percentile(values: List<Double>, q: Double): Double = GoldenRule.percentile(values, q)
}
