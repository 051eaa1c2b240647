"""Writes the iOS app's copy of samples/sample-corpus.json, the one sample corpus every port and test reads.

Android's Gradle build, the web page's server and the tests read samples/ directly. A SwiftPM app's resources
must sit inside its package's folder, and Xcode cannot be run here to prove a symlink would be followed, so
the iOS app keeps a copy, byte for byte. From the repository's root:

    python -m spec.sample_corpus [--check] [--root DIR]

tests/test_sample_corpus.py runs `--check` on the committed copy.
"""
from __future__ import annotations

import sys

from spec.port_files import ROOT, main

SOURCE = ROOT / "samples" / "sample-corpus.json"
IOS_COPY = "ios-demo/App/ColBERTSearch.swiftpm/Sources/Resources/SampleCorpus.json"
COMMAND = "python -m spec.sample_corpus"


def render(source: bytes) -> dict[str, bytes]:
    """The copies, by their path from the repository's root: the iOS app's only (it loads that name)."""
    return {IOS_COPY: source}


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], render(SOURCE.read_bytes()), COMMAND,
                  "Copies samples/sample-corpus.json into the iOS app's resources."))
