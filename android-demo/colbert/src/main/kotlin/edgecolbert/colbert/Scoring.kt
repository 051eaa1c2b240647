package edgecolbert.colbert

/** A text's kept vectors: [count] rows of [dim] floats, row-major. */
class Vectors(val count: Int, val dim: Int, val data: FloatArray) {
    init {
        require(data.size == count * dim) { "vectors: ${data.size} floats are not $count x $dim" }
    }

    fun row(i: Int): FloatArray = data.copyOfRange(i * dim, (i + 1) * dim)

    companion object {
        fun of(rows: List<FloatArray>, dim: Int): Vectors {
            val data = FloatArray(rows.size * dim)
            rows.forEachIndexed { i, r -> System.arraycopy(r, 0, data, i * dim, dim) }
            return Vectors(rows.size, dim, data)
        }
    }
}

/** One ranked document: its position in the corpus and its MaxSim score. */
data class Ranked(val index: Int, val score: Float)

object Scoring {
    /** Sum over query vectors of the best dot product with any document vector, in fp32; 0 when either is empty. */
    fun maxSim(query: Vectors, document: Vectors): Float {
        if (query.count == 0 || document.count == 0) return 0f
        require(query.dim == document.dim) { "query dim ${query.dim} and document dim ${document.dim} differ" }
        val dim = query.dim
        var total = 0f
        for (q in 0 until query.count) {
            var best = Float.NEGATIVE_INFINITY
            for (d in 0 until document.count) {
                var dot = 0f
                val qo = q * dim
                val dO = d * dim
                for (k in 0 until dim) dot += query.data[qo + k] * document.data[dO + k]
                if (dot > best) best = dot
            }
            total += best
        }
        return total
    }

    /** Documents by score, highest first; equal scores keep corpus order; at most [k]. */
    fun rank(scores: FloatArray, k: Int): List<Ranked> =
        scores.indices.sortedWith(compareByDescending<Int> { scores[it] }.thenBy { it }).take(maxOf(k, 0)).map { Ranked(it, scores[it]) }
}
