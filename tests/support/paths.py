"""Where the repository and the shared corpus are."""

from __future__ import annotations

from pathlib import Path

import os

import pytest

REPO = Path(__file__).resolve().parents[2]


def _find_corpus() -> Path:
    """$PYBPF_SHARED/corpus, else shared/corpus beside the checkout or beside one of its parents."""
    if os.environ.get("PYBPF_SHARED"):
        return Path(os.environ["PYBPF_SHARED"]) / "corpus"
    for parent in REPO.parents:
        if (parent / "shared" / "corpus").is_dir():
            return parent / "shared" / "corpus"
    return REPO.parent / "shared" / "corpus"


CORPUS = _find_corpus()
DATA = REPO / "tests" / "data"


def corpus_dir(name: str) -> Path:
    """A directory of ../shared/corpus, or skip the test saying it is missing."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(f"shared corpus not found at {path}")
    return path
