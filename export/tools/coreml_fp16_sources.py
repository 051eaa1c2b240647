"""Where Core ML fp16's error comes from, op by op: `python -m export.tools.coreml_fp16_sources --model DIR`.

A diagnostic for the Core ML target's fp16 compute precision on trained weights. Each row converts the
checkpoint's encoder as `export coreml --precision fp16` does (export/targets/coreml.py: `_in_fp16` says which
MIL ops run in fp16), with one more kind of op kept in fp32 (an op-type policy) or one more kind of block
(export/precision/fp16.py's fallback units), with its output vectors in fp32 as the target declares them or cast to fp16
(" fp16 out"), builds a bundle around it and runs the parity gate on the gate's texts through runtimes/mil.py,
which holds fp16 tensors between ops as Core ML does. It prints first which MIL op types the current policy's
program runs in fp16 and in fp32, then one row per policy: the gate's metrics, the fp16 tier's room used, the
package size, how many ops run in fp32, and the worst MaxSim pair (its reference score against the score
floor, runtimes/metrics.py).

The rows say which ops carry the error, not how a bundle built by the pipeline scores (no fallback runs).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np

from ..gate import parity
from ..precision import TABLE
from runtimes.table import format_table

# MIL op types by kind, as coremltools lowers the export encoder (the census prints what a program holds)
LINEAR = {"linear"}
ACTIVATION = {"gelu", "erf", "tanh", "sigmoid", "relu", "silu"}
ELEMENTWISE = {"add", "sub", "mul", "real_div", "maximum", "minimum", "pow", "square", "abs", "clip", "inverse",
               "floor_div", "select"}
GATHER = {"gather", "gather_nd", "gather_along_axis"}
REDUCTION = {"reduce_max", "reduce_min", "reduce_sum", "reduce_mean", "reduce_l2_norm", "reduce_sum_square",
             "sqrt", "rsqrt", "exp", "log"}
KINDS = LINEAR | ACTIVATION | ELEMENTWISE | GATHER | REDUCTION
SHORT_DOCUMENT = 8  # vectors: a document of little but [CLS], the prefix and [SEP] (punctuation, spaces, empty)


@dataclass(frozen=True)
class Policy:
    about: str
    ops: Callable | None = None  # MIL op -> keep it in fp32, on top of targets.coreml._in_fp16
    blocks: Callable[[list[str]], tuple[str, ...]] = lambda blocks: ()  # export.precision.fp16 blocks kept in fp32
    fp32_output: bool = True  # the target's fp32 output; False: coremltools' fp16 output of an fp16 program


def _types(kinds: set[str]) -> Callable:
    return lambda op: op.op_type in kinds


def _ending(*suffixes: str) -> Callable[[list[str]], tuple[str, ...]]:
    return lambda blocks: tuple(b for b in blocks if b.endswith(suffixes))


POLICIES: dict[str, Policy] = {
    "current": Policy("targets.coreml._in_fp16 as it is"),
    "all fp32": Policy("every op in fp32 (sanity: ~0)", ops=lambda op: True),
    "+linear": Policy("and every Linear", _types(LINEAR)),
    "+activation": Policy("and GELU (and what an activation lowers to)", _types(ACTIVATION)),
    "+elementwise": Policy("and every other elementwise op (add, mul, sub, real_div, ...)", _types(ELEMENTWISE)),
    "+gather": Policy("and the embedding gathers", _types(GATHER)),
    "+reductions": Policy("and reductions, sqrt, rsqrt, exp", _types(REDUCTION)),
    "+data movement": Policy("and every other op type (reshape, transpose, slice, concat, ...)",
                             lambda op: op.op_type not in KINDS and op.op_type != "cast"),
    "+embeddings block": Policy("and the embeddings block (gathers, sum, LayerNorm)",
                                blocks=_ending("embeddings")),
    "+qkv blocks": Policy("and every attention.self block (Q/K/V Linears, heads' reshapes)",
                          blocks=_ending("attention.self")),
    "+attn-out blocks": Policy("and every attention.output block (output projection)",
                               blocks=_ending("attention.output")),
    "+ffn blocks": Policy("and every intermediate and output block (FFN Linears, GELU)",
                          blocks=lambda blocks: tuple(b for b in blocks if b.endswith(("intermediate", ".output"))
                                                      and not b.endswith("attention.output"))),
    "+linear+activation": Policy("and every Linear and GELU", _types(LINEAR | ACTIVATION)),
}
OUTPUT_SUFFIX = " fp16 out"
POLICIES |= {name + OUTPUT_SUFFIX: dataclasses.replace(p, about=p.about + "; output cast to fp16", fp32_output=False)
             for name, p in list(POLICIES.items())}
DEFAULT_ROWS = ["current", "current" + OUTPUT_SUFFIX, "all fp32", "all fp32" + OUTPUT_SUFFIX, "+linear",
                "+activation", "+elementwise", "+gather", "+reductions", "+data movement", "+embeddings block",
                "+qkv blocks", "+attn-out blocks", "+ffn blocks", "+linear+activation"]


class _Recording:
    """A runtime that keeps what it encoded at each batch size, for the worst pair; the rest is the runtime's."""

    def __init__(self, runtime):
        self.runtime = runtime
        self.encoded: dict[int, dict[str, list[np.ndarray]]] = {}

    def encode_queries(self, texts, batch_size=None):
        out = self.runtime.encode_queries(texts, batch_size=batch_size)
        self.encoded.setdefault(batch_size, {})["queries"] = out
        return out

    def encode_documents(self, texts, batch_size=None):
        out = self.runtime.encode_documents(texts, batch_size=batch_size)
        self.encoded.setdefault(batch_size, {})["documents"] = out
        return out

    def __getattr__(self, name):
        return getattr(self.runtime, name)


def census(package: Path, function: str) -> Counter:
    """(op type, output dtype) -> count over one function of the package: what the interpreter runs."""
    from runtimes import mil

    spec = mil.read_spec(package)
    body = spec.mlProgram.functions[function]
    counts: Counter = Counter()
    for op in body.block_specializations[body.opset].operations:
        if op.type == "const" or op.type.startswith("constexpr_"):
            continue
        counts[(op.type, mil._dtype_name(op.outputs[0].type.tensorType.dataType))] += 1
    return counts


def worst_pair(reference: parity.Encoded, candidate: parity.Encoded, texts: parity.Texts) -> dict:
    """The pair that carries MaxSim's max relative error: its scores against the floor, its sizes."""
    from runtimes.metrics import SCORE_FLOOR, relative_errors, score_matrix

    s_ref = score_matrix(reference.queries, reference.documents)
    s_cand = score_matrix(candidate.queries, candidate.documents)
    rel = relative_errors(s_cand, s_ref)
    q, d = np.unravel_index(int(np.argmax(rel)), rel.shape)
    order = np.argsort(-rel, axis=None)[:5]
    short = np.array([len(v) <= SHORT_DOCUMENT for v in reference.documents])
    return {"query": int(q), "document": int(d), "query_text": texts.queries[q][:60],
            "query_tokens": int(len(reference.queries[q])), "document_tokens": int(len(reference.documents[d])),
            "ref_score": float(s_ref[q, d]), "score": float(s_cand[q, d]), "abs_err": float(abs(s_cand - s_ref)[q, d]),
            "rel_err": float(rel[q, d]), "below_floor": bool(abs(s_ref[q, d]) < SCORE_FLOOR),
            "median_ref_score": float(np.median(s_ref)), "score_floor": SCORE_FLOOR,
            "top_pairs": [[int(i // rel.shape[1]), int(i % rel.shape[1]), float(s_ref.flat[i]), float(rel.flat[i])]
                          for i in order],
            "short_documents": int(short.sum()),
            "max_without_short_documents": float(rel[:, ~short].max())}


def measure_row(exporter, name: str, policy: Policy, log) -> dict:
    """Convert, bundle and gate one policy; the bundle is thrown away."""
    import runtimes

    from .. import bundle
    from ..precision import fp16
    from ..targets import coreml

    precision = TABLE["fp16"]
    target = dataclasses.replace(coreml.TARGET, fp32_ops=policy.ops, fp32_output=policy.fp32_output)
    kept = policy.blocks(fp16.blocks(exporter.encoder))
    staging = Path(tempfile.mkdtemp(prefix="coreml-fp16-", dir=exporter.workdir))
    try:
        started = time.perf_counter()
        artifact = target.export(exporter.context(kept), precision, staging)
        converted = time.perf_counter() - started
        size = bundle.artifact_bytes(staging / artifact.file)
        thresholds, _ = parity.gated(precision.name, exporter.checkpoint.synthetic)
        bundle.write_contents(staging, exporter.checkpoint, artifact, bundle.golden(exporter.tokenizer,
                                                                                    exporter.reference, thresholds))
        bundle.write_manifest(staging, exporter.checkpoint, target.name, precision.name, artifact,
                              target.tool_packages)
        runtime = _Recording(runtimes.load(staging))
        report = parity.run_gate(runtime, exporter.reference, precision.name, exporter.checkpoint.synthetic)
        counts = census(staging / artifact.file, coreml.DEFAULT_FUNCTION)
        worst_size = max(report.by_batch, key=lambda b: report.by_batch[b]["maxsim_rel_err_max"])
        encoded = runtime.encoded[int(worst_size)]
        pair = worst_pair(exporter.reference, parity.Encoded(encoded["queries"], encoded["documents"]),
                          parity.gate_texts())
        log(f"{name}: MaxSim max {report.metrics['maxsim_rel_err_max']:.3e} (converted in {converted:.0f}s, "
            f"{time.perf_counter() - started:.0f}s in all)")
        return {"policy": name, "about": policy.about, "kept_blocks": list(kept), "size_mb": size / 1e6,
                "metrics": report.metrics, "by_batch": report.by_batch, "room_used": report.margin,
                "fp16_ops": sum(n for (t, d), n in counts.items() if d == "FLOAT16" and t != "cast"),
                "fp32_ops": sum(n for (t, d), n in counts.items() if d == "FLOAT32" and t != "cast"),
                "casts": sum(n for (t, _), n in counts.items() if t == "cast"),
                "census": {f"{t}|{d}": n for (t, d), n in sorted(counts.items())}, "worst_pair": pair,
                "worst_batch_size": int(worst_size)}
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def census_table(row: dict) -> str:
    counts: dict[str, dict[str, int]] = {}
    for key, n in row["census"].items():
        op_type, dtype = key.split("|")
        counts.setdefault(op_type, {})[dtype] = n
    cells = [[t, str(c.get("FLOAT16", 0)), str(c.get("FLOAT32", 0)),
              str(sum(n for d, n in c.items() if d not in ("FLOAT16", "FLOAT32")))]
             for t, c in sorted(counts.items(), key=lambda kv: (-kv[1].get("FLOAT16", 0), kv[0]))]
    return format_table(cells, ["MIL op", "fp16", "fp32", "other dtype"])


def rows_table(rows: list[dict]) -> str:
    bound = TABLE["fp16"].tier["maxsim_rel_err_max"][1]
    cells = []
    for r in rows:
        m, p = r["metrics"], r["worst_pair"]
        cells.append([r["policy"], f"{m['maxsim_rel_err_max']:.3e}", f"{m['maxsim_rel_err_max'] / bound:.0%}",
                      f"{m['maxsim_rel_err_p99']:.2e}", f"{m['cosine_min']:.7f}", f"{m['top10_agreement']:.3f}",
                      f"{max(r['room_used'].values()):.0%}", f"{r['size_mb']:.1f}", f"{r['fp16_ops']}/{r['fp32_ops']}",
                      f"q{p['query']} d{p['document']} bs{r['worst_batch_size']} ref {p['ref_score']:.3f} "
                      f"err {p['abs_err']:.2e}"])
    return format_table(cells, ["policy", "MaxSim max", "of bound", "MaxSim p99", "cos min", "top10", "room used",
                                "size MB", "fp16/fp32 ops", "worst pair"])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m export.tools.coreml_fp16_sources", description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True, help="a local PyLate checkpoint")
    parser.add_argument("--rows", nargs="+", default=DEFAULT_ROWS, choices=list(POLICIES), metavar="POLICY",
                        help="the policies to measure, in order: " + "; ".join(f"{n!r} ({p.about})"
                                                                              for n, p in POLICIES.items())
                             + f"; default: {', '.join(map(repr, DEFAULT_ROWS))}")
    parser.add_argument("--json", type=Path, help="write every row's numbers (and op census) here")
    args = parser.parse_args(argv)
    from ..model.checkpoint import CheckpointError, read_checkpoint
    from ..pipeline import Exporter

    log = lambda m: print(m, file=sys.stderr, flush=True)  # noqa: E731
    try:
        checkpoint = read_checkpoint(args.model, source=str(args.model))
    except CheckpointError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    exporter = Exporter(checkpoint, Path(tempfile.gettempdir()), log)
    rows = []
    try:
        exporter.reference  # noqa: B018 (computed once, before the first row's clock)
        for name in args.rows:
            rows.append(measure_row(exporter, name, POLICIES[name], log))
            if args.json:
                args.json.write_text(json.dumps(rows, indent=1))
    finally:
        exporter.close()
    first = rows[0]
    print(f"MIL ops in function {first['policy']!r} ({first['fp16_ops']} fp16, {first['fp32_ops']} fp32, "
          f"{first['casts']} casts):")
    print(census_table(first))
    print()
    print(rows_table(rows))
    print()
    for r in rows:
        p = r["worst_pair"]
        print(f"{r['policy']}: worst pair query {p['query']} ({p['query_tokens']} tokens, {p['query_text']!r}) x "
              f"document {p['document']} ({p['document_tokens']} tokens) at batch {r['worst_batch_size']}: reference "
              f"{p['ref_score']:.4f}, got {p['score']:.4f} (median score {p['median_ref_score']:.3f}; "
              f"{'below' if p['below_floor'] else 'above'} the floor {p['score_floor']:g}); MaxSim max without the "
              f"{p['short_documents']} documents of <= {SHORT_DOCUMENT} vectors: {p['max_without_short_documents']:.3e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
