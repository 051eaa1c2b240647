"""`python -m export <target|all|verify|bench> ...`: argument parsing, progress and the summary table."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from runtimes.index_command import add_index_options
from runtimes.manifest import BundleError
from runtimes.targets import TARGETS

from .model.checkpoint import HUB_IDS, CheckpointError
from .gate.parity import MARGIN
from .precision import PRECISIONS, TABLE
from runtimes.table import format_table

EXIT_FAILED_GATE = 1
EXIT_BAD_INPUT = 2

DESCRIPTION = """\
Export Mixedbread's mxbai-edge-colbert-v0 retrievers (or any PyLate ColBERT checkpoint with a ModernBERT
or BERT backbone) to on-device runtimes in fp32, fp16 and int8. Every artifact runs in its real runtime
and is published as a bundle only if its vectors and MaxSim scores meet the precision's parity tier
against the PyTorch reference.

example:
  python -m export coreml --size 17m --out bundles
  python -m export all --model ./my-colbert --precision fp32 int8
  python -m export verify bundles/mxbai-edge-colbert-v0-17m/coreml-int8
  python -m export index bundles/mxbai-edge-colbert-v0-17m/onnx-int8 --corpus docs.jsonl --out docs.cbindex
"""


class Progress:
    """Timestamped progress on stderr; every line carries the synthetic warning when it applies."""

    def __init__(self) -> None:
        self.started = time.perf_counter()
        self.prefix = ""

    def __call__(self, message: str) -> None:
        print(f"[{time.perf_counter() - self.started:6.1f}s] {self.prefix}{message}", file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m export", description=DESCRIPTION,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in [*TARGETS, "all"]:
        help_text = "export bundles for every target" if name == "all" else f"export {name} bundles"
        sub = commands.add_parser(name, help=help_text, description=help_text)
        source = sub.add_mutually_exclusive_group()
        source.add_argument("--model", help="local PyLate checkpoint directory or hub id (instead of --size)")
        source.add_argument("--synthetic", action="store_true",
                            help="seeded random weights with the --size architecture (offline; not for retrieval)")
        sub.add_argument("--tokenizer", type=Path,
                         help="with --synthetic: the tokenizer.json to build it around (default: a generated "
                              "byte-level stand-in with mxbai's special ids)")
        sub.add_argument("--size", choices=sorted(HUB_IDS), default="17m", help="mxbai-edge-colbert-v0 size (default 17m)")
        sub.add_argument("--revision", help="hub commit, branch or tag to pin")
        sub.add_argument("--precision", nargs="+", default=list(PRECISIONS), metavar="P",
                         help="any of fp32 fp16 int8 (default: all three); int8 is GPTQ weights with one scale per "
                              "32 inputs on every target (Core ML int8 needs iOS 18)")
        sub.add_argument("--out", type=Path, default=Path("bundles"), help="output root (default ./bundles)")
        sub.add_argument("--accept-without-margin", action="store_true",
                         help=f"publish an fp16 or int8 bundle that holds its tier but uses more than {MARGIN:.0%} of "
                              "its room after the fallback (refused by default: other texts miss such a bundle)")
    verify = commands.add_parser("verify", help="re-check a bundle's hashes, parity report and golden vectors")
    verify.add_argument("bundles", nargs="+", type=Path)
    verify.add_argument("--full", action="store_true",
                        help="also re-run the whole parity gate against the source checkpoint (needs the exporter)")
    verify.add_argument("--held-out", action="store_true",
                        help="also hold the bundle to its tier on texts the gate never sees, against the source "
                             "checkpoint (needs the exporter)")
    index = commands.add_parser(
        "index", help="encode a corpus once into a portable index file that every runtime searches",
        description="Encode every document of a corpus through a bundle into one index file (spec/bundle.md, "
                    "'Index file'), tied to the bundle's model files.",
        epilog="example:\n  python -m export index bundles/mxbai-edge-colbert-v0-17m/onnx-int8 --corpus docs.jsonl "
               "--out docs.cbindex",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    index.add_argument("bundle", type=Path)
    index.add_argument("--corpus", type=Path, required=True,
                       help="JSON Lines (a string, or an object with a \"text\" field, per line) or a JSON array")
    index.add_argument("--out", type=Path, required=True, help="the index file to write")
    add_index_options(index)
    bench = commands.add_parser(
        "bench", help="time bundles beside PyLate and the peer exporter: latency, throughput, memory, fidelity",
        description="Every bundle (and, with --against, PyLate itself and pylate-onnx-export's ONNX models) in one "
                    "run on the same texts, each row in a process of its own, on one thread and on all threads.",
        epilog="example:\n  python -m export bench bundles/*/onnx-* --against pylate,peer --pylate-python .pylate/bin/python",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("bundles", nargs="+", type=Path)
    bench.add_argument("--against", default="", help="comma-separated: pylate (its own encode), peer "
                       "(pylate-onnx-export fp32 and int8, by onnxruntime), browser (each ONNX bundle in headless "
                       "Chromium on onnxruntime-web, web-demo/), kotlin (each ONNX bundle through the Kotlin library on "
                       "ONNX Runtime's Java API, android-demo/colbert's CLI jar)")
    bench.add_argument("--pylate-python", help="interpreter of an environment with pylate (and pylate-onnx-export)")
    bench.add_argument("--model", type=Path, help="the checkpoint the bundles came from (default: their manifest's "
                       "source, when it is a local directory)")
    bench.add_argument("--documents", type=int, default=500, help="mixed-length documents to encode (default 500)")
    bench.add_argument("--batch-size", type=int, default=8, help="batched throughput's batch size (default 8)")
    bench.add_argument("--index-documents", type=int, default=10_000,
                       help="time search over an index of this many documents (default 10000; 0: skip)")
    bench.add_argument("--compressed-at", default="", metavar="N[,N...]",
                       help="also compare the index kinds (exact and compressed: size, build, search p50, top-10 "
                            "agreement) on the first bundle at these corpus sizes, e.g. 1000,10000")
    bench.add_argument("--json", type=Path, help="also write every measurement here")
    bench.add_argument("--plot", type=Path, help="draw latency and throughput against size into this PNG")
    return parser


def summary(results: list, synthetic: bool) -> str:
    header = ["target", "precision", "size MB", "cos min", "cos mean", "max abs", "MaxSim p99", "MaxSim max", "top10",
              "room used", "result"]
    rows = []
    for r in results:
        m = r.report.metrics if r.report else {}
        fmt = lambda key, spec: format(m[key], spec) if key in m else "-"  # noqa: E731
        result = "PASS" if r.passed else ("ERROR " + r.error if r.error else "FAIL " + "; ".join(r.report.failed))
        if r.report and r.report.kept:
            result += f" ({TABLE[r.precision].fallback.phrase(r.report.kept)})"
        if r.passed and not r.report.within_margin:
            result += " (without margin)"
        rows.append([r.target, r.precision, f"{r.size_bytes / 1e6:.1f}" if r.size_bytes else "-",
                     fmt("cosine_min", ".6f"), fmt("cosine_mean", ".6f"), fmt("max_abs_error", ".2e"),
                     fmt("maxsim_rel_err_p99", ".2e"), fmt("maxsim_rel_err_max", ".2e"), fmt("top10_agreement", ".3f"),
                     _room_used(r.report), result])
    title = "SYNTHETIC random weights: parity only proves the plumbing\n" if synthetic else ""
    notes = [f"room used: the worst metric's share of its tier's room (1 = the bound); the fallbacks stop at "
             f"{MARGIN:.0%}"]
    informational = {k: why for r in results if r.report for k, why in r.report.informational.items()}
    notes += [f"{k} is reported, not gated: {why}" for k, why in informational.items()]
    notes += [f"{r.target} {r.precision}: {r.note}" for r in results if r.note]
    return title + format_table(rows, header) + "\n" + "\n".join(notes)


def _room_used(report) -> str:
    return f"{report.worst_room:.0%}" if report is not None and report.margin else "-"


def run_export(args: argparse.Namespace, log: Progress) -> int:
    from .pipeline import Exporter, Result
    from .model.source import resolve

    unknown = sorted(set(args.precision) - set(PRECISIONS))
    if unknown:
        raise CheckpointError(f"cannot build {', '.join(unknown)}; choose from {', '.join(PRECISIONS)}")
    targets = list(TARGETS) if args.command == "all" else [args.command]
    if args.synthetic:
        log.prefix = "[SYNTHETIC weights] "
    log("resolving the checkpoint")
    checkpoint = resolve(args.size, args.model, args.revision, args.synthetic, args.tokenizer)
    if checkpoint.synthetic:  # also a --model directory that holds a synthetic checkpoint
        log.prefix = "[SYNTHETIC weights] "
    log(f"checkpoint {checkpoint.label} from {checkpoint.source} ({checkpoint.model_type}, dim {checkpoint.settings.dim})")
    exporter = Exporter(checkpoint, args.out, log, args.accept_without_margin)
    results: list[Result] = []
    try:
        for target in targets:
            for precision in dict.fromkeys(args.precision):
                results.append(exporter.build(target, precision))
    finally:
        exporter.close()
    print(summary(results, checkpoint.synthetic))
    return 0 if all(r.passed for r in results) else EXIT_FAILED_GATE


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    log = Progress()
    try:
        if args.command == "verify":
            from .verify import run_verify

            return run_verify(args.bundles, args.full, log, args.held_out)
        if args.command == "index":
            from runtimes.index import IndexFileError
            from runtimes.index_command import CorpusError, options_from, run_index

            try:
                return run_index(args.bundle, args.corpus, args.out, options_from(args))
            except (CorpusError, IndexFileError) as e:
                print(f"error: {e}", file=sys.stderr)
                return EXIT_BAD_INPUT
        if args.command == "bench":
            from .tools.bench import BenchError, parse_sizes, run_bench
            from .cache import cache_dir

            against = [a for a in args.against.split(",") if a]
            try:
                return run_bench(args.bundles, against, args.pylate_python, args.model, args.documents,
                                 args.batch_size, args.json, args.plot, cache_dir() / "bench",
                                 index_documents=args.index_documents,
                                 compressed_at=parse_sizes(args.compressed_at))
            except BenchError as e:
                print(f"error: {e}", file=sys.stderr)
                return EXIT_BAD_INPUT
        return run_export(args, log)
    except (CheckpointError, BundleError) as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: no partial bundle was published", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
