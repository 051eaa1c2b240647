"""Opening a bundle as spec/bundle.md says, up to (not including) loading its model."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from .colbert import ColbertSettings, ColbertTokenizer
from .golden import Golden
from .manifest import BundleError, read_manifest, verify_hashes
from .targets import TARGETS


@dataclass(frozen=True)
class OpenBundle:
    """Everything a bundle holds but its model: what tokenising and golden scoring need."""
    path: Path
    manifest: dict
    settings: ColbertSettings
    tokenizer: ColbertTokenizer
    golden: Golden

    @property
    def name(self) -> str:
        """`<target>-<precision> <model name>`, as `verify` prints it."""
        model = self.manifest.get("model") or {}
        return f"{self.manifest['target']}-{self.manifest.get('precision', '')} {model.get('name', '')}".rstrip()


def open_bundle(bundle_dir: str | Path) -> OpenBundle:
    """Manifest and format, every hash, the target, colbert.json, tokenizer.json, golden.json: in the spec's order,
    each failure a BundleError of its kind."""
    bundle_dir = Path(bundle_dir)
    manifest = read_manifest(bundle_dir)
    verify_hashes(bundle_dir, manifest)
    target = manifest.get("target")
    if target not in TARGETS:
        raise BundleError(f"{bundle_dir}: unknown target {target!r}; this runtime knows {', '.join(TARGETS)}",
                          "unknown_target")
    settings = ColbertSettings.from_file(bundle_dir / "colbert.json")
    tokenizer = ColbertTokenizer(bundle_dir / "tokenizer.json", settings)
    golden = Golden.from_file(bundle_dir / "golden.json")
    return OpenBundle(bundle_dir, manifest, settings, tokenizer, golden)
