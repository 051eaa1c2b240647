package edgecolbert.colbert

/**
 * MaxSim of one query with runs of row-major fp32 vectors (spec/bundle.md, "Scoring"): each dot product summed in
 * fp32 in dimension order, the per-query-vector maxima summed in fp32 in query order. The query is held
 * transposed, so that the inner loop updates all query vectors at once (it vectorizes). Holds scratch: one per
 * search, never shared between threads.
 */
internal class MaxSimKernel(query: Vectors) {
    private val nq = query.count
    private val dim = query.dim
    private val qt = FloatArray(dim * nq).also { qt ->
        for (q in 0 until nq) for (k in 0 until dim) qt[k * nq + q] = query.data[q * dim + k]
    }
    private val best = FloatArray(nq)
    private val a0 = FloatArray(nq)
    private val a1 = FloatArray(nq)
    private val a2 = FloatArray(nq)
    private val a3 = FloatArray(nq)

    /** MaxSim with [vectors]' rows [start] until [end] (each [dim] floats); 0 for an empty query or run. */
    fun maxSim(vectors: FloatArray, start: Int, end: Int): Float {
        if (nq == 0 || start >= end) return 0f
        best.fill(Float.NEGATIVE_INFINITY)
        var v = start
        while (v + 4 <= end) { // four vectors a pass, so each query load is used four times
            a0.fill(0f); a1.fill(0f); a2.fill(0f); a3.fill(0f)
            val b0 = v * dim
            for (k in 0 until dim) {
                val x0 = vectors[b0 + k]
                val x1 = vectors[b0 + dim + k]
                val x2 = vectors[b0 + 2 * dim + k]
                val x3 = vectors[b0 + 3 * dim + k]
                val row = k * nq
                for (q in 0 until nq) {
                    val y = qt[row + q]
                    a0[q] += y * x0; a1[q] += y * x1; a2[q] += y * x2; a3[q] += y * x3
                }
            }
            for (q in 0 until nq) {
                var m = best[q]
                if (a0[q] > m) m = a0[q]
                if (a1[q] > m) m = a1[q]
                if (a2[q] > m) m = a2[q]
                if (a3[q] > m) m = a3[q]
                best[q] = m
            }
            v += 4
        }
        while (v < end) {
            a0.fill(0f)
            val base = v * dim
            for (k in 0 until dim) {
                val x = vectors[base + k]
                val row = k * nq
                for (q in 0 until nq) a0[q] += qt[row + q] * x
            }
            for (q in 0 until nq) if (a0[q] > best[q]) best[q] = a0[q]
            v++
        }
        var total = 0f
        for (q in 0 until nq) total += best[q]
        return total
    }
}
