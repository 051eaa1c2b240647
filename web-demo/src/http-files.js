/** A bundle served over HTTP (serve.mjs serves it under /bundle/, with a JSON listing at /bundle/). */

/** @param {string} base the bundle's URL, ending in "/" @returns {import("./bundle.js").BundleFiles} */
export function httpFiles(base) {
  return {
    label: base,
    async read(path) {
      const response = await fetch(new URL(path.split("/").map(encodeURIComponent).join("/"), base));
      if (response.status === 404) return null;
      if (!response.ok) throw new Error(`${base}${path}: HTTP ${response.status}`);
      return new Uint8Array(await response.arrayBuffer());
    },
    async list() {
      const response = await fetch(base, { headers: { accept: "application/json" } });
      return response.ok ? /** @type {string[]} */ (await response.json()) : null;
    },
  };
}
