"""US geography for territory design: states, ZIP codes, geographic units, adjacency, the map.

Pure: no Django import. Everything works offline from two sources, loaded lazily once per process:

* ``territories/geodata/counties-albers-10m.json`` — us-atlas 3.0.1 (Census 2017 cartographic
  boundaries, ISC licence), counties and states in one topology, already projected to Albers USA
  for a 975×610 viewport with Alaska and Hawaii as insets. "Projected" coordinates below are in
  that viewport's pixels (y grows downwards).
* the ``zipcodes`` package — 42k ZIP codes with state, primary city, county name and lat/long.

Geographic units
----------------
Every account maps to exactly one *unit id*, a stable string whose first two letters are the
state (USPS abbreviation) whenever the state is known:

============  ========================  =================================================
kind          id                        meaning
============  ========================  =================================================
state         ``"CA"``                  the whole state (50 states and DC)
county        ``"CA:C06037"``           a county (5-digit FIPS; independent cities count)
zip3          ``"CA:Z940"``             the state's part of a 3-digit ZIP area
city          ``"CA:CITY:San Jose"``    a USPS primary city (spelled as in ``zipcodes``)
unknown       ``"CA:?"``                in CA, but the sub-state unit cannot be told
unknown       ``"?"`` (:data:`UNKNOWN`)  no usable state, nor a ZIP code that gives one
============  ========================  =================================================

The unknown ids are sentinels for the routing fallback; they have no geometry (NaN centroid) and
no neighbours. Only the 50 states and DC are units: Puerto Rico, the other territories and
military ZIP codes are "?" (us-atlas's Albers map does not draw them).
"""

from __future__ import annotations

import html
import json
import math
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Literal

import numpy as np
import pandas as pd

GEODATA_DIR = Path(__file__).resolve().parent / "geodata"
ATLAS_PATH = GEODATA_DIR / "counties-albers-10m.json"

# --- States -------------------------------------------------------------------------------------

# abbr, FIPS, name, Census region, Census division.
_STATE_ROWS = (
    ("AL", "01", "Alabama", "South", "East South Central"),
    ("AK", "02", "Alaska", "West", "Pacific"),
    ("AZ", "04", "Arizona", "West", "Mountain"),
    ("AR", "05", "Arkansas", "South", "West South Central"),
    ("CA", "06", "California", "West", "Pacific"),
    ("CO", "08", "Colorado", "West", "Mountain"),
    ("CT", "09", "Connecticut", "Northeast", "New England"),
    ("DE", "10", "Delaware", "South", "South Atlantic"),
    ("DC", "11", "District of Columbia", "South", "South Atlantic"),
    ("FL", "12", "Florida", "South", "South Atlantic"),
    ("GA", "13", "Georgia", "South", "South Atlantic"),
    ("HI", "15", "Hawaii", "West", "Pacific"),
    ("ID", "16", "Idaho", "West", "Mountain"),
    ("IL", "17", "Illinois", "Midwest", "East North Central"),
    ("IN", "18", "Indiana", "Midwest", "East North Central"),
    ("IA", "19", "Iowa", "Midwest", "West North Central"),
    ("KS", "20", "Kansas", "Midwest", "West North Central"),
    ("KY", "21", "Kentucky", "South", "East South Central"),
    ("LA", "22", "Louisiana", "South", "West South Central"),
    ("ME", "23", "Maine", "Northeast", "New England"),
    ("MD", "24", "Maryland", "South", "South Atlantic"),
    ("MA", "25", "Massachusetts", "Northeast", "New England"),
    ("MI", "26", "Michigan", "Midwest", "East North Central"),
    ("MN", "27", "Minnesota", "Midwest", "West North Central"),
    ("MS", "28", "Mississippi", "South", "East South Central"),
    ("MO", "29", "Missouri", "Midwest", "West North Central"),
    ("MT", "30", "Montana", "West", "Mountain"),
    ("NE", "31", "Nebraska", "Midwest", "West North Central"),
    ("NV", "32", "Nevada", "West", "Mountain"),
    ("NH", "33", "New Hampshire", "Northeast", "New England"),
    ("NJ", "34", "New Jersey", "Northeast", "Middle Atlantic"),
    ("NM", "35", "New Mexico", "West", "Mountain"),
    ("NY", "36", "New York", "Northeast", "Middle Atlantic"),
    ("NC", "37", "North Carolina", "South", "South Atlantic"),
    ("ND", "38", "North Dakota", "Midwest", "West North Central"),
    ("OH", "39", "Ohio", "Midwest", "East North Central"),
    ("OK", "40", "Oklahoma", "South", "West South Central"),
    ("OR", "41", "Oregon", "West", "Pacific"),
    ("PA", "42", "Pennsylvania", "Northeast", "Middle Atlantic"),
    ("RI", "44", "Rhode Island", "Northeast", "New England"),
    ("SC", "45", "South Carolina", "South", "South Atlantic"),
    ("SD", "46", "South Dakota", "Midwest", "West North Central"),
    ("TN", "47", "Tennessee", "South", "East South Central"),
    ("TX", "48", "Texas", "South", "West South Central"),
    ("UT", "49", "Utah", "West", "Mountain"),
    ("VT", "50", "Vermont", "Northeast", "New England"),
    ("VA", "51", "Virginia", "South", "South Atlantic"),
    ("WA", "53", "Washington", "West", "Pacific"),
    ("WV", "54", "West Virginia", "South", "South Atlantic"),
    ("WI", "55", "Wisconsin", "Midwest", "East North Central"),
    ("WY", "56", "Wyoming", "West", "Mountain"),
)
STATES: tuple[str, ...] = tuple(row[0] for row in _STATE_ROWS)
"""The 50 states and DC, by USPS abbreviation, in FIPS order."""
STATE_NAME: dict[str, str] = {row[0]: row[2] for row in _STATE_ROWS}
STATE_FIPS: dict[str, str] = {row[0]: row[1] for row in _STATE_ROWS}
FIPS_STATE: dict[str, str] = {row[1]: row[0] for row in _STATE_ROWS}
STATE_REGION: dict[str, str] = {row[0]: row[3] for row in _STATE_ROWS}
"""US Census region (Northeast, Midwest, South, West): the hierarchy's default region level."""
STATE_DIVISION: dict[str, str] = {row[0]: row[4] for row in _STATE_ROWS}
"""US Census division (New England … Pacific), nested in :data:`STATE_REGION`."""

GRANULARITIES: tuple[str, ...] = ("state", "county", "zip3", "city")
UNKNOWN = "?"

_STATE_LOOKUP: dict[str, str] = {
    **{abbr.casefold(): abbr for abbr in STATES},
    **{name.casefold(): abbr for abbr, name in STATE_NAME.items()},
    "washington dc": "DC",
    "washington d c": "DC",
    "d c": "DC",
}


def normalize_state(value: object) -> str | None:
    """USPS abbreviation for a state written as "CA", "ca", "California" or "washington, d.c.".

    Returns None for blanks, foreign regions and US territories outside the 50 states and DC.
    """
    if not isinstance(value, str):
        return None
    key = re.sub(r"[.,]", " ", value).casefold()
    key = " ".join(key.split())
    return _STATE_LOOKUP.get(key) or _STATE_LOOKUP.get(key.replace(" ", ""))


# --- ZIP codes ----------------------------------------------------------------------------------

_ZIP_RE = re.compile(r"(\d{5})(?:[-\s]?\d{4})?")


def normalize_zip5(value: object) -> str | None:
    """The 5-digit ZIP code in ``value``, or None when there is none.

    Accepts "02134", "02134-1234", "021341234", and the shapes spreadsheets make of ZIP codes:
    numbers (2134, 2134.0, "2134") lose their leading zeros, which are restored when 3 or 4
    digits remain (so "2134" is read as 02134) and for 7- or 8-digit ZIP+4 numbers.
    """
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, (int, np.integer)):
        value = int(value)
        if 100 <= value <= 99999:
            return f"{value:05d}"
        if 1_000_000 <= value <= 999_999_999:
            return f"{value:09d}"[:5]
        return None
    if isinstance(value, (float, np.floating)):
        if not math.isfinite(value) or value != int(value):
            return None
        return normalize_zip5(int(value))
    if not isinstance(value, str):
        return None
    text = value.strip()
    match = _ZIP_RE.fullmatch(text)
    if match:
        return match.group(1)
    decimal = re.fullmatch(r"(\d+)\.0*", text)
    if decimal:
        text = decimal.group(1)
    if text.isascii() and text.isdigit():
        if 3 <= len(text) <= 4:
            return text.zfill(5)
        if 7 <= len(text) <= 9:
            return text.zfill(9)[:5]
    return None


def zip3(value: object) -> str | None:
    """The 3-digit ZIP prefix of a ZIP code (any shape :func:`normalize_zip5` reads), or None."""
    zip5 = normalize_zip5(value)
    return zip5[:3] if zip5 else None


def postal_to_state(value: object) -> str | None:
    """State of a ZIP code, or None.

    ZIP codes missing from the offline table (new ones appear every year) are placed by their
    3-digit prefix when that prefix lies in a single state.
    """
    zip5 = normalize_zip5(value)
    return _zips().state_of(zip5) if zip5 else None


def postal_to_county_fips(value: object) -> str | None:
    """5-digit county FIPS code of a ZIP code's main county, or None if the ZIP is unknown.

    The county comes from ``zipcodes``'s county name joined to us-atlas by name; where the name
    does not join (blank names, renamed Alaska areas, a few names of a neighbouring state's
    county), from the county that contains the ZIP's point, in the ZIP's own state.
    """
    zip5 = normalize_zip5(value)
    if not zip5:
        return None
    row = _zips().row.get(zip5)
    return None if row is None else _zips().county[row]


def _map_unique(values: Iterable[object], func) -> np.ndarray:
    """``func`` applied to each distinct value only: object array aligned with ``values``."""
    series = values if isinstance(values, pd.Series) else pd.Series(list(values), dtype=object)
    codes, uniques = pd.factorize(series.astype(object), use_na_sentinel=True)
    mapped = np.array([func(v) for v in uniques] + [func(None)], dtype=object)
    return mapped[codes]  # code -1 (NaN/None) picks the trailing func(None)


def _series_like(values: Iterable[object], data: np.ndarray, name: str) -> pd.Series:
    index = values.index if isinstance(values, pd.Series) else None
    return pd.Series(data, index=index, dtype=object, name=name)


def postal_to_state_series(values: Iterable[object]) -> pd.Series:
    """:func:`postal_to_state` over a Series (object dtype, None where unknown, same index)."""
    return _series_like(values, _map_unique(values, postal_to_state), "state")


def postal_to_county_fips_series(values: Iterable[object]) -> pd.Series:
    """:func:`postal_to_county_fips` over a Series (object dtype, None where unknown)."""
    return _series_like(values, _map_unique(values, postal_to_county_fips), "county_fips")


def zip3_series(values: Iterable[object]) -> pd.Series:
    """:func:`zip3` over a Series (object dtype, None where there is no ZIP code)."""
    return _series_like(values, _map_unique(values, zip3), "zip3")


# --- Albers USA projection ----------------------------------------------------------------------
# d3.geoAlbersUsa().scale(1300).translate([487.5, 305]), the projection us-atlas used, so ZIP
# points land on the vendored shapes. Insets are chosen by state, not by d3's clip extents.


@dataclass(frozen=True)
class _Conic:
    n: float
    c: float
    r0: float
    k: float
    tx: float
    ty: float
    rotate: float
    cx: float
    cy: float

    @classmethod
    def build(cls, parallels, rotate, center, scale, translate) -> _Conic:
        phi0, phi1 = (math.radians(p) for p in parallels)
        sy0 = math.sin(phi0)
        n = (sy0 + math.sin(phi1)) / 2
        c = 1 + sy0 * (2 * n - sy0)
        r0 = math.sqrt(c) / n
        lam, phi = math.radians(center[0]), math.radians(center[1])
        r = math.sqrt(c - 2 * n * math.sin(phi)) / n
        cx, cy = r * math.sin(lam * n), r0 - r * math.cos(lam * n)
        return cls(n, c, r0, scale, translate[0], translate[1], rotate, cx, cy)

    def forward(self, lon: np.ndarray, lat: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lam = np.radians((np.asarray(lon, dtype=float) + self.rotate + 180) % 360 - 180)
        phi = np.radians(np.asarray(lat, dtype=float))
        r = np.sqrt(self.c - 2 * self.n * np.sin(phi)) / self.n
        x = r * np.sin(lam * self.n)
        y = self.r0 - r * np.cos(lam * self.n)
        return self.tx + self.k * (x - self.cx), self.ty - self.k * (y - self.cy)

    def inverse(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        rx = (np.asarray(x, dtype=float) - self.tx) / self.k + self.cx
        ry = -(np.asarray(y, dtype=float) - self.ty) / self.k + self.cy
        r0y = self.r0 - ry
        lam = np.arctan2(rx, np.abs(r0y)) * np.sign(r0y)
        lam = np.where(r0y * self.n < 0, lam - np.pi * np.sign(rx) * np.sign(r0y), lam)
        phi = np.arcsin(
            np.clip((self.c - (rx * rx + r0y * r0y) * self.n * self.n) / (2 * self.n), -1, 1)
        )
        return np.degrees(lam / self.n) - self.rotate, np.degrees(phi)


_K, _TX, _TY = 1300.0, 487.5, 305.0
_LOWER48 = _Conic.build((29.5, 45.5), 96, (-0.6, 38.7), _K, (_TX, _TY))
_ALASKA = _Conic.build((55, 65), 154, (-2, 58.5), _K * 0.35, (_TX - 0.307 * _K, _TY + 0.201 * _K))
_HAWAII = _Conic.build((8, 18), 157, (-3, 19.9), _K, (_TX - 0.205 * _K, _TY + 0.212 * _K))


def project(lon: object, lat: object, states: object) -> tuple[np.ndarray, np.ndarray]:
    """Longitude/latitude (degrees) → map pixels, with Alaska and Hawaii in their insets.

    ``states`` (one abbreviation or one per point) picks the inset, so a point is drawn where
    its state is drawn. Returns float arrays shaped like ``lon``.
    """
    lon_a, lat_a = (
        np.atleast_1d(np.asarray(lon, dtype=float)),
        np.atleast_1d(np.asarray(lat, dtype=float)),
    )
    st = np.broadcast_to(np.asarray(states, dtype=object), lon_a.shape)
    x, y = _LOWER48.forward(lon_a, lat_a)
    for state, conic in (("AK", _ALASKA), ("HI", _HAWAII)):
        mask = st == state
        if mask.any():
            x[mask], y[mask] = conic.forward(lon_a[mask], lat_a[mask])
    return x, y


def _unproject(x: np.ndarray, y: np.ndarray, states: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    lon, lat = _LOWER48.inverse(x, y)
    for state, conic in (("AK", _ALASKA), ("HI", _HAWAII)):
        mask = states == state
        if mask.any():
            lon[mask], lat[mask] = conic.inverse(x[mask], y[mask])
    return lon, lat


# --- The atlas (us-atlas TopoJSON) --------------------------------------------------------------


@dataclass(frozen=True)
class _Feature:
    fips: str
    name: str
    state: str
    polygons: tuple[tuple[tuple[int, ...], ...], ...]  # polygon → ring → signed arc indices


class _Atlas:
    """The decoded topology: arcs, county and state features, borders, centroids."""

    def __init__(self, path: Path) -> None:
        topo = json.loads(path.read_text())
        (sx, sy), (tx, ty) = topo["transform"]["scale"], topo["transform"]["translate"]
        # Arcs are delta-encoded per arc: one cumulative sum over all, minus each arc's offset.
        lengths = np.array([len(arc) for arc in topo["arcs"]])
        deltas = np.array([p for arc in topo["arcs"] for p in arc], dtype=np.int64)
        total = np.cumsum(deltas, axis=0)
        starts = np.concatenate(([0], np.cumsum(lengths)[:-1]))
        q = total - np.repeat(total[starts] - deltas[starts], lengths, axis=0)
        xy = np.column_stack((q[:, 0] * sx + tx, q[:, 1] * sy + ty))
        self.arcs: list[np.ndarray] = np.split(xy, np.cumsum(lengths)[:-1])
        # Coordinates in tenths of a pixel: the SVG's precision, and exact integer deltas.
        self.arcs_tenths = np.split(np.rint(xy * 10).astype(np.int64), np.cumsum(lengths)[:-1])
        self.counties = self._features(topo["objects"]["counties"]["geometries"], county=True)
        self.states = self._features(topo["objects"]["states"]["geometries"], county=False)
        self.state_counties: dict[str, list[str]] = defaultdict(list)
        for fips in sorted(self.counties):
            self.state_counties[self.counties[fips].state].append(fips)
        self.county_neighbours = self._neighbours(self.counties)
        self.state_neighbours = self._neighbours(self.states)
        self._rings: dict[str, list[np.ndarray]] = {}
        self._paths: dict[str, str] = {}
        self._centroids: dict[str, tuple[float, float]] = {}

    @staticmethod
    def _features(geometries: list[dict], *, county: bool) -> dict[str, _Feature]:
        features: dict[str, _Feature] = {}
        for geometry in geometries:
            arcs = geometry["arcs"]
            polygons = [arcs] if geometry["type"] == "Polygon" else arcs
            fips = geometry["id"]
            state = FIPS_STATE[fips[:2]]
            key = fips if county else state
            features[key] = _Feature(
                fips=fips,
                name=geometry["properties"]["name"],
                state=state,
                polygons=tuple(tuple(tuple(ring) for ring in polygon) for polygon in polygons),
            )
        return features

    @staticmethod
    def _neighbours(features: dict[str, _Feature]) -> dict[str, frozenset[str]]:
        """Features sharing an arc: a true border (touching at a point only does not count)."""
        owners: dict[int, set[str]] = defaultdict(set)
        for key, feature in features.items():
            for polygon in feature.polygons:
                for ring in polygon:
                    for arc in ring:
                        owners[arc if arc >= 0 else ~arc].add(key)
        neighbours: dict[str, set[str]] = {key: set() for key in features}
        for keys in owners.values():
            for a in keys:
                neighbours[a] |= keys - {a}
        return {key: frozenset(value) for key, value in neighbours.items()}

    def feature(self, key: str) -> _Feature:
        return self.counties[key] if len(key) == 5 else self.states[key]

    def _ring(self, ring: tuple[int, ...], arcs: list[np.ndarray]) -> np.ndarray:
        parts = []
        for i, arc in enumerate(ring):
            points = arcs[arc] if arc >= 0 else arcs[~arc][::-1]
            parts.append(points if i == 0 else points[1:])
        return np.concatenate(parts)

    def rings(self, key: str) -> list[np.ndarray]:
        """Every ring (outer and holes) of a county (FIPS) or state (abbreviation), in pixels."""
        if key not in self._rings:
            feature = self.feature(key)
            self._rings[key] = [
                self._ring(ring, self.arcs) for polygon in feature.polygons for ring in polygon
            ]
        return self._rings[key]

    def centroid(self, key: str) -> tuple[float, float]:
        """Area-weighted centroid (holes subtract: their winding is opposite)."""
        if key not in self._centroids:
            area = cx = cy = 0.0
            for ring in self.rings(key):
                x, y = ring[:, 0], ring[:, 1]
                x1, y1 = np.roll(x, -1), np.roll(y, -1)
                cross = x * y1 - x1 * y
                area += cross.sum() / 2
                cx += ((x + x1) * cross).sum() / 6
                cy += ((y + y1) * cross).sum() / 6
            if abs(area) < 1e-9:  # simplified to a sliver (Falls Church, VA): mean of vertices
                points = np.concatenate(self.rings(key))
                self._centroids[key] = (float(points[:, 0].mean()), float(points[:, 1].mean()))
            else:
                self._centroids[key] = (float(cx / area), float(cy / area))
        return self._centroids[key]

    def contains(self, key: str, x: float, y: float) -> bool:
        """Even-odd point-in-polygon test over all rings of a feature."""
        inside = False
        for ring in self.rings(key):
            if not (ring[:, 0].min() <= x <= ring[:, 0].max()):
                continue
            if not (ring[:, 1].min() <= y <= ring[:, 1].max()):
                continue
            x0, y0 = ring[:, 0], ring[:, 1]
            x1, y1 = np.roll(x0, -1), np.roll(y0, -1)
            crosses = (y0 > y) != (y1 > y)
            with np.errstate(divide="ignore", invalid="ignore"):
                at = x0 + (y - y0) * (x1 - x0) / (y1 - y0)
            inside ^= bool(np.count_nonzero(crosses & (x < at)) % 2)
        return inside

    def path(self, key: str) -> str:
        """SVG path data of a feature, 0.1 px precision, relative moves; cached."""
        if key not in self._paths:
            feature = self.feature(key)
            parts = [
                _ring_path(self._ring(ring, self.arcs_tenths), close=True)
                for polygon in feature.polygons
                for ring in polygon
            ]
            self._paths[key] = "".join(parts)
        return self._paths[key]

    def state_borders_path(self) -> str:
        """SVG path data of the borders between states (each shared arc once, not the coasts)."""
        if "borders" not in self._paths:
            use: Counter[int] = Counter()
            for feature in self.states.values():
                for polygon in feature.polygons:
                    for ring in polygon:
                        use.update(arc if arc >= 0 else ~arc for arc in ring)
            self._paths["borders"] = "".join(
                _ring_path(self.arcs_tenths[a], close=False) for a in sorted(use) if use[a] > 1
            )
        return self._paths["borders"]


def _num(tenths: int) -> str:
    sign = "-" if tenths < 0 else ""
    whole, frac = divmod(abs(int(tenths)), 10)
    return f"{sign}{whole}" if frac == 0 else f"{sign}{whole}.{frac}"


def _ring_path(points: np.ndarray, *, close: bool) -> str:
    if len(points) > 1:
        keep = np.ones(len(points), dtype=bool)
        keep[1:] = np.any(points[1:] != points[:-1], axis=1)
        points = points[keep]
    if len(points) < (3 if close else 2):
        return ""
    deltas = np.diff(points, axis=0)
    if close and not deltas[-1].any():
        deltas = deltas[:-1]
    start = f"M{_num(points[0, 0])} {_num(points[0, 1])}"
    steps = " ".join(f"{_num(dx)} {_num(dy)}" for dx, dy in deltas.tolist())
    return f"{start}l{steps}{'z' if close else ''}"


@lru_cache(maxsize=1)
def _atlas() -> _Atlas:
    return _Atlas(ATLAS_PATH)


# --- The ZIP table ------------------------------------------------------------------------------

_COUNTY_SUFFIX = re.compile(
    r"\s+(county|parish|borough|city and borough|census area|municipality|municipio)$"
)
_COUNTY_PREFIX = re.compile(r"^(municipality of|city and borough of|borough of)\s+")


def _ascii_key(text: str) -> str:
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()


@lru_cache(maxsize=8192)
def _county_key(name: str) -> str:
    """County name → join key: "Doña Ana County" → "donaana", "St. Mary's" → "stmarys"."""
    key = " ".join(_ascii_key(name).split())
    key = _COUNTY_PREFIX.sub("", _COUNTY_SUFFIX.sub("", key))
    key = re.sub(r"\bsainte\b", "ste", re.sub(r"\bsaint\b", "st", key))
    return re.sub(r"[^a-z0-9]", "", key)


_CITY_WORDS = {"saint": "st", "sainte": "ste", "fort": "ft", "mount": "mt"}


def _city_key(name: object) -> str | None:
    """City name → match key, forgiving case, accents, punctuation and St./Saint, Ft./Fort."""
    return _city_text_key(name) if isinstance(name, str) else None


@lru_cache(maxsize=65536)
def _city_text_key(name: str) -> str | None:
    words = re.sub(r"[.'’`]", "", _ascii_key(name)).replace("-", " ").split()
    return " ".join(_CITY_WORDS.get(w, w) for w in words) or None


@dataclass(frozen=True)
class _PointUnit:
    x: float
    y: float
    lon: float
    lat: float
    counties: tuple[tuple[str, int], ...]  # (county FIPS, ZIP codes there), most first


class _ZipTable:
    """Every ZIP code of the 50 states and DC, joined to us-atlas counties."""

    def __init__(self, atlas: _Atlas) -> None:
        import zipcodes  # list_all() decodes its whole data set (~0.4 s): only when needed

        records = sorted(
            (z for z in zipcodes.list_all() if z["state"] in STATE_FIPS),
            key=lambda z: z["zip_code"],
        )
        self.zip = np.array([z["zip_code"] for z in records], dtype=object)
        self.state = np.array([z["state"] for z in records], dtype=object)
        self.city = np.array([z["city"] for z in records], dtype=object)
        self.lon = np.array([float(z["long"]) for z in records])
        self.lat = np.array([float(z["lat"]) for z in records])
        # 45 ZIP codes (APO, parcel-return and other special codes) have no point: (0, 0).
        self.located = (self.lat != 0) | (self.lon != 0)
        self.x, self.y = project(self.lon, self.lat, self.state)
        self.row: dict[str, int] = {z: i for i, z in enumerate(self.zip.tolist())}

        by_name: dict[tuple[str, str], list[str]] = defaultdict(list)
        for fips, county in sorted(atlas.counties.items()):
            by_name[(county.state, _county_key(county.name))].append(fips)
        county = np.empty(len(records), dtype=object)
        self.county_method = np.empty(len(records), dtype=object)
        for i, z in enumerate(records):
            fips, method = self._join(by_name, z["state"], z["county"]), "name"
            if fips is None and len(atlas.state_counties[z["state"]]) == 1:
                fips, method = atlas.state_counties[z["state"]][0], "only county"  # DC
            elif fips is None and self.located[i]:
                fips, method = self._locate(atlas, i)
            elif fips is None:
                method = "none"
            county[i], self.county_method[i] = fips, method
        self.county = county
        self.county_name = np.array([z["county"] for z in records], dtype=object)

        states_of_zip3: dict[str, set[str]] = defaultdict(set)
        for z, st in zip(self.zip.tolist(), self.state.tolist(), strict=True):
            states_of_zip3[z[:3]].add(st)
        self.zip3_states = {k: frozenset(v) for k, v in states_of_zip3.items()}

        # Cities and ZIP areas: the mean of their located ZIP points, and the counties they touch.
        self.city_name: dict[tuple[str, str], str] = {}
        city_units, zip3_units, members = [], [], np.flatnonzero(self.located)
        for i in members.tolist():
            st = self.state[i]
            name = self.city_name.setdefault((st, _city_key(self.city[i])), self.city[i])
            city_units.append(f"{st}:CITY:{name}")  # first spelling (in ZIP order) wins
            zip3_units.append(f"{st}:Z{self.zip[i][:3]}")
        rows = np.concatenate([members, members])
        frame = pd.DataFrame(
            {
                "unit": city_units + zip3_units,
                "x": self.x[rows],
                "y": self.y[rows],
                "lon": self.lon[rows],
                "lat": self.lat[rows],
                "county": self.county[rows],
            }
        )
        centres = frame.groupby("unit", sort=True)[["x", "y", "lon", "lat"]].mean()
        sizes = frame.groupby(["unit", "county"]).size().rename("zips").reset_index()
        sizes = sizes.sort_values(["unit", "zips", "county"], ascending=[True, False, True])
        touched: dict[str, list[tuple[str, int]]] = defaultdict(list)
        for unit, fips, count in zip(
            sizes["unit"].tolist(), sizes["county"].tolist(), sizes["zips"].tolist(), strict=True
        ):
            touched[unit].append((fips, count))
        self.point_units: dict[str, _PointUnit] = {
            unit: _PointUnit(x, y, lon, lat, tuple(touched[unit]))
            for unit, (x, y, lon, lat) in zip(
                centres.index.tolist(), centres.to_numpy().tolist(), strict=True
            )
        }
        self.state_point_units: dict[tuple[str, str], list[str]] = defaultdict(list)
        for uid in self.point_units:  # sorted by the groupby
            self.state_point_units[(uid[:2], "city" if ":CITY:" in uid else "zip3")].append(uid)

    @staticmethod
    def _join(by_name, state: str, name: str) -> str | None:
        if not name:
            return None
        key = _county_key(name)
        is_city = name.endswith(" city")  # zipcodes writes "Baltimore city", "Carson City"
        candidates = by_name.get((state, key))
        if candidates is None and key.endswith("city"):
            candidates, is_city = by_name.get((state, key[:-4])), True
        if not candidates:
            return None
        # "Baltimore" is both a county (24005) and an independent city (24510): city FIPS ≥ 500.
        preferred = [f for f in candidates if (int(f[2:]) >= 500) == is_city]
        return (preferred or candidates)[0]

    def _locate(self, atlas: _Atlas, i: int) -> tuple[str, str]:
        """County of the state containing ZIP ``i``'s point, else the one whose centroid is nearest."""
        state, x, y = self.state[i], self.x[i], self.y[i]
        fipses = atlas.state_counties[state]
        for fips in fipses:
            if atlas.contains(fips, x, y):
                return fips, "point"
        distance = [math.dist(atlas.centroid(f), (x, y)) for f in fipses]
        return fipses[int(np.argmin(distance))], "nearest"

    def state_of(self, zip5: str) -> str | None:
        row = self.row.get(zip5)
        if row is not None:
            return self.state[row]
        states = self.zip3_states.get(zip5[:3], frozenset())
        return next(iter(states)) if len(states) == 1 else None


@lru_cache(maxsize=1)
def _zips() -> _ZipTable:
    return _ZipTable(_atlas())


# --- Units --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class UnitResolution:
    """Where an account's geography lands, and why: the routing trace's geography step."""

    unit: str
    reason: str


def _check_granularity(granularity_by_state: Mapping[str, str], default: str) -> None:
    if default not in GRANULARITIES:
        raise ValueError(
            f"default granularity {default!r} is not one of {', '.join(GRANULARITIES)}"
        )
    for state, granularity in granularity_by_state.items():
        if state not in STATE_FIPS:
            raise ValueError(f"granularity_by_state: {state!r} is not a state abbreviation")
        if granularity not in GRANULARITIES:
            raise ValueError(
                f"granularity_by_state[{state!r}]: {granularity!r} is not one of "
                f"{', '.join(GRANULARITIES)}"
            )


def _resolve(
    state: str | None,
    zip5: str | None,
    city_key: str | None,
    granularity_by_state: Mapping[str, str],
    default: str,
    *,
    explain: bool,
) -> UnitResolution:
    zips = _zips()
    zip_state = zips.state_of(zip5) if zip5 else None
    source = "state field"
    if state is None:
        if zip_state is None:
            why = "no state, and no ZIP code that gives one" if explain else ""
            return UnitResolution(UNKNOWN, why)
        state, source = zip_state, f"ZIP code {zip5}"
    granularity = granularity_by_state.get(state, default)
    if granularity == "state":
        return UnitResolution(state, f"state {state} from the {source}" if explain else "")
    row = zips.row.get(zip5) if zip5 else None
    in_state = row is not None and zips.state[row] == state
    if granularity == "county" and in_state and zips.county[row]:
        unit = f"{state}:C{zips.county[row]}"
        return UnitResolution(
            unit, f"ZIP code {zip5} lies in {unit_label(unit)}" if explain else ""
        )
    if granularity == "zip3" and zip5 and f"{state}:Z{zip5[:3]}" in zips.point_units:
        return UnitResolution(f"{state}:Z{zip5[:3]}", f"ZIP code {zip5}" if explain else "")
    if granularity == "city":
        name = zips.city_name.get((state, city_key)) if city_key else None
        if name is not None:
            return UnitResolution(f"{state}:CITY:{name}", "the city field" if explain else "")
        if in_state and f"{state}:CITY:{zips.city[row]}" in zips.point_units:
            unit = f"{state}:CITY:{zips.city[row]}"
            why = f"ZIP code {zip5}'s city (the city field is not a city of {state})"
            return UnitResolution(unit, why if explain else "")
    if not explain:
        return UnitResolution(f"{state}:?", "")
    if not zip5:
        why = "no usable ZIP code"
    elif zip_state is None:
        why = f"ZIP code {zip5} is unknown"
    elif zip_state != state:
        why = f"ZIP code {zip5} is in {zip_state}, not {state}"
    else:
        why = f"ZIP code {zip5} gives no {granularity} unit"
    return UnitResolution(f"{state}:?", f"{state} is split by {granularity}, but {why}")


def resolve_unit(
    state: object,
    postal_code: object,
    city: object = None,
    *,
    granularity_by_state: Mapping[str, str],
    default: str = "state",
) -> UnitResolution:
    """The unit of one account, with the reason (for a routing trace). See :func:`unit_ids`."""
    _check_granularity(granularity_by_state, default)
    return _resolve(
        normalize_state(state),
        normalize_zip5(postal_code),
        _city_key(city),
        granularity_by_state,
        default,
        explain=True,
    )


def unit_id(
    state: object,
    postal_code: object,
    city: object = None,
    *,
    granularity_by_state: Mapping[str, str],
    default: str = "state",
) -> str:
    """The unit id of one account; ``unit_ids`` for a whole frame gives the same answers."""
    return resolve_unit(
        state, postal_code, city, granularity_by_state=granularity_by_state, default=default
    ).unit


def unit_ids(
    states: Iterable[object],
    postal_codes: Iterable[object],
    cities: Iterable[object] | None = None,
    *,
    granularity_by_state: Mapping[str, str],
    default: str = "state",
) -> pd.Series:
    """Unit id of every account (vectorised: 100k accounts in a fraction of a second).

    The state is the state field when it reads as a state, otherwise the ZIP code's. Each state
    is cut at ``granularity_by_state.get(state, default)``:

    * ``state``: the state id, whatever the ZIP code says.
    * ``county``: the ZIP code's county, if the ZIP code is in that state.
    * ``zip3``: the ZIP prefix, if that prefix has ZIP codes in that state (a ZIP code too new
      for the table still works).
    * ``city``: the city field when it is a USPS primary city of the state, otherwise the ZIP
      code's primary city (so "Boston" stays Boston even for an Allston ZIP code).

    When the sub-state unit cannot be told, the unit is ``"<state>:?"``; with no state at all,
    :data:`UNKNOWN`. Never raises for bad geography; raises ValueError for a bad granularity
    map (unknown state key or granularity). Returns an object Series aligned with ``states``.
    """
    _check_granularity(granularity_by_state, default)
    state_arr = _map_unique(states, normalize_state)
    zip_arr = _map_unique(postal_codes, normalize_zip5)
    n = len(state_arr)
    if len(zip_arr) != n:
        raise ValueError("states and postal_codes must have the same length")
    if cities is None:
        city_arr = np.full(n, None, dtype=object)
    else:
        city_arr = _map_unique(cities, _city_key)
        if len(city_arr) != n:
            raise ValueError("states and cities must have the same length")
    codes = np.zeros(n, dtype=np.int64)
    for column in (state_arr, zip_arr, city_arr):
        col_codes, col_uniques = pd.factorize(pd.Series(column, dtype=object))
        codes = codes * (len(col_uniques) + 1) + (col_codes + 1)
    combo_codes, combos = pd.factorize(codes)
    first = np.zeros(len(combos), dtype=np.int64)
    first[combo_codes[::-1]] = np.arange(n)[::-1]  # the first row of each combination
    resolved = np.array(
        [
            _resolve(
                state_arr[i],
                zip_arr[i],
                city_arr[i],
                granularity_by_state,
                default,
                explain=False,
            ).unit
            for i in first.tolist()
        ],
        dtype=object,
    )
    return _series_like(states, resolved[combo_codes], "unit")


def unit_kind(uid: str) -> str:
    """ "state", "county", "zip3", "city" or "unknown"; ValueError for a malformed id."""
    return _parse(uid)[0]


def unit_state(uid: str) -> str | None:
    """The state of a unit (None for :data:`UNKNOWN`)."""
    return _parse(uid)[1]


def is_known_unit(uid: str) -> bool:
    """True for units with geometry (every kind but the two unknown sentinels)."""
    return _parse(uid)[0] != "unknown"


@lru_cache(maxsize=65536)
def _parse(uid: str) -> tuple[str, str | None, str]:
    """(kind, state, code) of a unit id, checking it names a real place."""
    if uid == UNKNOWN:
        return "unknown", None, ""
    if not isinstance(uid, str):
        raise ValueError(f"unit id must be a string, not {uid!r}")
    state, sep, rest = uid.partition(":")
    if state in STATE_FIPS:
        if not sep:
            return "state", state, state
        if rest == "?":
            return "unknown", state, ""
        if re.fullmatch(r"C\d{5}", rest):
            fips = rest[1:]
            if fips in _atlas().counties and fips[:2] == STATE_FIPS[state]:
                return "county", state, fips
        elif (re.fullmatch(r"Z\d{3}", rest) or rest.startswith("CITY:")) and (
            uid in _zips().point_units
        ):
            return ("zip3" if rest[0] == "Z" else "city"), state, uid
    raise ValueError(f"{uid!r} is not a geographic unit id")


def state_units(state: str, granularity: str) -> list[str]:
    """Every unit of a state at a granularity, sorted: what a split state is cut into.

    For "county", all counties us-atlas draws; for "zip3" and "city", those with at least one
    ZIP code in the offline table.
    """
    if state not in STATE_FIPS:
        raise ValueError(f"{state!r} is not a state abbreviation")
    if granularity == "state":
        return [state]
    if granularity == "county":
        return [f"{state}:C{fips}" for fips in _atlas().state_counties[state]]
    if granularity in ("zip3", "city"):
        return list(_zips().state_point_units[(state, granularity)])
    raise ValueError(f"granularity {granularity!r} is not one of {', '.join(GRANULARITIES)}")


def unit_label(uid: str) -> str:
    """A human name: "California", "Los Angeles County, CA", "ZIP 940xx, CA", "San Jose, CA"."""
    kind, state, code = _parse(uid)
    if kind == "unknown":
        return "Unknown location" if state is None else f"{STATE_NAME[state]}, area unknown"
    if kind == "state":
        return STATE_NAME[state]
    if kind == "county":
        name = _atlas().counties[code].name
        if state == "LA":
            name += " Parish"
        elif int(code[2:]) >= 500:
            name += "" if name.endswith("City") else " city"  # Census style: "Baltimore city"
        elif state not in ("AK", "DC"):
            name += " County"
        return f"{name}, {state}"
    if kind == "zip3":
        return f"ZIP {uid[-3:]}xx, {state}"
    return f"{uid.split(':', 2)[2]}, {state}"


def _unit_geometry(uids: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Projected x, y and lon, lat of each unit's centroid; NaN for unknown units."""
    atlas, n = _atlas(), len(uids)
    x, y = np.full(n, np.nan), np.full(n, np.nan)
    lon, lat = np.full(n, np.nan), np.full(n, np.nan)
    areal_rows, areal_states = [], []
    for i, uid in enumerate(uids):
        kind, state, code = _parse(uid)
        if kind in ("state", "county"):
            x[i], y[i] = atlas.centroid(code)
            areal_rows.append(i)
            areal_states.append(state)
        elif kind in ("zip3", "city"):
            unit = _zips().point_units[code]
            x[i], y[i], lon[i], lat[i] = unit.x, unit.y, unit.lon, unit.lat
    if areal_rows:
        rows = np.array(areal_rows)
        lon[rows], lat[rows] = _unproject(x[rows], y[rows], np.array(areal_states, dtype=object))
    return x, y, lon, lat


def unit_centroids(unit_ids: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Projected centroid (x, y) of each unit, in map pixels (975×610 viewport, y down).

    States and counties: area-weighted centroid of the shape. ZIP areas and cities: the mean of
    their ZIP codes' points. NaN for the unknown sentinels. Alaska and Hawaii are in their
    insets (Alaska at 0.35 scale), so distances are only meaningful within the lower 48 or
    within one of those states. Raises ValueError for an id that is not a unit.
    """
    x, y, _, _ = _unit_geometry(list(unit_ids))
    return x, y


# --- Adjacency ----------------------------------------------------------------------------------


def _gabriel_edges(points: np.ndarray) -> set[tuple[int, int]]:
    """Edges of the Gabriel graph (the Delaunay edges whose diameter circle holds no other
    point): drops Delaunay's long hull edges across bays and gulfs, keeps it connected."""
    n = len(points)
    if n < 2:
        return set()
    if n == 2:
        return {(0, 1)}
    from scipy.spatial import Delaunay, QhullError

    try:
        triangles = Delaunay(points).simplices
    except QhullError:  # all points on a line (or too few distinct): chain them along it
        order = np.lexsort((points[:, 1], points[:, 0]))
        return {tuple(sorted((int(a), int(b)))) for a, b in zip(order[:-1], order[1:], strict=True)}
    edges: dict[tuple[int, int], bool] = {}
    for tri in triangles.tolist():
        for k in range(3):
            a, b, r = tri[k], tri[(k + 1) % 3], tri[(k + 2) % 3]
            edge = (a, b) if a < b else (b, a)
            # The opposite vertex sees the edge at an obtuse or right angle: inside the circle.
            acute = float(np.dot(points[a] - points[r], points[b] - points[r])) > 0
            edges[edge] = edges.get(edge, True) and acute
    return {edge for edge, keep in edges.items() if keep}


def unit_adjacency(unit_ids: Sequence[str]) -> list[tuple[int, int]]:
    """Neighbouring pairs among ``unit_ids`` as sorted index pairs ``(i, j)``, ``i < j``.

    * States and counties (in any mix) are neighbours when they share a border in us-atlas (a
      common arc; touching at a corner, like the Four Corners, does not count). A county is a
      neighbour of a whole state when it borders one of the state's counties.
    * ZIP areas and cities are points: within a state, and between states that share a border,
      they are linked by the Gabriel graph of their centroids, where a whole state or county
      stands as its counties' centroids. Links between two shapes always come from the borders.
    * The graph is then made connected: the smallest component (ties: lowest index) is joined by
      its nearest pair of units (great-circle distance between centroids) until one remains,
      looking first in the component's own states, then outside Alaska and Hawaii, then
      anywhere. This links islands (Maui to Hawaii County, Nantucket to Dukes, Hawaii to
      California, Alaska to Washington) and any units of a pod that do not touch.

    The unknown sentinels are accepted and left without neighbours. ``unit_ids`` must be
    distinct; ValueError otherwise, or for an id that is not a unit.
    """
    uids = list(unit_ids)
    if len(set(uids)) != len(uids):
        duplicates = sorted({u for u in uids if uids.count(u) > 1})
        raise ValueError(f"unit ids must be distinct; repeated: {', '.join(duplicates[:5])}")
    parsed = [_parse(u) for u in uids]
    atlas, zips = _atlas(), _zips()
    edges: set[tuple[int, int]] = set()

    # Shapes: a unit's counties, and border tests through the county graph.
    counties_of: dict[int, frozenset[str]] = {}
    for i, (kind, state, code) in enumerate(parsed):
        if kind == "state":
            counties_of[i] = frozenset(atlas.state_counties[state])
        elif kind == "county":
            counties_of[i] = frozenset((code,))
    areal = sorted(counties_of)
    unit_of_county: dict[str, list[int]] = defaultdict(list)
    for i in areal:
        for fips in counties_of[i]:
            unit_of_county[fips].append(i)
    for i in areal:
        for fips in counties_of[i]:
            for other in atlas.county_neighbours[fips]:
                for j in unit_of_county.get(other, ()):
                    if j != i:
                        edges.add((min(i, j), max(i, j)))

    # Points: Gabriel graphs within each state and across borders, shapes as their counties.
    by_state: dict[str, list[int]] = defaultdict(list)
    for i, (kind, state, _) in enumerate(parsed):
        if kind != "unknown":
            by_state[state].append(i)
    pointy = {
        st
        for st, members in by_state.items()
        if any(parsed[i][0] in ("zip3", "city") for i in members)
    }

    def proxies(members: list[int]) -> tuple[np.ndarray, list[int]]:
        coords, owners = [], []
        for i in members:
            kind, _, code = parsed[i]
            if kind in ("zip3", "city"):
                unit = zips.point_units[code]
                coords.append((unit.x, unit.y))
                owners.append(i)
            else:
                for fips in sorted(counties_of[i]):
                    coords.append(atlas.centroid(fips))
                    owners.append(i)
        return np.array(coords, dtype=float).reshape(-1, 2), owners

    def add(pairs: set[tuple[int, int]], owners: list[int], *, across: bool) -> None:
        for a, b in pairs:
            i, j = owners[a], owners[b]
            if i == j or i < 0 or j < 0 or (i in counties_of and j in counties_of):
                continue
            if across:
                first, second = parsed[i][1], parsed[j][1]
                if first == second or second not in atlas.state_neighbours[first]:
                    continue
            edges.add((min(i, j), max(i, j)))

    for state in sorted(pointy):
        coords, owners = proxies(by_state[state])
        add(_gabriel_edges(coords), owners, across=False)
    if pointy:
        # Across borders, one graph over the lower 48, with the counties of states that have no
        # unit here as anonymous points: a link must not jump over a state outside the set.
        members = [i for st in sorted(by_state) if st not in ("AK", "HI") for i in by_state[st]]
        coords, owners = proxies(members)
        absent = [f for st in STATES if st not in by_state for f in atlas.state_counties[st]]
        absent = [f for f in absent if f[:2] not in ("02", "15")]
        blockers = np.array([atlas.centroid(f) for f in absent], dtype=float).reshape(-1, 2)
        everything = np.concatenate([coords, blockers])
        add(_gabriel_edges(everything), owners + [-1] * len(blockers), across=True)

    _connect(uids, parsed, edges)
    return sorted(edges)


def _connect(uids: list[str], parsed: list, edges: set[tuple[int, int]]) -> None:
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components
    from scipy.spatial import cKDTree

    known = np.array([i for i, p in enumerate(parsed) if p[0] != "unknown"], dtype=np.int64)
    if len(known) < 2:
        return
    _, _, lon, lat = _unit_geometry([uids[i] for i in known])
    phi, lam = np.radians(lat), np.radians(lon)
    xyz = np.column_stack((np.cos(phi) * np.cos(lam), np.cos(phi) * np.sin(lam), np.sin(phi)))
    states = np.array([parsed[i][1] for i in known], dtype=object)
    position = {int(u): k for k, u in enumerate(known)}
    local = [(position[i], position[j]) for i, j in edges]
    while True:
        rows = np.array([a for a, _ in local], dtype=np.int64)
        cols = np.array([b for _, b in local], dtype=np.int64)
        graph = coo_matrix((np.ones(len(local)), (rows, cols)), shape=(len(known), len(known)))
        count, labels = connected_components(graph, directed=False)
        if count <= 1:
            return
        sizes = np.bincount(labels)
        smallest = min(range(count), key=lambda c: (sizes[c], int(np.flatnonzero(labels == c)[0])))
        inside = np.flatnonzero(labels == smallest)
        outside = np.flatnonzero(labels != smallest)
        # Islands join their own state first; otherwise the contiguous US before Alaska or
        # Hawaii (the Aleutians are nearer Hawaii than California is, but nobody sells so).
        own = np.isin(states[outside], states[inside])
        mainland = ~np.isin(states[outside], ["AK", "HI"])
        for candidates in (own, mainland):
            if candidates.any():
                outside = outside[candidates]
                break
        distance, nearest = cKDTree(xyz[outside]).query(xyz[inside])
        k = int(np.argmin(distance))
        a, b = int(inside[k]), int(outside[nearest[k]])
        local.append((a, b))
        i, j = int(known[a]), int(known[b])
        edges.add((min(i, j), max(i, j)))


# --- Colours ------------------------------------------------------------------------------------

NEUTRAL_FILL = "#d4d4d8"
"""Fill of areas no territory covers."""

# Okabe–Ito (safe for the common colour-vision deficiencies), then Paul Tol's "muted" set.
_CURATED = (
    "#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442",
    "#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677",
    "#882255", "#aa4499",
)  # fmt: skip


def _oklch_hex(lightness: float, chroma: float, hue: float) -> str:
    """An OKLCH colour as sRGB hex, chroma reduced until it fits the sRGB gamut."""
    for scale in np.linspace(1, 0, 21):
        a = chroma * scale * math.cos(math.radians(hue))
        b = chroma * scale * math.sin(math.radians(hue))
        l_ = (lightness + 0.3963377774 * a + 0.2158037573 * b) ** 3
        m_ = (lightness - 0.1055613458 * a - 0.0638541728 * b) ** 3
        s_ = (lightness - 0.0894841775 * a - 1.2914855480 * b) ** 3
        rgb = (
            4.0767416621 * l_ - 3.3077115913 * m_ + 0.2309699292 * s_,
            -1.2684380046 * l_ + 2.6097574011 * m_ - 0.3413193965 * s_,
            -0.0041960863 * l_ - 0.7034186147 * m_ + 1.7076147010 * s_,
        )
        if all(-1e-6 <= c <= 1 + 1e-6 for c in rgb):
            srgb = [
                12.92 * c if c <= 0.0031308 else 1.055 * c ** (1 / 2.4) - 0.055
                for c in (min(max(c, 0.0), 1.0) for c in rgb)
            ]
            return "#" + "".join(f"{round(c * 255):02x}" for c in srgb)
    raise AssertionError("grey is always in gamut")


def territory_palette(k: int) -> list[str]:
    """``k`` distinct fill colours (lower-case ``#rrggbb``), the same for the same ``k``.

    The first 7 are Okabe–Ito, distinguishable under the common colour-vision deficiencies;
    the next 9 Paul Tol's "muted" set. Past 16, colours step round the OKLCH hue circle by the
    golden angle at three lightness levels: distinct for typical vision only, so maps must
    keep labels in the legend and tooltips. None is close to :data:`NEUTRAL_FILL`.
    """
    if k < 0:
        raise ValueError("k must be non-negative")
    colours = list(_CURATED[:k])
    for i in range(len(colours), k):
        step = i - len(_CURATED)
        lightness = (0.72, 0.58, 0.85)[step % 3]
        colours.append(_oklch_hex(lightness, 0.13, (step * 137.508 + 20) % 360))
    return colours


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def readable_text_color(fill: str) -> str:
    """ "#000000" or "#ffffff", whichever contrasts more with ``fill`` (WCAG contrast ratio)."""
    lum = _luminance(_check_colour(fill))
    return "#000000" if (lum + 0.05) / 0.05 >= 1.05 / (lum + 0.05) else "#ffffff"


def _check_colour(colour: str) -> str:
    if not isinstance(colour, str) or not re.fullmatch(r"#[0-9a-fA-F]{6}", colour):
        raise ValueError(f"colour {colour!r} is not #rrggbb")
    return colour.lower()


# --- The map ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LegendRow:
    """One territory in the map's legend; ``key`` is what :func:`render_us_map_svg`'s
    ``assignment`` maps units to (a territory id or name)."""

    key: Hashable
    label: str
    color: str
    count: int
    value: float


def format_usd(value: float) -> str:
    """Compact dollars with three significant figures: "$950", "$12.3K", "$4.56M", "$1.20B"."""
    if value is None or not math.isfinite(value):
        return "—"
    sign, value = ("-" if value < 0 else ""), abs(value)
    for limit, suffix in ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")):
        if value >= limit * 0.9995:
            scaled = value / limit
            digits = 2 if scaled < 10 else 1 if scaled < 100 else 0
            return f"{sign}${scaled:.{digits}f}{suffix}"
    return f"{sign}${value:.0f}"


_XML_INVALID = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str:
    """User text made safe for XML content and attributes."""
    return html.escape(_XML_INVALID.sub("", str(value)), quote=True)


def _truncate(label: str, limit: int) -> str:
    return label if len(label) <= limit else label[: max(1, limit - 1)].rstrip() + "…"


MAP_WIDTH, MAP_HEIGHT = 975, 610


def render_us_map_svg(
    *,
    assignment: Mapping[str, Hashable],
    legend: Sequence[LegendRow],
    title: str = "Territory map",
    description: str = "",
    width: int | None = MAP_WIDTH,
    markers: Literal["shared", "all", "none"] = "shared",
    svg_id: str = "us-map",
) -> str:
    """A self-contained SVG map of the US coloured by territory, with its legend.

    ``assignment`` maps unit ids to legend keys. A state with no sub-unit in ``assignment`` is
    drawn whole, in its own territory's colour; a state with sub-units (split) is drawn by
    county. A county takes its own unit's territory; in a state split by ZIP area or city it
    takes the territory holding most of the county's ZIP codes (an approximation: ZIP areas
    and cities have no boundaries in us-atlas), and a dot at such a unit's centroid shows its
    own territory: ``markers="shared"`` (default) draws the dots of units touching a county
    that several territories share — where the county colour hides something — ``"all"``
    every unit's, ``"none"`` none. Anything unassigned is :data:`NEUTRAL_FILL`
    (and the legend gains a "Not assigned" row). State borders are drawn on top.

    Every shape carries ``data-unit`` (its unit id) and a ``<title>`` tooltip. Text is escaped;
    colours must be ``#rrggbb``; the output has no external reference, uses presentation
    attributes only (WeasyPrint draws it) and is byte-for-byte deterministic. ``width`` sets the
    rendered width (legend text stays about 12 px at that width); None leaves sizing to CSS.
    Raises ValueError for duplicate legend keys, a key missing from the legend, a bad colour, a
    bad ``svg_id`` or an id that is not a unit.
    """
    if not re.fullmatch(r"[A-Za-z][\w-]*", svg_id):
        raise ValueError(f"svg_id {svg_id!r} must be letters, digits, - or _")
    if markers not in ("shared", "all", "none"):
        raise ValueError(f"markers {markers!r} is not one of shared, all, none")
    rows = {}
    for row in legend:
        if row.key in rows:
            raise ValueError(f"legend key {row.key!r} appears twice")
        _check_colour(row.color)
        rows[row.key] = row
    atlas, zips = _atlas(), _zips()

    whole: dict[str, Hashable] = {}
    county_key: dict[str, Hashable] = {}
    point_units: list[tuple[str, Hashable]] = []
    split: set[str] = set()
    for uid in sorted(assignment):
        key = assignment[uid]
        kind, state, code = _parse(uid)
        if key not in rows:
            raise ValueError(f"unit {uid!r} is assigned to {key!r}, which is not in the legend")
        if kind == "unknown":
            continue
        if kind == "state":
            whole[state] = key
            continue
        split.add(state)
        if kind == "county":
            county_key[code] = key
        else:
            point_units.append((code, key))

    # A split state's counties without their own unit: territory with most of its ZIP codes.
    legend_order = {key: n for n, key in enumerate(rows)}
    votes: dict[str, Counter] = defaultdict(Counter)
    for code, key in point_units:
        for fips, count in zips.point_units[code].counties:
            votes[fips][key] += count
    by_majority = {
        fips: max(tally, key=lambda k: (tally[k], -legend_order[k]))
        for fips, tally in votes.items()
        if fips not in county_key
    }

    unassigned = False
    fill_of = {key: row.color.lower() for key, row in rows.items()}

    def shape(key_uid: str, path: str, key: Hashable | None, note: str = "") -> str:
        nonlocal unassigned
        if not path:  # three independent cities of Virginia are simplified away at this scale
            return ""
        if key is None:
            unassigned = True
        colour = NEUTRAL_FILL if key is None else fill_of[key]
        who = "not assigned" if key is None else rows[key].label
        tip = f"{unit_label(key_uid)}: {who}{note}"
        return (
            f'<path d="{path}" fill="{colour}" data-unit="{_text(key_uid)}">'
            f"<title>{_text(tip)}</title></path>"
        )

    states_svg, counties_svg = [], []
    for state in STATES:
        if state in split:
            for fips in atlas.state_counties[state]:
                key = county_key.get(fips, by_majority.get(fips, whole.get(state)))
                note = " (most ZIP codes)" if fips in by_majority else ""
                counties_svg.append(shape(f"{state}:C{fips}", atlas.path(fips), key, note))
        else:
            states_svg.append(shape(state, atlas.path(state), whole.get(state)))

    dots = []
    shared = {fips for fips, tally in votes.items() if len(tally) > 1}
    if markers != "none":
        for code, key in sorted(point_units):
            touches = {fips for fips, _ in zips.point_units[code].counties}
            if markers == "shared" and not touches & shared:
                continue
            unit = zips.point_units[code]
            dots.append(
                f'<circle cx="{unit.x:.1f}" cy="{unit.y:.1f}" r="2.2" fill="{fill_of[key]}" '
                f'data-unit="{_text(code)}"><title>{_text(unit_label(code))}: '
                f"{_text(rows[key].label)}</title></circle>"
            )

    # Legend: columns below the map; text about 12 px at the rendered width.
    scale = MAP_WIDTH / (width or MAP_WIDTH)
    font = 12 * max(1.0, scale)
    entries = [(row.label, row.color.lower(), row.count, row.value, True) for row in legend]
    if unassigned:
        entries.append(("Not assigned", NEUTRAL_FILL, 0, 0.0, False))
    columns = max(1, min(3, int(MAP_WIDTH // (font * 27))))
    column_width = MAP_WIDTH / columns
    per_column = math.ceil(len(entries) / columns) if entries else 0
    line = font * 1.6
    top = MAP_HEIGHT + 14
    height = math.ceil(top + per_column * line + 8) if entries else MAP_HEIGHT
    legend_svg = []
    for n, (label, colour, count, value, numbers) in enumerate(entries):
        column, row_no = divmod(n, per_column)
        x0, y0 = column * column_width + 8, top + row_no * line
        figures = f"{count:,} · {format_usd(value)}" if numbers else ""
        room = int((column_width - 16 - font * 1.5 - len(figures) * font * 0.6) / (font * 0.58))
        legend_svg.append(
            f"<g><title>{_text(label)}{': ' + _text(figures) if figures else ''}</title>"
            f'<rect x="{x0:.1f}" y="{y0:.1f}" width="{font:.1f}" height="{font:.1f}" '
            f'fill="{colour}" stroke="#52525b" stroke-width="0.5"/>'
            f'<text x="{x0 + font * 1.4:.1f}" y="{y0 + font * 0.85:.1f}">'
            f"{_text(_truncate(label, max(room, 6)))}</text>"
            + (
                f'<text x="{x0 + column_width - 16:.1f}" y="{y0 + font * 0.85:.1f}" '
                f'text-anchor="end" fill="#3f3f46">{_text(figures)}</text>'
                if figures
                else ""
            )
            + "</g>"
        )

    split_names = ", ".join(STATE_NAME[s] for s in STATES if s in split)
    summary = description or (
        f"Map of the United States coloured by territory: {len(legend)} territories"
        + (f"; shown by county in {split_names}" if split_names else "")
        + ". "
        + "; ".join(
            f"{row.label}: {row.count:,} accounts, {format_usd(row.value)}" for row in legend
        )
        + ("." if legend else "")
    )
    size = (
        f' width="{width}" height="{round(height * width / MAP_WIDTH)}"'
        if width is not None
        else ""
    )
    return "".join(
        [
            f'<svg xmlns="http://www.w3.org/2000/svg" id="{svg_id}" viewBox="0 0 {MAP_WIDTH} {height}"'
            f'{size} role="img" aria-labelledby="{svg_id}-title {svg_id}-desc" '
            f'font-family="sans-serif" font-size="{font:.1f}" style="max-width:100%;height:auto">',
            f'<title id="{svg_id}-title">{_text(title)}</title>',
            f'<desc id="{svg_id}-desc">{_text(summary)}</desc>',
            '<g fill-rule="evenodd" stroke="none">',
            *states_svg,
            "</g>",
            '<g fill-rule="evenodd" stroke="#ffffff" stroke-width="0.3">',
            *counties_svg,
            "</g>",
            f'<path d="{atlas.state_borders_path()}" fill="none" stroke="#ffffff" '
            'stroke-width="1" stroke-linejoin="round"/>',
            f'<g stroke="#ffffff" stroke-width="0.5">{"".join(dots)}</g>' if dots else "",
            f'<g fill="#18181b">{"".join(legend_svg)}</g>',
            "</svg>",
        ]
    )
