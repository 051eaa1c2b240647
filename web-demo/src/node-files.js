/** A bundle directory on disk, for Node (the CLI and the tests). */
import { readFile, readdir } from "node:fs/promises";
import { join, relative, sep } from "node:path";

/** @param {string} root @returns {Promise<string[]>} */
async function walk(root) {
  const out = [];
  for (const entry of await readdir(root, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(relative(root, join(entry.parentPath ?? entry.path, entry.name)).split(sep).join("/"));
  }
  return out.sort();
}

/** @param {string} root @returns {import("./bundle.js").BundleFiles} */
export function directoryFiles(root) {
  return {
    label: root,
    async read(path) {
      if (path.split("/").includes("..")) return null;
      try {
        return new Uint8Array(await readFile(join(root, path)));
      } catch (error) {
        if (error.code === "ENOENT" || error.code === "EISDIR" || error.code === "ENOTDIR") return null;
        throw error;
      }
    },
    list: () => walk(root),
  };
}
