"""`python -m export bench BUNDLE... [--against pylate,peer]`: every bundle beside PyLate and the peer exporter,
in one run, on the same texts.

Each row runs in a process of its own (export/tools/bench_worker.py), once on one thread and once on all
threads: query latency at batch 1, document throughput on a mixed-length corpus at batch 1 and batched
(length-sorted), cold start (load to first vector), the memory the model adds (peak RSS while loading it and
encoding one query, above the process before, its tokenizer excluded; Linux only), peak RSS over
the whole run (batched activations included), file size, and fidelity against PyLate's own vectors
(MaxSim relative error p99, top-10 agreement). On one machine class figures move by about 30% from run to
run, so read the ratios between rows of one run.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from runtimes.manifest import BundleError, read_manifest
from runtimes.metrics import agreement, p99, relative_errors, score_matrix

from . import bench_corpus
from ..gate.parity import TOP_K, Encoded
from runtimes.table import format_table

WORKER = Path(__file__).with_name("bench_worker.py")
INDEX_WORKER = Path(__file__).with_name("bench_index.py")
BROWSER_WORKER = Path(__file__).resolve().parents[2] / "web-demo" / "bench-worker.mjs"
KOTLIN_JAR = Path(__file__).resolve().parents[2] / "android-demo" / "colbert" / "target" / "colbert-cli.jar"
AGAINST = ("pylate", "peer", "browser", "kotlin")
PORTS = {"browser": "chromium", "kotlin": "kotlin"}  # --against rows that run a port on the same ONNX bundles
CPU_FLAGS = {"AVX2": "avx2", "AVX-512": "avx512f", "VNNI": ("avx512_vnni", "avx_vnni"), "AMX": "amx_tile"}


class BenchError(Exception):
    """The benchmark cannot run as asked; the message says what to pass instead."""


@dataclass
class Row:
    name: str
    kind: str  # bundle | peer | pylate (bench_worker kinds) | browser (web-demo/bench-worker.mjs) | kotlin (the CLI jar)
    path: str
    size_mb: float
    python: str = sys.executable
    tokenizer_bundle: str = ""  # peer rows: the bundle whose tokenizer and conventions feed the model
    skip: str = ""  # why the row is not measured here
    result: dict = field(default_factory=dict)


def cpu() -> dict:
    """The CPU's name and the features int8 speed depends on."""
    info = Path("/proc/cpuinfo").read_text() if Path("/proc/cpuinfo").is_file() else ""
    flags = set(next((line.split(":", 1)[1].split() for line in info.splitlines() if line.startswith("flags")), []))
    name = next((line.split(":", 1)[1].strip() for line in info.splitlines() if line.startswith("model name")), "unknown")
    features = {label: any(f in flags for f in ((wanted,) if isinstance(wanted, str) else wanted))
                for label, wanted in CPU_FLAGS.items()}
    return {"name": name, "threads": os.cpu_count() or 1, "features": features}


def _bundle_row(bundle: Path) -> Row:
    from runtimes.coreml import coreml_available

    manifest = read_manifest(bundle)
    row = Row(f"{manifest['target']} {manifest['precision']}", "bundle", str(bundle), manifest["artifact_bytes"] / 1e6)
    if manifest["target"] == "coreml" and not coreml_available():
        row.skip = "Core ML runs only on macOS; the MIL interpreter checks numbers, it is not a runtime to time"
    return row


def _checkpoint(bundles: list[Path], model: Path | None) -> Path:
    """The checkpoint every bundle was exported from: --model, else the local source the manifests name."""
    sources = {read_manifest(b)["model"]["source"] for b in bundles}
    if model:
        return model
    if len(sources) == 1 and Path(next(iter(sources))).is_dir():
        return Path(next(iter(sources)))
    raise BenchError("--against needs the checkpoint the bundles were exported from; pass --model DIR")


def _digest(directory: Path) -> str:
    h = hashlib.sha256()
    for f in sorted(p for p in directory.rglob("*") if p.is_file()):
        h.update(f.relative_to(directory).as_posix().encode())
        h.update(hashlib.sha256(f.read_bytes()).digest())
    return h.hexdigest()[:16]


def peer_export(checkpoint: Path, pylate_python: str, cache: Path) -> Path:
    """pylate-onnx-export's fp32 and default int8 (onnxruntime dynamic quantization) of the checkpoint, made in
    PyLate's environment once and cached by the checkpoint's contents."""
    out = cache / f"peer-{_digest(checkpoint)}"
    if (out / "model_int8.onnx").is_file():
        return out
    code = ("import sys; from colbert_export.export import export_model; "
            "export_model(sys.argv[1], output_dir=sys.argv[2], quantize=True, verbose=False, force=True)")
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    done = subprocess.run([pylate_python, "-c", code, str(checkpoint), str(out)], capture_output=True, text=True,
                          env=env, timeout=3600)
    if done.returncode:
        raise BenchError(f"pylate-onnx-export failed ({done.stderr.strip().splitlines()[-1:]}); install it in the "
                         "PyLate environment: pip install pylate-onnx-export")
    return out


def _size_mb(*files: Path) -> float:
    return sum(f.stat().st_size for f in files if f.is_file()) / 1e6


def _port_rows(bundles: list[Path], kind: str) -> list[Row]:
    """Each ONNX bundle again in a port: headless Chromium on onnxruntime-web (web-demo/), or the Kotlin library
    on ONNX Runtime's Java API (android-demo/colbert, its CLI jar)."""
    rows = []
    for bundle in bundles:
        manifest = read_manifest(bundle)
        if manifest["target"] == "onnx":
            row = Row(f"onnx {manifest['precision']} ({PORTS[kind]})", kind, str(bundle), manifest["artifact_bytes"] / 1e6,
                      python="node" if kind == "browser" else "java")
            if kind == "browser":
                chromium = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))  # as bench-worker.mjs finds it
                if not (BROWSER_WORKER.parent / "node_modules").is_dir() or not chromium.is_file():
                    row.skip = "needs web-demo's packages (npm ci in web-demo) and Debian's chromium"
            elif not KOTLIN_JAR.is_file():
                row.skip = "needs the Kotlin CLI: mvn -q -f android-demo/colbert/pom.xml package"
            rows.append(row)
    return rows


def plan(bundles: list[Path], against: list[str], pylate_python: str | None, model: Path | None,
         cache: Path) -> list[Row]:
    rows = [_bundle_row(b) for b in bundles] + [row for kind in PORTS if kind in against for row in _port_rows(bundles, kind)]
    against = [a for a in against if a not in PORTS]
    if not against:
        return rows
    if not pylate_python:
        raise BenchError("--against needs --pylate-python PATH: the interpreter of an environment with pylate "
                         "(and pylate-onnx-export for the peer)")
    checkpoint = _checkpoint(bundles, model)
    references = []
    if "pylate" in against:
        weights = [*checkpoint.glob("*.safetensors"), *checkpoint.glob("*_Dense/*.safetensors")]
        references.append(Row("PyLate (torch fp32)", "pylate", str(checkpoint), _size_mb(*weights),
                              python=pylate_python))
    if "peer" in against:
        if not bundles:
            raise BenchError("the peer runs with a bundle's tokenizer and conventions; name at least one bundle")
        peer = peer_export(checkpoint, pylate_python, cache)
        for name, files in (("peer fp32", ("model.onnx", "model.onnx.data")), ("peer int8", ("model_int8.onnx",))):
            references.append(Row(name, "peer", str(peer / files[0]), _size_mb(*(peer / f for f in files)),
                                  tokenizer_bundle=str(bundles[0])))
    return references + rows


def _work(row: Row, spec: dict, vectors: Path | None) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        spec_file = Path(tmp) / "spec.json"
        spec_file.write_text(json.dumps({**spec, "kind": row.kind, "path": row.path,
                                         "tokenizer_bundle": row.tokenizer_bundle}))
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
        if spec["threads"] == 1:  # numpy's BLAS too (index search), set before the worker imports numpy
            env.update(OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1")
        if row.kind == "browser":
            command = [row.python, str(BROWSER_WORKER), str(spec_file)]
        elif row.kind == "kotlin":
            command = [row.python, "-jar", str(KOTLIN_JAR), "bench-worker", str(spec_file)]
        else:
            command = [row.python, str(WORKER), str(spec_file), *([str(vectors)] if vectors else [])]
        done = subprocess.run(command, capture_output=True, text=True, env=env, timeout=7200)
    if done.returncode:
        raise BenchError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def measure(row: Row, texts: dict, batch_size: int, vectors: Path, log, index_documents: int = 0) -> None:
    base = {**texts, "batch_size": batch_size, "query_passes": 3, "fidelity_documents": 100}
    threads = os.cpu_count() or 1
    log(f"{row.name}: one thread" + (f", and search over {index_documents} documents" if index_documents else ""))
    one = _work(row, {**base, "threads": 1, "batch_1_documents": True, "index_documents": index_documents}, vectors)
    log(f"{row.name}: {threads} threads")
    many = _work(row, {**base, "threads": threads, "batch_1_documents": False}, None)
    row.result = {
        "cold_start_s": one["cold_start_s"],
        "query_p50_ms_1t": one["query_p50_ms"], "query_p95_ms_1t": one["query_p95_ms"],
        "query_p50_ms_all": many["query_p50_ms"], "query_p95_ms_all": many["query_p95_ms"],
        "docs_per_s_batch_1_1t": one["docs_per_s_batch_1"],
        "docs_per_s_batched_1t": one["docs_per_s_batched"], "docs_per_s_batched_all": many["docs_per_s_batched"],
        "peak_rss_mb": one["peak_rss_mb"], "model_rss_mb": one["model_rss_mb"],
        "index_search_p50_ms_1t": one.get("index_search_p50_ms"), "index_vectors": one.get("index_vectors"),
        "vectors": str(vectors),
    }


def fidelity(reference: Path, candidate: Path) -> dict:
    """The gate's MaxSim relative error p99 and top-10 agreement, every query against the first documents,
    with PyLate's vectors as the reference."""
    ref, cand = np.load(reference), np.load(candidate)

    def encoded(arrays) -> Encoded:
        pick = lambda prefix: [arrays[k] for k in sorted((k for k in arrays.files if k[0] == prefix),  # noqa: E731
                                                         key=lambda k: int(k[1:]))]
        return Encoded(pick("q"), pick("d"))

    r, c = encoded(ref), encoded(cand)
    if r.queries[0].shape[1] != c.queries[0].shape[1]:
        return {"error": f"{c.queries[0].shape[1]}-dim vectors, PyLate gives {r.queries[0].shape[1]}"}
    s_ref, s_cand = score_matrix(r.queries, r.documents), score_matrix(c.queries, c.documents)
    return {"maxsim_rel_err_p99": p99(relative_errors(s_cand, s_ref)), "top10_agreement": agreement(s_ref, s_cand, TOP_K)}


def _fmt(value, spec: str) -> str:
    return "-" if value is None else format(value, spec)


def table(rows: list[Row]) -> str:
    lines = []
    for row in rows:
        r = row.result
        if row.skip or "error" in r:
            lines.append([row.name, f"{row.size_mb:.1f}", *["-"] * 12, row.skip or r["error"]])
            continue
        fid = r.get("fidelity", {})
        lines.append([row.name, f"{row.size_mb:.1f}", f"{r['cold_start_s']:.2f}",
                      f"{r['query_p50_ms_1t']:.1f}", f"{r['query_p95_ms_1t']:.1f}", f"{r['query_p50_ms_all']:.1f}",
                      f"{r['docs_per_s_batch_1_1t']:.1f}", f"{r['docs_per_s_batched_1t']:.1f}",
                      f"{r['docs_per_s_batched_all']:.1f}", _fmt(r["peak_rss_mb"], ".0f"), _fmt(r["model_rss_mb"], ".0f"),
                      _fmt(fid.get("maxsim_rel_err_p99"), ".2e"), _fmt(fid.get("top10_agreement"), ".2f"),
                      _fmt(r.get("index_search_p50_ms_1t"), ".1f"), fid.get("error", "")])
    return format_table(lines, ["row", "size MB", "cold s", "q p50 1T", "q p95 1T", "q p50 all", "docs/s b1 1T",
                                "docs/s 1T", "docs/s all", "peak RSS MB", "model MB", "MaxSim p99", "top10",
                                "search 1T", "note"])


def best_docs_per_s(result: dict) -> float:
    """Single-thread throughput at the row's best batching: one at a time, or length-sorted batches."""
    return max(result["docs_per_s_batch_1_1t"], result["docs_per_s_batched_1t"])


def ratios(rows: list[Row]) -> list[str]:
    """Each row against PyLate (throughput at its best batching and query p50, one thread), and each int8 or
    fp16 bundle against the same target's fp32 (the memory the model adds, and the file)."""
    measured = [r for r in rows if r.result and "error" not in r.result and not r.skip]
    lines = []
    pylate = next((r for r in measured if r.kind == "pylate"), None)
    for r in measured:
        if pylate and r is not pylate:
            lines.append(f"{r.name}: documents/s {best_docs_per_s(r.result) / best_docs_per_s(pylate.result):.2f}x "
                         f"PyLate's, query p50 {r.result['query_p50_ms_1t'] / pylate.result['query_p50_ms_1t']:.2f}x "
                         "PyLate's (one thread, best batching)")
        native = next((f for f in measured if f.kind == "bundle" and f.path == r.path), None) if r.kind in PORTS else None
        if native:
            engine = "native onnxruntime against wasm" if r.kind == "browser" else "the same engine, through the JVM"
            search = ""
            if r.result.get("index_search_p50_ms_1t") and native.result.get("index_search_p50_ms_1t"):
                search = f", index search {r.result['index_search_p50_ms_1t'] / native.result['index_search_p50_ms_1t']:.2f}x"
            lines.append(f"{r.name}: query p50 {r.result['query_p50_ms_1t'] / native.result['query_p50_ms_1t']:.2f}x, "
                         f"documents/s {best_docs_per_s(r.result) / best_docs_per_s(native.result):.2f}x{search} the Python "
                         f"runtime's on the same bundle (one thread; {engine})")
        fp32 = next((f for f in measured if f.kind == r.kind and f.name == r.name.rsplit(" ", 1)[0] + " fp32"), None)
        if fp32 and fp32 is not r and (fp32.result["model_rss_mb"] or 0) > 0 and r.result["model_rss_mb"] is not None:
            lines.append(f"{r.name}: model memory {r.result['model_rss_mb'] / fp32.result['model_rss_mb']:.2f}x, "
                         f"file {r.size_mb / fp32.size_mb:.2f}x {fp32.name}'s")
    return lines


def _matplotlib():
    try:
        import matplotlib
    except ImportError:
        raise BenchError('--plot needs matplotlib: pip install ".[bench]"') from None
    matplotlib.use("Agg")
    return matplotlib


def plot(rows: list[Row], path: Path) -> None:
    _matplotlib()
    import matplotlib.pyplot as plt

    measured = [r for r in rows if r.result and "error" not in r.result and not r.skip]
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 5))
    for axis, value, label in ((left, lambda r: r["query_p50_ms_1t"], "query p50, batch 1, one thread (ms)"),
                               (right, best_docs_per_s, "documents/s, best batching, one thread")):
        for r in measured:
            axis.scatter(r.size_mb, value(r.result))
            axis.annotate(r.name, (r.size_mb, value(r.result)), fontsize=8, xytext=(4, 4), textcoords="offset points")
        axis.set_xlabel("file size (MB)")
        axis.set_ylabel(label)
        axis.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=120)


def parse_sizes(text: str) -> list[int]:
    """--compressed-at's corpus sizes: positive numbers, comma-separated."""
    try:
        sizes = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise BenchError(f"--compressed-at {text}: give corpus sizes such as 1000,10000") from None
    if any(n < 1 for n in sizes):
        raise BenchError(f"--compressed-at {text}: every size must be at least 1")
    return sizes


def index_kinds(bundle: Path, sizes: list[int], log) -> list[dict]:
    """bench_index.py's rows for one bundle, in a process of its own with numpy on one thread."""
    log(f"index kinds on {bundle.name}: {', '.join(map(str, sizes))} documents (encoding the largest once)")
    with tempfile.TemporaryDirectory() as tmp:
        spec = Path(tmp) / "spec.json"
        spec.write_text(json.dumps({"bundle": str(bundle), "sizes": sizes}))
        env = {**os.environ, "OPENBLAS_NUM_THREADS": "1", "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
               "TOKENIZERS_PARALLELISM": "false"}
        done = subprocess.run([sys.executable, str(INDEX_WORKER), str(spec)], capture_output=True, text=True,
                              env=env, timeout=7 * 86400)
    if done.returncode:
        raise BenchError(done.stderr.strip().splitlines()[-1] if done.stderr.strip() else f"exit {done.returncode}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def index_table(result: list[dict]) -> str:
    """One row per corpus size and kind, with size and search time as ratios of the exact float32 file's."""
    meta, rows = result[0], result[1:]
    base = {r["documents"]: r for r in rows if r["kind"] == "exact" and r["detail"] == "float32"}
    lines = [[str(r["documents"]), str(r["vectors"]), f"{r['kind']} {r['detail']}", f"{r['bytes'] / 1e6:.2f}",
              f"{base[r['documents']]['bytes'] / r['bytes']:.1f}x", f"{r['build_s']:.1f}",
              f"{r['search_p50_ms']:.2f}", f"{r['search_p50_ms'] / base[r['documents']]['search_p50_ms']:.2f}x",
              f"{r['top10_agreement']:.3f}"] for r in rows]
    return (format_table(lines, ["documents", "vectors", "index", "MB", "smaller", "build s", "search p50 1T",
                                 "vs exact", "top-10 vs exact"])
            + f"\nsearch p50 1T: one query's search over the index, ms, numpy on one thread, {meta['queries']} "
              "held-out queries; top-10 vs exact: the share of exact MaxSim's top 10 it returns (the mean over "
              f"the queries); build s: after encoding ({meta['encode_s']:.0f} s for the largest corpus)")


def run_bench(bundles: list[Path], against: list[str], pylate_python: str | None, model: Path | None,
              documents: int, batch_size: int, json_path: Path | None, plot_path: Path | None, cache: Path,
              log=lambda message: print(message, file=sys.stderr), index_documents: int = 10_000,
              compressed_at: list[int] = ()) -> int:
    if documents < 1 or batch_size < 1 or index_documents < 0:
        raise BenchError("--documents and --batch-size take a positive number, --index-documents zero or more")
    if compressed_at and not bundles:
        raise BenchError("--compressed-at compares index kinds on the first bundle: name at least one bundle")
    unknown = sorted(set(against) - set(AGAINST))
    if unknown:
        raise BenchError(f"--against takes {', '.join(AGAINST)}, not {', '.join(unknown)}")
    for bundle in bundles:
        read_manifest(bundle)  # a path that is not a bundle fails here, before anything runs
    if plot_path:
        _matplotlib()
    rows = plan(bundles, against, pylate_python, model, cache)
    texts = {"queries": bench_corpus.queries(), "documents": bench_corpus.documents(documents)}
    machine = cpu()
    features = ", ".join(f"{k} {'yes' if v else 'no'}" for k, v in machine["features"].items())
    log(f"CPU: {machine['name']}, {machine['threads']} threads; {features}")
    failed = False
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for n, row in enumerate(rows):
            if row.skip:
                continue
            try:
                measure(row, texts, batch_size, workdir / f"row{n}.npz", log, index_documents)
            except (BenchError, BundleError) as e:
                row.result, failed = {"error": str(e)}, True
        reference = next((Path(r.result["vectors"]) for r in rows if r.kind == "pylate" and "vectors" in r.result), None)
        for row in rows:
            if reference and Path(row.result.get("vectors", "")).is_file() and row.kind != "pylate":
                row.result["fidelity"] = fidelity(reference, Path(row.result["vectors"]))
            row.result.pop("vectors", None)
    print(f"CPU: {machine['name']}, {machine['threads']} threads; {features}")
    print(f"{len(texts['documents'])} documents (about 20 to 600 tokens), {len(texts['queries'])} queries, "
          f"batched = length-sorted batches of {batch_size}; 1T = one thread, all = {machine['threads']} threads; "
          "times in ms")
    print(table(rows))
    vectors = next((r.result["index_vectors"] for r in rows if r.result.get("index_vectors")), None)
    if vectors:
        print(f"search 1T: p50 of one query's MaxSim over an index of {index_documents} documents, {vectors} "
              f"vectors (the {len(texts['documents'])} encoded ones repeated), one thread, brute force (runtimes.Index)")
    for line in ratios(rows):
        print(line)
    kinds = None
    if compressed_at:
        try:
            kinds = index_kinds(bundles[0], list(compressed_at), log)
            print(index_table(kinds))
        except BenchError as e:
            print(f"index kinds: error: {e}")
            failed = True
    if json_path:
        json_path.write_text(json.dumps({"cpu": machine, "documents": documents, "batch_size": batch_size,
                                         "rows": [asdict(r) for r in rows], "index_kinds": kinds}, indent=2))
    if plot_path:
        plot(rows, plot_path)
    return 1 if failed else 0
