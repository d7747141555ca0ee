"""Read a CSV/XLSX table of atoms into a :class:`Problem` (used by ``balance_file``).

Every cell is read as text (ids and postal codes keep their leading zeros); measure columns are
then parsed as numbers, with the first bad cell named by row and column in the error.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
from python_calamine import CalamineError

from territories.balancing.model import COUNT, BalancingError, Problem

# Refuse spreadsheets that would unpack to more than this (zip bombs).
MAX_XLSX_UNPACKED = 512 * 1024 * 1024
TRUE_WORDS = {"1", "true", "yes", "y", "x", "locked", "t"}
ID_GUESSES = ("id", "external_id", "account_id", "atom_id", "unit", "zip", "postal_code")


class InputError(BalancingError):
    """The input file or options are wrong (one line for the user)."""


def _decode(raw: bytes, name: str) -> str:
    """A CSV's text: UTF-8 (BOM or not), UTF-16 with a BOM, else Windows-1252. Binary data
    (NUL bytes, which is also what UTF-16 without a BOM looks like) is refused by name."""
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")):
        try:
            return raw.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputError(f"{name} is not valid UTF-16 text ({exc})") from exc
    if b"\x00" in raw[:65536]:
        raise InputError(
            f"{name} holds binary data (NUL bytes), not CSV text; if it is a UTF-16 export, "
            "save it again as CSV UTF-8"
        )
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError as exc:
            failure = exc
    raise InputError(
        f"{name}: byte 0x{raw[failure.start : failure.start + 1].hex()} at position "
        f"{failure.start:,} is neither UTF-8 nor Windows-1252 text; save it as CSV UTF-8"
    )


def read_table(path: str | Path, *, header: bool = True) -> pd.DataFrame:
    """All cells of ``path`` (``.csv``, ``.txt``, ``.xlsx``, ``.xlsm``) as strings, no NaN.

    With ``header=False`` the first row is data and the columns are named ``0, 1, …``."""
    p = Path(path)
    if not p.is_file():
        raise InputError(f"no such file: {p}")
    suffix = p.suffix.lower()
    try:
        if suffix in (".xlsx", ".xlsm"):
            with zipfile.ZipFile(p) as z:
                if sum(i.file_size for i in z.infolist()) > MAX_XLSX_UNPACKED:
                    raise InputError(
                        f"{p.name}: spreadsheet unpacks to more than "
                        f"{MAX_XLSX_UNPACKED / 2**20:,.0f} MB"
                    )
            df = pd.read_excel(
                p,
                engine="calamine",
                dtype=str,
                keep_default_na=False,
                header=0 if header else None,
            )
        else:
            text = _decode(p.read_bytes(), p.name)
            df = pd.read_csv(
                io.StringIO(text),
                dtype=str,
                keep_default_na=False,
                skipinitialspace=True,
                header=0 if header else None,
            )
    except InputError:
        raise
    # CalamineError: the XLSX reader's own errors (not a workbook inside the zip, XML it
    # refuses such as entity definitions) are bad input like any other.
    except (ValueError, OSError, zipfile.BadZipFile, pd.errors.ParserError, CalamineError) as exc:
        raise InputError(f"cannot read {p.name}: {str(exc).splitlines()[0]}") from exc
    df.columns = [str(c).strip() for c in df.columns]
    if df.empty:
        raise InputError(f"{p.name} has no rows")
    return df.astype(str)


def _column(df: pd.DataFrame, name: str, what: str) -> pd.Series:
    if name not in df.columns:
        raise InputError(f"missing {what} column {name!r} (columns: {', '.join(df.columns)})")
    return df[name]


# A comma is a thousands separator only in groups of three ("1,250,000.50"); any other comma
# ("1,5", a decimal comma from a European export) is refused rather than read as 15.
THOUSANDS = r"^[-+]?\d{1,3}(?:,\d{3})+(?:\.\d*)?(?:[eE][-+]?\d+)?$"


def numeric(df: pd.DataFrame, name: str, what: str = "measure") -> np.ndarray:
    """Column ``name`` as float64; error names the first non-numeric row (1-based, header = 1).

    ``$`` signs and thousands separators ("1,250,000") are dropped; a decimal comma ("1,5") is
    an error, not 15."""
    col = _column(df, name, what).str.strip().str.replace("$", "", regex=False)
    comma = col.str.contains(",", regex=False)
    if comma.any():
        odd = np.flatnonzero((comma & ~col.str.match(THOUSANDS)).to_numpy())
        if odd.size:
            i = int(odd[0])
            raise InputError(
                f"column {name!r} row {i + 2}: {df[name].iloc[i]!r} has a comma that is not a "
                "thousands separator; write decimals with a point (1.5)"
            )
        col = col.str.replace(",", "", regex=False)
    values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        i = int(bad[0])
        raise InputError(f"column {name!r} row {i + 2}: {df[name].iloc[i]!r} is not a number")
    return values


@dataclass(frozen=True)
class Table:
    """A problem read from a file, plus what the command needs to write results back."""

    problem: Problem
    ids: np.ndarray
    owner_given: bool


def problem_from_table(
    df: pd.DataFrame,
    *,
    territories: int | None,
    measures: list[str],
    id_column: str | None = None,
    owner_column: str | None = None,
    lock_column: str | None = None,
    segment_column: str | None = None,
    seats: dict[str, int] | None = None,
    x_column: str | None = None,
    y_column: str | None = None,
    lat_column: str | None = None,
    lon_column: str | None = None,
    adjacency: pd.DataFrame | None = None,
) -> Table:
    """Build the problem from ``df`` (all-string cells).

    ``measures`` are column names; ``count`` without such a column means 1 per row. Owners are
    mapped to territories per segment in sorted label order; the remaining seats become new
    territories ``T###``. ``adjacency`` is a two-column table of id pairs.
    """
    n = len(df)
    if id_column is None:
        id_column = next((c for c in ID_GUESSES if c in df.columns), df.columns[0])
    ids = _column(df, id_column, "id").str.strip().to_numpy(dtype=object)
    dup = pd.Series(ids).duplicated()
    if dup.any():
        raise InputError(f"duplicate id {ids[int(np.flatnonzero(dup)[0])]!r} in {id_column!r}")
    if not measures:
        raise InputError("no measures given")
    cols = []
    for m in measures:
        if m == COUNT and m not in df.columns:
            cols.append(np.ones(n))
        else:
            v = numeric(df, m)
            if np.any(v < 0):
                i = int(np.flatnonzero(v < 0)[0])
                raise InputError(f"column {m!r} row {i + 2}: negative value {df[m].iloc[i]!r}")
            cols.append(v)
    w = np.stack(cols, axis=1)
    # Segments and seats.
    segment = None
    seg_names: tuple[str, ...] = ("all",)
    if segment_column:
        labels = _column(df, segment_column, "segment").str.strip().to_numpy(dtype=object)
        if not seats:
            raise InputError("--segment-column needs --seats SEG=K,...")
        missing = sorted(set(labels) - set(seats))
        if missing:
            raise InputError(f"segment {missing[0]!r} has no seats in --seats")
        seg_names = tuple(sorted(set(labels)))
        extra = sorted(set(seats) - set(seg_names))
        if extra:
            raise InputError(f"--seats names segment {extra[0]!r} that no row has")
        code = {s: i for i, s in enumerate(seg_names)}
        segment = np.array([code[x] for x in labels], dtype=np.int64)
        seat_tuple = tuple(int(seats[s]) for s in seg_names)
        if territories is not None and territories != sum(seat_tuple):
            raise InputError(f"--territories {territories} but --seats add up to {sum(seat_tuple)}")
        territories = sum(seat_tuple)
    else:
        if seats:
            raise InputError("--seats needs --segment-column")
        if territories is None:
            raise InputError("give --territories K")
        seat_tuple = (territories,)
    if territories < 1:
        raise InputError(f"--territories must be at least 1 (got {territories})")
    if territories > n:
        raise InputError(f"--territories {territories} is more than the {n} rows")
    seg_of = segment if segment is not None else np.zeros(n, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(seat_tuple)])
    labels_out = [f"T{t + 1:03d}" for t in range(territories)]
    owner = None
    if owner_column:
        names = _column(df, owner_column, "owner").str.strip().to_numpy(dtype=object)
        owner = np.full(n, -1, dtype=np.int64)
        for s, seat in enumerate(seat_tuple):
            rows = np.flatnonzero(seg_of == s)
            known = sorted({x for x in names[rows] if x})
            if len(known) > seat:
                raise InputError(
                    f"segment {seg_names[s]!r} has {len(known)} owners but {seat} territories"
                )
            index = {x: offsets[s] + i for i, x in enumerate(known)}
            for i, x in enumerate(known):
                labels_out[offsets[s] + i] = x
            owner[rows] = [index.get(x, -1) for x in names[rows]]
    locked = None
    if lock_column:
        flags = _column(df, lock_column, "lock").str.strip().str.lower()
        locked = flags.isin(TRUE_WORDS).to_numpy()
        if locked.any() and owner is None:
            raise InputError("--lock-column needs --owner-column (a locked row keeps its owner)")
        if locked.any() and np.any(owner[locked] < 0):
            i = int(np.flatnonzero(locked & (owner < 0))[0])
            raise InputError(f"row {i + 2} is locked but has no owner")
    coords = None
    if x_column or y_column:
        if not (x_column and y_column):
            raise InputError("give both --x-column and --y-column")
        coords = np.stack([numeric(df, x_column, "x"), numeric(df, y_column, "y")], axis=1)
    elif lat_column or lon_column:
        if not (lat_column and lon_column):
            raise InputError("give both --lat-column and --lon-column")
        lat = numeric(df, lat_column, "latitude")
        lon = numeric(df, lon_column, "longitude")
        if np.any(np.abs(lat) > 90) or np.any(np.abs(lon) > 180):
            raise InputError("latitude must be within ±90 and longitude within ±180")
        # Equirectangular projection: fine for adjacency and compactness within a country.
        coords = np.stack([lon * np.cos(np.radians(lat.mean())), lat], axis=1)
    edges = None
    if adjacency is not None:
        edges = edges_from_pairs(adjacency, ids)
    try:
        problem = Problem(
            measures=w,
            measure_names=tuple(measures),
            territories=territories,
            ids=ids,
            coords=coords,
            edges=edges,
            owner=owner,
            locked=locked,
            segment=segment,
            seats=seat_tuple,
            segment_names=seg_names,
            territory_labels=tuple(labels_out),
        )
    except BalancingError as exc:
        raise InputError(str(exc)) from exc
    return Table(problem=problem, ids=ids, owner_given=owner is not None)


def edges_from_pairs(pairs: pd.DataFrame, ids: np.ndarray) -> np.ndarray:
    """``(m, 2)`` atom indices from a table read without a header (``read_table(header=False)``)
    whose first two columns are ids.

    The first row is a header when neither of its two cells is an id of the atoms, and a pair
    when both are; one id and one unknown word is refused (a typo, or a header naming an id).
    Error rows are the file's line numbers."""
    if pairs.shape[1] < 2:
        raise InputError("the adjacency file needs two columns of ids")
    index = {x: i for i, x in enumerate(ids)}
    a = pairs.iloc[:, 0].str.strip().to_numpy(dtype=object)
    b = pairs.iloc[:, 1].str.strip().to_numpy(dtype=object)
    first = (a[0] in index, b[0] in index)
    if first == (True, False) or first == (False, True):
        unknown = b[0] if first[0] else a[0]
        raise InputError(
            f"adjacency row 1: unknown id {unknown!r} (the first row must be two ids, or a "
            "header naming neither)"
        )
    start = 0 if all(first) else 1
    out = np.empty((len(a) - start, 2), dtype=np.int64)
    for r in range(start, len(a)):
        for col, z in ((0, a[r]), (1, b[r])):
            i = index.get(z)
            if i is None:
                raise InputError(f"adjacency row {r + 1}: unknown id {z!r}")
            out[r - start, col] = i
    return out
