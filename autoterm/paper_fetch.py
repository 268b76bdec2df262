"""Find the authors' published runs: a local folder, or a cached download of the upstream repo.

Makarova et al. (2022) released their raw BO runs in the GitHub repository
``amazon-research/bo-early-stopping`` (Apache-2.0): ``bo_runs_cv/<name>/NNN.csv`` (one BO run
per file), ``regrets_identity_cv_top0.5/<name>/NNN.csv`` (their logged regret bound) and
``result_identity_cv_top0.5.csv`` (their stop decisions), somewhere below the repository root.
:func:`resolve_paper_runs` returns a folder laid out like ``../shared/paper-runs`` (the layout
:func:`autoterm.paper_runs.import_paper_runs` reads): the local folder when it holds
``bo_runs_cv``, else the cache of a previous download, else it downloads the repository archive
at a pinned commit (GitHub's ``/archive/<commit>.tar.gz``), verifies it is a gzip tar, extracts
only those folders and that table into the cache, and marks the cache complete last, so an
interrupted download is never taken for a finished one. Offline, it fails with one line naming
the two ways out (a local copy, or a machine that can reach GitHub).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path, PurePosixPath

from autoterm.paper_runs import BO_DIR, REGRETS_DIR, PaperRunsError

log = logging.getLogger(__name__)

UPSTREAM_REPO = "amazon-research/bo-early-stopping"
UPSTREAM_COMMIT = "cffd7d367b5a3fc2abd1ba045300bb5aae29459b"
"""The commit ``../shared/paper-runs`` was taken from (2022-09-20, "add citation")."""
RESULT_TABLE = "result_identity_cv_top0.5.csv"
COMPLETE = ".complete.json"
_CHUNK = 1 << 20


def archive_url(repo: str = UPSTREAM_REPO, commit: str = UPSTREAM_COMMIT) -> str:
    """The URL of the repository's source archive at ``commit``."""
    return f"https://github.com/{repo}/archive/{commit}.tar.gz"


def default_cache_dir() -> Path:
    """``$AUTOTERM_CACHE`` or ``datasets/`` (where OpenML downloads are cached too)."""
    return Path(os.environ.get("AUTOTERM_CACHE") or "datasets")


def is_paper_runs_dir(path: Path) -> bool:
    """Whether ``path`` holds a ``bo_runs_cv`` folder with at least one run folder."""
    bo = Path(path) / BO_DIR
    return bo.is_dir() and any(p.is_dir() for p in bo.iterdir())


def cached_copy(cache_dir: Path, commit: str = UPSTREAM_COMMIT) -> Path:
    """The folder a download of ``commit`` is extracted to."""
    return Path(cache_dir) / f"paper-runs-{commit[:12]}"


def resolve_paper_runs(
    local: str | Path | None,
    *,
    download: bool = True,
    cache_dir: str | Path | None = None,
    url: str | None = None,
    commit: str = UPSTREAM_COMMIT,
    timeout: float = 60.0,
) -> Path:
    """A folder of the authors' runs: ``local`` if it has them, else a cached or fresh download.

    Args:
        local: a folder laid out like ``../shared/paper-runs`` (``None`` or missing: download).
        download: allow the download when ``local`` does not hold the runs.
        cache_dir: where downloads are kept (default :func:`default_cache_dir`).
        url: the archive to fetch (default :func:`archive_url` of ``commit``).
        commit: the upstream commit (names the cache folder).
        timeout: seconds without data before the download gives up.

    Returns:
        The folder holding ``bo_runs_cv`` (and ``regrets_identity_cv_top0.5`` when available).

    Raises:
        PaperRunsError: no local copy and no download allowed, or the download failed (offline,
            HTTP error, not a tar archive, no ``bo_runs_cv`` inside).
    """
    if local is not None and is_paper_runs_dir(Path(local)):
        return Path(local)
    cache = cached_copy(Path(cache_dir) if cache_dir else default_cache_dir(), commit)
    if (cache / COMPLETE).exists() and is_paper_runs_dir(cache):
        log.info("authors' runs: using the cached download %s", cache)
        return cache
    where = f"{local} holds no {BO_DIR}/" if local is not None else "no local folder given"
    if not download:
        raise PaperRunsError(
            f"{where} and downloading is off; pass a folder laid out like ../shared/paper-runs "
            "(--paper-runs DIR) or allow the download (--download)"
        )
    log.info("authors' runs: %s; downloading %s at %s", where, UPSTREAM_REPO, commit[:12])
    return fetch_paper_runs(cache, url or archive_url(commit=commit), timeout=timeout)


def fetch_paper_runs(dest: Path, url: str, *, timeout: float = 60.0) -> Path:
    """Download the archive at ``url`` and extract the authors' runs into ``dest``.

    Only members below a ``bo_runs_cv/`` or ``regrets_identity_cv_top0.5/`` folder and the
    result table are extracted, with the path up to that folder dropped, so ``dest`` gets the
    layout of ``../shared/paper-runs``. ``dest`` is replaced only once the extraction succeeded.

    Args:
        dest: the cache folder to fill.
        url: an ``http(s)://`` or ``file://`` URL of a ``.tar.gz`` archive.
        timeout: seconds without data before giving up.

    Returns:
        ``dest``.

    Raises:
        PaperRunsError: the download or the extraction failed (one line with the reason).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=dest.parent, prefix=f".{dest.name}.") as tmp:
        archive = Path(tmp) / "archive.tar.gz"
        sha = _download(url, archive, timeout)
        staging = Path(tmp) / "extract"
        counts = _extract(archive, staging, url)
        (staging / COMPLETE).write_text(
            json.dumps(
                {"url": url, "sha256": sha, "files": counts, "fetched": time.strftime("%F %T")},
                indent=1,
            )
            + "\n"
        )
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
    log.info(
        "authors' runs: %d run files, %d bound files -> %s",
        counts[BO_DIR],
        counts[REGRETS_DIR],
        dest,
    )
    return dest


def _download(url: str, path: Path, timeout: float) -> str:
    """Stream ``url`` to ``path``; the SHA-256 of the bytes."""
    h = hashlib.sha256()
    done, last = 0, time.monotonic()
    req = urllib.request.Request(url, headers={"User-Agent": "autoterm"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp, path.open("wb") as fh:
            total = int(resp.headers.get("Content-Length") or 0)
            while chunk := resp.read(_CHUNK):
                fh.write(chunk)
                h.update(chunk)
                done += len(chunk)
                if time.monotonic() - last > 5:
                    last = time.monotonic()
                    of = f" of {total / 1e6:.1f}" if total else ""
                    log.info("downloading: %.1f%s MB", done / 1e6, of)
    except urllib.error.HTTPError as exc:
        raise PaperRunsError(
            f"cannot download {url}: HTTP {exc.code} {exc.reason}; check the repository and "
            "commit, or pass a local copy (--paper-runs DIR)"
        ) from exc
    except (urllib.error.URLError, OSError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PaperRunsError(
            f"cannot download {url} ({reason}): offline? Pass a local copy of the authors' runs "
            "(--paper-runs DIR, laid out like ../shared/paper-runs) or run once where GitHub is "
            "reachable (the download is cached)"
        ) from exc
    log.info("downloaded %.1f MB from %s", done / 1e6, url)
    return h.hexdigest()


def _extract(archive: Path, staging: Path, url: str) -> dict[str, int]:
    """Extract the runs, bounds and result table of ``archive`` into ``staging``."""
    counts = {BO_DIR: 0, REGRETS_DIR: 0, RESULT_TABLE: 0}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for m in tar:
                rel = _relative(m.name)
                if rel is None or not m.isfile():
                    continue
                target = staging.joinpath(*rel.parts)
                target.parent.mkdir(parents=True, exist_ok=True)
                src = tar.extractfile(m)
                assert src is not None
                with src, target.open("wb") as out:
                    shutil.copyfileobj(src, out)
                counts[rel.parts[0]] += 1
    except (tarfile.TarError, EOFError, OSError) as exc:
        raise PaperRunsError(f"{url} is not a readable .tar.gz archive ({exc})") from exc
    if not counts[BO_DIR]:
        raise PaperRunsError(
            f"{url} holds no {BO_DIR}/<name>/NNN.csv files; is it the authors' repository?"
        )
    return counts


def _relative(name: str) -> PurePosixPath | None:
    """The member's path from its ``bo_runs_cv``/``regrets_…`` folder on (``None``: skip it)."""
    p = PurePosixPath(name)
    if p.is_absolute() or ".." in p.parts:
        return None
    for i, part in enumerate(p.parts):
        if part in (BO_DIR, REGRETS_DIR) and len(p.parts) - i == 3:
            return PurePosixPath(*p.parts[i:])  # <dir>/<run name>/NNN.csv[.gz]
    if p.name == RESULT_TABLE:
        return PurePosixPath(RESULT_TABLE)
    return None
