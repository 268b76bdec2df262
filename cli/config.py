"""Where the Hydra config tree lives and what its groups offer."""

from __future__ import annotations

import os
from pathlib import Path

CONF_DIR = Path(
    os.environ.get("AUTOTERM_CONF_DIR")
    or Path(__file__).resolve().parents[1] / "experiments" / "conf"
)


def group_options(group: str) -> list[str]:
    """Names of the options of a config group (the ``*.yaml`` stems of its folder)."""
    return sorted(p.stem for p in (CONF_DIR / group).glob("*.yaml"))
