/**
 * golden.json's one rule (spec/bundle.md, "The golden rule"), the same fields and thresholds `verify` applies.
 */
import { maxsim, topK, fromRows } from "./scoring.js";

/** A score's relative error is taken against at least this: one query vector's perfect match (spec, golden rule 3). */
export const SCORE_FLOOR = 1;

/**
 * @typedef {{passed: boolean, idsExact: boolean, idMismatches: string[], cosineMin: number, cosineMean: number,
 *            maxsimRelativeErrorMax: number, maxsimRelativeErrorP99: number, top10Agreement: number,
 *            failures: string[]}} SelfTestReport
 */

/** Linear interpolation between closest ranks, numpy's default percentile. @param {number[]} sorted @param {number} q */
export function percentile(sorted, q) {
  if (!sorted.length) return 0;
  const position = q * (sorted.length - 1);
  const low = Math.floor(position);
  const high = Math.ceil(position);
  return sorted[low] + (sorted[high] - sorted[low]) * (position - low);
}

/** @param {number[][]} expected @param {number[][]} actual @param {number} k */
export function agreement(expected, actual, k) {
  const shares = expected.map((row, i) => {
    const kk = Math.min(k, row.length);
    if (kk === 0) return 1; // no documents: nothing to miss
    const want = new Set(topK(row, kk).map((h) => h.index));
    return topK(actual[i], kk).filter((h) => want.has(h.index)).length / kk;
  });
  return shares.length ? shares.reduce((a, b) => a + b, 0) / shares.length : 1;
}

/**
 * The rule's metrics of encoded vectors against golden.json; throws RangeError when a vector count differs.
 * @param {any} golden @param {import("./scoring.js").TokenVectors[]} queries @param {import("./scoring.js").TokenVectors[]} documents
 */
export function measure(golden, queries, documents) {
  const cosines = [];
  const entries = [...golden.queries, ...golden.documents];
  [...queries, ...documents].forEach((got, n) => {
    const want = entries[n].vectors;
    if (want.length !== got.count) {
      throw new RangeError(`text ${n} (${JSON.stringify(entries[n].text.slice(0, 30))}): ${got.count} vectors, golden.json has ${want.length}`);
    }
    want.forEach((w, r) => {
      let dot = 0, a = 0, b = 0;
      for (let k = 0; k < got.dim; k++) {
        const x = got.data[r * got.dim + k];
        dot += x * w[k]; a += x * x; b += w[k] * w[k];
      }
      cosines.push(dot / Math.max(Math.sqrt(a) * Math.sqrt(b), 1e-12));
    });
  });
  const scores = queries.map((q) => documents.map((d) => maxsim(q, d)));
  const relative = scores.flatMap((row, i) => row.map((s, j) => Math.abs(s - golden.scores[i][j]) / Math.max(Math.abs(golden.scores[i][j]), SCORE_FLOOR)));
  relative.sort((a, b) => a - b);
  return {
    cosine_min: cosines.length ? Math.min(...cosines) : 1,
    cosine_mean: cosines.length ? cosines.reduce((a, b) => a + b, 0) / cosines.length : 1,
    maxsim_rel_err_max: relative.length ? relative[relative.length - 1] : 0,
    maxsim_rel_err_p99: percentile(relative, 0.99),
    top10_agreement: agreement(golden.scores, scores, golden.top_k ?? 10),
  };
}

/** Each tolerance bound missed. @param {any} golden @param {Record<string, number>} metrics */
export function judge(golden, metrics) {
  return Object.entries(golden.tolerance).flatMap(([metric, { op, value }]) => {
    const got = metrics[metric];
    const ok = Number.isFinite(got) && (op === ">=" ? got >= value : got <= value);
    return ok ? [] : [`${metric}=${got} (needs ${op} ${value})`];
  });
}

/**
 * The whole rule through a model: ids exact, then vectors and scores within the tolerance.
 * @param {import("./colbert.js").ColbertModel} model @returns {Promise<SelfTestReport>}
 */
export async function selfTest(model) {
  const golden = model.bundle.golden;
  const idMismatches = [];
  for (const [entries, isQuery] of [[golden.queries, true], [golden.documents, false]]) {
    for (const entry of entries) {
      const row = model.tokenizer.encodeOne(entry.text, isQuery);
      const kept = row.kept.flatMap((k, p) => (k ? [p] : []));
      const same = (a, b) => a.length === b.length && a.every((v, i) => v === b[i]);
      if (!same(row.input_ids, entry.input_ids) || !same(row.attention_mask, entry.attention_mask) || !same(kept, entry.kept_positions)) {
        idMismatches.push(entry.text);
      }
    }
  }
  const queries = await model.encodeQueries(golden.queries.map((e) => e.text));
  const documents = await model.encodeDocuments(golden.documents.map((e) => e.text));
  let metrics;
  let failures;
  try {
    metrics = measure(golden, queries, documents);
    failures = judge(golden, metrics);
  } catch (error) {
    metrics = { cosine_min: 0, cosine_mean: 0, maxsim_rel_err_max: Infinity, maxsim_rel_err_p99: Infinity, top10_agreement: 0 };
    failures = [String(error.message)];
  }
  return {
    passed: !idMismatches.length && !failures.length, idsExact: !idMismatches.length, idMismatches,
    cosineMin: metrics.cosine_min, cosineMean: metrics.cosine_mean, maxsimRelativeErrorMax: metrics.maxsim_rel_err_max,
    maxsimRelativeErrorP99: metrics.maxsim_rel_err_p99, top10Agreement: metrics.top10_agreement, failures,
  };
}

/** golden.json's reference vectors as TokenVectors, for `scores`. @param {any} golden @param {number} dim */
export function goldenScores(golden, dim) {
  const q = golden.queries.map((e) => fromRows(e.vectors, dim));
  const d = golden.documents.map((e) => fromRows(e.vectors, dim));
  return q.map((qq) => d.map((dd) => maxsim(qq, dd)));
}
