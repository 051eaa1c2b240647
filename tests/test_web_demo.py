"""web-demo/ (the JavaScript port on onnxruntime-web): its Node tests on the conformance vectors and on real
bundles, and its CLI held to the Python runtime on the same bundles. Needs Node.js 20 and npm."""
from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import runtimes
from export.gate import parity_texts
from export.precision import TABLE
from tests.conftest import flip_byte
from tests import port_cli, registries
from tests.test_index import SAMPLE_CORPUS

WEB = Path(__file__).resolve().parents[1] / "web-demo"
VENDOR_COPIES = WEB.parent / ".pytest_cache" / "d" / "vendor"  # where no registry answers
pytestmark = pytest.mark.skipif(shutil.which("node") is None or shutil.which("npm") is None,
                                reason="no Node.js and npm on this machine")


@pytest.fixture(scope="session")
def web_demo() -> Path:
    """web-demo with its pinned packages installed (npm ci, once, when node_modules is older than the lock)."""
    installed = WEB / "node_modules" / ".package-lock.json"
    if not installed.is_file() or installed.stat().st_mtime < (WEB / "package-lock.json").stat().st_mtime:
        done = subprocess.run(["npm", "ci", "--no-audit", "--no-fund", *registries.npm_flags(VENDOR_COPIES)], cwd=WEB,
                              capture_output=True, text=True, timeout=900)
        assert done.returncode == 0, done.stderr[-3000:]
    return WEB


def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(["node", str(WEB / "cli.mjs"), *args], input=stdin, capture_output=True, text=True,
                          timeout=900, **({} if stdin is not None else {"stdin": subprocess.DEVNULL}))


@pytest.mark.covered_by("test_node_tests_pass_on_the_vectors_and_real_bundles")
def test_node_tests_pass_on_the_conformance_vectors(web_demo, minilm_checkpoint):
    """The fast tier's share of the test below, which runs these files too: the vector files, no bundle."""
    env = port_cli.tokenizer_env(minilm_checkpoint)
    result = subprocess.run(["node", "--test", "test/conformance.test.mjs", "test/tables.test.mjs"], cwd=web_demo,
                            env=env, capture_output=True, text=True, timeout=900)
    summary = result.stdout[-600:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in summary and "# skipped 0" in summary and "# pass 0" not in summary, summary


def test_node_tests_pass_on_the_vectors_and_real_bundles(web_demo, trained_run, mxbai_run, variant_run,
                                                         minilm_checkpoint):
    bundles = [trained_run.bundle("onnx", "int8"), trained_run.bundle("onnx", "fp32"), mxbai_run.bundle("onnx"),
               variant_run.bundle("onnx")]  # the first, the smallest, takes every bad-bundle mutation
    env = {**port_cli.tokenizer_env(minilm_checkpoint),
           "COLBERT_BUNDLES": ":".join(map(str, bundles))}
    result = subprocess.run(["node", "--test", "test/"], cwd=web_demo, env=env, capture_output=True, text=True,
                            timeout=1800)
    summary = result.stdout[-600:]
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-2000:]
    assert "# fail 0" in summary and "# skipped 0" in summary and "# pass 0" not in summary, summary


@pytest.mark.parametrize("run_name", ["mxbai_run", "variant_run", "trained_run"])  # BPE twice, WordPiece
def test_cli_tokenize_equals_the_python_runtime_on_thousands_of_texts(web_demo, request, run_name):
    port_cli.tokenize_equals_the_python_runtime(cli, request.getfixturevalue(run_name).bundle("onnx"), seed=2)


@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_cli_search_ranks_as_the_python_runtime(web_demo, trained_run, tmp_path, precision):
    port_cli.search_ranks_as_the_python_runtime(cli, trained_run.bundle("onnx", precision), tmp_path / "sample.cbindex")


def test_cli_refuses_a_tampered_bundle_naming_the_file_and_bad_usage(web_demo, trained_run, tmp_path):
    port_cli.refuses_a_tampered_bundle_naming_the_file(cli, shutil.copytree(trained_run.bundle("onnx", "int8"),
                                                                               tmp_path / "bundle"))
    usage = cli("tokenize", "--bundle", str(trained_run.bundle("onnx")))  # neither --query nor --document
    assert usage.returncode == 2 and "tokenize takes --query or --document" in usage.stderr


CHROMIUM = Path(os.environ.get("CHROMIUM", "/usr/bin/chromium"))
needs_chromium = pytest.mark.skipif(not CHROMIUM.is_file(), reason=f"no Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture
def serve(web_demo):
    """Starts `node serve.mjs --bundle DIR --port 0` for a bundle; every server is stopped after the test."""
    servers = []

    def start(bundle: Path) -> str:
        process = subprocess.Popen(["node", str(web_demo / "serve.mjs"), "--bundle", str(bundle), "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        servers.append(process)
        line = process.stdout.readline()
        assert line.startswith("serving "), process.stderr.read()
        return line.rsplit(" ", 1)[-1].strip()

    yield start
    for process in servers:
        process.terminate()
        process.wait(timeout=30)


def browse(url: str, *flags: str) -> dict:
    result = subprocess.run(["node", str(WEB / "browser-check.mjs"), url, *flags], capture_output=True, text=True,
                            timeout=1200)
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads(result.stdout)


@needs_chromium
@pytest.mark.parametrize("precision", ["fp32", "int8"])
def test_the_page_self_tests_indexes_and_searches_in_chromium(serve, trained_run, tmp_path, precision):
    """The trained MiniLM's bundle served, loaded by headless Chromium: cross-origin isolated, the self-test,
    217 documents indexed, the gate's queries ranked as the Python runtime ranks them, and after an offline
    reload the index read back from IndexedDB. The screenshot is left in the test's directory."""
    bundle = trained_run.bundle("onnx", precision)
    queries = tmp_path / "queries.json"
    queries.write_text(json.dumps(parity_texts.QUERIES))
    screenshot = tmp_path / f"page-{precision}.png"
    seen = browse(serve(bundle), "--queries", str(queries), "--screenshot", str(screenshot), "--offline")
    assert seen["state"] == "ready" and seen["isolated"] is True, seen
    assert seen["selftest"]["passed"] and seen["selftest"]["idsExact"], seen["selftest"]
    assert seen["info"]["documents"] == 217 and seen["info"]["restored"] is False
    runtime, corpus = runtimes.load(bundle), json.loads(SAMPLE_CORPUS.read_text())
    bound = next(v for k, (_, v) in TABLE[precision].tier.items() if k.startswith("maxsim"))  # the tier's MaxSim bound
    for query in parity_texts.QUERIES:
        expected, got = runtime.rank(query, corpus, k=10), seen["hits"][query]
        assert [h["index"] for h in got] == [i for i, _ in expected], query
        relative = [abs(h["score"] - s) / abs(s) for h, (_, s) in zip(got, expected)]
        assert max(relative) <= bound, (query, max(relative))
    reload = seen["reload"]
    assert reload["state"] == "ready" and reload["offline"] and reload["info"]["restored"] is True, reload
    assert screenshot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    print(f"screenshot: {screenshot}")


@needs_chromium
def test_a_tampered_bundle_puts_the_page_in_the_error_state_naming_the_file(serve, trained_run, tmp_path):
    """Served by the server, and picked as a folder by the user on a page that had a good bundle."""
    bundle = shutil.copytree(trained_run.bundle("onnx", "int8"), tmp_path / "bundle")
    flip_byte(bundle / "model.onnx")
    seen = browse(serve(bundle), "--expect-error")
    assert seen["state"] == "error" and "sha256 mismatch for model.onnx" in seen["error"], seen
    seen = browse(serve(trained_run.bundle("onnx", "fp32")), "--pick", str(bundle))
    assert seen["state"] == "ready" and seen["picked"]["state"] == "error", seen
    assert "sha256 mismatch for model.onnx" in seen["picked"]["error"]


@needs_chromium
def test_a_bundle_picked_as_a_folder_replaces_the_served_one(serve, trained_run):
    seen = browse(serve(trained_run.bundle("onnx", "int8")), "--pick", str(trained_run.bundle("onnx", "fp32")))
    assert seen["picked"]["state"] == "ready", seen
    assert seen["picked"]["info"]["precision"] == "fp32" and seen["picked"]["info"]["selftest"]["passed"]


@needs_chromium
def test_bench_times_the_bundle_in_chromium_beside_the_python_runtime(web_demo, trained_run, tmp_path, capsys):
    """`bench --against browser`: the same bundle natively and in headless Chromium, in one run and one table."""
    port_cli.bench_times_the_port_beside_the_python_runtime(trained_run.bundle("onnx", "int8"), "browser",
                                                            "onnx int8 (chromium)", tmp_path, capsys)
