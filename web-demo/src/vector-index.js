/**
 * The portable index file of spec/bundle.md, "Index file": read, write and search. Little-endian:
 * magic "CBINDEX\0", u32 version, u32 dtype (0 float32, 1 float16), u32 dim, u32 flags, u64 documents,
 * u64 vectors, u64 metadata bytes, 32-byte model digest, (N + 1) u64 offsets, the vectors, metadata JSON,
 * and the sha256 of everything before it.
 */
import { IndexFileError } from "./errors.js";
import { sha256 } from "./sha256.js";

/** The magic both index kinds start with, "CBINDEX\0". */
export const MAGIC = Object.freeze([0x43, 0x42, 0x49, 0x4e, 0x44, 0x45, 0x58, 0x00]);
const VERSION = 1;
const HEADER = 80;
/** The trailing sha256 of every index file. */
export const CHECKSUM = 32;

/** IEEE half to float (exact). @param {number} h */
export function halfToFloat(h) {
  const sign = h & 0x8000 ? -1 : 1;
  const exponent = (h >> 10) & 0x1f;
  const fraction = h & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 31) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** @param {Uint8Array} bytes */
export const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");

/**
 * @typedef {{index: number, score: number, metadata: unknown}} Hit
 */

export class VectorIndex {
  /**
   * @param {{dim: number, dtype: "float32"|"float16", modelDigest: string, offsets: Float64Array,
   *          vectors: Float32Array, metadata: unknown[]}} parts
   */
  constructor(parts) {
    /** @type {number} */ this.dim = parts.dim;
    /** @type {"float32"|"float16"} */ this.dtype = parts.dtype;
    /** @type {string} */ this.modelDigest = parts.modelDigest;
    /** @type {Float64Array} */ this.offsets = parts.offsets;
    /** @type {Float32Array} */ this.vectors = parts.vectors;
    /** @type {unknown[]} */ this.metadata = parts.metadata;
    Object.freeze(this);
  }

  get size() {
    return this.offsets.length - 1;
  }

  /**
   * An index of encoded documents (float32 only: this port writes what it encodes).
   * @param {import("./scoring.js").TokenVectors[]} documents @param {unknown[]} metadata @param {string} modelDigest
   */
  static build(documents, metadata, modelDigest) {
    if (documents.length !== metadata.length) throw new RangeError("one metadata entry per document");
    const dim = documents[0]?.dim ?? 1;
    const offsets = new Float64Array(documents.length + 1);
    documents.forEach((d, i) => { offsets[i + 1] = offsets[i] + d.count; });
    const vectors = new Float32Array(offsets[documents.length] * dim);
    documents.forEach((d, i) => vectors.set(d.data, offsets[i] * dim));
    return new VectorIndex({ dim, dtype: "float32", modelDigest, offsets, vectors, metadata });
  }

  /** The file's bytes. @returns {Promise<Uint8Array>} */
  async toBytes() {
    const meta = new TextEncoder().encode(JSON.stringify(this.metadata));
    const n = this.size;
    const v = this.offsets[n];
    const bodyLength = HEADER + 8 * (n + 1) + v * this.dim * 4 + meta.length;
    const out = new Uint8Array(bodyLength + CHECKSUM);
    const view = new DataView(out.buffer);
    out.set(MAGIC, 0);
    view.setUint32(8, VERSION, true);
    view.setUint32(12, 0, true);
    view.setUint32(16, this.dim, true);
    view.setUint32(20, 0, true);
    view.setBigUint64(24, BigInt(n), true);
    view.setBigUint64(32, BigInt(v), true);
    view.setBigUint64(40, BigInt(meta.length), true);
    out.set(this.modelDigest.match(/../g).map((b) => parseInt(b, 16)), 48);
    let at = HEADER;
    for (const offset of this.offsets) { view.setBigUint64(at, BigInt(offset), true); at += 8; }
    for (const value of this.vectors) { view.setFloat32(at, value, true); at += 4; }
    out.set(meta, at);
    out.set(await sha256(out.subarray(0, bodyLength)), bodyLength);
    return out;
  }

  /**
   * Read and check an index file; with `modelDigest`, refuse one built with another model.
   * @param {Uint8Array} data @param {string} where @param {string} [modelDigest]
   */
  static async fromBytes(data, where = "index", modelDigest) {
    const corrupt = (reason) => new IndexFileError("corrupt", `${where} is not a usable index (${reason}); rebuild it`);
    if (data.length < HEADER + 8 + CHECKSUM) {
      throw corrupt(MAGIC.every((b, i) => data[i] === b) || data.length < 8 ? "truncated header" : "not an index file");
    }
    if (!MAGIC.every((b, i) => data[i] === b)) throw corrupt("not an index file");
    const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
    const version = view.getUint32(8, true);
    if (version === 3) {
      throw new IndexFileError("unknown_version", `${where} is a compressed index (format 3); read it with readIndex of index-file.js`);
    }
    if (version === 2) {
      throw new IndexFileError("unknown_version", `${where} is compressed index format 2, from before decompressed vectors were normalised; this runtime reads 1 (exact) and 3 (compressed): rebuild the index`);
    }
    if (version !== VERSION) {
      throw new IndexFileError("unknown_version", `${where} is index format ${version}; this runtime reads 1 (exact) and 3 (compressed): rebuild the index or upgrade the runtime`);
    }
    const dtype = view.getUint32(12, true);
    const dim = view.getUint32(16, true);
    if (dtype > 1 || view.getUint32(20, true) !== 0 || dim === 0) throw corrupt("unknown dtype, flags or dim");
    const n = Number(view.getBigUint64(24, true));
    const v = Number(view.getBigUint64(32, true));
    const m = Number(view.getBigUint64(40, true));
    const item = dtype === 0 ? 4 : 2;
    const expected = HEADER + 8 * (n + 1) + v * dim * item + m + CHECKSUM;
    if (data.length !== expected) throw corrupt(`${data.length} bytes where the header says ${expected}: truncated or extended`);
    const digest = await sha256(data.subarray(0, data.length - CHECKSUM));
    if (!digest.every((b, i) => b === data[data.length - CHECKSUM + i])) throw corrupt("checksum mismatch");
    const offsets = new Float64Array(n + 1);
    let at = HEADER;
    for (let i = 0; i <= n; i++, at += 8) offsets[i] = Number(view.getBigUint64(at, true));
    if (offsets[0] !== 0 || offsets[n] !== v || offsets.some((o, i) => i > 0 && o < offsets[i - 1])) {
      throw corrupt("document offsets out of order");
    }
    const vectors = new Float32Array(v * dim);
    for (let i = 0; i < vectors.length; i++, at += item) {
      vectors[i] = item === 4 ? view.getFloat32(at, true) : halfToFloat(view.getUint16(at, true));
    }
    let metadata;
    try {
      metadata = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(data.subarray(at, at + m)));
    } catch {
      throw corrupt("metadata is not UTF-8 JSON");
    }
    if (!Array.isArray(metadata) || metadata.length !== n) throw corrupt("metadata is not one entry per document");
    const index = new VectorIndex({ dim, dtype: dtype === 0 ? "float32" : "float16",
      modelDigest: hex(data.subarray(48, 80)), offsets, vectors, metadata });
    if (modelDigest !== undefined && index.modelDigest !== modelDigest) {
      throw new IndexFileError("other_model", `${where} was built with another model (digest ${index.modelDigest.slice(0, 12)}, this bundle's is ${modelDigest.slice(0, 12)}); rebuild it with this bundle`);
    }
    return index;
  }

  /**
   * MaxSim of a query with every document, fp32 as scoring.maxsim.
   * @param {import("./scoring.js").TokenVectors} query @returns {Float32Array}
   */
  scores(query) {
    if (query.count && query.dim !== this.dim) throw new RangeError(`query vectors must be of dim ${this.dim}`);
    const out = new Float32Array(this.size);
    const dim = this.dim;
    const best = new Float32Array(query.count);
    const q = query.data;
    const v = this.vectors;
    for (let doc = 0; doc < this.size; doc++) {
      const start = this.offsets[doc];
      const end = this.offsets[doc + 1];
      if (end === start || query.count === 0) continue;
      best.fill(-Infinity);
      for (let row = start; row < end; row++) {
        const o = row * dim;
        for (let i = 0; i < query.count; i++) {
          const qo = i * dim;
          let a = 0, b = 0, c = 0, d = 0; // four partial sums: the JIT keeps them in registers
          let k = 0;
          for (; k + 3 < dim; k += 4) {
            a += q[qo + k] * v[o + k];
            b += q[qo + k + 1] * v[o + k + 1];
            c += q[qo + k + 2] * v[o + k + 2];
            d += q[qo + k + 3] * v[o + k + 3];
          }
          for (; k < dim; k++) a += q[qo + k] * v[o + k];
          const dot = Math.fround(a + b + c + d);
          if (dot > best[i]) best[i] = dot;
        }
      }
      let total = 0;
      for (let i = 0; i < query.count; i++) total = Math.fround(total + best[i]);
      out[doc] = total;
    }
    return out;
  }

  /** The k best documents, best first, ties in corpus order. @returns {Hit[]} */
  search(query, k = 10) {
    const scores = this.scores(query);
    const order = Array.from({ length: scores.length }, (_, i) => i).sort((a, b) => scores[b] - scores[a] || a - b);
    return order.slice(0, Math.max(0, k)).map((index) => ({ index, score: scores[index], metadata: this.metadata[index] }));
  }
}
