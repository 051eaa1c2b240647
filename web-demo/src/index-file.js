/**
 * One entry point for both index file kinds of spec/bundle.md: the exact file ("Index file", format 1,
 * VectorIndex) and the compressed file ("Compressed index file", format 3, CompressedIndex), told apart by
 * the version field. Every other header (and a file too short to have one) goes to the exact reader, whose
 * checks give `corrupt` or `unknown_version` as they always have.
 */
import { COMPRESSED_VERSION, CompressedIndex } from "./compressed-index.js";
import { MAGIC, VectorIndex } from "./vector-index.js";

/** @typedef {VectorIndex|CompressedIndex} AnyIndex */

/**
 * Read and check an index file of either kind; with `modelDigest`, refuse one built with another model
 * (`other_model`). Errors are IndexFileError with the spec's kinds.
 * @param {Uint8Array} data @param {string} [where] @param {string} [modelDigest] @returns {Promise<AnyIndex>}
 */
export async function readIndex(data, where = "index", modelDigest) {
  const compressed = data.length >= 12 && MAGIC.every((b, i) => data[i] === b)
    && new DataView(data.buffer, data.byteOffset, 12).getUint32(8, true) === COMPRESSED_VERSION;
  return compressed ? CompressedIndex.fromBytes(data, where, modelDigest) : VectorIndex.fromBytes(data, where, modelDigest);
}

export { CompressedIndex, VectorIndex };
