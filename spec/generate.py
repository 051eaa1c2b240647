"""Writes spec/conformance/ from Hugging Face `tokenizers` itself and from spec/oracle.py, deterministically.

    python -m spec.generate --mxbai-tokenizer ../shared/fixtures/mxbai-edge-colbert-v0/tokenizer.json \\
        --minilm-tokenizer CHECKPOINT/tokenizer.json

Every expected value (preprocessed texts, the ids around the tokenizer's, kept positions and buckets, MaxSim
scores and ranks, golden-rule metrics and failures, index files and their hits) comes from spec/oracle.py,
written from spec/bundle.md's text, not from the runtime it tests; it imports nothing from `export`.

The MiniLM tokenizer is the one in the trained MiniLM ColBERT that PyLate saves (tests/checkpoints.py), and
so in every bundle exported from it: PyLate adds its [unused0]/[unused1] prefixes as added tokens, which
changes the ids of texts that spell them out.

tests/test_spec.py runs it into a temporary directory and fails on any byte of difference from the
committed files, so a change of `tokenizers` (pinned in pyproject.toml), of Python's Unicode tables, of
the oracle or of the gate's texts it reads (export/texts/gate.json) shows up as a diff to review. Tokenizer
files are named by sha256, never copied. The runtime's ColbertSettings and IoSpec only shape the tokenize
headers' `settings` as colbert.json has them.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import random
import string
import sys
from dataclasses import asdict
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer, normalizers, pre_tokenizers

from runtimes.colbert import ColbertSettings
from runtimes.iospec import Bucket, IoSpec
from spec import oracle

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "spec" / "conformance"
SURROGATES = range(0xD800, 0xE000)  # not Unicode scalar values: no UTF-8 text holds them
INDEX_DIGEST = hashlib.sha256(b"mxbai-edge conformance index").hexdigest()  # stands for a bundle's model digest


def dumps(value) -> str:
    return json.dumps(value, ensure_ascii=True, separators=(",", ":"), sort_keys=True)  # ASCII: no line breaks but \n


def write_jsonl(path: Path, header: dict, cases: list[dict]) -> None:
    path.write_text("".join(dumps(line) + "\n" for line in [{"header": header}, *cases]), encoding="utf-8")


def sha256_file(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


# ---------------------------------------------------------------- the parity gate's texts, as data

# Read from export/texts/gate.json as a file, so that the vectors depend on no code of the exporter. They take the
# five lists format 1's vectors took; the gate grows through its other lists (MORE_QUERIES, MORE_DOCUMENTS), which
# the vectors leave out. An edit of these five changes spec/conformance: tests/test_spec.py shows it as a diff.
GATE = json.loads((ROOT / "export" / "texts" / "gate.json").read_text(encoding="utf-8"))
QUERIES, EDGE_QUERIES, DOCUMENTS, EDGE_DOCUMENTS, TEXT_EDGES = (
    GATE[name] for name in ("QUERIES", "EDGE_QUERIES", "DOCUMENTS", "EDGE_DOCUMENTS", "TEXT_EDGES"))


def long_documents() -> list[str]:
    """As export/gate/parity_texts.long_documents composes them: past the 128-token window (the first six documents,
    and ten more), and past any document_length up to 2048 (all of them three times)."""
    return [" ".join(DOCUMENTS[:6]), " ".join(DOCUMENTS[20:30]), " ".join(DOCUMENTS * 3)]


# ---------------------------------------------------------------- texts

SPECIAL_TEXTS = [
    "[CLS] [SEP] [MASK] [PAD] [UNK] [Q] [D] [unused0] [unused1] [UNUSED1] <|padding|> |||IP_ADDRESS||| <s> </s>",
    "[MASK][MASK] a[MASK]b [Q][D] [cls] [Sep]", "a  [MASK]  b", "[Q] starts", "ends [D] ", "[D]", "[MASK]",
    "|||EMAIL_ADDRESS||| |||PHONE_NUMBER|||", "<|endoftext|> <|padding|>x",
]
SPACE_TEXTS = [" ", "  ", " " * 40, "\t", "\n", "\r\n", " a", "a ", "a  b", "a" + " " * 30 + "b", "  a  b  ",
               "\u00a0", "\u3000x\u3000", "x\u2003\u2003y", "\u200b", "\ufeff", " \u0301", "a\u0301 ", "\x1c\x1d"]
EDGE_WORDS = ["Honey", "bee", "HIVE", "don't", "I'd", "'S", "3.14159", "π", "ΣΙΣΥΦΟΣ", "İstanbul", "ß", "ǅ", "Å",
              "café", "cafe\u0301", "東京", "日本語", "한국어", "العربية", "हिन्दी", "🙂", "👩\u200d👩\u200d👧",
              "🏳️\u200d🌈", "👋🏽", "...", "?!", "(a)", "$5", "--", "\x00", "\x07", "\x7f", "\u00ad", "\ue000", "\U0010fffd"]


def random_plane_text(rng: random.Random) -> str:
    """A few code points drawn from one plane (assigned or not), surrogates excluded."""
    plane = rng.randrange(17)
    points = []
    while len(points) < rng.randint(1, 12):
        c = plane * 0x10000 + rng.randrange(0x10000)
        if c not in SURROGATES:
            points.append(chr(c))
    return "".join(points)


def random_word_text(rng: random.Random) -> str:
    return " ".join(rng.choice(EDGE_WORDS) for _ in range(rng.randint(0, 12)))


# combining marks old and new: normalizers that disagree on a mark's combining class reorder them differently
MARKS = ["\u0301", "\u0308", "\u0323", "\u0334", "\u0345", "\u05b0", "\u0b3c", "\u0eba", "\u07fd", "\u0898",
         "\u08ca", "\u09fe", "\u0c3c", "\u0d3b", "\u1715", "\u1ac1", "\u1dfa", "\u10efd", "\u1e08f", "\u0b47\u0b3e"]


def random_mark_text(rng: random.Random) -> str:
    return "".join(rng.choice(["a", "e", "\u0b15", "\u0e81", "\u03b1", " "] + MARKS) for _ in range(rng.randint(1, 8)))


def long_texts() -> list[str]:
    """Past 128 tokens, and past every document_length (512 for mxbai, 256 for MiniLM)."""
    base = " ".join(DOCUMENTS)
    return [base[:700], base[:1500], base, "word " * 600, "東京" * 400, "🙂" * 300, "a" * 3000,
            "punctuation, " * 300]


def gate_texts() -> list[str]:
    """The parity gate's texts as format 1 froze them; the gate has more since, which the vectors leave out."""
    return QUERIES + EDGE_QUERIES + TEXT_EDGES + DOCUMENTS + EDGE_DOCUMENTS + TEXT_EDGES + long_documents()


def texts(seed: int, count: int = 3000) -> list[str]:
    rng = random.Random(seed)
    fixed = (gate_texts() + SPECIAL_TEXTS + SPACE_TEXTS + [""]
             + long_texts())
    out = list(dict.fromkeys(fixed))
    while len(out) < count:
        roll = rng.random()
        out.append(random_plane_text(rng) if roll < 0.45 else random_word_text(rng) if roll < 0.9 else random_mark_text(rng))
    return out


# ---------------------------------------------------------------- preprocessing and tokenization

SKIPLIST_WORDS = list(string.punctuation)  # PyLate's default skiplist: the 32 ASCII punctuation characters


def python_whitespace() -> list[int]:
    """strip_codepoints: the code points Python's str.strip() removes (spec/bundle.md step 1: its 29)."""
    points = [c for c in range(sys.maxunicode + 1) if chr(c).isspace()]
    assert len(points) == 29, points
    return points


def settings_for(tokenizer: Path, *, query_prefix: str, document_prefix: str, query_length: int,
                 document_length: int, do_query_expansion: bool, attend_to_expansion_tokens: bool,
                 do_lower_case: bool, mask_token: str, dim: int) -> ColbertSettings:
    """colbert.json as the exporter writes it for these PyLate settings, with the buckets of TFLite/Core ML."""
    tok = Tokenizer.from_file(str(tokenizer))
    words = SKIPLIST_WORDS
    document_buckets = [n for n in (128, 256) if n < document_length] + [document_length]
    buckets = {"encode_query": Bucket("query", query_length),
               **{f"encode_document_{n}": Bucket("document", n) for n in document_buckets}}
    return ColbertSettings(
        query_prefix=query_prefix, document_prefix=document_prefix,
        query_prefix_id=tok.token_to_id(query_prefix) if query_prefix else None,
        document_prefix_id=tok.token_to_id(document_prefix) if document_prefix else None,
        query_length=query_length, document_length=document_length, do_query_expansion=do_query_expansion,
        attend_to_expansion_tokens=attend_to_expansion_tokens, do_lower_case=do_lower_case,
        strip_codepoints=python_whitespace(), skiplist_words=list(words),
        skiplist_ids=sorted({i for w in words if (i := tok.token_to_id(w)) is not None}),
        mask_token_id=tok.token_to_id(mask_token), pad_token_id=tok.token_to_id(mask_token), dim=dim,
        io=IoSpec.encoder(dim, "int32", 1, document_length, buckets=buckets))


def tokenize_case(tokenizer: Tokenizer, settings: dict, text: str) -> dict:
    """The text alone as a query and as a document: ids from `tokenizers`, the rest from the oracle."""
    return {"text": text, "query": oracle.tokenize(tokenizer, settings, text, True),
            "document": oracle.tokenize(tokenizer, settings, text, False)}


def write_tokenize(name: str, tokenizer_name: str, path: Path, settings: ColbertSettings, seed: int, out: Path) -> None:
    tokenizer, colbert_json = oracle.load_tokenizer(path), asdict(settings)
    header = {"about": "Each text tokenised alone as a query and as a document with these settings "
                       "(colbert.json); the bucket is the one a bucketed target (TFLite, Core ML) runs it through.",
              "tokenizer": tokenizer_name, "tokenizer_sha256": sha256_file(path), "settings": colbert_json}
    write_jsonl(out / f"tokenize-{name}.jsonl", header, [tokenize_case(tokenizer, colbert_json, t) for t in texts(seed)])


def sigma_contexts(rng: random.Random) -> list[str]:
    """A capital sigma beside letters the final-sigma rule takes as cased, or skips, across all planes: where
    a platform's Unicode is older or newer than Python's, its rule differs on exactly these."""
    classes = {c["class"]: c["ranges"] for c in char_classes() if "class" in c}
    texts = []
    for name in ("python_cased", "python_case_ignorable"):
        points = [p for first, last in classes[name] for p in range(first, last + 1)]
        for ch in map(chr, sorted(rng.sample(points, 400))):
            texts += [f"{ch}\u03a3", f"A{ch}\u03a3", f"A\u03a3{ch}", f"\u03a3{ch} b"]
    return texts


def write_preprocess(out: Path) -> None:
    strip = python_whitespace()
    rng = random.Random(3)
    pool = [t for t in texts(2) if len(t) < 400] + [
        "".join(rng.choice(EDGE_WORDS + SPACE_TEXTS + ["Σ", "ΑΣ", "ΣΑ", "Σ.", "İ", "ẞ", "Ω", "K"])
                for _ in range(rng.randint(1, 8))) for _ in range(1000)]
    pool += sigma_contexts(random.Random(4))
    cases = [{"text": t, "lowercase": oracle.preprocess(t, strip, True), "cased": oracle.preprocess(t, strip, False)}
             for t in pool]
    header = {"about": "Preprocessing (spec/bundle.md step 1 and 2): strip strip_codepoints from both ends, then "
                       "lowercase with Python's str.lower when do_lower_case. `lowercase`: do_lower_case true; "
                       "`cased`: false.", "strip_codepoints": strip}
    write_jsonl(out / "preprocess.jsonl", header, cases)


MXBAI = dict(query_prefix="[Q] ", document_prefix="[D] ", query_length=48, document_length=512,
             do_query_expansion=False, attend_to_expansion_tokens=False, do_lower_case=True, mask_token="[MASK]",
             dim=48)
MXBAI_VARIANT = {**MXBAI, "query_prefix": "", "query_length": 32, "do_query_expansion": True,
                 "attend_to_expansion_tokens": True, "do_lower_case": False}
MINILM = dict(query_prefix="[unused0]", document_prefix="[unused1]", query_length=32, document_length=256,
              do_query_expansion=True, attend_to_expansion_tokens=False, do_lower_case=True, mask_token="[MASK]",
              dim=128)


# ---------------------------------------------------------------- character classes

def ranges(points: list[int]) -> list[list[int]]:
    """Sorted code points as inclusive [first, last] runs."""
    out: list[list[int]] = []
    for c in points:
        if out and out[-1][1] == c - 1:
            out[-1][1] = c
        else:
            out.append([c, c])
    return out


def every_scalar():
    return (c for c in range(sys.maxunicode + 1) if c not in SURROGATES)


def char_classes() -> list[dict]:
    """Per code point behaviour of the components a port implements, measured on tokenizers itself."""
    clean = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=False, strip_accents=False, lowercase=False)
    chinese = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=True, strip_accents=False, lowercase=False)
    strip = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=True, lowercase=False)
    lower = normalizers.BertNormalizer(clean_text=False, handle_chinese_chars=False, strip_accents=False, lowercase=True)
    bert = pre_tokenizers.BertPreTokenizer()
    byte_level = pre_tokenizers.Split(  # the ByteLevel pre-tokenizer's own regex, without its byte mapping
        pattern=__import__("tokenizers").Regex(r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"),
        behavior="isolated")
    classes: dict[str, list[int]] = {k: [] for k in (
        "bert_removed", "bert_whitespace", "bert_chinese", "bert_accent", "bert_split_whitespace", "bert_punctuation",
        "bytelevel_letter", "bytelevel_number", "bytelevel_whitespace", "nfc_combining", "python_case_ignorable",
        "python_cased")}
    nfc = normalizers.NFC()
    mappings: dict[str, list] = {"bert_lowercase": [], "python_lower": []}
    for c in every_scalar():
        ch = chr(c)
        cleaned = clean.normalize_str(f"a{ch}a")
        if cleaned == "aa":
            classes["bert_removed"].append(c)
        elif cleaned == "a a" and ch != " ":
            classes["bert_whitespace"].append(c)
        if chinese.normalize_str(ch) == f" {ch} ":
            classes["bert_chinese"].append(c)
        if strip.normalize_str(ch) == "":
            classes["bert_accent"].append(c)
        pieces = [p for p, _ in bert.pre_tokenize_str(f"a{ch}a")]
        if pieces == ["a", "a"]:
            classes["bert_split_whitespace"].append(c)
        elif pieces == ["a", ch, "a"]:
            classes["bert_punctuation"].append(c)
        if len(byte_level.pre_tokenize_str(f"a{ch}")) == 1:
            classes["bytelevel_letter"].append(c)
        elif len(byte_level.pre_tokenize_str(f"1{ch}")) == 1:
            classes["bytelevel_number"].append(c)
        elif len(byte_level.pre_tokenize_str(f"!{ch}")) == 2 and len(byte_level.pre_tokenize_str(f"{ch}{ch}")) == 1:
            classes["bytelevel_whitespace"].append(c)
        if nfc.normalize_str(f"\u0345{ch}") == f"{ch}\u0345":  # reordered before U+0345 (class 240)
            classes["nfc_combining"].append(c)
        if (lowered := lower.normalize_str(ch)) != ch:
            mappings["bert_lowercase"].append([c, lowered])
        if (lowered := ch.lower()) != ch:
            mappings["python_lower"].append([c, lowered])
        final_after_it = f"{ch}\u03a3".lower().endswith("\u03c2")  # the final-sigma rule sees a cased letter
        if not final_after_it and f"A{ch}\u03a3".lower().endswith("\u03c2"):
            classes["python_case_ignorable"].append(c)
        elif final_after_it:
            classes["python_cased"].append(c)
    about = {
        "bert_removed": "BertNormalizer clean_text drops it (control characters, U+0000, U+FFFD)",
        "bert_whitespace": "BertNormalizer clean_text turns it into a space (U+0020 itself left out)",
        "bert_chinese": "BertNormalizer handle_chinese_chars puts a space on each side",
        "bert_accent": "BertNormalizer strip_accents removes it (after NFD, a nonspacing mark)",
        "bert_split_whitespace": "BertPreTokenizer splits on it and drops it",
        "bert_punctuation": "BertPreTokenizer splits it off as a token of its own",
        "bytelevel_letter": "\\p{L} in the ByteLevel pre-tokenizer's regex",
        "bytelevel_number": "\\p{N} in that regex (and not \\p{L})",
        "bytelevel_whitespace": "\\s in that regex",
        "nfc_combining": "the NFC normalizer gives it a canonical combining class between 1 and 239 (it is reordered "
                         "before U+0345): tokenizers' tables predate marks that newer Unicode has",
        "python_case_ignorable": "Python str.lower's final-sigma rule skips it (Case_Ignorable) when it looks for a "
                                 "cased letter before and after a capital sigma",
        "python_cased": "that rule takes it as a cased letter (Cased, and not Case_Ignorable)",
    }
    out = [{"class": name, "about": about[name], "ranges": ranges(points)} for name, points in classes.items()]
    out += [{"mapping": "bert_lowercase", "about": "BertNormalizer lowercase: code point -> text, where it changes",
             "pairs": mappings["bert_lowercase"]},
            {"mapping": "python_lower", "about": "preprocessing's lowercase (Python str.lower) per code point, "
             "where it changes; in context a final capital sigma becomes U+03C2 (preprocess.jsonl)",
             "pairs": mappings["python_lower"]}]
    return out


def write_char_classes(out: Path) -> None:
    header = {"about": "Every Unicode scalar value (surrogates excluded), measured on Hugging Face tokenizers "
                       "and Python; a class lists inclusive [first, last] ranges, a mapping [code point, text] pairs.",
              "tokenizers": __import__("tokenizers").__version__, "python_unicode": __import__("unicodedata").unidata_version}
    write_jsonl(out / "charclasses.jsonl", header, char_classes())


# ---------------------------------------------------------------- scoring

def exact_vectors(rng: np.random.Generator, n: int, dim: int) -> np.ndarray:
    """Multiples of 1/8 in [-1, 1]: every dot product and sum is exact in fp32, so scores and ties are too."""
    return (rng.integers(-8, 9, size=(n, dim)) / 8).astype(np.float32)


def scoring_cases() -> list[dict]:
    rng = np.random.default_rng(11)
    cases = []
    for n, dim in enumerate((2, 4, 8, 16, 48, 64, 128) * 3):
        query = exact_vectors(rng, int(rng.integers(0, 9)), dim)
        documents = [exact_vectors(rng, int(rng.integers(0, 12)), dim) for _ in range(int(rng.integers(1, 15)))]
        if n % 3 == 0 and len(documents) > 2:  # exact ties: a document repeated later in the corpus
            documents[-1] = documents[0].copy()
        scores = [oracle.maxsim(query, d) for d in documents]
        k = int(rng.integers(1, len(documents) + 2))
        cases.append({"name": f"seeded-{n}", "dim": dim, "query": query.tolist(), "documents": [d.tolist() for d in documents],
                      "maxsim": scores, "k": k, "rank": oracle.rank(scores, k)})
    tie = [[1.0, 0.0]]
    cases.append({"name": "all-equal", "dim": 2, "query": tie, "documents": [tie, tie, tie], "maxsim": [1.0, 1.0, 1.0],
                  "k": 2, "rank": [0, 1]})
    cases.append({"name": "negative-best", "dim": 2, "query": [[1.0, 0.0]], "documents": [[[-1.0, 0.0], [-0.5, 0.0]]],
                  "maxsim": [-0.5], "k": 1, "rank": [0]})
    return cases


def write_scoring(out: Path) -> None:
    header = {"about": "MaxSim (sum over query vectors of the best dot product with any document vector, fp32; 0 when "
                       "either side has no vectors) and rank (best first, equal scores in corpus order, at most k). "
                       "The values are exact in fp32, so scores compare exactly."}
    write_jsonl(out / "scoring.jsonl", header, scoring_cases())


# ---------------------------------------------------------------- golden rule

GOLDEN_DIM = 2


def golden_vectors(rows: list) -> np.ndarray:
    return np.asarray(rows, np.float32).reshape(-1, GOLDEN_DIM)


def golden_entry(text: str, vectors: list[list[float]]) -> dict:
    """golden.json's entry; its ids are placeholders (rule 1 is the tokenization vectors' business)."""
    n = len(vectors)
    return {"text": text, "input_ids": list(range(1, n + 1)), "attention_mask": [1] * n,
            "kept_positions": list(range(n)), "vectors": vectors}


def golden_case(name: str, about: str, queries: list, documents: list, encoded_queries: list,
                encoded_documents: list, tolerance: dict, top_k: int | None = None) -> dict:
    """One case: golden.json's fields from reference vectors, the vectors a port encoded, and rule 2 to 5's answer."""
    reference = [[oracle.maxsim(golden_vectors(q), golden_vectors(d)) for d in documents] for q in queries]
    golden = {"queries": [golden_entry(f"query {n}", q) for n, q in enumerate(queries)],
              "documents": [golden_entry(f"document {n}", d) for n, d in enumerate(documents)],
              "scores": reference, "tolerance": {m: {"op": op, "value": v} for m, (op, v) in tolerance.items()}}
    if top_k is not None:
        golden["top_k"] = top_k
    case = {"name": name, "about": about, "dim": GOLDEN_DIM, "golden": golden,
            "encoded": {"queries": encoded_queries, "documents": encoded_documents}}
    parsed = oracle.read_golden(json.loads(dumps(golden)))  # golden.json as a port reads it
    try:
        metrics = oracle.golden_metrics(parsed, [golden_vectors(q) for q in encoded_queries],
                                        [golden_vectors(d) for d in encoded_documents])
    except oracle.VectorCountError:
        return {**case, "error": "vector_count"}
    return {**case, "metrics": metrics, "failures": oracle.failures(parsed, metrics)}


def golden_cases() -> list[dict]:
    """Hand-made cases of the rule's edges; the generator asserts the values each was made to show."""
    x = lambda *values: [[v, 0.0] for v in values]  # noqa: E731  vectors along one axis: exact fp32 products
    cases = [
        golden_case("floor-below-one", "expected 0.0625, got 0.0703125: the error is taken against 1, not 0.0625",
                    [x(0.25)], [x(0.25)], [x(0.25)], [x(0.28125)], {"maxsim_rel_err_max": ("<=", 0.01)}),
        golden_case("floor-at-one-and-above", "expected 1 and 4: errors 0.0625 / 1 and 0.03125 / 4",
                    [x(1, 1, 1, 1)], [x(0.25), x(1)], [x(1, 1, 1, 1)], [x(0.265625), x(1.0078125)],
                    {"maxsim_rel_err_max": ("<=", 0.05), "maxsim_rel_err_p99": ("<=", 0.0625)}),
        golden_case("negative-scores", "expected -0.5 and -2: |expected| floored at 1; a bound met exactly holds",
                    [x(1, 1)], [x(-0.25), x(-1)], [x(1, 1)], [x(-0.21875), x(-0.9375)],
                    {"maxsim_rel_err_max": ("<=", 0.0625)}),
        golden_case("percentile-interpolation", "eleven errors: p99 interpolates between the two largest",
                    [x(1)], [x(1 + j / 8) for j in range(11)], [x(1)], [x(1 + j / 8 + j / 256) for j in range(11)],
                    {"maxsim_rel_err_p99": ("<=", 0.01), "maxsim_rel_err_max": ("<=", 0.05)}),
        golden_case("fp16-tier-tail", "the fp16 tier's MaxSim bounds: one pair of 101 off by 2^-7, the rest by "
                    "2^-10; p99 is the second largest, so the one pair is held by the max's bound alone",
                    [x(1)], [x(2)] * 101, [x(1)], [x(2 + 2 ** -9)] * 100 + [x(2 + 2 ** -6)],
                    {"maxsim_rel_err_p99": ("<=", 3e-3), "maxsim_rel_err_max": ("<=", 1e-2)}),
        golden_case("top-k-ties", "equal expected scores rank in corpus order; top_k 2 of 4 documents",
                    [x(1)], [x(2), x(2), x(1), x(0.5)], [x(1)], [x(1), x(2), x(2), x(0.5)],
                    {"top10_agreement": (">=", 0.99)}, top_k=2),
        golden_case("top-k-absent", "no top_k: k is 10, at most the documents (4)",
                    [x(1)], [x(2), x(2), x(1), x(0.5)], [x(1)], [x(1), x(2), x(2), x(0.5)],
                    {"top10_agreement": (">=", 0.99)}),
        golden_case("zero-vector", "an encoded zero vector has cosine 0 (norms floored at 1e-12), not NaN",
                    [x(1)], [[[0.6, 0.8]]], [x(1)], [[[0.0, 0.0]]],
                    {"cosine_min": (">=", 0.999), "cosine_mean": (">=", 0.9999)}),
        golden_case("cosines", "cosine_min and cosine_mean over every kept vector of every text",
                    [[[1.0, 0.0], [0.0, 1.0]]], [[[0.6, 0.8]]], [[[1.0, 0.0], [0.125, 1.0]]], [[[0.6, 0.8]]],
                    {"cosine_min": (">=", 0.99), "cosine_mean": (">=", 0.99)}),
        golden_case("vector-count", "a text encoded to more vectors than golden.json holds cannot be compared",
                    [x(1)], [x(1)], [x(1)], [x(1, 1)], {"cosine_min": (">=", 0.999)}),
        golden_case("no-documents", "no documents: no scores, agreement 1", [x(1)], [], [x(1)], [],
                    {"top10_agreement": (">=", 0.99), "maxsim_rel_err_max": ("<=", 0.005)}),
        golden_case("empty", "no texts: cosines 1, errors 0, agreement 1", [], [], [], [],
                    {"cosine_min": (">=", 0.999), "top10_agreement": (">=", 0.99)}),
    ]
    by_name = {c["name"]: c for c in cases}
    assert by_name["floor-below-one"]["metrics"]["maxsim_rel_err_max"] == 0.0078125
    assert by_name["floor-at-one-and-above"]["metrics"]["maxsim_rel_err_max"] == 0.0625
    assert by_name["floor-at-one-and-above"]["failures"] == ["maxsim_rel_err_max"]
    assert by_name["negative-scores"]["failures"] == [] and by_name["negative-scores"]["metrics"]["maxsim_rel_err_max"] == 0.0625
    assert by_name["fp16-tier-tail"]["metrics"]["maxsim_rel_err_p99"] == 2 ** -10
    assert by_name["fp16-tier-tail"]["metrics"]["maxsim_rel_err_max"] == 2 ** -7 and not by_name["fp16-tier-tail"]["failures"]
    assert by_name["top-k-ties"]["metrics"]["top10_agreement"] == 0.5
    assert by_name["top-k-absent"]["metrics"]["top10_agreement"] == 1.0
    assert by_name["zero-vector"]["metrics"]["cosine_min"] == 0.0
    assert by_name["vector-count"]["error"] == "vector_count"
    assert by_name["empty"]["metrics"] == {"cosine_min": 1.0, "cosine_mean": 1.0, "maxsim_rel_err_max": 0.0,
                                          "maxsim_rel_err_p99": 0.0, "top10_agreement": 1.0}
    return cases


def write_golden(out: Path) -> None:
    header = {"about": "Golden rule steps 2 to 5 (spec/bundle.md): golden.json's fields, the vectors a port encoded "
                       "(dim 2) and the rule's metrics, or error vector_count where the counts differ. failures "
                       "names each metric whose bound is missed, sorted. Metrics compare within 1e-12."}
    write_jsonl(out / "golden.jsonl", header, golden_cases())


# ---------------------------------------------------------------- bad bundles

BAD_BUNDLES = [
    ("model-byte-flipped", {"op": "flip_byte", "file": "$artifact_file", "offset": -100}, False, "tampered"),
    ("tokenizer-byte-flipped", {"op": "flip_byte", "file": "tokenizer.json", "offset": 1000}, False, "tampered"),
    ("colbert-json-edited", {"op": "set_json", "file": "colbert.json", "path": ["query_length"], "value": 7}, False,
     "tampered"),
    ("golden-missing", {"op": "delete", "file": "golden.json"}, False, "missing_file"),
    ("tokenizer-missing", {"op": "delete", "file": "tokenizer.json"}, False, "missing_file"),
    ("model-missing", {"op": "delete", "file": "$artifact"}, False, "missing_file"),
    ("manifest-missing", {"op": "delete", "file": "manifest.json"}, False, "not_a_bundle"),
    ("unlisted-file", {"op": "write", "file": "notes.txt", "text": "x"}, False, "unlisted_file"),
    ("unknown-format-version", {"op": "set_json", "file": "manifest.json", "path": ["format"], "value": 99}, False,
     "unknown_format"),
    ("format-version-missing", {"op": "delete_json", "file": "manifest.json", "path": ["format"]}, False,
     "unknown_format"),
    ("format-version-a-string", {"op": "set_json", "file": "manifest.json", "path": ["format"], "value": "1"}, False,
     "unknown_format"),
    ("manifest-not-json", {"op": "write", "file": "manifest.json", "text": "{\"format\": 1,"}, False, "malformed"),
    ("manifest-files-mistyped", {"op": "set_json", "file": "manifest.json", "path": ["files"], "value": []}, False,
     "mistyped_field"),
    ("unknown-target", {"op": "set_json", "file": "manifest.json", "path": ["target"], "value": "abacus"}, False,
     "unknown_target"),
    ("colbert-json-malformed", {"op": "write", "file": "colbert.json", "text": "{\"query_prefix\": "}, True,
     "malformed"),
    ("colbert-json-truncated", {"op": "truncate", "file": "colbert.json", "bytes": 200}, True, "malformed"),
    ("colbert-json-field-missing", {"op": "delete_json", "file": "colbert.json", "path": ["dim"]}, True, "malformed"),
    ("query-length-a-string", {"op": "set_json", "file": "colbert.json", "path": ["query_length"], "value": "48"},
     True, "mistyped_field"),
    ("lowercase-flag-a-number", {"op": "set_json", "file": "colbert.json", "path": ["do_lower_case"], "value": 1},
     True, "mistyped_field"),
    ("max-sequence-null", {"op": "set_json", "file": "colbert.json", "path": ["io", "max_sequence"], "value": None},
     True, "mistyped_field"),
    ("skiplist-ids-strings", {"op": "set_json", "file": "colbert.json", "path": ["skiplist_ids"], "value": ["15"]},
     True, "mistyped_field"),
    ("golden-not-json", {"op": "write", "file": "golden.json", "text": "[1, 2"}, True, "malformed"),
    ("golden-scores-mistyped", {"op": "set_json", "file": "golden.json", "path": ["scores"], "value": "high"}, True,
     "mistyped_field"),
    ("tokenizer-not-json", {"op": "truncate", "file": "tokenizer.json", "bytes": 5000}, True, "malformed"),
    ("unknown-normalizer", {"op": "set_json", "file": "tokenizer.json", "path": ["normalizer"],
                            "value": {"type": "Lowercase"}}, True, "unknown_tokenizer_component"),
    ("unknown-pre-tokenizer", {"op": "set_json", "file": "tokenizer.json", "path": ["pre_tokenizer"],
                               "value": {"type": "Whitespace"}}, True, "unknown_tokenizer_component"),
    ("unknown-model", {"op": "set_json", "file": "tokenizer.json", "path": ["model", "type"], "value": "Unigram"},
     True, "unknown_tokenizer_component"),
    ("unknown-post-processor", {"op": "set_json", "file": "tokenizer.json", "path": ["post_processor"],
                                "value": {"type": "ByteLevel"}}, True, "unknown_tokenizer_component"),
    ("model-not-a-model", {"op": "write", "file": "$artifact_file", "text": "not a model, a bad copy"}, True,
     "unreadable_model"),
]


def write_bad_bundles(out: Path) -> None:
    header = {"about": "Mutations of a bundle that verifies, each with the error kind every reader reports on "
                       "opening it (spec/bundle.md, 'Errors' and 'Bad-bundle mutations'). With rehash, the "
                       "manifest's sha256 of every file is recomputed after the mutation, so only the reader's own "
                       "checks of the content can catch it."}
    cases = [{"name": name, "mutation": mutation, "rehash": rehash, "error": error}
             for name, mutation, rehash, error in BAD_BUNDLES]
    write_jsonl(out / "bad-bundles.jsonl", header, cases)


# ---------------------------------------------------------------- index file

def write_index(out: Path) -> None:
    rng = np.random.default_rng(5)
    dim = 16
    documents = [exact_vectors(rng, int(rng.integers(0, 10)), dim) for _ in range(40)]
    documents[7] = documents[3].copy()  # an exact tie
    metadata = [{"id": f"doc-{n}", "text": f"document {n}"} for n in range(len(documents))]
    queries = [exact_vectors(rng, int(rng.integers(1, 8)), dim) for _ in range(12)]
    files = {}
    for dtype in ("float32", "float16"):
        name = f"small-{dtype}.cbindex"
        (out / name).write_bytes(oracle.index_bytes(documents, metadata, INDEX_DIGEST, dtype, dim))
        files[dtype] = {"file": name, "sha256": sha256_file(out / name)}
    cases = []
    for n, (q, k) in enumerate(zip(queries, [1, 3, 5, 10, 40, 50] * 2)):
        hits = oracle.search(q, documents, k, "float32")
        assert hits == oracle.search(q, documents, k, "float16")  # 1/8 steps are exact in fp16 too: one answer for both
        cases.append({"name": f"query-{n}", "query": q.tolist(), "k": k,
                      "hits": [{"index": i, "score": score} for i, score in hits]})
    mutations = [
        {"name": "truncated", "op": "truncate", "bytes": 1000, "error": "corrupt"},
        {"name": "header-only", "op": "truncate", "bytes": 80, "error": "corrupt"},
        {"name": "vector-byte-flipped", "op": "flip_byte", "offset": 600, "error": "corrupt"},
        {"name": "checksum-byte-flipped", "op": "flip_byte", "offset": -1, "error": "corrupt"},
        {"name": "extended", "op": "append", "bytes": 4, "error": "corrupt"},
        {"name": "not-an-index", "op": "flip_byte", "offset": 0, "error": "corrupt"},
        {"name": "unknown-version", "op": "set_u32", "offset": 8, "value": 99, "error": "unknown_version"},
        {"name": "other-model", "op": "expect_digest", "value": hashlib.sha256(b"another model").hexdigest(),
         "error": "other_model"},
    ]
    header = {"about": "Index files (spec/bundle.md, 'Index file') of seeded vectors, searched by MaxSim; scores are "
                       "exact in fp32. Each mutation of the float32 file gives its error kind on loading.",
              "files": files, "model_digest": INDEX_DIGEST, "dim": dim, "documents": len(documents),
              "metadata": metadata, "mutations": mutations}
    write_jsonl(out / "index.jsonl", header, cases)


# ---------------------------------------------------------------- compressed index file

def compressed_layout(dim: int, bits: int, n: int, v: int, k: int, p: int) -> dict[str, int]:
    """Each section's offset, as the spec's tables place them (the header 128 bytes, every section at 64)."""
    sizes = [("centroids", k * dim * 2), ("buckets", ((1 << bits) * 2 - 1) * 4), ("offsets", (n + 1) * 8),
             ("codes", v * 2), ("residuals", v * dim * bits // 8), ("list_offsets", (k + 1) * 8), ("lists", p * 4)]
    at, out = 128, {}
    for name, size in sizes:
        out[name] = at
        at = -(-(at + size) // 64) * 64
    out["metadata"] = at
    return out


EXACT_SQUARED_LENGTHS = (1 / 4, 1.0, 4.0, 16.0)  # lengths 1/2, 1, 2 and 4: dividing by them is exact


def exact_length_buckets(rng: np.random.Generator, centroid: np.ndarray, weights: np.ndarray) -> list[int]:
    """Bucket numbers whose decompressed vector (centroid + weights, values in 1/8 steps, each at most 3/2 in
    magnitude) has a squared length in EXACT_SQUARED_LENGTHS: its length, and every value divided by it, are then
    exact in fp32."""
    allowed = [np.flatnonzero(np.abs(c + weights) <= 1.5) for c in centroid]
    for _ in range(200):
        buckets = np.stack([a[rng.integers(0, len(a), size=4096)] for a in allowed], axis=1)
        squared = ((centroid + weights[buckets]).astype(np.float64) ** 2).sum(axis=1)
        hits = np.flatnonzero(np.isin(squared, EXACT_SQUARED_LENGTHS))
        if len(hits):
            return [int(b) for b in buckets[hits[0]]]
    raise AssertionError("no bucket draw gave an exact length: widen EXACT_SQUARED_LENGTHS or the weights")


def write_compressed_index(out: Path) -> None:
    """Three compressed files (4, 2 and 8 bits) of 40 documents over 16 centroids, drawn as codes and bucket
    numbers: centroids and weights in 1/8 steps, each vector's length a power of two (or 0), make every
    decompressed value, dot product and score exact in fp32, so ports agree to the bit on probes, candidates and
    hits. Centroids 3 and 4 are equal, so their scores tie: the probes' tie rule decides cases (asserted below),
    and so does nprobe."""
    rng = np.random.default_rng(23)
    dim, k, n = 16, 16, 40
    centroids = (rng.integers(-2, 3, size=(k, dim)) / 8).astype(np.float32)
    centroids[4] = centroids[3]  # tied centroid scores for every query vector
    centroids[7] = 0  # its vectors' values are the weights themselves; one of them is the zero vector
    counts = [int(rng.integers(0, 10)) for _ in range(n)]
    counts[11] = 0  # a document without vectors: in no list, never a hit
    counts[9] = max(counts[9], 2)
    codes = [[int(c) for c in rng.integers(0, k, size=count)] for count in counts]
    codes[5] = [6] * counts[5]  # a document of one centroid
    codes[9][0] = 7  # the zero vector's document
    metadata = [{"id": f"doc-{i}", "text": f"document {i}"} for i in range(n)]
    queries = [exact_vectors(rng, int(rng.integers(1, 8)), dim) for _ in range(12)]
    queries += [np.concatenate([centroids[3:4], exact_vectors(rng, 2, dim)]), np.zeros((0, dim), np.float32)]
    settings = [(10, None, None), (3, None, None), (10, 1, 1), (40, 8, 40), (5, 3, 10), (10, 1, 40), (1, 2, 2)]
    files, cases, mutations = {}, [], []
    for bits in (4, 2, 8):
        levels = 1 << bits
        if bits == 8:
            weights = np.arange(-128, 128) / 8  # every 1/8 step in [-16, 16)
        else:
            others = [w for w in np.arange(-12, 13) / 8 if w != 0]
            weights = np.sort(np.concatenate([[0.0], rng.choice(others, size=levels - 1, replace=False)]))
        cutoffs = [(a + b) / 2 for a, b in zip(weights, weights[1:])]
        book = oracle.Codebook(centroids, cutoffs, [float(w) for w in weights], bits, nprobe=2, candidates=6)
        codes_b = [list(c) for c in codes]
        buckets_b = [[exact_length_buckets(rng, centroids[c], weights) for c in doc] for doc in codes_b]
        buckets_b[9][0] = [int(np.flatnonzero(weights == 0)[0])] * dim  # centroid 7 plus zeros: the zero vector
        codes_b[29], buckets_b[29] = list(codes_b[17]), list(buckets_b[17])  # an exact tie, at every step
        name = f"small-compressed-{bits}bit.cbindex"
        data = oracle.compressed_index_bytes(codes_b, buckets_b, book, metadata, INDEX_DIGEST)
        (out / name).write_bytes(data)
        files[f"{bits}bit"] = {"file": name, "sha256": sha256_file(out / name), "bits": bits,
                               "nprobe": book.nprobe, "candidates": book.candidates}
        swapped = [[{3: 4, 4: 3}.get(c, c) for c in doc] for doc in codes_b]  # the probes' ties broken upward
        decided_by_ties = decided_by_nprobe = 0
        for i, query in enumerate(queries):
            top, nprobe, candidates = settings[i % len(settings)]
            nprobe, candidates = nprobe or book.nprobe, candidates or book.candidates
            hits = oracle.compressed_search(query, codes_b, buckets_b, book, top, nprobe, candidates)
            decided_by_ties += hits != oracle.compressed_search(query, swapped, buckets_b, book, top, nprobe,
                                                                candidates)
            decided_by_nprobe += hits != oracle.compressed_search(query, codes_b, buckets_b, book, top, k,
                                                                  candidates)
            case = {"name": f"{bits}bit-query-{i}", "file": f"{bits}bit", "query": query.tolist(), "k": top,
                    "hits": [{"index": d, "score": float(score)} for d, score in hits]}
            if settings[i % len(settings)][1] is not None:
                case |= {"nprobe": nprobe, "candidates": candidates}
            cases.append(case)
        assert decided_by_ties and decided_by_nprobe, (bits, decided_by_ties, decided_by_nprobe)
        if bits == 4:
            v, p = sum(counts), sum(len({d for d in range(n) if c in codes_b[d]}) for c in range(k))
            at = compressed_layout(dim, bits, n, v, k, p)
            assert sum(0 in doc for doc in codes_b) >= 2  # lists[0] and lists[1] are both centroid 0's
            mutations = [
                {"name": "truncated", "op": "truncate", "bytes": 1000, "error": "corrupt"},
                {"name": "header-only", "op": "truncate", "bytes": 128, "error": "corrupt"},
                {"name": "residual-byte-flipped", "op": "flip_byte", "offset": at["residuals"] + 3, "error": "corrupt"},
                {"name": "checksum-byte-flipped", "op": "flip_byte", "offset": -1, "error": "corrupt"},
                {"name": "extended", "op": "append", "bytes": 4, "error": "corrupt"},
                {"name": "not-an-index", "op": "flip_byte", "offset": 0, "error": "corrupt"},
                {"name": "unknown-version", "op": "set_u32", "offset": 8, "value": 99, "error": "unknown_version"},
                {"name": "before-normalising", "op": "set_u32", "offset": 8, "value": 2, "rehash": True,
                 "error": "unknown_version"},
                {"name": "three-bits", "op": "set_u32", "offset": 16, "value": 3, "error": "corrupt"},
                {"name": "no-centroids", "op": "set_u32", "offset": 80, "value": 0, "error": "corrupt"},
                {"name": "nprobe-zero", "op": "set_u32", "offset": 84, "value": 0, "error": "corrupt"},
                {"name": "code-past-centroids", "op": "set_u16", "offset": at["codes"], "value": k, "rehash": True,
                 "error": "corrupt"},
                {"name": "listed-document-past-corpus", "op": "set_u32", "offset": at["lists"],
                 "value": n, "rehash": True, "error": "corrupt"},
                {"name": "list-not-ascending", "op": "set_u32", "offset": at["lists"] + 4,
                 "value": 0, "rehash": True, "error": "corrupt"},
                {"name": "cutoff-not-finite", "op": "set_u32", "offset": at["buckets"], "value": 0x7F800000,
                 "rehash": True, "error": "corrupt"},
                {"name": "offsets-out-of-order", "op": "set_u32", "offset": at["offsets"] + 8, "value": 1000,
                 "rehash": True, "error": "corrupt"},
                {"name": "other-model", "op": "expect_digest", "value": hashlib.sha256(b"another model").hexdigest(),
                 "error": "other_model"},
            ]
    header = {"about": "Compressed index files (spec/bundle.md, 'Compressed index file') of seeded codes and "
                       "buckets, searched in five steps; every value is exact in fp32 (each decompressed vector's "
                       "length is 0 or a power of two), so hits and scores compare exactly. A case without nprobe and candidates uses the file's. Each mutation of the 4-bit "
                       "file gives its error kind on loading; with rehash, the file's last 32 bytes are then "
                       "set to the sha256 of every byte before them. set_u16 and set_u32 write little-endian.",
              "files": files, "model_digest": INDEX_DIGEST, "dim": dim, "documents": n, "metadata": metadata,
              "mutations": mutations}
    write_jsonl(out / "compressed-index.jsonl", header, cases)


def generate(mxbai: Path, minilm: Path, out: Path = OUT) -> None:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_preprocess(out)
    write_tokenize("mxbai", "mxbai-edge-colbert-v0", mxbai, settings_for(mxbai, **MXBAI), 1, out)
    write_tokenize("mxbai-variant", "mxbai-edge-colbert-v0", mxbai, settings_for(mxbai, **MXBAI_VARIANT), 2, out)
    write_tokenize("minilm", "all-MiniLM-L6-v2, saved by PyLate", minilm, settings_for(minilm, **MINILM), 3, out)
    write_char_classes(out)
    write_scoring(out)
    write_golden(out)
    write_bad_bundles(out)
    write_index(out)
    write_compressed_index(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mxbai-tokenizer", type=Path, required=True)
    parser.add_argument("--minilm-tokenizer", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    generate(args.mxbai_tokenizer, args.minilm_tokenizer, args.out)


if __name__ == "__main__":
    main()
