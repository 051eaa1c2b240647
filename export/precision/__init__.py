"""The precisions, defined once: each one's tier, its fallback and what its manifest records.

Code asks a precision's entry what to do (`TABLE[name]`) instead of comparing its name. Torch-free: the
command line, `verify` and `bench` read it without the converters.
"""
from __future__ import annotations

from dataclasses import dataclass

from runtimes.table import plural

Tier = dict[str, tuple[str, float]]  # metric -> (comparison, bound)


@dataclass(frozen=True)
class Unit:
    """What the fallback keeps, one at a time, in higher precision."""

    noun: str  # for messages: "3 layers in float"
    kept_in: str


LAYER = Unit("layer", "float")  # a Linear layer of the int8 encoder (export/precision/int8.py), ranked by sensitive_layers
BLOCK = Unit("block", "fp32")  # a block of export/precision/fp16.py in the target's fp16 form, ranked by sensitive_blocks


@dataclass(frozen=True)
class Fallback:
    """How a bundle that misses its tier, or its margin, is retried (export/pipeline.py): with the units that
    export/precision/sensitivity.py ranks most sensitive kept in higher precision."""

    unit: Unit
    field: str  # the list of what it kept, in parity.json and the manifest's details
    groups: bool = False  # then whole groups of blocks (export.precision.fp16.groups), where a ranking mispredicts the target

    def count(self, n: int) -> str:
        """"3 layers in float"."""
        return f"{plural(n, self.unit.noun)} in {self.unit.kept_in}"

    def phrase(self, kept: tuple[str, ...] | list[str], named: int = 6) -> str:
        """What it kept, naming the first `named` (parity.json and the manifest name every one)."""
        more = f" and {len(kept) - named} more" if len(kept) > named else ""
        return f"{self.count(len(kept))}: {', '.join(kept[:named])}{more}"


@dataclass(frozen=True)
class Precision:
    name: str  # --precision, the manifest's "precision", the bundle's suffix, parity.json's "tier"
    tier: Tier  # the parity gate's bounds (export/gate/parity.py)
    reduced: bool  # rounds weights or compute below fp32: Core ML then computes in fp16, TFLite quantizes
    uses_int8_encoder: bool  # the model is the int8 encoder (export/precision/int8.py), lowered the target's way
    uses_fp16_form: bool  # the target's fp16 form (export/precision/fp16.py, ExportTarget.fp16_form) applies
    fallback: Fallback | None = None

    def recorded(self, kept: tuple[str, ...], form: str) -> dict:
        """What the manifest's details record of how this precision was reached, before the target's own."""
        out = _int8_format() if self.uses_int8_encoder else {}
        if self.uses_fp16_form:
            out["fp16_form"] = form
        if self.fallback:
            out[self.fallback.field] = list(kept)
        return out


def _int8_format() -> dict:
    # export.precision.int8 needs torch, which this table must not import: only a conversion records details
    from . import int8

    return {"int8_recipe": "gptq", "int8_group": int8.GROUP}


TABLE: dict[str, Precision] = {p.name: p for p in (
    Precision("fp32", {"cosine_min": (">=", 0.99999), "maxsim_rel_err_max": ("<=", 1e-4),
                       "top10_agreement": (">=", 1.0)},
              reduced=False, uses_int8_encoder=False, uses_fp16_form=False),
    # fp16 holds the bulk of the pairs (p99) tighter than one bound on the max could, and the single worst pair only
    # loosely: over thousands of pairs that one is a bottom-ranked pair of a near-empty document, on every target
    # (spec/bundle.md, "The tiers")
    Precision("fp16", {"cosine_min": (">=", 0.999), "maxsim_rel_err_p99": ("<=", 3e-3),
                       "maxsim_rel_err_max": ("<=", 1e-2), "top10_agreement": (">=", 0.99)},
              reduced=True, uses_int8_encoder=False, uses_fp16_form=True,
              fallback=Fallback(BLOCK, "fp16_fp32_blocks", groups=True)),
    Precision("int8", {"cosine_mean": (">=", 0.995), "maxsim_rel_err_p99": ("<=", 2e-2),
                       "top10_agreement": (">=", 0.95)},
              reduced=True, uses_int8_encoder=True, uses_fp16_form=False,
              fallback=Fallback(LAYER, "int8_float_layers")),
)}
PRECISIONS = tuple(TABLE)  # the names, in the order every target builds them


def named(name: str) -> Precision:
    if name not in TABLE:
        raise ValueError(f"cannot build {name}; choose from {', '.join(TABLE)}")
    return TABLE[name]
