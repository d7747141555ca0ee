"""Generated instances for ``bench/balancing.py`` (seeded, so every figure can be reproduced).

* accounts with log-normal or Pareto values (real sales universes are skewed: a few accounts
  carry much of the value);
* clustered coordinates (metro areas);
* CTDP-like instances after the published recipe for the commercial territory design problem
  (Ríos-Mercado & Fernández, 2009): points uniform in a 1000 x 1000 square, three activity
  measures uniform on the integers of [4, 20], [15, 400] and [15, 100], Delaunay adjacency,
  tolerance 5 %;
* drifted owners: a territory map that was balanced once and drifted (for continuity runs).

Run it to print a summary of each generator.
"""

from __future__ import annotations

import numpy as np


def lognormal_values(n: int, *, seed: int = 0, sigma: float = 1.5) -> np.ndarray:
    """``(n,)`` values with a log-normal spread (median 1)."""
    return np.random.default_rng(seed).lognormal(0.0, sigma, n)


def pareto_values(n: int, *, seed: int = 0, alpha: float = 1.16) -> np.ndarray:
    """``(n,)`` values with a Pareto tail (alpha 1.16 is the "80/20" law), minimum 1."""
    return np.random.default_rng(seed).pareto(alpha, n) + 1.0


def count_value(values: np.ndarray) -> np.ndarray:
    """``(n, 2)`` measures: a count of 1 per account and its value."""
    return np.stack([np.ones(values.size), values], axis=1)


def ctdp(n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """CTDP-like instance: ``(coords (n, 2), measures (n, 3))``."""
    rng = np.random.default_rng(seed)
    coords = rng.uniform(0.0, 1000.0, (n, 2))
    w = np.stack(
        [rng.integers(4, 21, n), rng.integers(15, 401, n), rng.integers(15, 101, n)], axis=1
    ).astype(np.float64)
    return coords, w


def clustered_points(n: int, *, seed: int = 0, clusters: int = 12) -> np.ndarray:
    """``(n, 2)`` points around ``clusters`` metro centres of different sizes, plus 10 % rural."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(100, 900, (clusters, 2))
    weight = rng.pareto(1.2, clusters) + 1
    urban = int(n * 0.9)
    which = rng.choice(clusters, urban, p=weight / weight.sum())
    spread = rng.uniform(10, 60, clusters)[which]
    pts = centres[which] + rng.normal(0, 1, (urban, 2)) * spread[:, None]
    rural = rng.uniform(0, 1000, (n - urban, 2))
    return np.concatenate([pts, rural])


def drifted_owners(n: int, k: int, *, seed: int = 0, drift: float = 0.12) -> np.ndarray:
    """``(n,)`` owners: each territory's share of atoms drawn around ``1/k`` with a log-normal
    factor (``drift`` = its sigma): some territories are 20-40 % over, others under."""
    rng = np.random.default_rng(seed + 1)
    f = rng.lognormal(0.0, drift, k)
    return rng.choice(k, n, p=f / f.sum())


def _summary() -> None:
    v = lognormal_values(100_000)
    p = pareto_values(100_000)
    coords, w = ctdp(500)
    print(
        "lognormal  top 1 % of accounts hold",
        f"{np.sort(v)[-1000:].sum() / v.sum():.0%}",
        "of value",
    )
    print(
        "pareto     top 1 % of accounts hold",
        f"{np.sort(p)[-1000:].sum() / p.sum():.0%}",
        "of value",
    )
    print(
        "ctdp       measure means",
        w.mean(axis=0).round(1),
        "in a",
        coords.max(axis=0).round(),
        "box",
    )
    print("clustered ", clustered_points(1000).shape, "points")


if __name__ == "__main__":
    _summary()
