// Offline once loaded: the page, its modules, onnxruntime-web's wasm, the bundle and the corpus are cached when
// the worker installs, and every later same-origin GET is answered from the network first, the cache when
// the network is gone.
const CACHE = "colbert-web-v1";
const SHELL = ["./", "index.html", "style.css", "app.js", "worker.js", "corpus.json", "bundle/",
  "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs", "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
  "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
  "node_modules/@huggingface/tokenizers/dist/tokenizers.mjs",
  ...["bundle", "colbert", "compressed-index", "encoder", "errors", "fields", "golden", "http-files", "index-file",
    "index-store", "picked-files", "preprocess", "scoring", "sha256", "tokenizer", "unicode-tables",
    "vector-index"].map((m) => `src/${m}.js`)];

self.addEventListener("install", (event) => {
  event.waitUntil((async () => {
    const cache = await caches.open(CACHE);
    await cache.addAll(SHELL);
    const listing = await fetch("bundle/", { headers: { accept: "application/json" } });
    if (listing.ok) await cache.addAll((await listing.json()).map((path) => `bundle/${path}`));
    await self.skipWaiting();
  })());
});

self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== self.location.origin) return;
  event.respondWith((async () => {
    const cache = await caches.open(CACHE);
    try {
      const response = await fetch(event.request);
      if (response.ok) await cache.put(event.request, response.clone());
      return response;
    } catch (error) {
      const cached = await cache.match(event.request, { ignoreVary: true });
      if (cached) return cached;
      throw error;
    }
  })());
});
