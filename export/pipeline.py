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

from . import artifact_cache, bundle, targets
from .precision import fp16
from .gate import parity, parity_texts
from .model.checkpoint import Checkpoint
from .model.encoder import load_encoder
from .gate.parity import Encoded, ParityReport
from .precision import LAYER, Precision, named
from .model.reference import Reference
from .precision.gptq import quantize_linears
from .precision.sensitivity import rank_blocks, rank_layers, simulate
from .precision.int8 import QuantizedWeight
from .targets import Artifact, ExportContext, ExportTarget

Log = Callable[[str], None]
MAX_KEPT = 6  # the fallbacks keep at most this many int8 layers in float (fp16 blocks in fp32), then stop


@dataclass
class Result:
    target: str
    precision: str
    path: Path | None  # the bundle, or the failed parity report
    size_bytes: int | None
    report: ParityReport | None
    error: str | None = None
    note: str = ""  # why the fallback could not help, when it could not

    @property
    def passed(self) -> bool:
        return self.report is not None and self.report.passed and self.error is None


@dataclass(frozen=True)
class Attempt:
    """One staged and gated bundle."""
    staging: Path
    manifest: dict
    report: ParityReport
    size: int


class Exporter:
    """Holds what every target and precision of one checkpoint shares: encoder, reference, scratch space."""

    def __init__(self, checkpoint: Checkpoint, out_root: Path, log: Log, accept_without_margin: bool = False):
        self.checkpoint = checkpoint
        self.accept_without_margin = accept_without_margin
        self.out_root = Path(out_root)
        self.log = log
        self.tokenizer = ColbertTokenizer(checkpoint.path / "tokenizer.json", checkpoint.settings)
        self._encoder = None
        self._reference: Encoded | None = None
        self._int8: dict[str, QuantizedWeight] | None = None
        self._sensitive: list[str] | None = None
        self._sensitive_blocks: dict[str, list[str]] = {}  # fp16 form -> blocks, most sensitive first
        self._simulated: dict[tuple, float] = {}  # (precision name, form, kept) -> worst room used, in PyTorch
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
        """int8 Linear layers, most sensitive first (export/precision/sensitivity.py), measured once per checkpoint."""
        if self._sensitive is None:
            weights = self.int8_weights()
            started = time.perf_counter()
            self.log(f"measuring how much each of {len(weights)} int8 layers costs, one at a time")
            ranked = rank_layers(self.encoder, weights, self.tokenizer, self.reference)
            self._sensitive = [name for name, _ in ranked]
            top = ", ".join(f"{name} (p99 {p99:.2e} without it)" for name, p99 in ranked[:3])
            self.log(f"most sensitive: {top}; measured in {time.perf_counter() - started:.1f}s")
        return self._sensitive

    def sensitive_blocks(self, form: str) -> list[str]:
        """fp16 blocks in `form` (export/precision/fp16.py), most sensitive first, measured once per checkpoint and form."""
        if form not in self._sensitive_blocks:
            started = time.perf_counter()
            self.log(f"measuring how much each fp16 block costs in the {form!r} form, one at a time")
            ranked = rank_blocks(self.encoder, form, self.tokenizer, self.reference)
            self._sensitive_blocks[form] = [name for name, _ in ranked]
            top = ", ".join(f"{name} (max {err:.2e} without it)" for name, err in ranked[:3])
            self.log(f"most sensitive: {top}; measured in {time.perf_counter() - started:.1f}s")
        return self._sensitive_blocks[form]

    def context(self, kept: tuple[str, ...] = ()) -> ExportContext:
        return ExportContext(self.encoder, self.checkpoint.settings, self.workdir, self.checkpoint.max_sequence,
                             self.int8_weights, kept)

    def _ranked(self, target: ExportTarget, precision: Precision) -> list[str]:
        """The units the precision's fallback may keep, most sensitive first."""
        if precision.fallback.unit is LAYER:
            return self.sensitive_layers()
        return self.sensitive_blocks(target.fp16_form)

    def _simulated_room(self, target: ExportTarget, precision: Precision, kept: tuple[str, ...]) -> float:
        key = (precision.name, target.fp16_form if precision.uses_fp16_form else "", kept)
        if key not in self._simulated:
            weights = self.int8_weights() if precision.uses_int8_encoder else {}
            metrics = simulate(self.encoder, precision, target.fp16_form, kept, weights, self.tokenizer,
                               self.reference)
            thresholds, _ = parity.gated(precision.name, self.checkpoint.synthetic)
            self._simulated[key] = max(parity.room_used(metrics, thresholds).values())
        return self._simulated[key]

    def _next_count(self, target: ExportTarget, precision: Precision, ranked: list[str], first: ParityReport,
                    tried: int) -> int:
        """How many of `ranked` the next retry keeps: the fewest (more than `tried`) whose PyTorch form, scaled
        by how far the target's first attempt sat from its own PyTorch form, is predicted inside the margin.
        Each retry costs an export (TFLite int8: minutes); each prediction one PyTorch pass."""
        limit = min(MAX_KEPT, len(ranked))
        base = self._simulated_room(target, precision, ())
        scale = max(first.margin.values()) / base if base > 0 else 1.0
        for n in range(tried + 1, limit + 1):
            if scale * self._simulated_room(target, precision, tuple(ranked[:n])) <= parity.MARGIN:
                return n
        return limit if tried + 1 < limit else tried + 1

    def _convert(self, target: ExportTarget, precision: Precision, kept: tuple[str, ...],
                 staging: Path) -> tuple[Artifact, bool]:
        """The artifact in staging, and whether it came from the artifact cache (export/artifact_cache.py)."""
        context = self.context(kept)
        root = artifact_cache.cache_root()
        if root is None:
            return target.export(context, precision, staging), False
        cache_key = artifact_cache.key(target, context, precision)
        artifact = artifact_cache.load(root, cache_key, staging)
        if artifact is not None:
            return artifact, True
        artifact = target.export(context, precision, staging)
        artifact_cache.store(root, cache_key, staging, artifact)
        return artifact, False

    def _attempt(self, target: ExportTarget, tag: str, precision: Precision, kept: tuple[str, ...]) -> Attempt:
        """Export, stage and gate one bundle."""
        staging = bundle.stage(self.out_root, self.checkpoint, target.name, precision.name)
        try:
            started = time.perf_counter()
            self.log(f"{tag} exporting" + (f" with {precision.fallback.phrase(kept)}" if kept else ""))
            artifact, reused = self._convert(target, precision, kept, staging)
            size = bundle.artifact_bytes(staging / artifact.file)
            how = "reused from the artifact cache" if reused else "exported"
            self.log(f"{tag} {how} {size / 1e6:.1f} MB in {time.perf_counter() - started:.1f}s; running the parity gate")
            thresholds, _ = parity.gated(precision.name, self.checkpoint.synthetic)
            golden = bundle.golden(self.tokenizer, self.reference, thresholds)
            bundle.write_contents(staging, self.checkpoint, artifact, golden)
            manifest = bundle.write_manifest(staging, self.checkpoint, target.name, precision.name, artifact,
                                             target.tool_packages)
            report = parity.run_gate(runtimes.load(staging), self.reference, precision.name,
                                     self.checkpoint.synthetic)
            report.kept = list(kept)
            return Attempt(staging, manifest, report, size)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise

    def _fallback(self, target: ExportTarget, tag: str, precision: Precision, best: Attempt) -> tuple[Attempt, str]:
        """Retries while the best bundle measured misses the margin: its most sensitive blocks in fp32 (int8:
        Linear layers in float), as many as the PyTorch form predicts, then more, up to MAX_KEPT; then, for fp16,
        whole groups of blocks (export.precision.fp16.groups). Each retry is measured on the target itself and kept only if
        better than the best so far. An fp16 ranked retry measured worse shows that the PyTorch ranking mispredicts
        the target's own numerics (Core ML's fp16 compute: docs/targets.md), so the groups come next.
        Returns the best, and why the fallback could not help if it could not."""
        first, tried, worse, fallback = best.report, 0, [], precision.fallback

        def retry(kept: tuple[str, ...], about: str = "") -> bool:
            """Whether the retry measured better than the best so far (and so is the best now)."""
            nonlocal best
            self.log(f"{tag} {_shortfall(best.report)}{about}")
            attempt = self._attempt(target, tag, precision, kept)
            if _standing(attempt.report) < _standing(best.report):
                shutil.rmtree(best.staging)
                best = attempt
                return True
            shutil.rmtree(attempt.staging)
            worse.append(f"{fallback.count(len(kept))}: room used {attempt.report.worst_room:.0%}")
            self.log(f"{tag} measured worse with {worse[-1]}, against {best.report.worst_room:.0%} before; the better "
                     f"bundle stands")
            return False

        while not best.report.within_margin and tried < MAX_KEPT:
            ranked = self._ranked(target, precision)
            if tried >= len(ranked):
                break
            tried = self._next_count(target, precision, ranked, first, tried)
            if not retry(tuple(ranked[:tried])) and fallback.groups:
                break  # on to the groups
        for name, group in fp16.groups(self.encoder) if fallback.groups else []:
            if best.report.within_margin:
                break
            retry(group, f"; keeping {name} in fp32")
        if best.report.within_margin or not worse or best.report.kept:
            return best, ""
        return best, (f"the fallback could not help: every retry measured worse than the first attempt's "
                      f"{first.worst_room:.0%} ({'; '.join(worse)}), so this target's error is not where the PyTorch "
                      f"ranking put it")

    def build(self, target_name: str, precision_name: str) -> Result:
        """One bundle. A converter's crash becomes the Result's error, so the other bundles still build. A
        precision with a fallback (fp16, int8) that misses its tier, or holds it without margin (parity.MARGIN),
        goes through it."""
        tag = f"[{target_name} {precision_name}]"
        try:
            precision = named(precision_name)
            target = targets.target(target_name)  # imports the converter: a missing one is this bundle's error too
            best = self._attempt(target, tag, precision, ())
            note = ""
            if precision.fallback:
                best, note = self._fallback(target, tag, precision, best)
            report, kept = best.report, tuple(best.report.kept)
            if note:
                self.log(f"{tag} {note}")
            if precision.fallback and report.passed and not report.within_margin and not self.accept_without_margin:
                _refuse_without_margin(report)
            try:
                path = bundle.finish(best.staging, report, best.manifest)
            except BaseException:
                shutil.rmtree(best.staging, ignore_errors=True)
                raise
            verdict = "PASS" if report.passed else "FAIL " + "; ".join(report.failed)
            if report.passed and not report.within_margin:
                verdict += f" (without margin: {_room(report)})"
            self.log(f"{tag} {verdict}{f' ({precision.fallback.phrase(kept)})' if kept else ''} -> {path}")
            return Result(target_name, precision_name, path, best.size, report, note=note)
        except Exception as e:  # a converter or runtime crash: reported, nothing published
            error = f"{type(e).__name__}: {first_line(e)}"
            self.log(f"{tag} ERROR {error}")
            return Result(target_name, precision_name, None, None, None, error)


def _standing(report: ParityReport) -> tuple[bool, float]:
    """Orders bundles best first: one that holds its tier, then the least room used."""
    return not report.passed, report.worst_room


def _refuse_without_margin(report: ParityReport) -> None:
    """A bundle the fallback could not bring inside the margin holds the tier on the gate's texts by a scrape,
    which other texts miss (docs/robustness.md)."""
    report.passed = False
    report.failed.append(f"holds the {report.precision} tier only without margin ({_room(report)}) after the fallback "
                         f"kept {len(report.kept)}, so other texts would miss it; ship another precision, or pass "
                         f"--accept-without-margin to keep it")


def _room(report: ParityReport) -> str:
    return ", ".join(f"{k} {used:.0%} of its room" for k, used in report.margin.items() if used > parity.MARGIN)


def _shortfall(report: ParityReport) -> str:
    if not report.passed:
        return f"missed the {report.precision} tier ({'; '.join(report.failed)})"
    return f"holds the {report.precision} tier without margin ({_room(report)}; the fallback stops at {parity.MARGIN:.0%})"
