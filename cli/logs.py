"""Logging set-up for the command line: rich on stderr, one line per event."""

from __future__ import annotations

import logging


def setup_logging(level: int | str = logging.INFO) -> None:
    """Route ``autoterm`` and ``cli`` logs to a rich handler on stderr (idempotent)."""
    from rich.console import Console
    from rich.logging import RichHandler

    root = logging.getLogger()
    if any(getattr(h, "_autoterm", False) for h in root.handlers):
        root.setLevel(level)
        return
    console = Console(stderr=True)
    if not console.is_terminal:  # logs to files / CI: no wrapping of long progress lines
        console = Console(stderr=True, width=200)
    handler = RichHandler(
        console=console,
        show_path=False,
        markup=False,
        rich_tracebacks=False,
        log_time_format="[%X]",
    )
    handler._autoterm = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    for noisy in ("matplotlib", "urllib3", "numexpr"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
