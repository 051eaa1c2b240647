/**
 * Steps 1 and 2 of spec/bundle.md, "Encoding a text": strip `strip_codepoints` from both ends, then lowercase
 * as Python's str.lower does. JavaScript's trim() and \s are not Python's str.isspace, and toLowerCase()
 * follows the engine's Unicode version, so neither is used as is.
 */
import { PYTHON_LOWER } from "./unicode-tables.js";

const CAPITAL_SIGMA = 0x3a3;

/**
 * Python's str.lower: toLowerCase in runs (so the final-sigma rule sees its context), except code points
 * whose lowercase differs between this engine and Python, which take Python's.
 * @param {string} text
 */
export function pythonLower(text) {
  let out = "";
  let run = "";
  for (const ch of text) {
    const cp = /** @type {number} */ (ch.codePointAt(0));
    const python = PYTHON_LOWER.get(cp) ?? ch;
    if (cp !== CAPITAL_SIGMA && ch.toLowerCase() !== python) {
      out += run.toLowerCase() + python;
      run = "";
    } else {
      run += ch;
    }
  }
  return out + run.toLowerCase();
}

/**
 * @param {{strip_codepoints: number[], do_lower_case: boolean}} settings colbert.json
 * @returns {(text: string) => string}
 */
export function preprocessor(settings) {
  const strip = new Set(settings.strip_codepoints);
  return (text) => {
    const points = Array.from(text);
    let start = 0;
    let end = points.length;
    while (start < end && strip.has(/** @type {number} */ (points[start].codePointAt(0)))) start++;
    while (end > start && strip.has(/** @type {number} */ (points[end - 1].codePointAt(0)))) end--;
    const stripped = points.slice(start, end).join("");
    return settings.do_lower_case ? pythonLower(stripped) : stripped;
  };
}
