"""Search spaces: typed parameters, log scaling and the unit-cube encoding used by the GP.

Notation:
    d: number of hyperparameters (one encoded column per parameter).
    n: number of configurations.

Every parameter maps to exactly one column of the unit cube ``[0, 1]^d``:

* ``Float(low, high, log)``: affine in the value (or in ``ln`` of it when ``log``).
* ``Int(low, high, log)``: as ``Float``; only the encodings of the integers are feasible,
  so the optimiser gets the list of feasible positions (:meth:`SearchSpace.discrete_values`).
* ``Categorical(choices)``: choice ``i`` of ``k`` sits at ``i / (k - 1)``. With two choices this
  is exactly a binary indicator (equivalent to a one-hot encoding); with more, the optimiser treats
  the column as categorical (``cat_dims``) so no ordering is invented between choices.

This is the encoding of the paper (Makarova et al., 2022, Sec. 5: inputs in the unit cube,
log-scaled parameters in log space), the same as in the authors' runs, which store log-scaled
parameters as natural logarithms (``../shared/paper-runs/README.md``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy.stats import qmc

Config = dict[str, Any]


@dataclass(frozen=True)
class Float:
    """A real-valued parameter in ``[low, high]``, optionally on a log scale."""

    name: str
    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"{self.name}: low must be < high, got {self.low}, {self.high}")
        if self.log and self.low <= 0:
            raise ValueError(f"{self.name}: a log-scaled parameter needs low > 0")

    def _fwd(self, v: float) -> float:
        return math.log(v) if self.log else v

    def encode(self, value: Any) -> float:
        """Map a native value to ``[0, 1]``."""
        lo, hi = self._fwd(self.low), self._fwd(self.high)
        return (self._fwd(float(value)) - lo) / (hi - lo)

    def decode(self, u: float) -> float:
        """Map ``u`` in ``[0, 1]`` (clipped) to a native value."""
        u = min(max(float(u), 0.0), 1.0)
        if u in (0.0, 1.0):  # the bounds exactly (exp(log(low)) may be off by an ulp)
            return float(self.high if u == 1.0 else self.low)
        lo, hi = self._fwd(self.low), self._fwd(self.high)
        t = lo + u * (hi - lo)
        v = math.exp(t) if self.log else t
        return min(max(v, self.low), self.high)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "type": "float",
            "name": self.name,
            "low": self.low,
            "high": self.high,
            "log": self.log,
        }


@dataclass(frozen=True)
class Int(Float):
    """An integer parameter in ``[low, high]`` (both included), optionally on a log scale."""

    low: int
    high: int

    def decode(self, u: float) -> int:
        """Map ``u`` to the nearest feasible integer *in encoded space* (not in native units)."""
        u = min(max(float(u), 0.0), 1.0)
        v = Float.decode(self, u)
        lo, hi = max(int(self.low), math.floor(v)), min(int(self.high), math.ceil(v))
        return lo if abs(self.encode(lo) - u) <= abs(self.encode(hi) - u) else hi

    def grid(self) -> np.ndarray:
        """Encoded positions of all feasible integers, shape ``(high - low + 1,)``."""
        return np.array([self.encode(v) for v in range(int(self.low), int(self.high) + 1)])

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {**super().to_dict(), "type": "int"}


@dataclass(frozen=True)
class Categorical:
    """A categorical parameter taking one of ``choices``."""

    name: str
    choices: tuple[Any, ...]

    def __post_init__(self) -> None:
        if len(self.choices) < 2:
            raise ValueError(f"{self.name}: a categorical needs at least two choices")

    def encode(self, value: Any) -> float:
        """Position ``i / (k - 1)`` of the choice ``value``."""
        return self.choices.index(value) / (len(self.choices) - 1)

    def decode(self, u: float) -> Any:
        """The choice whose position is nearest ``u``."""
        i = int(round(min(max(float(u), 0.0), 1.0) * (len(self.choices) - 1)))
        return self.choices[i]

    def grid(self) -> np.ndarray:
        """Encoded positions of all choices, shape ``(k,)``."""
        return np.linspace(0.0, 1.0, len(self.choices))

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {"type": "categorical", "name": self.name, "choices": list(self.choices)}


Param = Float | Int | Categorical


class SearchSpace:
    """An ordered collection of parameters with a unit-cube encoding.

    Args:
        params: the parameters, in encoding column order.
    """

    def __init__(self, params: Sequence[Param]):
        names = [p.name for p in params]
        if len(set(names)) != len(names):
            raise ValueError(f"duplicate parameter names in {names}")
        self.params: tuple[Param, ...] = tuple(params)

    @property
    def dim(self) -> int:
        """Number of encoded columns ``d``."""
        return len(self.params)

    @property
    def names(self) -> list[str]:
        """Parameter names in column order."""
        return [p.name for p in self.params]

    def encode(self, configs: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Encode native configurations.

        Args:
            configs: ``n`` configurations (native units).

        Returns:
            Array of shape ``(n, d)`` in ``[0, 1]``.
        """
        out = np.empty((len(configs), self.dim), dtype=float)
        for i, c in enumerate(configs):
            for j, p in enumerate(self.params):
                out[i, j] = p.encode(c[p.name])
        return out

    def decode(self, X: np.ndarray) -> list[Config]:
        """Decode unit-cube points to native configurations (integers and choices snapped).

        Args:
            X: array of shape ``(n, d)`` (values outside ``[0, 1]`` are clipped).

        Returns:
            ``n`` configurations in native units.
        """
        X = np.atleast_2d(np.asarray(X, dtype=float))
        if X.shape[1] != self.dim:
            raise ValueError(f"expected {self.dim} columns, got {X.shape[1]}")
        return [{p.name: p.decode(x[j]) for j, p in enumerate(self.params)} for x in X]

    def snap(self, X: np.ndarray) -> np.ndarray:
        """Project unit-cube points onto the feasible set, shape ``(n, d)`` to ``(n, d)``."""
        return self.encode(self.decode(X))

    def discrete_values(self) -> dict[int, list[float]]:
        """Feasible encoded values of every integer column: ``{column: sorted values}``."""
        return {j: p.grid().tolist() for j, p in enumerate(self.params) if isinstance(p, Int)}

    def categorical_dims(self) -> dict[int, list[float]]:
        """Feasible encoded values of every categorical column: ``{column: values}``."""
        return {
            j: p.grid().tolist() for j, p in enumerate(self.params) if isinstance(p, Categorical)
        }

    def sobol(self, n: int, seed: int) -> np.ndarray:
        """The first ``n`` points of a scrambled Sobol sequence, snapped to the feasible set.

        Args:
            n: number of points.
            seed: scrambling seed.

        Returns:
            Array of shape ``(n, d)``.
        """
        sampler = qmc.Sobol(d=self.dim, scramble=True, seed=seed)
        m = max(1, math.ceil(math.log2(max(n, 1))))
        pts = sampler.random_base2(m)[:n]
        return self.snap(pts)

    def key(self, config: Mapping[str, Any]) -> tuple:
        """A hashable identity of a configuration, used to refuse duplicates."""
        return tuple(
            round(float(v), 12) if isinstance(v, float) else v
            for v in (config[n] for n in self.names)
        )

    def to_list(self) -> list[dict[str, Any]]:
        """A JSON-ready description of every parameter."""
        return [p.to_dict() for p in self.params]

    def __repr__(self) -> str:
        return f"SearchSpace({', '.join(self.names)})"


def space_from_list(items: Sequence[Mapping[str, Any]]) -> SearchSpace:
    """Rebuild a :class:`SearchSpace` from :meth:`SearchSpace.to_list` output (``run.json``)."""
    params: list[Param] = []
    for it in items:
        kind = it["type"]
        if kind == "float":
            params.append(Float(it["name"], float(it["low"]), float(it["high"]), bool(it["log"])))
        elif kind == "int":
            params.append(Int(it["name"], int(it["low"]), int(it["high"]), bool(it["log"])))
        elif kind == "categorical":
            params.append(Categorical(it["name"], tuple(it["choices"])))
        else:
            raise ValueError(f"unknown parameter type {kind!r} in a stored search space")
    return SearchSpace(params)
