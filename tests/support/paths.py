"""Where the repository and the shared corpus are."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO.parent / "shared" / "corpus"
DATA = REPO / "tests" / "data"


def corpus_dir(name: str) -> Path:
    """A directory of ../shared/corpus, or skip the test saying it is missing."""
    path = CORPUS / name
    if not path.is_dir():
        pytest.skip(f"shared corpus not found at {path}")
    return path
