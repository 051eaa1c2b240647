"""`python -m runtimes verify|scores|preprocess|tokenize|selftest|search|index`: spec/bundle.md's command-line
contract, the commands every port ships, on the Python runtime. One line of JSON (keys sorted) on stdout; exit 0
done, 1 a bad bundle or index (`error: <kind>: <message>`) or a failed self-test, 2 bad usage or input."""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path
from typing import Sequence

import numpy as np

from .bundle import open_bundle
from .colbert import maxsim
from .golden import self_test
from .index import IndexFileError, load_index
from .index_command import CorpusError, add_index_options, options_from, run_index
from .iospec import InputPastBound
from .manifest import BundleError, first_line

EXIT_FAILED = 1
EXIT_USAGE = 2
COMMANDS = ("verify", "scores", "preprocess", "tokenize", "selftest", "search", "index")


class UsageError(Exception):
    """Bad arguments or input: exit 2, one line."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line and exit 2, not argparse's usage block
        raise UsageError(message)


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return int(value)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m runtimes", description=__doc__,
                     formatter_class=argparse.RawDescriptionHelpFormatter)
    commands = parser.add_subparsers(dest="command", required=True, metavar="|".join(COMMANDS),
                                     parser_class=_Parser)
    helps = {"verify": "open the bundle (every check of the spec, and its model)",
             "scores": "MaxSim of golden.json's vectors, queries by documents",
             "preprocess": "each text after the tokenizer's preprocessing steps",
             "tokenize": "ids, mask, kept positions (and bucket) of each text alone",
             "selftest": "golden.json's rule through this runtime",
             "search": "the corpus indexed (saved to --index) and searched for one query",
             "index": "encode a corpus into an index file (spec/bundle.md, 'Index file')"}
    for name in COMMANDS:
        sub = commands.add_parser(name, help=helps[name], description=helps[name])
        sub.add_argument("--bundle", type=Path, required=True, help="the bundle directory")
        if name in ("verify", "selftest", "search", "index"):
            sub.add_argument("--threads", type=_positive, default=None, help="engine threads (default: the engine's)")
        if name in ("preprocess", "tokenize"):
            sub.add_argument("texts", nargs="*", help="texts (default: a JSON array of strings on stdin)")
        if name == "tokenize":
            kind = sub.add_mutually_exclusive_group(required=True)
            kind.add_argument("--query", action="store_true")
            kind.add_argument("--document", action="store_true")
        if name == "search":
            sub.add_argument("--corpus", type=Path, required=True, help="a JSON array of texts")
            sub.add_argument("--index", type=Path, help="the index file: read when it exists, else built and saved")
            sub.add_argument("--k", type=_positive, default=10, help="hits to return (default 10)")
            sub.add_argument("query")
        if name == "index":
            sub.add_argument("--corpus", type=Path, required=True,
                             help="JSON Lines (a string, or an object with a \"text\" field, per line) or a JSON array")
            sub.add_argument("--out", type=Path, required=True, help="the index file to write")
            add_index_options(sub)
    return parser


def _json_safe(value: object) -> object:
    """NaN and infinities as null, as JSON has no other spelling for them (and JavaScript's ports write null)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def _emit(value: object) -> None:
    line = json.dumps(_json_safe(value), sort_keys=True, ensure_ascii=False, allow_nan=False)
    sys.stdout.buffer.write(line.encode("utf-8") + b"\n")
    sys.stdout.flush()


def _texts(given: Sequence[str]) -> list[str]:
    """The arguments, or a JSON array of strings on stdin (never a wait on a terminal)."""
    if given:
        return list(given)
    if sys.stdin.isatty():
        raise UsageError("give texts as arguments or a JSON array of strings on stdin")
    try:
        parsed = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        raise UsageError("give texts as arguments or a JSON array of strings on stdin")
    return parsed


def _corpus(path: Path) -> list[str]:
    try:
        parsed = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        parsed = None
    if not isinstance(parsed, list) or not all(isinstance(t, str) for t in parsed):
        raise UsageError(f"{path} is not a readable JSON array of texts")
    return parsed


def _golden_scores(args: argparse.Namespace) -> list[list[float]]:
    bundle = open_bundle(args.bundle)
    dim = bundle.settings.dim

    def vectors(entry: dict) -> np.ndarray:
        return np.asarray(entry["vectors"], dtype=np.float32).reshape(-1, dim)

    documents = [vectors(e) for e in bundle.golden.documents]
    return [[maxsim(vectors(q), d) for d in documents] for q in bundle.golden.queries]


def _tokenize(args: argparse.Namespace) -> list[dict]:
    bundle = open_bundle(args.bundle)
    tokenizer, buckets, is_query = bundle.tokenizer, bundle.settings.io.buckets, args.query
    rows = []
    for text in _texts(args.texts):
        ids, mask = tokenizer.encode([text], is_query)
        row = {"input_ids": ids[0].tolist(), "attention_mask": mask[0].tolist(),
               "kept_positions": np.flatnonzero(tokenizer.keep(ids, mask, is_query)[0]).tolist()}
        if buckets:
            row["bucket"] = bundle.settings.io.bucket_for(ids.shape[1], is_query)[0]
        rows.append(row)
    return rows


def _selftest(args: argparse.Namespace) -> tuple[dict, bool]:
    from . import load

    runtime = load(args.bundle, threads=args.threads or 0)
    report = self_test(runtime, runtime.golden)
    metrics = report.metrics
    return {"passed": report.passed, "idsExact": not report.id_mismatches, "idMismatches": report.id_mismatches,
            "cosineMin": metrics.get("cosine_min"), "cosineMean": metrics.get("cosine_mean"),
            "maxsimRelativeErrorMax": metrics.get("maxsim_rel_err_max"),
            "maxsimRelativeErrorP99": metrics.get("maxsim_rel_err_p99"),
            "top10Agreement": metrics.get("top10_agreement"), "failures": report.failures}, report.passed


def _search(args: argparse.Namespace) -> dict:
    from . import build_index, load

    corpus = _corpus(args.corpus)
    runtime = load(args.bundle, threads=args.threads or 0)
    if args.index is not None and args.index.is_file():
        index = load_index(args.index, runtime.model_digest)
        if index.metadata != corpus:
            raise IndexFileError(f"{args.index} was built for another corpus; delete it to rebuild", "other_model")
    else:
        index = build_index(runtime, corpus)
        if args.index is not None:
            index.save(args.index)
    started = time.perf_counter()
    (query,) = runtime.encode_queries([args.query])
    hits = index.search(query, args.k)
    milliseconds = (time.perf_counter() - started) * 1000
    return {"hits": [{"index": h.index, "score": h.score, "text": corpus[h.index]} for h in hits],
            "milliseconds": milliseconds}


def _run(args: argparse.Namespace) -> int:
    if args.command == "verify":
        from . import load

        load(args.bundle, threads=args.threads or 0)
        print(f"OK {open_bundle(args.bundle).name}", flush=True)
        return 0
    if args.command == "scores":
        _emit(_golden_scores(args))
    elif args.command == "preprocess":
        _emit([open_bundle(args.bundle).tokenizer.preprocess(t) for t in _texts(args.texts)])
    elif args.command == "tokenize":
        _emit(_tokenize(args))
    elif args.command == "selftest":
        report, passed = _selftest(args)
        _emit(report)
        return 0 if passed else EXIT_FAILED
    elif args.command == "search":
        _emit(_search(args))
    else:
        return run_index(args.bundle, args.corpus, args.out, options_from(args), threads=args.threads or 0)
    return 0


def main(argv: list[str] | None = None) -> int:
    try:
        return _run(_parser().parse_args(argv))
    except (BundleError, IndexFileError) as e:
        print(f"error: {e.kind}: {first_line(e)}", file=sys.stderr)
        return EXIT_FAILED
    except InputPastBound as e:  # an input, not a bundle: bad input
        print(f"error: {e.kind}: {first_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except (UsageError, CorpusError) as e:
        print(f"error: {first_line(e)}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
