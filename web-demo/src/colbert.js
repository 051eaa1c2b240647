/** What an app does with a bundle: tokenise, encode in length-sorted batches, keep what PyLate keeps. */
import { OnnxEncoder } from "./encoder.js";
import { ColbertTokenizer } from "./tokenizer.js";

/** @typedef {import("./scoring.js").TokenVectors} TokenVectors */

export class ColbertModel {
  /** @param {import("./bundle.js").Bundle} bundle @param {ColbertTokenizer} tokenizer @param {OnnxEncoder} encoder */
  constructor(bundle, tokenizer, encoder) {
    this.bundle = bundle;
    this.settings = bundle.settings;
    this.tokenizer = tokenizer;
    this.encoder = encoder;
  }

  /**
   * @param {import("./bundle.js").Bundle} bundle an opened, verified bundle
   * @param {any} ort the onnxruntime-web module the caller loaded and configured
   */
  static async load(bundle, ort) {
    const tokenizer = new ColbertTokenizer(bundle.tokenizerJSON, bundle.settings);
    const encoder = await OnnxEncoder.load(ort, bundle.model, bundle.settings.io, bundle.manifest.artifact);
    return new ColbertModel(bundle, tokenizer, encoder);
  }

  /** @param {string[]} texts @returns {Promise<TokenVectors[]>} */
  encodeQueries(texts, batchSize = 16) {
    return this.encode(texts, true, batchSize);
  }

  /** @param {string[]} texts @returns {Promise<TokenVectors[]>} */
  encodeDocuments(texts, batchSize = 16) {
    return this.encode(texts, false, batchSize);
  }

  /**
   * Batches of similar length (sorted by token count), returned in the texts' order.
   * @param {string[]} texts @param {boolean} isQuery @param {number} batchSize
   * @param {(done: number) => void} [progress]
   */
  async encode(texts, isQuery, batchSize = 16, progress) {
    const ids = texts.map((t) => this.tokenizer.ids(t, isQuery));
    const order = ids.map((_, i) => i).sort((a, b) => ids[a].length - ids[b].length || a - b);
    const dim = this.settings.dim;
    /** @type {TokenVectors[]} */
    const out = new Array(texts.length);
    for (let start = 0; start < order.length; start += batchSize) {
      const members = order.slice(start, start + batchSize);
      const rows = this.tokenizer.pad(members.map((i) => ids[i]), isQuery);
      const width = rows[0].input_ids.length;
      const vectors = await this.encoder.encode(rows);
      rows.forEach((row, r) => {
        const kept = row.kept.flatMap((keep, p) => (keep ? [p] : []));
        const data = new Float32Array(kept.length * dim);
        kept.forEach((p, k) => data.set(vectors.subarray((r * width + p) * dim, (r * width + p + 1) * dim), k * dim));
        out[members[r]] = { count: kept.length, dim, data };
      });
      progress?.(Math.min(start + batchSize, order.length));
    }
    return out;
  }
}
