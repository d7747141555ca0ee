"""Territory balancing engine (pure: numpy and scipy, no Django).

Public API — see ``docs/balancing.md`` for the algorithms, bounds and guarantees::

    from territories.balancing import Problem, balance, growth_cut, metrics_for

    result = balance(problem, tolerance=0.10, seed=0)
    result.assignment            # (n,) territory index per atom
    result.metrics.as_dict()     # spread / max-dev / cv / lower bound / gap per measure, ...
"""

from territories.balancing.bounds import measure_bound, moves_lower_bound, problem_bounds
from territories.balancing.engine import balance
from territories.balancing.geo import bisect, delaunay_edges
from territories.balancing.growth import growth_cut
from territories.balancing.metrics import metrics_for
from territories.balancing.model import (
    BalancingError,
    Bounds,
    GrowthStep,
    MeasureBound,
    MeasureMetrics,
    Metrics,
    Problem,
    Result,
    TerritoryMetrics,
)

__all__ = [
    "BalancingError",
    "Bounds",
    "GrowthStep",
    "MeasureBound",
    "MeasureMetrics",
    "Metrics",
    "Problem",
    "Result",
    "TerritoryMetrics",
    "balance",
    "bisect",
    "delaunay_edges",
    "growth_cut",
    "measure_bound",
    "metrics_for",
    "moves_lower_bound",
    "problem_bounds",
]
