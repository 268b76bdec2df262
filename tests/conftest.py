"""Shared fixtures: the offline dataset cache and a tidy Hydra state."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def shared_datasets_dir() -> Path | None:
    """``../shared/datasets`` (or the first ``AUTOTERM_DATA_DIRS`` entry holding a catalog)."""
    candidates = [ROOT.parent / "shared" / "datasets"]
    candidates += [Path(p) for p in os.environ.get("AUTOTERM_DATA_DIRS", "").split(os.pathsep) if p]
    for c in candidates:
        if (c / "catalog.json").exists():
            return c.resolve()
    return None


@pytest.fixture
def shared_data(monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point ``AUTOTERM_DATA_DIRS`` at the shared offline datasets (skip if absent)."""
    d = shared_datasets_dir()
    if d is None:
        pytest.skip("../shared/datasets not found; set AUTOTERM_DATA_DIRS")
    monkeypatch.setenv("AUTOTERM_DATA_DIRS", str(d))
    return d


@pytest.fixture(autouse=True)
def _clear_hydra():
    """Leave no initialised GlobalHydra behind a test."""
    yield
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
