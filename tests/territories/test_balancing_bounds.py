"""The lower-bound formulas of docs/balancing.md §2 on hand-made cases whose answers are known."""

from __future__ import annotations

import numpy as np
import pytest

from territories.balancing import Problem, measure_bound, moves_lower_bound, problem_bounds
from territories.balancing.bounds import min_feasible_share


def test_count_bound_is_the_ceiling_over_the_mean():
    b = measure_bound(np.ones(10), 3)
    assert b.max_load_lb == 4 and b.min_load_ub == 3
    assert b.max_dev_lb == pytest.approx((4 - 10 / 3) / (10 / 3))  # 20 %


def test_count_bound_is_zero_when_counts_divide():
    assert measure_bound(np.ones(12), 3).max_dev_lb == 0


def test_a_whale_above_the_mean_sets_the_bound():
    # Mean 8; the whale alone is 10 (25 % over); the other territory gets at most 16 - 10 = 6.
    b = measure_bound(np.array([10.0, 1, 1, 1, 1, 1, 1]), 2)
    assert b.max_load_lb == 10
    assert b.min_load_ub == 6
    assert b.max_dev_lb == pytest.approx(0.25)


def test_with_exact_counts_the_whale_is_topped_up_with_the_smallest_atoms():
    # 7 atoms into 2 territories hold 3 or 4 each: the whale's territory is at least 10 + 1 + 1.
    b = measure_bound(np.array([10.0, 1, 1, 1, 1, 1, 1]), 2, min_atoms=3)
    assert b.max_load_lb == 12
    assert b.max_dev_lb == pytest.approx(0.5)


def test_pigeonhole_bound_pairs_the_largest_atoms():
    # Three atoms of 5 into two territories: two share one, so the max is at least 10.
    b = measure_bound(np.array([5.0, 5.0, 5.0]), 2)
    assert b.max_load_lb == 10
    assert b.max_dev_lb == pytest.approx(10 / 7.5 - 1)


def test_integer_values_round_the_bound_outwards():
    b = measure_bound(np.array([3.0, 3.0, 3.0, 2.0]), 2)  # mean 5.5, loads are whole numbers
    assert b.max_load_lb == 6 and b.min_load_ub == 5


def test_two_whales_share_the_small_atoms():
    # Whales 10 and 10 with eight 1s into 3 territories of at least 3 atoms: the two whale
    # territories hold at least 20 + four 1s between them, so one weighs at least 12.
    b = measure_bound(np.array([10.0, 10.0] + [1.0] * 8), 3, min_atoms=3)
    assert b.max_load_lb == 12


def test_bound_is_never_above_a_real_optimum_found_by_brute_force():
    rng = np.random.default_rng(3)
    for _ in range(20):
        w = np.round(rng.pareto(1.2, 8) * 10 + 1, 2)
        k = 3
        assign = np.array(np.meshgrid(*[range(k)] * 8, indexing="ij")).reshape(8, -1).T
        loads = np.stack([np.bincount(a, weights=w, minlength=k) for a in assign])
        best = (np.abs(loads - w.sum() / k).max(axis=1) / (w.sum() / k)).min()
        assert measure_bound(w, k).max_dev_lb <= best + 1e-12


def test_min_feasible_share_is_the_whale_over_the_band_ceiling():
    values = np.array([30.0] + [10.0] * 17)  # total 200, 4 territories: mean 50, ceiling 55
    assert min_feasible_share(values, 4, 0.10, 50.0) == pytest.approx(30 / 55)


def test_moves_bound_counts_departures_and_arrivals():
    w = np.ones((8, 1))
    start = np.array([0, 0, 0, 0, 0, 0, 1, 1])  # 6 and 2 around a mean of 4
    lo = np.full((2, 1), 4.0)
    hi = np.full((2, 1), 4.0)
    assert moves_lower_bound(w, start, lo, hi, np.ones(8, dtype=bool)) == (2, True)


def test_moves_bound_couples_count_and_value():
    # Counts are right (4 and 4) but values are 4 and 12 around a mean of 8: two 3s must go
    # one way and, to keep counts, two 1s the other way: 4 moves.
    values = np.array([1.0, 1, 1, 1, 3, 3, 3, 3])
    w = np.stack([np.ones(8), values], axis=1)
    start = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    mean = np.array([4.0, 8.0])
    lo = np.tile(0.9 * mean, (2, 1))
    hi = np.tile(1.1 * mean, (2, 1))
    assert moves_lower_bound(w, start, lo, hi, np.ones(8, dtype=bool)) == (4, True)


def test_moves_bound_reports_infeasible_when_locked_atoms_cannot_leave():
    w = np.ones((6, 1))
    start = np.array([0, 0, 0, 0, 0, 1])
    lo = np.full((2, 1), 3.0)
    hi = np.full((2, 1), 3.0)
    movable = np.array([False] * 5 + [True])
    assert moves_lower_bound(w, start, lo, hi, movable)[1] is False


def test_problem_bounds_are_per_segment():
    w = np.stack([np.ones(6), [9.0, 1, 1, 1, 1, 1]], axis=1)
    p = Problem(w, ("count", "value"), 3, segment=np.array([0, 0, 0, 1, 1, 1]), seats=(1, 2))
    b = problem_bounds(p, tolerance=0.1, exact_counts=True)
    assert b.per_segment[0][1].max_dev_lb == 0  # one territory: nothing to balance
    assert b.per_segment[1][0].max_dev_lb == pytest.approx(2 / 1.5 - 1)  # 3 atoms into 2
