"""US geography: ZIP lookups, geographic units, adjacency and the territory map (pure, no DB)."""

from __future__ import annotations

import hashlib
import math
import re
import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from territories import geo

SVG = "{http://www.w3.org/2000/svg}"


def _edges(units: list[str]) -> set[frozenset[str]]:
    return {frozenset((units[i], units[j])) for i, j in geo.unit_adjacency(units)}


def _connected(n: int, pairs: list[tuple[int, int]]) -> bool:
    rows = [i for i, _ in pairs]
    cols = [j for _, j in pairs]
    graph = coo_matrix((np.ones(len(pairs)), (rows, cols)), shape=(n, n))
    return connected_components(graph, directed=False)[0] == 1


# --- Data ---------------------------------------------------------------------------------------


def test_vendored_atlas_is_the_file_its_readme_names():
    readme = (geo.GEODATA_DIR / "README.md").read_text()
    digest = hashlib.sha256(geo.ATLAS_PATH.read_bytes()).hexdigest()
    assert f"`{digest}`" in readme
    assert (geo.GEODATA_DIR / "LICENSE-us-atlas").read_text().startswith("Copyright")


def test_state_tables_cover_fifty_states_and_dc_with_census_regions():
    assert len(geo.STATES) == 51
    assert set(geo.STATE_REGION.values()) == {"Northeast", "Midwest", "South", "West"}
    assert len(set(geo.STATE_DIVISION.values())) == 9
    assert geo.STATE_REGION["CA"] == "West" and geo.STATE_DIVISION["CA"] == "Pacific"
    assert geo.STATE_REGION["DC"] == "South" and geo.STATE_DIVISION["NY"] == "Middle Atlantic"
    assert all(geo.FIPS_STATE[geo.STATE_FIPS[s]] == s for s in geo.STATES)
    # The atlas draws exactly these states.
    assert set(geo._atlas().states) == set(geo.STATES)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("CA", "CA"),
        (" ca ", "CA"),
        ("California", "CA"),
        ("new  york", "NY"),
        ("Washington, D.C.", "DC"),
        ("District of Columbia", "DC"),
        ("PR", None),  # Puerto Rico is not drawn by the Albers map: not a unit
        ("Ontario", None),
        ("", None),
        (None, None),
        (float("nan"), None),
        (6, None),
    ],
)
def test_normalize_state_reads_abbreviations_and_names(value, expected):
    assert geo.normalize_state(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("02134", "02134"),
        ("02134-1234", "02134"),
        ("02134 1234", "02134"),
        ("021341234", "02134"),
        (2134, "02134"),  # a spreadsheet ate the leading zero
        (2134.0, "02134"),
        ("2134", "02134"),
        ("2134.0", "02134"),
        (np.int64(501), "00501"),
        (21341234, "02134"),  # ZIP+4 as a number
        ("94105", "94105"),
        ("", None),
        ("abc", None),
        ("K1A 0B1", None),
        ("123456", None),
        (12, None),
        (2134.5, None),
        (float("nan"), None),
        (None, None),
        (True, None),
    ],
)
def test_normalize_zip5_keeps_leading_zeros_and_reads_spreadsheet_shapes(value, expected):
    assert geo.normalize_zip5(value) == expected


@pytest.mark.parametrize(
    ("zip5", "state", "county", "label"),
    [
        ("02134", "MA", "25025", "Suffolk County, MA"),
        ("94105", "CA", "06075", "San Francisco County, CA"),
        ("10001", "NY", "36061", "New York County, NY"),
        ("21201", "MD", "24510", "Baltimore city, MD"),  # independent city, not the county
        ("21204", "MD", "24005", "Baltimore County, MD"),
        ("63101", "MO", "29510", "St. Louis city, MO"),
        ("63105", "MO", "29189", "St. Louis County, MO"),
        ("22314", "VA", "51510", "Alexandria city, VA"),
        ("88001", "NM", "35013", "Doña Ana County, NM"),  # "Dona Ana County" in zipcodes
        ("99501", "AK", "02020", "Anchorage, AK"),  # "Municipality of Anchorage"
        ("99801", "AK", "02110", "Juneau, AK"),  # "City and Borough of Juneau"
        ("89701", "NV", "32510", "Carson City, NV"),
        ("70112", "LA", "22071", "Orleans Parish, LA"),
        ("20001", "DC", "11001", "District of Columbia, DC"),
    ],
)
def test_known_zip_codes_give_state_and_county(zip5, state, county, label):
    assert geo.postal_to_state(zip5) == state
    assert geo.postal_to_county_fips(zip5) == county
    assert geo.unit_label(f"{state}:C{county}") == label


def test_zip_missing_from_the_table_is_placed_by_its_prefix():
    assert "94100" not in geo._zips().row
    assert geo.postal_to_state("94100") == "CA"
    assert geo.postal_to_county_fips("94100") is None  # a prefix spans counties
    assert geo.postal_to_state("06390") == "NY"  # Fishers Island: a CT prefix, in the table
    assert geo.postal_to_state("06399") is None  # prefix 063 is in CT and NY: no guess
    assert geo.postal_to_state("00901") is None  # Puerto Rico
    assert geo.postal_to_state("09001") is None  # military (AE)


def test_vectorised_lookups_agree_with_scalar_ones_and_keep_the_index():
    values = pd.Series(["02134", 2134, None, "94105-0001", "junk", float("nan"), "10001"])
    values.index = [10, 11, 12, 13, 14, 15, 16]
    states = geo.postal_to_state_series(values)
    counties = geo.postal_to_county_fips_series(values)
    prefixes = geo.zip3_series(values)
    assert list(states.index) == list(values.index)
    assert list(states) == [geo.postal_to_state(v) for v in values]
    assert list(states) == ["MA", "MA", None, "CA", None, None, "NY"]
    assert list(counties) == ["25025", "25025", None, "06075", None, None, "36061"]
    assert list(prefixes) == ["021", "021", None, "941", None, None, "100"]


def test_county_join_misses_are_few_and_each_one_is_placed_in_its_own_state():
    """The honest tally of the ZIP → county join over zipcodes 3.0 and us-atlas 3.0.1.

    41,647 of the 41,749 ZIP codes of the 50 states and DC join by county name (99.76 %).
    The rest: DC's blank names take its only county (21); 21 ZIP codes with neither a county
    name nor coordinates (APO, parcel-return codes) stay unknown; 60 are placed by the county
    containing their point — blank names, renamed Alaska areas, and ZIP codes whose county
    name is the neighbouring state's (listed below with where they land instead).
    """
    zips = geo._zips()
    assert len(zips.zip) == 41_749
    methods = pd.Series(zips.county_method).value_counts().to_dict()
    assert methods == {"name": 41_647, "point": 60, "only county": 21, "none": 21}

    named_misses = {
        zips.zip[i]: (zips.county_name[i], zips.county[i])
        for i in np.flatnonzero((zips.county_method == "point") & (zips.county_name != ""))
    }
    assert named_misses == {
        "15439": ("Monongalia County", "42051"),  # a WV county for a PA ZIP → Fayette, PA
        "24619": ("McDowell County", "51185"),  # WV → Tazewell, VA
        "25410": ("Washington County", "54037"),  # MD → Jefferson, WV
        "30138": ("Cleburne County", "13233"),  # AL → Polk, GA
        "58439": ("McPherson County", "38021"),  # SD → Dickey, ND
        "69212": ("Todd County", "31031"),  # SD → Cherry, NE
        "97635": ("Modoc County", "41037"),  # CA → Lake, OR
        # Valdez-Cordova was split into Chugach and Copper River in 2019; the atlas is 2017.
        **dict.fromkeys(
            ["99566", "99573", "99586", "99588"], ("Copper River Census Area", "02261")
        ),
        **dict.fromkeys(["99574", "99677", "99686", "99693"], ("Chugach Census Area", "02261")),
        "99950": ("Prince of Wales-Outer Ketchikan Borough", "02130"),
    }
    placed = zips.county != None  # noqa: E711 — elementwise over an object array
    assert all(
        geo.FIPS_STATE[c[:2]] == s
        for c, s in zip(zips.county[placed], zips.state[placed], strict=True)
    )
    unplaced = zips.zip[~placed]
    assert len(unplaced) == 21 and not zips.located[~placed].any()


def test_zip_points_fall_in_the_county_their_name_gives():
    """Checks the Albers USA port: ZIP points land on the vendored shapes (border ZIP codes
    and simplified coastlines account for the misses)."""
    zips, atlas = geo._zips(), geo._atlas()
    sample = np.flatnonzero(zips.county_method == "name")[::10]
    sample = sample[zips.located[sample]]
    inside = sum(atlas.contains(zips.county[i], zips.x[i], zips.y[i]) for i in sample)
    assert inside / len(sample) > 0.96
    for state in ("AK", "HI"):
        rows = sample[zips.state[sample] == state]
        assert sum(atlas.contains(zips.county[i], zips.x[i], zips.y[i]) for i in rows) > 0.8 * len(
            rows
        )


def test_projection_round_trips_in_every_inset():
    lon = np.array([-119.8, -71.06, -149.9, -157.86, -80.2])
    lat = np.array([36.75, 42.36, 61.2, 21.3, 25.8])
    states = np.array(["CA", "MA", "AK", "HI", "FL"], dtype=object)
    x, y = geo.project(lon, lat, states)
    assert np.all((x > 0) & (x < geo.MAP_WIDTH) & (y > 0) & (y < geo.MAP_HEIGHT))
    back_lon, back_lat = geo._unproject(x, y, states)
    assert np.allclose(back_lon, lon) and np.allclose(back_lat, lat)
    assert geo._atlas().contains("CA", x[0], y[0]) and geo._atlas().contains("HI", x[3], y[3])


# --- Units --------------------------------------------------------------------------------------

GRANULARITY = {"CA": "county", "NY": "zip3", "TX": "city"}


def test_unit_ids_cut_each_state_at_its_granularity():
    frame = pd.DataFrame(
        [
            ("CA", "94105", "San Francisco"),
            ("California", "90012", "Los Angeles"),
            ("NY", "10001", "New York"),
            ("NY", 14604, "Rochester"),  # numeric ZIP from a spreadsheet
            ("TX", "75201", "dallas"),
            ("TX", "77002", "Houston"),
            ("MA", "02134", "Allston"),
            ("", "02134", ""),  # state from the ZIP code
            ("ma", None, None),
        ],
        columns=["state", "postal_code", "city"],
        index=[5, 6, 7, 8, 9, 10, 11, 12, 13],
    )
    units = geo.unit_ids(
        frame["state"], frame["postal_code"], frame["city"], granularity_by_state=GRANULARITY
    )
    assert list(units.index) == list(frame.index)
    assert list(units) == [
        "CA:C06075",
        "CA:C06037",
        "NY:Z100",
        "NY:Z146",
        "TX:CITY:Dallas",
        "TX:CITY:Houston",
        "MA",
        "MA",
        "MA",
    ]
    assert [geo.unit_kind(u) for u in units[:5]] == ["county", "county", "zip3", "zip3", "city"]


def test_city_field_wins_when_it_is_a_city_of_the_state_else_the_zip_codes_city():
    cities = {"MA": "city"}
    assert geo.unit_id("MA", "02134", "Boston", granularity_by_state=cities) == "MA:CITY:Boston"
    assert geo.unit_id("MA", "02134", "Gotham", granularity_by_state=cities) == "MA:CITY:Allston"
    assert geo.unit_id("MA", "02134", None, granularity_by_state=cities) == "MA:CITY:Allston"
    # Saint/St., case and punctuation are forgiven; the id keeps the USPS spelling.
    assert (
        geo.unit_id("MO", "", "st. louis", granularity_by_state={"MO": "city"})
        == "MO:CITY:Saint Louis"
    )


def test_unusable_geography_gives_a_sentinel_and_never_raises():
    rows = [
        (None, None, None, "?"),
        ("", "", "", "?"),
        (float("nan"), float("nan"), float("nan"), "?"),
        ("Ontario", "K1A 0B1", "Ottawa", "?"),
        ("PR", "00901", "San Juan", "?"),
        ("CA", "", "", "CA:?"),  # split state, no ZIP code
        ("CA", "10001", "", "CA:?"),  # the ZIP code is in New York
        ("CA", "00000", "", "CA:?"),
        ("NY", "06390", "", "NY:Z063"),  # Fishers Island: NY ZIP code with a CT prefix
        ("NY", "06001", "", "NY:?"),  # a CT ZIP code
        ("TX", "", "Gotham", "TX:?"),
        ("FL", "garbage", "", "FL"),  # whole state: the ZIP code does not matter
        ("", "94100", "", "CA:?"),  # unknown ZIP, state from its prefix, county unknown
        ("", "10299", "", "NY:Z102"),  # unknown ZIP, but its prefix is a NY ZIP area
    ]
    frame = pd.DataFrame(rows, columns=["state", "zip", "city", "unit"])
    units = geo.unit_ids(
        frame["state"], frame["zip"], frame["city"], granularity_by_state=GRANULARITY
    )
    assert list(units) == list(frame["unit"])
    assert geo.UNKNOWN == "?" and not geo.is_known_unit("CA:?") and not geo.is_known_unit("?")


def test_resolve_unit_says_why_for_the_routing_trace():
    def reason(*args):
        return geo.resolve_unit(*args, granularity_by_state=GRANULARITY).reason

    assert reason("CA", "94105", None) == "ZIP code 94105 lies in San Francisco County, CA"
    assert reason("", "02134", None) == "state MA from the ZIP code 02134"
    assert (
        reason("CA", "10001", None) == "CA is split by county, but ZIP code 10001 is in NY, not CA"
    )
    assert reason("CA", "", None) == "CA is split by county, but no usable ZIP code"
    assert reason(None, None, None) == "no state, and no ZIP code that gives one"


def test_bad_granularity_map_is_rejected_naming_the_key():
    with pytest.raises(ValueError, match=r"granularity_by_state\['CA'\]: 'zip5'"):
        geo.unit_ids(["CA"], ["94105"], granularity_by_state={"CA": "zip5"})
    with pytest.raises(ValueError, match="'California' is not a state abbreviation"):
        geo.unit_ids(["CA"], ["94105"], granularity_by_state={"California": "county"})
    with pytest.raises(ValueError, match="default granularity"):
        geo.unit_ids(["CA"], ["94105"], granularity_by_state={}, default="nation")
    with pytest.raises(ValueError, match="same length"):
        geo.unit_ids(["CA", "NY"], ["94105"], granularity_by_state={})


def test_unit_ids_of_nothing_is_an_empty_series():
    units = geo.unit_ids([], [], [], granularity_by_state=GRANULARITY)
    assert len(units) == 0 and units.dtype == object


_STATE_VALUES = ["CA", "ny", "Texas", "MA", "", "PR", "XX", None, float("nan")]
_ZIP_VALUES = ["94105", "90012", "10001", 14604, "75201", "02134", 2134.0, "", "00000", None, "x"]
_CITY_VALUES = ["Dallas", "san francisco", "Boston", "Gotham", "", None]


@settings(max_examples=60, deadline=None)
@given(
    rows=st.lists(
        st.tuples(
            st.sampled_from(_STATE_VALUES),
            st.sampled_from(_ZIP_VALUES),
            st.sampled_from(_CITY_VALUES),
        ),
        max_size=30,
    ),
    granularity=st.dictionaries(
        st.sampled_from(["CA", "NY", "TX", "MA"]), st.sampled_from(geo.GRANULARITIES)
    ),
    default=st.sampled_from(geo.GRANULARITIES),
)
def test_bulk_and_single_unit_ids_agree(rows, granularity, default):
    states, zips, cities = ([r[k] for r in rows] for k in range(3))
    bulk = geo.unit_ids(
        pd.Series(states, dtype=object),
        pd.Series(zips, dtype=object),
        pd.Series(cities, dtype=object),
        granularity_by_state=granularity,
        default=default,
    )
    single = [
        geo.unit_id(s, z, c, granularity_by_state=granularity, default=default) for s, z, c in rows
    ]
    assert list(bulk) == single
    assert all(u == geo.UNKNOWN or u[:2] in geo.STATE_FIPS for u in single)


def test_state_units_list_every_unit_of_a_state():
    counties = geo.state_units("CA", "county")
    assert len(counties) == 58 and counties[0] == "CA:C06001"
    assert "NY:Z100" in geo.state_units("NY", "zip3")
    assert "TX:CITY:Austin" in geo.state_units("TX", "city")
    assert geo.state_units("WY", "state") == ["WY"]
    for granularity in geo.GRANULARITIES:
        assert all(geo.unit_state(u) == "RI" for u in geo.state_units("RI", granularity))
    with pytest.raises(ValueError):
        geo.state_units("XX", "county")


@pytest.mark.parametrize(
    "bad", ["XX", "ca", "CA:", "CA:C36061", "CA:C99999", "CA:Z999", "CA:CITY:Gotham", "CA:06037"]
)
def test_malformed_or_unreal_unit_ids_are_rejected(bad):
    with pytest.raises(ValueError, match="not a geographic unit id"):
        geo.unit_kind(bad)


def test_unit_labels_read_as_place_names():
    assert geo.unit_label("CA") == "California"
    assert geo.unit_label("CA:C06037") == "Los Angeles County, CA"
    assert geo.unit_label("NY:Z100") == "ZIP 100xx, NY"
    assert geo.unit_label("TX:CITY:Dallas") == "Dallas, TX"
    assert geo.unit_label("CA:?") == "California, area unknown"
    assert geo.unit_label("?") == "Unknown location"


def test_centroids_lie_inside_their_shapes_and_unknowns_are_nan():
    units = ["CO", "KS", "CA", "CA:C06037", "NY:C36061", "NY:Z100", "AK", "HI", "CA:?", "?"]
    x, y = geo.unit_centroids(units)
    atlas = geo._atlas()
    for key, xi, yi in zip(["CO", "KS", "CA", "06037", "36061"], x, y, strict=False):
        assert atlas.contains(key, xi, yi), key
    assert atlas.contains("NY", x[5], y[5])  # Manhattan's ZIP area
    assert x[6] < 300 and y[6] > 430  # Alaska's inset, bottom left
    assert np.isnan(x[8:]).all() and np.isnan(y[8:]).all()


# --- Adjacency ----------------------------------------------------------------------------------


def test_states_neighbour_along_true_borders_only():
    edges = _edges(list(geo.STATES))
    for a, b in [
        ("CA", "OR"),
        ("CA", "NV"),
        ("CA", "AZ"),
        ("OR", "NV"),
        ("NV", "AZ"),
        ("UT", "CO"),
    ]:
        assert frozenset((a, b)) in edges, (a, b)
    assert frozenset(("CA", "TX")) not in edges
    # Four Corners: diagonal states touch at a point, which is not a border.
    assert frozenset(("AZ", "CO")) not in edges and frozenset(("UT", "NM")) not in edges
    # Islands and exclaves join the nearest mainland state.
    assert {e for e in edges if e & {"AK", "HI"}} == {
        frozenset(("AK", "WA")),
        frozenset(("CA", "HI")),
    }
    # 107 land borders between the lower 48 and DC. Cartographic boundaries stop at the shore,
    # so borders only in water (Michigan–Minnesota and –Illinois, New York–Rhode Island) are not.
    assert len(edges) == 107 + 2
    assert not edges & {frozenset(p) for p in [("MI", "MN"), ("MI", "IL"), ("NY", "RI")]}
    assert frozenset(("DE", "NJ")) in edges  # a few hundred metres of land at Finns Point


def test_county_graph_is_connected_and_bridges_only_islands():
    counties = [u for s in geo.STATES for u in geo.state_units(s, "county")]
    pairs = geo.unit_adjacency(counties)
    assert _connected(len(counties), pairs)
    atlas = geo._atlas()
    bridges = [
        (counties[i], counties[j])
        for i, j in pairs
        if counties[j][-5:] not in atlas.county_neighbours[counties[i][-5:]]
    ]
    # Hawaii's islands, the Aleutians, Nantucket, San Juan: within their state, except the two
    # links that join Alaska and Hawaii to the lower 48 (through Washington and California).
    across = {frozenset((a[:2], b[:2])) for a, b in bridges if a[:2] != b[:2]}
    assert across == {frozenset(("AK", "WA")), frozenset(("CA", "HI"))}
    assert len(bridges) == 8


def test_los_angeles_county_borders_orange_but_not_san_diego():
    edges = _edges(geo.state_units("CA", "county"))
    assert frozenset(("CA:C06037", "CA:C06059")) in edges
    assert frozenset(("CA:C06059", "CA:C06073")) in edges
    assert frozenset(("CA:C06037", "CA:C06073")) not in edges


def test_split_state_counties_link_to_neighbouring_whole_states_along_the_border():
    units = geo.state_units("CA", "county") + ["OR", "NV", "AZ", "TX"]
    edges = _edges(units)
    assert frozenset(("CA:C06015", "OR")) in edges  # Del Norte
    assert frozenset(("CA:C06071", "NV")) in edges  # San Bernardino
    assert frozenset(("CA:C06071", "AZ")) in edges
    assert frozenset(("CA:C06025", "AZ")) in edges  # Imperial
    assert frozenset(("CA:C06037", "NV")) not in edges  # Los Angeles is nowhere near
    assert frozenset(("NV", "AZ")) in edges and frozenset(("OR", "NV")) in edges
    # Texas borders none of them: one bridge, from its nearest unit.
    assert sum(1 for e in edges if "TX" in e) == 1


def test_zip_areas_link_within_their_state_and_across_real_borders():
    ny = geo.state_units("NY", "zip3")
    units = ny + ["NJ", "PA", "CT", "VT", "MA"]
    pairs = geo.unit_adjacency(units)
    edges = {frozenset((units[i], units[j])) for i, j in pairs}
    assert _connected(len(units), pairs)
    assert frozenset(("NY:Z129", "VT")) in edges  # Plattsburgh, across Lake Champlain
    assert frozenset(("NY:Z147", "PA")) in edges  # Jamestown
    assert frozenset(("NY:Z100", "VT")) not in edges
    # Fishers Island faces Connecticut; a link to Vermont would jump over Massachusetts.
    assert frozenset(("NY:Z063", "CT")) in edges
    assert frozenset(("NY:Z063", "VT")) not in edges
    assert not any(frozenset(("NY:Z100", s)) in edges for s in ("PA", "VT", "MA"))
    # Within New York alone the ZIP areas are connected without help.
    ny_pairs = geo.unit_adjacency(ny)
    assert _connected(len(ny), ny_pairs)


def test_whole_country_mixed_set_is_coherent():
    split = {"CA": "county", "NY": "zip3", "TX": "city"}
    units = [u for s in geo.STATES for u in geo.state_units(s, split.get(s, "state"))]
    pairs = geo.unit_adjacency(units)
    assert _connected(len(units), pairs)
    edges = {frozenset((units[i], units[j])) for i, j in pairs}
    assert frozenset(("CA:C06071", "NV")) in edges
    assert frozenset(("OK", "TX:CITY:Amarillo")) not in edges  # Amarillo is 100 miles south
    assert any(e for e in edges if "OK" in e and any(u.startswith("TX:") for u in e))
    assert any(e for e in edges if "NJ" in e and any(u.startswith("NY:") for u in e))


def test_adjacency_isolates_unknowns_and_rejects_bad_input():
    units = ["CA", "?", "NV", "CA:?"]
    assert geo.unit_adjacency(units) == [(0, 2)]
    with pytest.raises(ValueError, match="repeated: CA"):
        geo.unit_adjacency(["CA", "NV", "CA"])
    with pytest.raises(ValueError, match="not a geographic unit id"):
        geo.unit_adjacency(["CA", "Atlantis"])
    assert geo.unit_adjacency([]) == [] and geo.unit_adjacency(["WY"]) == []


def test_gabriel_graph_drops_the_edge_an_obtuse_triangle_spans():
    points = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.2]])
    assert geo._gabriel_edges(points) == {(0, 2), (1, 2)}
    collinear = np.array([[0.0, 0.0], [2.0, 0.0], [1.0, 0.0], [3.0, 0.0]])
    assert geo._gabriel_edges(collinear) == {(0, 2), (1, 2), (1, 3)}
    assert geo._gabriel_edges(np.zeros((1, 2))) == set()


# --- Map ----------------------------------------------------------------------------------------


def _legend(*rows):
    palette = geo.territory_palette(len(rows))
    return [
        geo.LegendRow(key=key, label=label, color=palette[n], count=count, value=value)
        for n, (key, label, count, value) in enumerate(rows)
    ]


def _shapes(svg: str) -> dict[str, ET.Element]:
    root = ET.fromstring(svg)
    return {el.get("data-unit"): el for el in root.iter() if el.get("data-unit")}


def test_map_is_well_formed_accessible_and_draws_every_state():
    legend = _legend(("w", "West", 1200, 3.4e6), ("e", "East", 900, 2.1e6))
    assignment = {s: ("w" if geo.STATE_REGION[s] == "West" else "e") for s in geo.STATES}
    svg = geo.render_us_map_svg(assignment=assignment, legend=legend, title="Balanced map")
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg" and root.get("role") == "img"
    assert root.get("aria-labelledby") == "us-map-title us-map-desc"
    assert root.find(f"{SVG}title").text == "Balanced map"
    assert "West: 1,200 accounts, $3.40M" in root.find(f"{SVG}desc").text
    shapes = _shapes(svg)
    assert set(shapes) == set(geo.STATES)
    assert shapes["CA"].get("fill") == legend[0].color
    assert shapes["NY"].get("fill") == legend[1].color
    assert shapes["CA"].find(f"{SVG}title").text == "California: West"
    texts = [t.text for t in root.iter(f"{SVG}text")]
    assert texts == ["West", "1,200 · $3.40M", "East", "900 · $2.10M"]  # no "Not assigned"
    # Self-contained: nothing to fetch.
    assert not re.search(r"href|url\(|<image|<script|@import", svg)


def test_unassigned_areas_are_grey_and_get_a_legend_row():
    svg = geo.render_us_map_svg(assignment={"CA": "w"}, legend=_legend(("w", "West", 5, 10.0)))
    shapes = _shapes(svg)
    assert shapes["NV"].get("fill") == geo.NEUTRAL_FILL
    assert shapes["NV"].find(f"{SVG}title").text == "Nevada: not assigned"
    assert "Not assigned" in [t.text for t in ET.fromstring(svg).iter(f"{SVG}text")]


def test_split_states_are_drawn_by_county_with_zip_areas_by_majority():
    legend = _legend(("a", "Bay Area", 10, 1e6), ("b", "SoCal", 20, 2e6), ("n", "New York", 5, 1))
    assignment = {"CA:C06075": "a", "CA:C06037": "b", "NY:Z100": "n", "NY:Z101": "n", "NV": "b"}
    svg = geo.render_us_map_svg(assignment=assignment, legend=legend)
    shapes = _shapes(svg)
    assert "CA" not in shapes and "NY" not in shapes and shapes["NV"].get("fill") == legend[1].color
    assert shapes["CA:C06075"].get("fill") == legend[0].color
    assert shapes["CA:C06037"].get("fill") == legend[1].color
    assert shapes["CA:C06059"].get("fill") == geo.NEUTRAL_FILL  # Orange: nobody's
    assert len([u for u in shapes if u.startswith("CA:C")]) == 58
    # Manhattan (New York County) is coloured by the ZIP areas holding most of its ZIP codes;
    # it is not shared, so its ZIP areas need no dot.
    assert shapes["NY:C36061"].get("fill") == legend[2].color
    assert shapes["NY:C36061"].find(f"{SVG}title").text.endswith("(most ZIP codes)")
    assert "NY:Z100" not in shapes
    everything = _shapes(geo.render_us_map_svg(assignment=assignment, legend=legend, markers="all"))
    assert everything["NY:Z100"].tag == f"{SVG}circle"
    assert everything["NY:Z100"].get("fill") == legend[2].color


def test_dots_show_the_units_of_counties_that_territories_share():
    legend = _legend(("d", "Dallas", 1, 1.0), ("i", "Irving", 1, 1.0))
    # Dallas and Irving are both mostly in Dallas County; Plano is in Collin County.
    assignment = {"TX:CITY:Dallas": "d", "TX:CITY:Irving": "i", "TX:CITY:Plano": "d"}
    shapes = _shapes(geo.render_us_map_svg(assignment=assignment, legend=legend))
    assert shapes["TX:CITY:Dallas"].get("fill") == legend[0].color
    assert shapes["TX:CITY:Irving"].get("fill") == legend[1].color
    assert shapes["TX:CITY:Irving"].find(f"{SVG}title").text == "Irving, TX: Irving"
    assert "TX:CITY:Plano" not in shapes
    assert shapes["TX:C48113"].get("fill") == legend[0].color  # Dallas has more ZIP codes
    none = geo.render_us_map_svg(assignment=assignment, legend=legend, markers="none")
    assert "<circle" not in none
    with pytest.raises(ValueError, match="markers"):
        geo.render_us_map_svg(assignment=assignment, legend=legend, markers="some")


def test_user_text_is_escaped_everywhere():
    label = '<script>alert("x")</script> & Co\x00'
    svg = geo.render_us_map_svg(
        assignment={"CA": 1},
        legend=[geo.LegendRow(key=1, label=label, color="#0072B2", count=1, value=1.0)],
        title="<b>Acme</b>",
    )
    assert "<script>" not in svg and "<b>" not in svg and "\x00" not in svg
    assert "&lt;script&gt;" in svg
    root = ET.fromstring(svg)  # still well-formed
    assert root.find(f"{SVG}title").text == "<b>Acme</b>"
    assert _shapes(svg)["CA"].find(f"{SVG}title").text.startswith('California: <script>alert("x")')


def test_map_output_is_deterministic():
    legend = _legend(("a", "A", 1, 1.0), ("b", "B", 2, 2.0))
    first = {"TX:CITY:Dallas": "a", "TX:CITY:Houston": "b", "CA": "a", "OR": "b"}
    second = dict(reversed(list(first.items())))
    svgs = {geo.render_us_map_svg(assignment=a, legend=legend) for a in (first, second, first)}
    assert len(svgs) == 1


def test_bad_map_input_is_rejected_with_a_clear_message():
    legend = _legend(("a", "A", 1, 1.0))
    with pytest.raises(ValueError, match="not in the legend"):
        geo.render_us_map_svg(assignment={"CA": "zz"}, legend=legend)
    with pytest.raises(ValueError, match="appears twice"):
        geo.render_us_map_svg(assignment={}, legend=legend + legend)
    with pytest.raises(ValueError, match="is not #rrggbb"):
        geo.render_us_map_svg(
            assignment={}, legend=[geo.LegendRow("a", "A", 1, 1.0, 'red" onload="x')]
        )
    with pytest.raises(ValueError, match="svg_id"):
        geo.render_us_map_svg(assignment={}, legend=legend, svg_id='x"y')
    with pytest.raises(ValueError, match="not a geographic unit id"):
        geo.render_us_map_svg(assignment={"Atlantis": "a"}, legend=legend)


def test_width_sets_the_size_and_keeps_the_legend_readable():
    legend = _legend(*[(n, f"Territory {n}", n, n * 1000.0) for n in range(50)])
    wide = ET.fromstring(geo.render_us_map_svg(assignment={}, legend=legend))
    narrow = ET.fromstring(geo.render_us_map_svg(assignment={}, legend=legend, width=488))
    fluid = ET.fromstring(geo.render_us_map_svg(assignment={}, legend=legend, width=None))
    assert wide.get("width") == "975" and narrow.get("width") == "488"
    assert fluid.get("width") is None and fluid.get("viewBox") == wide.get("viewBox")
    # At half the width the legend's text is twice as big in map units (the same on screen).
    assert float(narrow.get("font-size")) == pytest.approx(2 * float(wide.get("font-size")))
    assert len(list(wide.iter(f"{SVG}rect"))) == 51  # 50 territories and "Not assigned"


def test_map_renders_in_weasyprint():
    """The PDF documents embed this SVG inline: WeasyPrint must draw it."""
    from io import BytesIO

    from pypdf import PdfReader
    from weasyprint import HTML

    legend = _legend(("w", "West Enterprise", 12, 3.4e6))
    svg = geo.render_us_map_svg(assignment={"CA:C06037": "w", "NV": "w"}, legend=legend, width=600)
    pdf = HTML(string=f"<html><body>{svg}</body></html>").write_pdf()
    text = PdfReader(BytesIO(pdf)).pages[0].extract_text()
    assert "West Enterprise" in text and "$3.40M" in text


# --- Colours and numbers ------------------------------------------------------------------------


@pytest.mark.parametrize("k", [0, 1, 7, 16, 17, 50, 120])
def test_palette_is_distinct_deterministic_and_never_the_unassigned_grey(k):
    colours = geo.territory_palette(k)
    assert colours == geo.territory_palette(k) and len(colours) == k
    assert len(set(colours)) == k
    assert all(re.fullmatch(r"#[0-9a-f]{6}", c) for c in colours)
    grey = np.array([int(geo.NEUTRAL_FILL[i : i + 2], 16) for i in (1, 3, 5)])
    for colour in colours:
        rgb = np.array([int(colour[i : i + 2], 16) for i in (1, 3, 5)])
        assert np.abs(rgb - grey).sum() > 40, colour
    assert geo.territory_palette(3) == ["#0072b2", "#e69f00", "#009e73"]  # Okabe–Ito first


def test_text_colour_is_readable_on_every_palette_colour():
    def contrast(a: str, b: str) -> float:
        la, lb = sorted((geo._luminance(a), geo._luminance(b)), reverse=True)
        return (la + 0.05) / (lb + 0.05)

    assert geo.readable_text_color("#f0e442") == "#000000"
    assert geo.readable_text_color("#332288") == "#ffffff"
    for colour in geo.territory_palette(60):
        assert contrast(colour, geo.readable_text_color(colour)) >= 4.5
    with pytest.raises(ValueError):
        geo.readable_text_color("blue")


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "$0"),
        (950, "$950"),
        (999.6, "$1.00K"),
        (12_340, "$12.3K"),
        (4_560_000, "$4.56M"),
        (123_400_000, "$123M"),
        (1.2e9, "$1.20B"),
        (-2500, "-$2.50K"),
        (math.nan, "—"),
    ],
)
def test_format_usd_is_compact(value, text):
    assert geo.format_usd(value) == text
