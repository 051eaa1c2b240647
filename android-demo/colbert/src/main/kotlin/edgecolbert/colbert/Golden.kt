package edgecolbert.colbert

import kotlinx.serialization.json.JsonArray
import kotlinx.serialization.json.JsonObject

/** One golden text with its model inputs and reference vectors. */
data class GoldenEntry(
    val text: String,
    val inputIds: List<Long>,
    val attentionMask: List<Long>,
    val keptPositions: List<Int>,
    /** Reference vectors, row-major, one per kept position. */
    val vectors: List<DoubleArray>,
)

enum class Op(val json: String) { AT_LEAST(">="), AT_MOST("<=") }

data class Bound(val op: Op, val value: Double) {
    fun holds(x: Double): Boolean = x.isFinite() && if (op == Op.AT_LEAST) x >= value else x <= value
}

/** golden.json (spec/bundle.md): the bundle's self-test. */
data class Golden(
    val tolerance: Map<String, Bound>,
    val queries: List<GoldenEntry>,
    val documents: List<GoldenEntry>,
    /** [queries][documents] MaxSim of the reference vectors. */
    val scores: List<DoubleArray>,
    val topK: Int,
) {
    companion object {
        const val FILE = "golden.json"
        /** A score's relative error is taken against at least this: one query vector's perfect match (spec, golden rule 3). */
        const val SCORE_FLOOR = 1.0
        val METRICS = listOf("cosine_min", "cosine_mean", "maxsim_rel_err_max", "maxsim_rel_err_p99", "top10_agreement")

        private val NUMBER_ROWS = FieldType.listOf(FieldType.listOf(FieldType.NUMBER))
        private val FIELDS = mapOf("tolerance" to FieldType.OBJECT, "queries" to FieldType.listOf(FieldType.OBJECT),
            "documents" to FieldType.listOf(FieldType.OBJECT), "scores" to NUMBER_ROWS)
        private val ENTRY = mapOf("text" to FieldType.STRING, "input_ids" to FieldType.listOf(FieldType.INTEGER),
            "attention_mask" to FieldType.listOf(FieldType.INTEGER), "kept_positions" to FieldType.listOf(FieldType.INTEGER),
            "vectors" to NUMBER_ROWS)
        private val BOUND = mapOf("op" to FieldType { JsonTypes.isString(it) && it.asString in setOf(">=", "<=") },
            "value" to FieldType.NUMBER)

        fun parse(bytes: ByteArray, file: String = FILE): Golden {
            val d = requireFields(parseJson(bytes, file), FIELDS, file, file)
            fun entries(kind: String) = (d.getValue(kind) as JsonArray).mapIndexed { n, e ->
                val entry = requireFields(e, ENTRY, file, "$file['$kind'][$n]")
                GoldenEntry(entry.getValue("text").asString, (entry.getValue("input_ids") as JsonArray).map { it.asInt.toLong() },
                    (entry.getValue("attention_mask") as JsonArray).map { it.asInt.toLong() }, entry.getValue("kept_positions").asIntList,
                    (entry.getValue("vectors") as JsonArray).map { row -> (row as JsonArray).map { it.asDouble }.toDoubleArray() })
            }
            val tolerance = (d.getValue("tolerance") as JsonObject).mapValues { (metric, b) ->
                val bound = requireFields(b, BOUND, file, "$file['tolerance']['$metric']")
                if (metric !in METRICS) {
                    throw BundleException.Malformed(file, "$file: tolerance names '$metric', not a metric of the golden rule; re-export the bundle")
                }
                Bound(if (bound.getValue("op").asString == ">=") Op.AT_LEAST else Op.AT_MOST, bound.getValue("value").asDouble)
            }
            val queries = entries("queries")
            val documents = entries("documents")
            val scores = (d.getValue("scores") as JsonArray).map { row -> (row as JsonArray).map { it.asDouble }.toDoubleArray() }
            if (scores.size != queries.size || scores.any { it.size != documents.size }) {
                throw BundleException.Malformed(file, "$file: scores are not one row per query and one column per document; re-export the bundle")
            }
            val topK = d["top_k"]
            if (topK != null && (!JsonTypes.isInteger(topK) || topK.asInt < 1)) {
                throw BundleException.MistypedField(file, "$file: top_k must be a positive integer; re-export the bundle")
            }
            return Golden(tolerance, queries, documents, scores, topK?.asInt ?: 10)
        }
    }
}

/** The golden rule's result, with the CLI's field names. */
data class SelfTestReport(
    val passed: Boolean,
    val idsExact: Boolean,
    /** Texts whose ids, mask or kept positions differ from golden.json's. */
    val idMismatches: List<String>,
    val cosineMin: Double,
    val cosineMean: Double,
    val maxsimRelativeErrorMax: Double,
    val maxsimRelativeErrorP99: Double,
    val top10Agreement: Double,
    /** Each bound missed, as "metric=value (needs op bound)", or why the vectors could not be compared. */
    val failures: List<String>,
)

/** spec/bundle.md, "The golden rule": steps 2 to 5 on encoded vectors. */
object GoldenRule {
    fun measure(golden: Golden, queries: List<Vectors>, documents: List<Vectors>): Map<String, Double> {
        val cosines = ArrayList<Double>()
        (golden.queries + golden.documents).zip(queries + documents).forEachIndexed { n, (entry, got) ->
            if (entry.vectors.size != got.count) {
                throw IllegalStateException("text $n ('${entry.text.take(30)}'): ${got.count} vectors, golden.json has ${entry.vectors.size}")
            }
            for (i in 0 until got.count) {
                val want = entry.vectors[i]
                if (want.size != got.dim) throw IllegalStateException("text $n: vectors of ${got.dim}, golden.json's of ${want.size}")
                var dot = 0.0
                var a = 0.0
                var b = 0.0
                for (k in 0 until got.dim) {
                    val g = got.data[i * got.dim + k].toDouble()
                    dot += g * want[k]; a += g * g; b += want[k] * want[k]
                }
                cosines.add(dot / maxOf(Math.sqrt(a) * Math.sqrt(b), 1e-12))
            }
        }
        val scores = queries.map { q -> DoubleArray(documents.size) { Scoring.maxSim(q, documents[it]).toDouble() } }
        val relative = scores.indices.flatMap { i ->
            scores[i].indices.map { j -> Math.abs(scores[i][j] - golden.scores[i][j]) / maxOf(Math.abs(golden.scores[i][j]), Golden.SCORE_FLOOR) }
        }.ifEmpty { listOf(0.0) }
        return mapOf(
            "cosine_min" to (cosines.minOrNull() ?: 1.0),
            "cosine_mean" to (if (cosines.isEmpty()) 1.0 else cosines.average()),
            "maxsim_rel_err_max" to relative.max(),
            "maxsim_rel_err_p99" to percentile(relative, 99.0),
            "top10_agreement" to agreement(golden.scores, scores, golden.topK),
        )
    }

    /** numpy's default percentile: linear interpolation between closest ranks. */
    fun percentile(values: List<Double>, q: Double): Double {
        val sorted = values.sorted()
        val pos = (sorted.size - 1) * q / 100.0
        val lo = Math.floor(pos).toInt()
        val hi = Math.ceil(pos).toInt()
        return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - lo)
    }

    private fun top(row: DoubleArray, k: Int): Set<Int> =
        row.indices.sortedWith(compareByDescending<Int> { row[it] }.thenBy { it }).take(k).toSet()

    /** Mean over queries of the share of the expected top k also in the encoded top k. */
    fun agreement(expected: List<DoubleArray>, actual: List<DoubleArray>, topK: Int): Double {
        if (expected.isEmpty()) return 1.0
        val k = minOf(topK, expected[0].size)
        if (k == 0) return 1.0
        return expected.indices.map { (top(expected[it], k) intersect top(actual[it], k)).size.toDouble() / k }.average()
    }

    fun judge(golden: Golden, metrics: Map<String, Double>): List<String> = golden.tolerance.mapNotNull { (metric, bound) ->
        val value = metrics.getValue(metric)
        if (bound.holds(value)) null else "$metric=${"%.6g".format(value)} (needs ${bound.op.json} ${bound.value})"
    }
}
