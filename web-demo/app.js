// The page: talks to worker.js, shows the bundle, the self-test, indexing and search, and exposes the test API
// window.colbert = {ready, selftest(), search(query, k)} and document.body.dataset.state.
import { bundlePaths } from "./src/picked-files.js";

const $ = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** @param {string} id @param {"ok"|"bad"|"wait"} tone @param {string} text */
function status(id, tone, text) {
  const el = $(id);
  el.className = `status ${tone === "wait" ? "" : tone}`;
  el.querySelector(".text").textContent = text;
}

/** @param {string} id @param {Record<string, string>} facts */
function facts(id, entries) {
  $(id).replaceChildren(...Object.entries(entries).flatMap(([k, v]) => {
    const dt = document.createElement("dt");
    const dd = document.createElement("dd");
    dt.textContent = k;
    dd.textContent = v;
    return [dt, dd];
  }));
}

const fmt = (x, digits = 4) => (Number.isFinite(x) ? x.toPrecision(digits) : String(x));

function createApp() {
  const worker = new Worker(new URL("./worker.js", import.meta.url), { type: "module" });
  const waiting = new Map();
  let nextId = 1;
  let readyResolve;
  let readyReject;
  let ready = new Promise((resolve, reject) => { readyResolve = resolve; readyReject = reject; });
  ready.catch(() => {});

  const setState = (state) => { document.body.dataset.state = state; };
  const request = (message) => new Promise((resolve, reject) => {
    const id = nextId++;
    waiting.set(id, { resolve, reject });
    worker.postMessage({ ...message, id });
  });

  function showError(message) {
    setState("error");
    $("error").hidden = false;
    $("error").textContent = message;
    status("bundle-status", "bad", "Not loaded");
    $("query").setAttribute("disabled", "");
  }

  worker.onmessage = ({ data }) => {
    if (data.type === "state") {
      setState(data.state);
      if (data.state === "selftest") { status("bundle-status", "ok", "Verified"); status("selftest-status", "wait", "Running…"); }
      if (data.state === "indexing") status("index-status", "wait", "Indexing…");
    } else if (data.type === "progress") {
      const share = data.total ? data.done / data.total : 0;
      if (data.phase === "indexing") {
        $("progress-bar").style.width = `${(share * 100).toFixed(1)}%`;
        status("index-status", "wait", `Indexing ${data.done} / ${data.total}`);
      } else status("bundle-status", "wait", `Verifying ${data.done} / ${data.total} files`);
    } else if (data.type === "ready") {
      const i = data.info;
      $("badge-model").textContent = `${i.name} · ${i.target}-${i.precision}`;
      $("badge-threads").textContent = `threads: ${i.threads}`;
      $("badge-isolated").textContent = `cross-origin isolated: ${i.isolated ? "yes" : "no"}`;
      $("badge-isolated").classList.toggle("off", !i.isolated);
      status("bundle-status", "ok", i.synthetic ? "Verified (synthetic weights)" : "Verified");
      facts("bundle-facts", { model: i.name, target: `${i.target} ${i.precision}`, size: `${(i.bytes / 1e6).toFixed(1)} MB` });
      const r = i.selftest;
      status("selftest-status", "ok", "Passed");
      facts("selftest-facts", { "token ids": r.idsExact ? "exact" : "differ", "cosine min": fmt(r.cosineMin, 6),
        "MaxSim error max": fmt(r.maxsimRelativeErrorMax, 3), "top-10": fmt(r.top10Agreement, 3) });
      $("progress-bar").style.width = "100%";
      status("index-status", "ok", i.restored ? "Restored from this browser" : "Built and saved");
      facts("index-facts", { documents: String(i.documents), vectors: String(i.vectors) });
      $("query").removeAttribute("disabled");
      $("query").focus();
      setState("ready");
      readyResolve(i);
    } else if (data.type === "result" || data.type === "error") {
      const pending = waiting.get(data.id);
      if (data.type === "error") {
        if (pending) pending.reject(new Error(data.message));
        else { showError(data.message); readyReject(new Error(data.message)); }
      } else pending?.resolve(data);
      waiting.delete(data.id);
    }
  };

  function open(source) {
    $("error").hidden = true;
    setState("loading");
    ready = new Promise((resolve, reject) => { readyResolve = resolve; readyReject = reject; });
    ready.catch(() => {});
    worker.postMessage({ type: "open", source });
  }

  // Search as you type: one query in flight; the newest waits, older ones are dropped.
  let inFlight = false;
  let latest = null;
  async function pump() {
    if (inFlight || latest === null) return;
    const query = latest;
    latest = null;
    inFlight = true;
    try {
      const { hits, milliseconds } = await request({ type: "search", query, k: 10 });
      if (latest === null) render(query, hits, milliseconds);
    } catch (error) {
      $("latency").textContent = error.message;
    } finally {
      inFlight = false;
      pump();
    }
  }
  function render(query, hits, milliseconds) {
    $("latency").textContent = query ? `${hits.length} results in ${milliseconds.toFixed(1)} ms` : "\u00a0";
    $("results").replaceChildren(...(query ? hits : []).map((h, n) => {
      const li = document.createElement("li");
      li.innerHTML = `<span class="rank">${n + 1}</span><span class="text"></span><span class="score">${h.score.toFixed(2)}</span>`;
      li.querySelector(".text").textContent = h.text;
      return li;
    }));
  }
  $("query").addEventListener("input", (event) => { latest = event.target.value; pump(); });

  for (const id of ["pick-folder", "pick-files"]) {
    $(id).addEventListener("change", (event) => {
      const files = bundlePaths(event.target.files);
      if (files.length) open({ kind: "files", files, label: files[0].file.webkitRelativePath.split("/")[0] || "picked files", corpus: "corpus.json" });
    });
  }

  return {
    get ready() { return ready; },
    selftest: async () => (await request({ type: "selftest" })).report,
    search: async (query, k = 10) => (await request({ type: "search", query, k })).hits,
    bench: async (spec) => (await request({ type: "bench", spec })).measured,
    open,
  };
}

const app = createApp();
window.colbert = app;
const threads = Number(new URLSearchParams(location.search).get("threads")) || undefined; // ?threads=N
app.open({ kind: "server", url: "bundle/", corpus: "corpus.json", threads });
if ("serviceWorker" in navigator) navigator.serviceWorker.register("sw.js").catch(() => {});
