"""The single Hydra entry point: a composed config in, one :func:`autoterm.runner.run` out."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Any

import hydra
from omegaconf import DictConfig, OmegaConf

from autoterm.runner import RunError, RunSpec, dataset_slug, run
from cli.config import CONF_DIR
from cli.logs import setup_logging

log = logging.getLogger("autoterm")


def spec_from_cfg(cfg: DictConfig | dict[str, Any], multirun: bool = False) -> RunSpec:
    """Turn a composed config into a :class:`RunSpec` (pure; tested without Hydra's runtime).

    In a multirun, ``threads: null`` means one thread per job, and ``out`` is the root under which
    each job writes ``<model>/<dataset>/seed=<s>``, so parallel jobs never share a directory.
    ``per_model[<model>]`` (set by presets that sweep over models) is merged over
    ``model.options``.
    """
    c = OmegaConf.to_container(cfg, resolve=True) if isinstance(cfg, DictConfig) else cfg
    model, ds, bo = c["model"], c["dataset"], dict(c["bo"])
    out = c.get("out")
    if multirun and out:
        out = str(Path(out) / model["name"] / dataset_slug(ds["name"]) / f"seed={c['seed']}")
    threads = c.get("threads")
    if threads is None and multirun:
        threads = 1
    return RunSpec(
        model=model["name"],
        dataset=str(ds["name"]),
        seed=int(c["seed"]),
        budget=int(c["budget"]),
        folds=int(c["folds"]),
        test_size=float(ds.get("test_size", 0.2)),
        n_init=int(bo.pop("n_init", 5)),
        threads=threads,
        out=out,
        results_dir=str(c.get("results_dir", "results")),
        data_dirs=[str(d) for d in c.get("data_dirs") or []],
        target=str(ds.get("target", "target")),
        task=ds.get("task"),
        max_rows=ds.get("max_rows"),
        model_options={
            **(model.get("options") or {}),
            **((c.get("per_model") or {}).get(model["name"]) or {}),
        },
        bo=bo,
        log_rules=list((c.get("stopping") or {}).get("log") or []),
        stop=(c.get("stopping") or {}).get("stop"),
        stop_knob=(c.get("stopping") or {}).get("knob"),
        warmup=(c.get("stopping") or {}).get("warmup"),
        trial_timeout=None if c.get("trial_timeout") is None else float(c["trial_timeout"]),
    )


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="config")
def hydra_main(cfg: DictConfig) -> None:
    """Run one job of a (multi)run."""
    from hydra.core.hydra_config import HydraConfig
    from hydra.types import RunMode

    setup_logging()
    multirun = HydraConfig.get().mode == RunMode.MULTIRUN
    spec = spec_from_cfg(cfg, multirun=multirun)
    limits = None
    if multirun and spec.threads is not None:  # BLAS pools already loaded: one thread per job
        from threadpoolctl import threadpool_limits

        limits = threadpool_limits(limits=spec.threads)
    try:
        run(spec)
    except RunError as exc:
        if not multirun:  # one unwrapped line, like the command line's own input errors
            print(f"Error: {exc}", file=sys.stderr, flush=True)
            sys.exit(2)
        log.error("%s", exc)
        raise
    finally:
        if limits is not None:
            limits.restore_original_limits()
