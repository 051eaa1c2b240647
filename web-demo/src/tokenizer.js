/**
 * spec/bundle.md, "Tokenizer" and steps 3 to 6 of "Encoding a text": Hugging Face's own JavaScript tokenizer
 * (@huggingface/tokenizers) for the ids, with truncation, special tokens, the prefix, padding and the kept
 * positions done here as the spec says (the library ignores tokenizer.json's truncation block).
 *
 * Where the JavaScript library takes Unicode classes from the engine, its tokens differ from tokenizers'
 * (which has Unicode 8.0 tables and Oniguruma's \s), so those components get tokenizers' own tables
 * (unicode-tables.js), all found by comparison: for WordPiece, BertNormalizer differs on 516 code points
 * (20 in clean_text, 496 in strip_accents) and spaces another set of CJK code points, so it is replaced by
 * one with tokenizers' tables, and BertPreTokenizer's punctuation (\p{P}) has 141 code points more and 2
 * fewer, so it becomes a Split of the same shape. For byte-level BPE, the ByteLevel regex's \s takes U+FEFF
 * and not U+0085, so the regex runs as a Split with tokenizers' letters, numbers and whitespace before a
 * ByteLevel pre-tokenizer without its own regex; and NFC reorders marks that tokenizers' older tables do not
 * know (U+0EBA, U+0898.., 810 code points have a combining class there), so NFC runs in segments split at
 * those marks, which tokenizers treats as starters.
 */
// The package's one ES module, by path: the same file in Node and in a module Worker (which has no import maps).
import { Tokenizer } from "../node_modules/@huggingface/tokenizers/dist/tokenizers.mjs";
import { BundleError } from "./errors.js";
import { preprocessor } from "./preprocess.js";
import { BERT_ACCENT, BERT_CHINESE, BERT_CLEAN_WHITESPACE, BERT_PUNCTUATION, BERT_REMOVED, BERT_WHITESPACE,
  BYTELEVEL_LETTER, BYTELEVEL_NUMBER, BYTELEVEL_WHITESPACE, NFC_COMBINING } from "./unicode-tables.js";

const FILE = "tokenizer.json";
const KINDS = {
  bpe: { normalizer: "NFC", pre_tokenizer: "ByteLevel", model: "BPE" },
  wordpiece: { normalizer: "BertNormalizer", pre_tokenizer: "BertPreTokenizer", model: "WordPiece" },
};
const POST_PROCESSORS = ["TemplateProcessing", "BertProcessing"];

/** @param {any} component */
const typeOf = (component) => (component && typeof component === "object" ? String(component.type) : "none");

/** @param {string} component @param {string} found */
function refuse(component, found) {
  return new BundleError("unknown_tokenizer_component", FILE,
    `${FILE}: its ${component} is ${found}, which bundles do not support (byte-level BPE or WordPiece only); ` +
    "re-export from a checkpoint with a supported tokenizer");
}

/**
 * "bpe" or "wordpiece"; a BundleError naming the first component outside both kinds.
 * @param {any} json tokenizer.json
 */
export function tokenizerKind(json) {
  if (!json || typeof json !== "object" || !json.model || typeof json.model.vocab !== "object") {
    throw new BundleError("malformed", FILE, `${FILE} has no model vocabulary; re-export the bundle`);
  }
  const kind = typeOf(json.normalizer) === "NFC" ? "bpe" : "wordpiece";
  for (const [component, expected] of Object.entries(KINDS[kind])) {
    if (typeOf(json[component]) !== expected) throw refuse(component, typeOf(json[component]));
  }
  if (kind === "bpe") {
    const pre = json.pre_tokenizer;
    const model = json.model;
    if (pre.add_prefix_space || pre.use_regex === false) {
      throw refuse("pre_tokenizer", "ByteLevel with add_prefix_space or without its regex");
    }
    if (model.byte_fallback || model.ignore_merges || model.dropout || model.continuing_subword_prefix ||
        model.end_of_word_suffix) {
      throw refuse("model", "BPE with byte_fallback, ignore_merges, dropout or affixes");
    }
  }
  if (!POST_PROCESSORS.includes(typeOf(json.post_processor))) throw refuse("post_processor", typeOf(json.post_processor));
  return kind;
}

/**
 * The special ids the single-sequence template puts before and after the text.
 * @param {any} processor @returns {{before: number[], after: number[]}}
 */
function template(processor) {
  if (processor.type === "BertProcessing") return { before: [processor.cls[1]], after: [processor.sep[1]] };
  const before = [];
  const after = [];
  let seen = false;
  for (const piece of processor.single) {
    if (piece.Sequence) {
      seen = true;
    } else {
      const ids = processor.special_tokens?.[piece.SpecialToken.id]?.ids;
      if (!Array.isArray(ids)) {
        throw new BundleError("malformed", FILE, `${FILE}'s post-processor names ${piece.SpecialToken.id}, which it does not define; re-export the bundle`);
      }
      (seen ? after : before).push(...ids);
    }
  }
  return { before, after };
}

/** @param {number[][]} ranges as an Oniguruma character class body */
const classBody = (ranges) => ranges.map(([a, b]) => (a === b ? `\\x{${a.toString(16)}}` : `\\x{${a.toString(16)}}-\\x{${b.toString(16)}}`)).join("");

/** BertPreTokenizer with tokenizers' tables: runs of neither whitespace nor punctuation, or one punctuation mark. */
const BERT_PRE_TOKENIZER = {
  type: "Split",
  pattern: { Regex: `[^${classBody(BERT_WHITESPACE)}${classBody(BERT_PUNCTUATION)}]+|[${classBody(BERT_PUNCTUATION)}]` },
  behavior: "Isolated",
  invert: true,
};

/** GPT-2's pre-tokenization regex, as the ByteLevel pre-tokenizer has it, with tokenizers' classes. */
const [L, N, S] = [BYTELEVEL_LETTER, BYTELEVEL_NUMBER, BYTELEVEL_WHITESPACE].map(classBody);
const BYTE_LEVEL_PRE_TOKENIZER = {
  type: "Sequence",
  pretokenizers: [
    { type: "Split", behavior: "Isolated", invert: true,
      pattern: { Regex: `'s|'t|'re|'ve|'m|'ll|'d| ?[${L}]+| ?[${N}]+| ?[^${S}${L}${N}]+|[${S}]+(?![^${S}])|[${S}]+` } },
    { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: false },
  ],
};

/** Whether `cp` is in sorted inclusive ranges. @param {number[][]} ranges @param {number} cp */
function within(ranges, cp) {
  let low = 0;
  let high = ranges.length - 1;
  while (low <= high) {
    const mid = (low + high) >> 1;
    if (cp < ranges[mid][0]) high = mid - 1;
    else if (cp > ranges[mid][1]) low = mid + 1;
    else return true;
  }
  return false;
}

const MARK = /\p{M}/u;

/**
 * tokenizers' NFC: the engine's NFC, except that a mark the engine reorders but tokenizers' tables give no
 * combining class stays where it is, as a starter, with nothing reordered or composed across it.
 * @returns {(text: string) => string}
 */
export function tokenizersNfc() {
  const reorderedHere = new Map(); // mark -> whether this engine gives it a combining class (1 to 239)
  const combiningHere = (ch) => {
    if (!reorderedHere.has(ch)) reorderedHere.set(ch, `\u0345${ch}`.normalize("NFC") === `${ch}\u0345`);
    return reorderedHere.get(ch);
  };
  return (text) => {
    if (!MARK.test(text)) return text.normalize("NFC");
    let out = "";
    let segment = "";
    for (const ch of text) {
      if (MARK.test(ch) && !within(NFC_COMBINING, /** @type {number} */ (ch.codePointAt(0))) && combiningHere(ch)) {
        out += segment.normalize("NFC") + ch;
        segment = "";
      } else {
        segment += ch;
      }
    }
    return out + segment.normalize("NFC");
  };
}

/**
 * tokenizers' BertNormalizer with its own tables: clean_text, handle_chinese_chars, strip_accents (NFD, then
 * without the marks), lowercase (per code point, as Rust's char::to_lowercase: no final-sigma rule).
 * @param {any} config tokenizer.json's normalizer
 * @returns {(text: string) => string}
 */
export function bertNormalizer(config) {
  const clean = config.clean_text ?? true;
  const chinese = config.handle_chinese_chars ?? true;
  const lowercase = config.lowercase ?? true;
  const strip = config.strip_accents ?? lowercase;
  return (text) => {
    let out = "";
    for (const ch of text) {
      const cp = /** @type {number} */ (ch.codePointAt(0));
      if (clean && within(BERT_REMOVED, cp)) continue;
      if (clean && within(BERT_CLEAN_WHITESPACE, cp)) out += " ";
      else if (chinese && within(BERT_CHINESE, cp)) out += ` ${ch} `;
      else out += ch;
    }
    if (strip) out = Array.from(out.normalize("NFD")).filter((ch) => !within(BERT_ACCENT, /** @type {number} */ (ch.codePointAt(0)))).join("");
    return lowercase ? Array.from(out, (ch) => ch.toLowerCase()).join("") : out;
  };
}

/**
 * @typedef {{input_ids: number[], attention_mask: number[], kept: boolean[]}} Row
 * @typedef {{kind: "query"|"document", length: number}} Bucket
 */

export class ColbertTokenizer {
  /**
   * @param {any} json tokenizer.json, parsed
   * @param {any} settings colbert.json, checked
   */
  constructor(json, settings) {
    this.kind = tokenizerKind(json);
    this.settings = settings;
    this.preprocess = preprocessor(settings);
    const copy = structuredClone(json);
    copy.truncation = null;
    copy.padding = null;
    copy.pre_tokenizer = this.kind === "wordpiece" ? BERT_PRE_TOKENIZER : BYTE_LEVEL_PRE_TOKENIZER;
    try {
      this.tokenizer = new Tokenizer(copy, {});
    } catch (error) {
      throw new BundleError("malformed", FILE, `${FILE} cannot be read (${String(error).split("\n")[0]}); re-export the bundle`);
    }
    this.replaceNormalizer(this.kind === "wordpiece" ? bertNormalizer(copy.normalizer) : tokenizersNfc());
    this.template = template(copy.post_processor);
    this.skip = new Set(settings.skiplist_ids);
  }

  /**
   * The library matched its normalized added tokens with its own normalizer when it was built; the new one
   * must give them the same text, or the bundle is refused rather than tokenised differently.
   * @param {(text: string) => string} normalize
   */
  replaceNormalizer(normalize) {
    const library = /** @type {any} */ (this.tokenizer);
    for (const token of library.added_tokens) {
      if (token.normalized && normalize(token.content) !== library.normalizer(token.content)) {
        throw refuse("normalizer", `BertNormalizer with an added token the JavaScript library normalizes otherwise (${token.content})`);
      }
    }
    library.normalizer = normalize;
  }

  /** @param {boolean} isQuery */
  prefixId(isQuery) {
    return isQuery ? this.settings.query_prefix_id : this.settings.document_prefix_id;
  }

  /** Tokens the tokenizer may produce: the kind's length, less one for the prefix. @param {boolean} isQuery */
  budget(isQuery) {
    const length = isQuery ? this.settings.query_length : this.settings.document_length;
    return this.prefixId(isQuery) === null ? length : length - 1;
  }

  /**
   * A text's ids, truncated, with the template's special tokens and the prefix, before padding.
   * @param {string} text @param {boolean} isQuery @returns {number[]}
   */
  ids(text, isQuery) {
    const clean = this.preprocess(text);
    const { before, after } = this.template;
    const content = this.tokenizer.encode(clean, { add_special_tokens: false }).ids
      .slice(0, Math.max(0, this.budget(isQuery) - before.length - after.length));
    const row = [...before, ...content, ...after];
    const prefix = this.prefixId(isQuery);
    return prefix === null ? row : [row[0], prefix, ...row.slice(1)];
  }

  /**
   * Rows padded into one batch as PyLate pads them, and the positions it keeps.
   * @param {number[][]} rows @param {boolean} isQuery @returns {Row[]}
   */
  pad(rows, isQuery) {
    const s = this.settings;
    const expand = isQuery && s.do_query_expansion;
    const width = expand ? s.query_length : Math.max(0, ...rows.map((r) => r.length));
    const padId = expand ? s.mask_token_id : s.pad_token_id;
    return rows.map((row) => {
      const input_ids = [...row, ...Array(width - row.length).fill(padId)];
      const attention_mask = input_ids.map((_, i) => (i < row.length || (expand && s.attend_to_expansion_tokens) ? 1 : 0));
      const kept = input_ids.map((id, i) => (isQuery ? expand || attention_mask[i] === 1
        : attention_mask[i] === 1 && !this.skip.has(id)));
      return { input_ids, attention_mask, kept };
    });
  }

  /** One text alone, as golden.json and the CLI's tokenize show it. @param {string} text @param {boolean} isQuery */
  encodeOne(text, isQuery) {
    return this.pad([this.ids(text, isQuery)], isQuery)[0];
  }
}

/**
 * The smallest bucket of the input's kind that holds `length` tokens (spec/bundle.md, "Encoding a text").
 * @param {Record<string, Bucket>} buckets @param {number} length @param {boolean} isQuery
 * @returns {[string, number]}
 */
export function bucketFor(buckets, length, isQuery) {
  const kind = isQuery ? "query" : "document";
  const fitting = Object.entries(buckets).filter(([, b]) => b.kind === kind && b.length >= length)
    .sort(([na, a], [nb, b]) => a.length - b.length || (na < nb ? -1 : 1));
  if (!fitting.length) throw new RangeError(`${kind} of ${length} tokens is past this bundle's largest ${kind} bucket`);
  return [fitting[0][0], fitting[0][1].length];
}
