/** spec/bundle.md, "Scoring": MaxSim summed in fp32, and rank with ties in corpus order. */

/**
 * One vector per kept token: `count` rows of `dim` floats, row-major.
 * @typedef {{count: number, dim: number, data: Float32Array}} TokenVectors
 */

/**
 * @param {number[][]} rows @param {number} dim @returns {TokenVectors}
 */
export function fromRows(rows, dim) {
  const data = new Float32Array(rows.length * dim);
  rows.forEach((row, i) => data.set(row, i * dim));
  return { count: rows.length, dim, data };
}

/**
 * Sum over query vectors of the best dot product with any document vector; 0 when either has no vectors.
 * Each dot product is rounded to fp32, and so is each partial sum.
 * @param {TokenVectors} q @param {TokenVectors} d
 */
export function maxsim(q, d) {
  if (q.count === 0 || d.count === 0) return 0;
  const dim = q.dim;
  let total = 0;
  for (let i = 0; i < q.count; i++) {
    let best = -Infinity;
    const qo = i * dim;
    for (let j = 0; j < d.count; j++) {
      const dO = j * dim;
      let dot = 0;
      for (let k = 0; k < dim; k++) dot += q.data[qo + k] * d.data[dO + k];
      dot = Math.fround(dot);
      if (dot > best) best = dot;
    }
    total = Math.fround(total + best);
  }
  return total;
}

/**
 * The k best indices by score, best first; equal scores keep the lower index first.
 * @param {ArrayLike<number>} scores @param {number} k @returns {{index: number, score: number}[]}
 */
export function topK(scores, k) {
  const order = Array.from({ length: scores.length }, (_, i) => i);
  order.sort((a, b) => scores[b] - scores[a] || a - b);
  return order.slice(0, Math.max(0, k)).map((index) => ({ index, score: scores[index] }));
}
