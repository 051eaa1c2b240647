/**
 * Typed errors: every message is one line that names the file and says what to do.
 * `kind` is one of spec/bundle.md's error kinds, so that tests and pages can tell them apart.
 */

/** The bundle error kinds of spec/bundle.md, "Errors". */
export const BUNDLE_ERRORS = Object.freeze([
  "not_a_bundle", "missing_file", "tampered", "unlisted_file", "unknown_format", "malformed",
  "mistyped_field", "unknown_tokenizer_component", "unknown_target", "unreadable_model",
]);

/** The index file error kinds of spec/bundle.md, "Index file". */
export const INDEX_ERRORS = Object.freeze(["corrupt", "unknown_version", "other_model", "unreadable"]);

export class BundleError extends Error {
  /**
   * @param {string} kind one of BUNDLE_ERRORS
   * @param {string} file the bundle file at fault (or the bundle itself)
   * @param {string} message one line
   */
  constructor(kind, file, message) {
    super(message);
    this.name = "BundleError";
    this.kind = kind;
    this.file = file;
  }
}

export class IndexFileError extends Error {
  /** @param {string} kind one of INDEX_ERRORS @param {string} message one line */
  constructor(kind, message) {
    super(message);
    this.name = "IndexFileError";
    this.kind = kind;
  }
}

/** An input the bundle cannot take, such as a sequence past its export bound. */
export class InputError extends Error {
  /** @param {string} kind e.g. "input_past_bound" @param {string} message */
  constructor(kind, message) {
    super(message);
    this.name = "InputError";
    this.kind = kind;
  }
}
