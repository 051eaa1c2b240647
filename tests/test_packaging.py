"""Dependencies by role: the torch-free runtime installs with numpy, tokenizers and one engine, and runs."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np

import runtimes
from tests.conftest import SYNTHETIC_ONNX, synthetic_name

ROOT = Path(__file__).resolve().parents[1]


def test_onnx_runtime_installs_alone_and_runs_a_bundle(request, exports, tmp_path):
    bundle = exports.bundle(*SYNTHETIC_ONNX, model=synthetic_name(), target="onnx", precision="int8")
    installed_from = [ROOT / "pyproject.toml", *sorted((ROOT / "runtimes").glob("*.py"))]  # pip copies the code
    key = hashlib.sha256(b"".join(p.read_bytes() for p in installed_from)).hexdigest()[:12]
    venv = request.config.cache.mkdir("runtime-venv") / key  # a fresh interpreter without the project's packages
    python = venv / "bin" / "python"
    if not (venv / "ready").is_file():
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                        f"{ROOT}[onnx]"], check=True, timeout=900)
        (venv / "ready").write_text(key)
    installed = subprocess.run([str(python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                               check=True).stdout.lower()
    for heavy in ("torch", "transformers", "executorch", "coremltools", "ai-edge-litert"):
        assert f"\n{heavy}==" not in f"\n{installed}", heavy
    documents = ["bees dance to show where flowers are", "stock prices fell", "  东京 🙂  "]
    script = textwrap.dedent(f"""
        import json, runtimes
        rt = runtimes.load({str(bundle)!r})
        print(json.dumps(rt.rank("how do bees communicate", {documents!r}, k=3)))
    """)
    result = subprocess.run([str(python), "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    expected = runtimes.load(bundle).rank("how do bees communicate", documents, k=3)
    got = json.loads(result.stdout)
    assert [i for i, _ in got] == [i for i, _ in expected]
    np.testing.assert_allclose([s for _, s in got], [s for _, s in expected], rtol=1e-5)
    selftest = subprocess.run([str(python), "-m", "runtimes", "selftest", "--bundle", str(bundle)], cwd=tmp_path,
                              capture_output=True, text=True, timeout=300)  # the CLI contract, without torch
    assert selftest.returncode == 0 and json.loads(selftest.stdout)["passed"], selftest.stderr[-2000:]
