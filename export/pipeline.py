"""The export chain for one checkpoint: encoder -> artifact -> bundle -> runtime -> parity report."""
from __future__ import annotations

import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import runtimes
from runtimes.colbert import ColbertTokenizer
from runtimes.manifest import first_line

from . import bundle, parity, parity_texts
from .checkpoint import Checkpoint
from .encoder import load_encoder
from .parity import Encoded, ParityReport
from .reference import Reference
from .table import plural
from .gptq import quantize_linears
from .sensitivity import rank_layers
from .int8 import QuantizedWeight
from .targets import ExportContext, target

Log = Callable[[str], None]
MAX_FLOAT_LAYERS = 6  # int8 retries at most this many Linear layers in float, then the gate refuses it


@dataclass
class Result:
    target: str
    precision: str
    path: Path | None  # the bundle, or the failed parity report
    size_bytes: int | None
    report: ParityReport | None
    error: str | None = None

    @property
    def passed(self) -> bool:
        return self.report is not None and self.report.passed and self.error is None


class Exporter:
    """Holds what every target and precision of one checkpoint shares: encoder, reference, scratch space."""

    def __init__(self, checkpoint: Checkpoint, out_root: Path, log: Log):
        self.checkpoint = checkpoint
        self.out_root = Path(out_root)
        self.log = log
        self.tokenizer = ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)
        self._encoder = None
        self._reference: Encoded | None = None
        self._int8: dict[str, QuantizedWeight] | None = None
        self._sensitive: list[str] | None = None
        self.workdir = Path(tempfile.mkdtemp(prefix="colbert-export-"))

    def close(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    @property
    def encoder(self):
        if self._encoder is None:
            self.log("building the export encoder from the checkpoint")
            self._encoder = load_encoder(self.checkpoint)
        return self._encoder

    @property
    def reference(self) -> Encoded:
        if self._reference is None:
            n_q, n_d = len(parity_texts.queries()), len(parity_texts.documents())
            self.log(f"computing the PyTorch fp32 reference for {n_q} queries and {n_d} documents")
            started = time.perf_counter()
            self._reference = parity.reference_outputs(Reference(self.checkpoint), self.tokenizer)
            self.log(f"reference ready in {time.perf_counter() - started:.1f}s")
        return self._reference

    def int8_weights(self) -> dict[str, QuantizedWeight]:
        """GPTQ int8 Linear weights, computed once on calibration text and shared by every target."""
        if self._int8 is None:
            started = time.perf_counter()
            self.log("quantizing Linear weights to int8 (GPTQ on calibration text)")
            self._int8 = quantize_linears(self.encoder, self.tokenizer)
            self.log(f"int8 weights ready in {time.perf_counter() - started:.1f}s")
        return self._int8

    def sensitive_layers(self) -> list[str]:
        """int8 Linear layers, most sensitive first (export/sensitivity.py), measured once per checkpoint."""
        if self._sensitive is None:
            weights = self.int8_weights()
            started = time.perf_counter()
            self.log(f"measuring how much each of {len(weights)} int8 layers costs, one at a time")
            ranked = rank_layers(self.encoder, weights, self.tokenizer, self.reference)
            self._sensitive = [name for name, _ in ranked]
            top = ", ".join(f"{name} (p99 {p99:.2e} without it)" for name, p99 in ranked[:3])
            self.log(f"most sensitive: {top}; measured in {time.perf_counter() - started:.1f}s")
        return self._sensitive

    def context(self, float_layers: tuple[str, ...] = ()) -> ExportContext:
        return ExportContext(self.encoder, self.checkpoint.settings, self.workdir, self.checkpoint.max_sequence,
                             self.int8_weights, float_layers)

    def _attempt(self, exporter, tag: str, precision: str, float_layers: tuple[str, ...]):
        """Export, stage and gate one bundle: (staging dir, manifest, report, artifact bytes)."""
        staging = bundle.stage(self.out_root, self.checkpoint, exporter.name, precision)
        try:
            started = time.perf_counter()
            self.log(f"{tag} exporting" + (f" with {plural(len(float_layers), 'layer')} in float" if float_layers else ""))
            artifact = exporter.export(self.context(float_layers), precision, staging)
            size = bundle.artifact_bytes(staging / artifact.file)
            self.log(f"{tag} exported {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s; running the parity gate")
            golden = bundle.golden(self.tokenizer, self.reference, parity.TIERS[precision])
            bundle.write_contents(staging, self.checkpoint, artifact, golden)
            manifest = bundle.write_manifest(staging, self.checkpoint, exporter.name, precision, artifact,
                                             exporter.tool_packages)
            report = parity.run_gate(runtimes.load(staging), self.reference, precision)
            report.float_layers = list(float_layers)
            return staging, manifest, report, size
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def build(self, target_name: str, precision: str) -> Result:
        """One bundle. A converter's crash becomes the Result's error, so the other bundles still build. int8
        that misses its tier is retried with its most sensitive Linear layers in float, one more each time."""
        tag = f"[{target_name} {precision}]"
        try:
            exporter = target(target_name)  # imports the converter: a missing one is this bundle's error too
            float_layers: tuple[str, ...] = ()
            staging, manifest, report, size = self._attempt(exporter, tag, precision, float_layers)
            most = min(MAX_FLOAT_LAYERS, len(self.int8_weights())) if precision == "int8" else 0
            while not report.passed and len(float_layers) < most:
                self.log(f"{tag} missed the int8 tier ({'; '.join(report.failed)})")
                shutil.rmtree(staging)
                float_layers = tuple(self.sensitive_layers()[:len(float_layers) + 1])
                staging, manifest, report, size = self._attempt(exporter, tag, precision, float_layers)
            try:
                path = bundle.finish(staging, report, manifest)
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise
            verdict = "PASS" if report.passed else "FAIL " + "; ".join(report.failed)
            kept = f" ({plural(len(float_layers), 'layer')} in float: {', '.join(float_layers)})" if float_layers else ""
            self.log(f"{tag} {verdict}{kept} -> {path}")
            return Result(target_name, precision, path, size, report)
        except Exception as e:  # a converter or runtime crash: reported, nothing published
            error = f"{type(e).__name__}: {first_line(e)}"
            self.log(f"{tag} ERROR {error}")
            return Result(target_name, precision, None, None, None, error)
