/**
 * The encoder on onnxruntime-web (wasm, SIMD; threads when the page is cross-origin isolated). The caller
 * passes the onnxruntime-web module it loaded (Node and the browser load different builds of it) and
 * configures its `env.wasm` (where the wasm files are served from, how many threads) before the first load.
 */
import { BundleError, InputError } from "./errors.js";

/** @typedef {import("./tokenizer.js").Row} Row */

export class OnnxEncoder {
  /** @param {any} ort the onnxruntime-web module @param {any} session an InferenceSession @param {any} io */
  constructor(ort, session, io) {
    this.ort = ort;
    this.session = session;
    this.io = io;
    this.dtype = io.inputs[0].dtype; // int64 or int32
    this.dim = io.outputs[0].shape.at(-1);
  }

  /**
   * @param {any} ort the onnxruntime-web module
   * @param {Uint8Array} model the .onnx bytes, already verified
   * @param {any} io colbert.json's io
   * @param {string} file the artifact's name, for errors
   */
  static async load(ort, model, io, file = "model.onnx") {
    try {
      const session = await ort.InferenceSession.create(model, { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
      return new OnnxEncoder(ort, session, io);
    } catch (error) {
      const reason = String(error?.message ?? error).split("\n")[0].slice(0, 200);
      throw new BundleError("unreadable_model", file, `${file}: onnxruntime-web cannot load it (${reason}); re-export the bundle`);
    }
  }

  /**
   * Vectors for one padded batch: Float32Array [rows, length, dim].
   * @param {Row[]} rows all of one length
   */
  async encode(rows) {
    const length = rows[0].input_ids.length;
    if (length > this.io.max_sequence) {
      throw new InputError("input_past_bound", `sequence of ${length} tokens is past this bundle's export bound of ${this.io.max_sequence}; truncate to document_length first`);
    }
    const make = (key) => {
      const flat = rows.flatMap((r) => r[key]);
      const data = this.dtype === "int64" ? BigInt64Array.from(flat, BigInt) : Int32Array.from(flat);
      return new this.ort.Tensor(this.dtype, data, [rows.length, length]);
    };
    const output = await this.session.run({ input_ids: make("input_ids"), attention_mask: make("attention_mask") });
    const tensor = output[this.io.outputs[0].name];
    return tensor.data instanceof Float32Array ? tensor.data : Float32Array.from(tensor.data);
  }

  async release() {
    await this.session.release();
  }
}
