"""Benchmark the geography layer: unit ids, adjacency, the territory map.

    .venv/bin/python bench/geo.py [--accounts 100000] [--repeat 5]

Prints one line per measurement: the median of ``--repeat`` runs after a first (warm-up) run,
whose time is shown too. The one-off loading of the atlas and the ZIP table is timed first, on
its own.
Results go in docs/benchmarks.md under "Geography and map".
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from territories import geo  # noqa: E402
from territories.synthetic import generate_accounts  # noqa: E402


def timed(label: str, func, repeat: int) -> object:
    start = time.perf_counter()
    result = func()  # warm-up: fills caches (SVG path strings, parsed unit ids)
    first = time.perf_counter() - start
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = func()
        runs.append(time.perf_counter() - start)
    print(
        f"{label:<58} median {statistics.median(runs) * 1000:8.1f} ms"
        f"  (min {min(runs) * 1000:.1f}, max {max(runs) * 1000:.1f}, first {first * 1000:.1f})"
    )
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    start = time.perf_counter()
    geo._atlas()
    atlas_s = time.perf_counter() - start
    start = time.perf_counter()
    geo._zips()
    zips_s = time.perf_counter() - start
    print(f"{'one-off: decode the atlas':<58} {atlas_s * 1000:8.1f} ms")
    print(f"{'one-off: build the ZIP table (zipcodes import + join)':<58} {zips_s * 1000:8.1f} ms")

    accounts = generate_accounts(args.accounts, seed=0)
    split = {"CA": "county", "NY": "county", "TX": "county"}
    units = timed(
        f"unit_ids, {args.accounts:,} accounts, CA/NY/TX by county",
        lambda: geo.unit_ids(
            accounts["state"],
            accounts["postal_code"],
            accounts["city"],
            granularity_by_state=split,
        ),
        args.repeat,
    )
    timed(
        f"unit_ids, {args.accounts:,} accounts, CA by zip3, NY/TX by city",
        lambda: geo.unit_ids(
            accounts["state"],
            accounts["postal_code"],
            accounts["city"],
            granularity_by_state={"CA": "zip3", "NY": "city", "TX": "city"},
        ),
        args.repeat,
    )
    timed(
        f"postal_to_county_fips_series, {args.accounts:,} accounts",
        lambda: geo.postal_to_county_fips_series(accounts["postal_code"]),
        args.repeat,
    )

    counties = [u for s in geo.STATES for u in geo.state_units(s, "county")]
    pairs = timed(
        f"unit_adjacency, all {len(counties):,} counties",
        lambda: geo.unit_adjacency(counties),
        args.repeat,
    )
    print(f"{'':<58} {len(pairs):,} pairs")
    cities = {"CA": "city", "NY": "city", "TX": "city"}
    mixed = [u for s in geo.STATES for u in geo.state_units(s, cities.get(s, "state"))]
    timed(
        f"unit_adjacency, {len(mixed):,} units (CA/NY/TX by city, rest whole)",
        lambda: geo.unit_adjacency(mixed),
        args.repeat,
    )

    # 50 territories over the units the accounts fall in: contiguous-ish bands by centroid.
    known = sorted(u for u in set(units) if geo.is_known_unit(u))
    x, y = geo.unit_centroids(known)
    order = np.argsort(x * 3 + y)
    territory = {known[i]: int(rank * 50 // len(known)) for rank, i in enumerate(order)}
    palette = geo.territory_palette(50)
    legend = [
        geo.LegendRow(key=t, label=f"Territory {t + 1}", color=palette[t], count=1000, value=2.5e7)
        for t in range(50)
    ]
    svg = timed(
        "render_us_map_svg, 50 territories, CA/NY/TX by county",
        lambda: geo.render_us_map_svg(assignment=territory, legend=legend),
        args.repeat,
    )
    print(f"{'':<58} {len(svg) / 1024:,.0f} KiB")
    city_units = geo.unit_ids(
        accounts["state"], accounts["postal_code"], accounts["city"], granularity_by_state=cities
    )
    known = sorted(u for u in set(city_units) if geo.is_known_unit(u))
    x, y = geo.unit_centroids(known)
    order = np.argsort(x * 3 + y)
    territory = {known[i]: int(rank * 50 // len(known)) for rank, i in enumerate(order)}
    svg = timed(
        f"render_us_map_svg, 50 territories, CA/NY/TX by city ({len(known):,} units)",
        lambda: geo.render_us_map_svg(assignment=territory, legend=legend),
        args.repeat,
    )
    print(f"{'':<58} {len(svg) / 1024:,.0f} KiB")


if __name__ == "__main__":
    main()
