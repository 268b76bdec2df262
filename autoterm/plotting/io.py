"""Writing figures: PDF (vector, for the paper) and PNG (for the README), each atomically."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from matplotlib.figure import Figure

#: PNG resolution (dots per inch): sharp at single-column width on screens.
PNG_DPI = 200


def save_figure(
    fig: Figure, path_stem: str | Path, *, formats: tuple[str, ...] = ("pdf", "png")
) -> list[Path]:
    """Write ``<path_stem>.pdf`` and ``<path_stem>.png``, each through a temporary file.

    A reader never sees a half-written figure: each file is rendered to a temporary file in the
    same directory and renamed into place.

    Args:
        fig: the figure.
        path_stem: the path without extension (its directory is created if needed).
        formats: the file formats.

    Returns:
        The files written.
    """
    stem = Path(path_stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for fmt in formats:
        path = stem.parent / f"{stem.name}.{fmt}"
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
        try:
            with os.fdopen(fd, "wb") as fh:
                fig.savefig(
                    fh,
                    format=fmt,
                    dpi=PNG_DPI,
                    bbox_inches="tight",
                    pad_inches=0.02,
                    metadata={"Creator": "autoterm"} if fmt == "pdf" else None,
                )
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        out.append(path)
    return out
