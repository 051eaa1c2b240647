/** Type checks of a bundle's JSON fields (spec/schemas): a wrong field is a one-line error naming it. */
import { BundleError } from "./errors.js";

/** @typedef {(value: unknown) => boolean} Check */

/** @type {Check} */ export const integer = (v) => Number.isInteger(v);
/** @type {Check} */ export const string = (v) => typeof v === "string";
/** @type {Check} */ export const boolean = (v) => typeof v === "boolean";
/** @type {Check} */ export const number = (v) => typeof v === "number" && Number.isFinite(v);
/** @type {Check} */ export const object = (v) => v !== null && typeof v === "object" && !Array.isArray(v);
/** @param {Check} check @returns {Check} */ export const optional = (check) => (v) => v === null || check(v);
/** @param {Check} check @returns {Check} */ export const listOf = (check) => (v) => Array.isArray(v) && v.every(check);

/**
 * `data` when it is an object holding every field of `fields`, each of the right type. Unknown fields are
 * ignored: later formats may add some.
 * @param {unknown} data @param {Record<string, Check>} fields @param {string} file @param {string} where
 * @returns {Record<string, any>}
 */
export function require(data, fields, file, where = file) {
  if (!object(data)) throw new BundleError("malformed", file, `${where} must be a JSON object; re-export the bundle`);
  const missing = Object.keys(fields).filter((name) => !(name in data));
  if (missing.length) throw new BundleError("malformed", file, `${where} lacks ${missing.join(", ")}; re-export the bundle`);
  const wrong = Object.entries(fields).filter(([name, check]) => !check(data[name])).map(([name]) => name);
  if (wrong.length) {
    throw new BundleError("mistyped_field", file, `${where}: ${wrong.join(", ")} has the wrong type; re-export the bundle`);
  }
  return /** @type {Record<string, any>} */ (data);
}

/**
 * UTF-8 JSON of a bundle file, or a `malformed` BundleError.
 * @param {Uint8Array} bytes @param {string} file
 */
export function parseJSON(bytes, file) {
  try {
    return JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(bytes));
  } catch (error) {
    const reason = error instanceof SyntaxError ? error.message.split("\n")[0] : "not UTF-8";
    throw new BundleError("malformed", file, `${file} is not valid JSON (${reason}); re-export the bundle`);
  }
}
