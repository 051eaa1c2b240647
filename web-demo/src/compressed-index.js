/**
 * The compressed index file of spec/bundle.md, "Compressed index file" (index format version 3): read and
 * search. Each vector is stored as a centroid id (u16) and, per dimension, a 2-, 4- or 8-bit residual bucket;
 * decompressed, it is the centroid plus the buckets' weights divided by its own fp32 length (unless 0).
 * Little-endian; a 128-byte header, then centroids (float16), buckets (float32 cutoffs then weights),
 * document offsets (u64), codes (u16), packed residuals, inverted-list offsets (u64), inverted lists (u32)
 * and the metadata (UTF-8 JSON), each at the next multiple of 64 bytes, then the sha256 of every byte before.
 *
 * The sections are read as typed-array views over the file's bytes (no copy); only the float16 centroids are
 * widened once, to a Float32Array.
 */
import { IndexFileError } from "./errors.js";
import { sha256 } from "./sha256.js";
import { CHECKSUM, MAGIC, halfToFloat, hex } from "./vector-index.js";

/** The index format version of this file kind. */
export const COMPRESSED_VERSION = 3;
/** Format 2: this file's layout before decompressed vectors were normalised; refused as `unknown_version`. */
const UNNORMALISED = 2;
const BITS = [2, 4, 8];
const HEADER = 128;
const ALIGN = 64;
const MAX_CENTROIDS = 65536;
/** Up to this many probes, step 2 keeps a sorted buffer; past it, it sorts every centroid. */
const SMALL_PROBE = 64;
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** @param {bigint} n */
const aligned = (n) => ((n + 63n) / 64n) * 64n;

/**
 * @typedef {import("./vector-index.js").Hit} Hit
 * @typedef {import("./scoring.js").TokenVectors} TokenVectors
 * @typedef {{nprobe?: number, candidates?: number}} SearchOptions
 */

/**
 * (name, offset, bytes) of each section after the header, in file order, each at a multiple of 64; and where
 * the metadata starts. In BigInt, so that a corrupt header's huge counts cannot lose precision.
 * @param {{dim: bigint, bits: bigint, n: bigint, v: bigint, k: bigint, p: bigint}} h
 */
function layout({ dim, bits, n, v, k, p }) {
  const sizes = [["centroids", k * dim * 2n], ["buckets", ((1n << bits) * 2n - 1n) * 4n], ["offsets", (n + 1n) * 8n],
    ["codes", v * 2n], ["residuals", (v * dim * bits) / 8n], ["lists", (k + 1n) * 8n], ["entries", p * 4n]];
  /** @type {Record<string, number>} */
  const at = {};
  let end = BigInt(HEADER);
  for (const [name, size] of sizes) {
    const start = aligned(end);
    if (start <= BigInt(Number.MAX_SAFE_INTEGER)) at[name] = Number(start);
    end = start + size;
  }
  return { at, metadata: aligned(end) };
}

/**
 * A typed array of `count` little-endian values at byte `at` of `data`: a view when the platform is
 * little-endian (every section is 64-byte aligned), else a copy.
 * @template {Float32ArrayConstructor|Uint16ArrayConstructor|Uint32ArrayConstructor} T
 * @param {T} Type @param {Uint8Array} data @param {number} at @param {number} count @returns {InstanceType<T>}
 */
function section(Type, data, at, count) {
  if (LITTLE_ENDIAN) return /** @type {InstanceType<T>} */ (new Type(data.buffer, data.byteOffset + at, count));
  const view = new DataView(data.buffer, data.byteOffset + at, count * Type.BYTES_PER_ELEMENT);
  const out = new Type(count);
  const get = Type === Float32Array ? (i) => view.getFloat32(4 * i, true)
    : Type === Uint16Array ? (i) => view.getUint16(2 * i, true) : (i) => view.getUint32(4 * i, true);
  for (let i = 0; i < count; i++) out[i] = get(i);
  return /** @type {InstanceType<T>} */ (out);
}

/** `count` u64 values at byte `at` as Numbers (exact below 2^53, which a checked file's counts are). */
function u64s(view, at, count) {
  const out = new Float64Array(count);
  for (let i = 0; i < count; i++) out[i] = view.getUint32(at + 8 * i, true) + view.getUint32(at + 8 * i + 4, true) * 2 ** 32;
  return out;
}

/** True when offsets start at 0, end at `last` and never decrease. @param {Float64Array} offsets @param {number} last */
function monotone(offsets, last) {
  if (offsets[0] !== 0 || offsets[offsets.length - 1] !== last) return false;
  for (let i = 1; i < offsets.length; i++) if (offsets[i] < offsets[i - 1]) return false;
  return true;
}

/**
 * [256 * (8 / bits)] float32: the weights of the values packed in each byte, lowest bits first (at 8 bits,
 * the weights themselves).
 * @param {Float32Array} weights @param {number} bits
 */
function unpackTable(weights, bits) {
  const per = 8 / bits;
  const mask = (1 << bits) - 1;
  const table = new Float32Array(256 * per);
  for (let byte = 0; byte < 256; byte++) {
    for (let s = 0; s < per; s++) table[byte * per + s] = weights[(byte >> (s * bits)) & mask];
  }
  return table;
}

/**
 * Dot product of a[ao..ao+dim) and b[bo..bo+dim), rounded once to fp32 (as scoring.maxsim and VectorIndex).
 * @param {Float32Array} a @param {number} ao @param {Float32Array} b @param {number} bo @param {number} dim
 */
function dot(a, ao, b, bo, dim) {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0; // four partial sums: the JIT keeps them in registers
  let j = 0;
  for (; j + 3 < dim; j += 4) {
    s0 += a[ao + j] * b[bo + j];
    s1 += a[ao + j + 1] * b[bo + j + 1];
    s2 += a[ao + j + 2] * b[bo + j + 2];
    s3 += a[ao + j + 3] * b[bo + j + 3];
  }
  for (; j < dim; j++) s0 += a[ao + j] * b[bo + j];
  return Math.fround(s0 + s1 + s2 + s3);
}

/**
 * Step 2 for one query vector: the `count` centroids of highest score, best first, ties to the lower id.
 * (Exported for the tests, which hold its two ways to each other.)
 * @param {Float32Array} scores all of S[i] @param {number} from S[i]'s start @param {number} k centroids
 * @param {number} count at most k @returns {Uint32Array}
 */
export function bestCentroids(scores, from, k, count) {
  if (count > SMALL_PROBE) {
    const ids = new Uint32Array(k);
    for (let c = 0; c < k; c++) ids[c] = c;
    ids.sort((a, b) => scores[from + b] - scores[from + a] || a - b);
    return ids.subarray(0, count);
  }
  const ids = new Uint32Array(count);
  const best = new Float64Array(count);
  let filled = 0;
  for (let c = 0; c < k; c++) {
    const s = scores[from + c];
    if (filled === count && !(s > best[count - 1])) continue; // an equal score keeps the lower id
    let at = filled < count ? filled++ : count - 1;
    while (at > 0 && !(best[at - 1] >= s)) { // ids rise with c: an equal score stays before
      best[at] = best[at - 1];
      ids[at] = ids[at - 1];
      at--;
    }
    best[at] = s;
    ids[at] = c;
  }
  return ids;
}

export class CompressedIndex {
  /**
   * @param {{dim: number, bits: number, modelDigest: string, centroids: Float32Array, cutoffs: Float32Array,
   *          weights: Float32Array, offsets: Float64Array, codes: Uint16Array, residuals: Uint8Array,
   *          lists: Float64Array, entries: Uint32Array, metadata: unknown[], nprobe: number, candidates: number}} parts
   *   centroids already widened to fp32 ([K, dim]); lists the inverted-list offsets, entries the lists
   */
  constructor(parts) {
    /** @type {number} */ this.dim = parts.dim;
    /** @type {number} bits per residual value, 2, 4 or 8 */ this.bits = parts.bits;
    /** @type {"compressed"} */ this.dtype = "compressed";
    /** @type {string} */ this.modelDigest = parts.modelDigest;
    /** @type {Float32Array} [K * dim], widened from float16 */ this.centroids = parts.centroids;
    /** @type {Float32Array} */ this.cutoffs = parts.cutoffs;
    /** @type {Float32Array} */ this.weights = parts.weights;
    /** @type {Float64Array} */ this.offsets = parts.offsets;
    /** @type {Uint16Array} */ this.codes = parts.codes;
    /** @type {Uint8Array} [V * dim * bits / 8] */ this.residuals = parts.residuals;
    /** @type {Float64Array} [K + 1] */ this.lists = parts.lists;
    /** @type {Uint32Array} [P] */ this.entries = parts.entries;
    /** @type {unknown[]} */ this.metadata = parts.metadata;
    /** @type {number} the search's default */ this.nprobe = parts.nprobe;
    /** @type {number} the search's default */ this.candidates = parts.candidates;
    /** @type {Float32Array} byte -> its 8 / bits weights */ this.table = unpackTable(parts.weights, parts.bits);
    Object.freeze(this);
  }

  get size() {
    return this.offsets.length - 1;
  }

  /** K, the centroids. */
  get centroidCount() {
    return this.lists.length - 1;
  }

  /**
   * Read and check a compressed index file in the spec's order; with `modelDigest`, refuse one built with
   * another model. The index keeps views over `data`'s buffer.
   * @param {Uint8Array} data @param {string} where @param {string} [modelDigest]
   */
  static async fromBytes(data, where = "index", modelDigest) {
    const corrupt = (reason) => new IndexFileError("corrupt", `${where} is not a usable index (${reason}); rebuild it`);
    if (data.length < 12 || !MAGIC.every((b, i) => data[i] === b)) {
      throw corrupt(data.length < 12 && MAGIC.every((b, i) => i >= data.length || data[i] === b) ? "truncated header" : "not an index file");
    }
    if (data.byteOffset % 8 !== 0) data = data.slice(); // typed views need aligned offsets
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const version = view.getUint32(8, true);
    if (version === UNNORMALISED) {
      throw new IndexFileError("unknown_version", `${where} is compressed index format 2, from before decompressed vectors were normalised; this runtime reads 1 (exact) and 3 (compressed): rebuild the index`);
    }
    if (version !== COMPRESSED_VERSION) {
      throw new IndexFileError("unknown_version", `${where} is index format ${version}; this runtime reads 1 (exact) and 3 (compressed): rebuild the index or upgrade the runtime`);
    }
    if (data.length < HEADER + CHECKSUM) throw corrupt("truncated header");
    const dim = view.getUint32(12, true);
    const bits = view.getUint32(16, true);
    const flags = view.getUint32(20, true);
    const k = view.getUint32(80, true);
    const nprobe = view.getUint32(84, true);
    const candidates = view.getUint32(88, true);
    if (!BITS.includes(bits)) throw corrupt(`${bits} bits per residual value, not 2, 4 or 8`);
    if (flags !== 0) throw corrupt("unknown flags");
    if (dim === 0 || (dim * bits) % 8 !== 0) throw corrupt(`dim ${dim} at ${bits} bits does not fill whole bytes`);
    if (k < 1 || k > MAX_CENTROIDS) throw corrupt(`${k} centroids, not 1 to ${MAX_CENTROIDS}`);
    if (nprobe < 1 || candidates < 1) throw corrupt("nprobe and candidates must be at least 1");
    if (view.getUint32(92, true) !== 0) throw corrupt("a reserved field is not zero");
    const big = { dim: BigInt(dim), bits: BigInt(bits), n: view.getBigUint64(24, true), v: view.getBigUint64(32, true),
      k: BigInt(k), p: view.getBigUint64(96, true) };
    const m = view.getBigUint64(40, true);
    const { at, metadata: metaAt } = layout(big);
    const expected = metaAt + m + BigInt(CHECKSUM);
    if (BigInt(data.length) !== expected) throw corrupt(`${data.length} bytes where the header says ${expected}: truncated or extended`);
    const digest = await sha256(data.subarray(0, data.length - CHECKSUM));
    if (!digest.every((b, i) => b === data[data.length - CHECKSUM + i])) throw corrupt("checksum mismatch");
    // The size matched: every count is below the file's length, so Numbers are exact from here.
    const [n, v, p] = [Number(big.n), Number(big.v), Number(big.p)];

    const levels = 1 << bits;
    const cutoffs = section(Float32Array, data, at.buckets, levels - 1);
    const weights = section(Float32Array, data, at.buckets + 4 * (levels - 1), levels);
    for (let i = 0; i < cutoffs.length; i++) {
      if (!Number.isFinite(cutoffs[i]) || (i > 0 && cutoffs[i] < cutoffs[i - 1])) throw corrupt("bucket cutoffs not finite or out of order");
    }
    if (!weights.every(Number.isFinite)) throw corrupt("a bucket weight is not finite");
    const halves = section(Uint16Array, data, at.centroids, k * dim);
    const centroids = new Float32Array(k * dim);
    for (let i = 0; i < halves.length; i++) {
      if ((halves[i] & 0x7c00) === 0x7c00) throw corrupt("a centroid is not finite");
      centroids[i] = halfToFloat(halves[i]);
    }
    const offsets = u64s(view, at.offsets, n + 1);
    if (!monotone(offsets, v)) throw corrupt("document offsets out of order");
    const codes = section(Uint16Array, data, at.codes, v);
    for (let t = 0; t < v; t++) if (codes[t] >= k) throw corrupt("a centroid id past the centroids");
    const residuals = data.subarray(at.residuals, at.residuals + (v * dim * bits) / 8);
    const lists = u64s(view, at.lists, k + 1);
    if (!monotone(lists, p)) throw corrupt("inverted-list offsets out of order");
    const entries = section(Uint32Array, data, at.entries, p);
    for (let e = 0; e < p; e++) if (entries[e] >= n) throw corrupt("an inverted list names a document past the corpus");
    for (let c = 0; c < k; c++) {
      for (let e = lists[c] + 1; e < lists[c + 1]; e++) {
        if (entries[e] <= entries[e - 1]) throw corrupt("an inverted list is not ascending");
      }
    }
    const start = Number(metaAt);
    let metadata;
    try {
      metadata = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(start, start + Number(m))));
    } catch {
      throw corrupt("metadata is not UTF-8 JSON");
    }
    if (!Array.isArray(metadata) || metadata.length !== n) throw corrupt("metadata is not one entry per document");
    const index = new CompressedIndex({ dim, bits, modelDigest: hex(data.subarray(48, 80)), centroids, cutoffs, weights,
      offsets, codes, residuals, lists, entries, metadata, nprobe, candidates });
    if (modelDigest !== undefined && index.modelDigest !== modelDigest) {
      throw new IndexFileError("other_model", `${where} was built with another model (digest ${index.modelDigest.slice(0, 12)}, this bundle's is ${modelDigest.slice(0, 12)}); rebuild it with this bundle`);
    }
    return index;
  }

  /**
   * Decompress vector `t` into `out` (dim fp32 values), in fp32 as the spec's three steps: y[j] the widened
   * centroid plus the bucket's weight, one addition; n the root of the sum of y[j]·y[j] in order of j, each
   * product, partial sum and the root rounded to fp32 (an fp32 operation done in double and rounded once is
   * the fp32 result); then, if n > 0, each y[j] / n (rounded by the Float32Array store).
   * @param {number} t @param {Float32Array} out @returns {Float32Array}
   */
  decompress(t, out = new Float32Array(this.dim)) {
    const { dim, table, residuals, centroids } = this;
    const per = 8 / this.bits;
    const rowBytes = dim / per;
    const c = this.codes[t] * dim;
    const base = t * rowBytes;
    let squares = 0;
    for (let r = 0; r < rowBytes; r++) {
      const w = residuals[base + r] * per;
      const j = r * per;
      for (let s = 0; s < per; s++) {
        const y = Math.fround(centroids[c + j + s] + table[w + s]);
        out[j + s] = y;
        squares = Math.fround(squares + Math.fround(y * y));
      }
    }
    const length = Math.fround(Math.sqrt(squares));
    if (length > 0) for (let j = 0; j < dim; j++) out[j] /= length;
    return out;
  }

  /**
   * Steps 1 to 4: the candidate documents and their centroid scores, best first (ties to the lower index),
   * at most `candidates`.
   * @param {TokenVectors} query @param {number} nprobe @param {number} candidates
   * @returns {{documents: Uint32Array, scores: Float32Array}}
   */
  candidatesFor(query, nprobe, candidates) {
    const { dim, centroids, lists, entries } = this;
    const k = this.centroidCount;
    const nq = query.count;
    const q = query.data;
    const s = new Float32Array(nq * k); // step 1: S[i][c]
    for (let i = 0; i < nq; i++) {
      for (let c = 0; c < k; c++) s[i * k + c] = dot(q, i * dim, centroids, c * dim, dim);
    }
    const probes = Math.min(nprobe, k);
    const chosen = []; // step 2: each query vector's probes, best first
    const listed = new Uint8Array(this.size);
    const found = [];
    for (let i = 0; i < nq; i++) {
      const probe = bestCentroids(s, i * k, k, probes);
      chosen.push(probe);
      for (const c of probe) {
        for (let e = lists[c], end = lists[c + 1]; e < end; e++) {
          const doc = entries[e];
          if (!listed[doc]) { listed[doc] = 1; found.push(doc); }
        }
      }
    }
    // Step 3: per query vector in order, every listed document adds the first (so the highest) probed score whose
    // list holds it, or the query vector's lowest probed score if none does.
    const approx = new Float32Array(this.size);
    const best = new Float32Array(this.size);
    const bestFor = new Int32Array(this.size).fill(-1); // the query vector whose score `best` holds
    for (let i = 0; i < nq; i++) {
      const from = i * k;
      const probe = chosen[i];
      for (const c of probe) {
        const score = s[from + c];
        for (let e = lists[c], end = lists[c + 1]; e < end; e++) {
          const doc = entries[e];
          if (bestFor[doc] !== i) { bestFor[doc] = i; best[doc] = score; }
        }
      }
      const lowest = s[from + probe[probe.length - 1]];
      for (const doc of found) approx[doc] += bestFor[doc] === i ? best[doc] : lowest; // fp32 by the store
    }
    const documents = Uint32Array.from(found);
    documents.sort((a, b) => approx[b] - approx[a] || a - b); // step 4
    const kept = documents.subarray(0, Math.min(candidates, documents.length));
    return { documents: kept, scores: Float32Array.from(kept, (d) => approx[d]) };
  }

  /**
   * Step 5's MaxSim of the query with each document's decompressed vectors, fp32 (0 without vectors).
   * @param {TokenVectors} query @param {ArrayLike<number>} documents @returns {Float32Array}
   */
  scoresOf(query, documents) {
    const dim = this.dim;
    const nq = query.count;
    const q = query.data;
    const out = new Float32Array(documents.length);
    const row = new Float32Array(dim);
    const best = new Float32Array(nq);
    for (let n = 0; n < documents.length; n++) {
      const start = this.offsets[documents[n]];
      const end = this.offsets[documents[n] + 1];
      if (end === start || nq === 0) continue;
      best.fill(-Infinity);
      for (let t = start; t < end; t++) {
        this.decompress(t, row);
        for (let i = 0; i < nq; i++) {
          const d = dot(q, i * dim, row, 0, dim);
          if (d > best[i]) best[i] = d;
        }
      }
      let total = 0;
      for (let i = 0; i < nq; i++) total = Math.fround(total + best[i]);
      out[n] = total;
    }
    return out;
  }

  /**
   * The k best documents by MaxSim over decompressed vectors, among the `candidates` best by centroid score
   * (spec/bundle.md's five steps); best first, equal scores in corpus order. nprobe and candidates default
   * to the file's.
   * @param {TokenVectors} query @param {number} [k] @param {SearchOptions} [options] @returns {Hit[]}
   */
  search(query, k = 10, { nprobe = this.nprobe, candidates = this.candidates } = {}) {
    if (query.count && query.dim !== this.dim) throw new RangeError(`query vectors must be of dim ${this.dim}`);
    for (const [name, value] of [["nprobe", nprobe], ["candidates", candidates]]) {
      if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a whole number of at least 1, not ${value}`);
    }
    if (query.count === 0 || k <= 0) return [];
    const { documents } = this.candidatesFor(query, nprobe, candidates);
    const scores = this.scoresOf(query, documents);
    const order = Array.from(documents.keys()).sort((a, b) => scores[b] - scores[a] || documents[a] - documents[b]);
    return order.slice(0, k).map((n) => ({ index: documents[n], score: scores[n], metadata: this.metadata[documents[n]] }));
  }
}
