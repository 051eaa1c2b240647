// What the Node tests share: the conformance files, the tokenizers and bundles the harness passes in, and the
// bad-bundle mutation ops of spec/bundle.md.
import { readFileSync } from "node:fs";
import { cp, readFile, readdir, rm, truncate, writeFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { join } from "node:path";
import { sha256Hex } from "../src/sha256.js";

export const CONFORMANCE = fileURLToPath(new URL("../../spec/conformance/", import.meta.url));

/** @param {string} name @returns {{header: any, cases: any[]}} */
export function vectors(name) {
  const lines = readFileSync(join(CONFORMANCE, name), "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  return { header: lines[0].header, cases: lines.slice(1) };
}

/** Tokenizer files by the name the vectors give them; the harness sets the environment. */
export const TOKENIZERS = {
  "mxbai-edge-colbert-v0": process.env.MXBAI_TOKENIZER ??
    fileURLToPath(new URL("../../../shared/fixtures/mxbai-edge-colbert-v0/tokenizer.json", import.meta.url)),
  "all-MiniLM-L6-v2, saved by PyLate": process.env.MINILM_TOKENIZER,
};

/** Exported ONNX bundles to run (COLBERT_BUNDLES, separated by the path delimiter ':'). */
export const BUNDLES = (process.env.COLBERT_BUNDLES ?? "").split(":").filter(Boolean);

async function walk(root, prefix = "") {
  const out = [];
  for (const entry of await readdir(join(root, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.isDirectory()) out.push(...(await walk(root, path)));
    else out.push(path);
  }
  return out;
}

/** Make the manifest's hashes match the bundle again, so that only the reader's own checks can catch a change. */
export async function rehash(bundle) {
  const manifest = JSON.parse(await readFile(join(bundle, "manifest.json"), "utf8"));
  manifest.files = {};
  for (const path of (await walk(bundle)).filter((p) => p !== "manifest.json").sort()) {
    manifest.files[path] = await sha256Hex(new Uint8Array(await readFile(join(bundle, path))));
  }
  await writeFile(join(bundle, "manifest.json"), JSON.stringify(manifest));
}

/** Apply one mutation of bad-bundles.jsonl to a copy of `source` at `dest`. */
export async function mutate(source, dest, { mutation, rehash: again }) {
  await cp(source, dest, { recursive: true });
  const manifest = JSON.parse(await readFile(join(dest, "manifest.json"), "utf8"));
  const file = mutation.file === "$artifact" || mutation.file === "$artifact_file" ? manifest.artifact : mutation.file;
  const path = join(dest, file);
  if (mutation.op === "flip_byte") {
    const data = await readFile(path);
    const at = mutation.offset < 0 ? data.length + mutation.offset : mutation.offset;
    data[at] ^= 1;
    await writeFile(path, data);
  } else if (mutation.op === "delete") {
    await rm(path, { recursive: true });
  } else if (mutation.op === "write") {
    await writeFile(path, mutation.text);
  } else if (mutation.op === "truncate") {
    await truncate(path, mutation.bytes);
  } else if (mutation.op === "set_json" || mutation.op === "delete_json") {
    const data = JSON.parse(await readFile(path, "utf8"));
    let node = data;
    for (const key of mutation.path.slice(0, -1)) node = node[key];
    const last = mutation.path.at(-1);
    if (mutation.op === "set_json") node[last] = mutation.value;
    else delete node[last];
    await writeFile(path, JSON.stringify(data));
  } else {
    throw new Error(`unknown op ${mutation.op}`);
  }
  if (again) await rehash(dest);
}
