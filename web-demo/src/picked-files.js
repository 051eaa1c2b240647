/** A bundle the user picked: a folder (webkitdirectory) or its files, as File objects. */

/**
 * @param {{path: string, file: Blob}[]} picked each file with its path in the bundle (the folder name removed)
 * @param {string} label
 * @returns {import("./bundle.js").BundleFiles}
 */
export function pickedFiles(picked, label) {
  const byPath = new Map(picked.map(({ path, file }) => [path, file]));
  return {
    label,
    async read(path) {
      const file = byPath.get(path);
      return file ? new Uint8Array(await file.arrayBuffer()) : null;
    },
    async list() {
      return [...byPath.keys()];
    },
  };
}

/**
 * Paths within the bundle of files from an <input type=file webkitdirectory> (their first folder dropped) or
 * a plain multi-file pick (their names).
 * @param {FileList|File[]} files
 */
export function bundlePaths(files) {
  return Array.from(files, (file) => {
    const relative = file.webkitRelativePath || file.name;
    return { path: relative.includes("/") ? relative.slice(relative.indexOf("/") + 1) : relative, file };
  });
}
