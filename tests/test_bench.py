"""`python -m export bench`: bundles beside PyLate's own encode and pylate-onnx-export, in one run.

Timings are not asserted (they move by 30% from run to run); what is asserted is that every row is
measured, and the fidelity each row has against PyLate.
"""
from __future__ import annotations

import json
import sys

import pytest

from export.cli import main
from runtimes.coreml import coreml_available


def bench(*args: str) -> list[str]:
    return ["bench", "--documents", "12", "--index-documents", "500", *args]


def test_bundles_beside_pylate_and_the_peer_on_trained_weights(trained_run, pylate, tmp_path, capsys):
    bundles = [str(trained_run.bundle("onnx")), str(trained_run.bundle("onnx", "int8")),
               str(trained_run.bundle("tflite", "int8"))]
    out_json, out_png = tmp_path / "bench.json", tmp_path / "bench.png"
    code = main(bench(*bundles, "--against", "pylate,peer", "--pylate-python", str(pylate.python),
                      "--model", str(trained_run.checkpoint), "--json", str(out_json), "--plot", str(out_png)))
    out = capsys.readouterr().out
    assert code == 0, out
    report = json.loads(out_json.read_text())
    rows = {r["name"]: r for r in report["rows"]}
    assert list(rows) == ["PyLate (torch fp32)", "peer fp32", "peer int8", "onnx fp32", "onnx int8", "tflite int8"]
    for row in rows.values():
        r = row["result"]
        assert r["query_p50_ms_1t"] > 0 and r["docs_per_s_batch_1_1t"] > 0 and r["docs_per_s_batched_all"] > 0
        assert r["cold_start_s"] > 0 and r["peak_rss_mb"] >= r["model_rss_mb"] > 0 and row["size_mb"] > 0
        if row["kind"] == "bundle":  # search over an index of the encoded documents, repeated to 500
            assert r["index_search_p50_ms_1t"] > 0 and r["index_vectors"] > 500
    fidelity = {name: row["result"].get("fidelity", {}) for name, row in rows.items()}
    assert fidelity["onnx fp32"]["maxsim_rel_err_p99"] < 1e-4 and fidelity["onnx fp32"]["top10_agreement"] == 1.0
    assert fidelity["peer fp32"]["maxsim_rel_err_p99"] < 1e-4  # one Dense layer: the peer is exact here
    assert fidelity["onnx int8"]["maxsim_rel_err_p99"] < 2e-2 and fidelity["tflite int8"]["maxsim_rel_err_p99"] < 2e-2
    assert report["cpu"]["threads"] >= 1 and set(report["cpu"]["features"]) == {"AVX2", "AVX-512", "VNNI", "AMX"}
    assert out.startswith("CPU: ") and "x PyLate's" in out and "onnx int8: model memory" in out
    assert "search 1T: p50 of one query's MaxSim over an index of 500 documents" in out
    assert out_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_peer_drops_mxbai_17ms_second_dense_layer(mxbai_run, pylate, capsys):
    """pylate-onnx-export 0.1.0 applies only the first Dense module: 512-dim vectors where PyLate gives 48."""
    code = main(bench(str(mxbai_run.bundle("onnx")), "--against", "pylate,peer", "--pylate-python", str(pylate.python),
                      "--model", str(mxbai_run.checkpoint)))
    out = capsys.readouterr().out
    assert code == 0, out
    peer = next(line for line in out.splitlines() if line.startswith("peer fp32"))
    assert "512-dim vectors, PyLate gives 48" in peer


@pytest.mark.parametrize("args, message", [
    (["--against", "pylate"], "--against needs --pylate-python PATH"),
    (["--against", "faiss", "--pylate-python", sys.executable], "--against takes pylate, peer, browser, kotlin, not faiss"),
    (["--documents", "0"], "--documents and --batch-size take a positive number"),
])
def test_bad_arguments_are_one_line_errors(mxbai_run, capsys, args, message):
    assert main(bench(str(mxbai_run.bundle("onnx")), *args)) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_path_that_is_not_a_bundle_is_refused_before_anything_runs(tmp_path, capsys):
    assert main(bench(str(tmp_path))) == 2
    assert "is not a bundle" in capsys.readouterr().err


@pytest.mark.skipif(coreml_available(), reason="on macOS Core ML bundles are timed")
def test_core_ml_rows_are_skipped_off_macos_saying_why(mxbai_run, capsys):
    assert main(bench(str(mxbai_run.bundle("coreml")), str(mxbai_run.bundle("onnx")))) == 0
    row = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("coreml fp32"))
    assert "Core ML runs only on macOS" in row


def test_compressed_at_sets_every_index_kind_beside_the_exact_file(mxbai_run):
    """--compressed-at's worker: per corpus size the exact file (the reference: agreement 1) and every compressed
    kind at each candidate count, their sizes as the spec lays them out, in one table."""
    from export.tools.bench import index_kinds, index_table
    from export.tools.bench_index import CANDIDATES, KINDS

    result = index_kinds(mxbai_run.bundle("onnx"), [40, 80], log=lambda message: None)
    meta, rows = result[0], result[1:]
    compressed = sum(kind == "compressed" for kind, _, _ in KINDS)
    assert meta["queries"] == 100 and len(rows) == 2 * (len(KINDS) - compressed + compressed * len(CANDIDATES))
    for size in (40, 80):
        mine = [r for r in rows if r["documents"] == size]
        exact = {r["detail"]: r for r in mine if r["kind"] == "exact"}
        assert exact["float32"]["top10_agreement"] == 1.0 and exact["float16"]["top10_agreement"] > 0.95
        assert exact["float16"]["bytes"] < 0.6 * exact["float32"]["bytes"]
        bits = {int(r["detail"].split("-bit")[0]): r["bytes"] for r in mine if r["kind"] == "compressed"}
        assert bits[2] < bits[4] < bits[8] < exact["float16"]["bytes"]
        assert all(0 < r["top10_agreement"] <= 1 and r["search_p50_ms"] > 0 for r in mine)
    table = index_table(result)
    assert "8-bit" in table and "512 candidates" in table and "top-10 vs exact" in table
