"""Finding places: the compound nearest a point, compounds named in text, similar open tickets."""

import time
from datetime import timedelta
from math import cos, radians

from models.clock import now
from models.db import SqlOnce
from models.enums import ACTIVE_STATES
from models.geo import distance_m
from models.org import Compound, forget_cached_rows
from models.tickets import Ticket

NEAREST_RADIUS_M = 500
# Grids have no drawn boundaries here: a point belongs to the grid of the nearest compound
# within this distance.
GRID_RADIUS_M = 3000
DUPLICATE_RADIUS_M = 250
DUPLICATE_DAYS = 7


def nearest_compound(lat: float, lng: float, radius_m: float = NEAREST_RADIUS_M):
    """The compound nearest (lat, lng) within radius_m, with its distance; else (None, None)."""
    # A bounding box first, so only nearby rows are measured; a degree of longitude shrinks
    # with the cosine of the latitude.
    dlat = radius_m / 111_000
    dlng = radius_m / (111_000 * max(cos(radians(lat)), 0.01))
    rows = Compound.select().where(
        Compound.lat.between(lat - dlat, lat + dlat) & Compound.lng.between(lng - dlng, lng + dlng)
    )
    best, best_d = None, None
    for compound in rows:
        d = distance_m(lat, lng, compound.lat, compound.lng)
        if d <= radius_m and (best_d is None or d < best_d):
            best, best_d = compound, d
    return best, best_d


def locate(lat: float, lng: float):
    """(compound, grid) for a WeChat location: the compound within 500 m, else only the grid
    of the nearest compound within 3 km; (None, None) when the point is outside the city."""
    compound, _ = nearest_compound(lat, lng)
    if compound is not None:
        return compound, compound.grid
    near, _ = nearest_compound(lat, lng, GRID_RADIUS_M)
    return None, (near.grid if near is not None else None)


_NAMES_TTL_S = 60
_names_cache: tuple[float, dict[str, int]] = (0.0, {})


def forget_compound_names() -> None:
    """Drop the cached names and rows (tests, and after an operator edits compounds)."""
    global _names_cache
    _names_cache = (0.0, {})
    forget_cached_rows()


def compound_names() -> dict[str, int]:
    """Compound ids by name, for spotting a name in a message; re-read once a minute, not
    on every message (compounds are set up by operators and rarely change)."""
    global _names_cache
    loaded_at, names = _names_cache
    if time.monotonic() - loaded_at > _NAMES_TTL_S:
        names = dict(Compound.select(Compound.name, Compound.id).tuples())
        _names_cache = (time.monotonic(), names)
    return names


def _similar_ids(category: str, *params):
    *states, since, compound_id, limit = params
    return (
        Ticket.select(Ticket.id)
        .where(
            (Ticket.category == category)
            & Ticket.state.in_(states)
            & (Ticket.created_at >= since)
            & Ticket.merged_into.is_null()
            & (Ticket.compound == compound_id)
        )
        .order_by(Ticket.created_at.desc())
        .limit(limit)
    )


# Asked on nearly every first message: their SQL is written once (models.db.SqlOnce).
_SIMILAR_IDS = SqlOnce(_similar_ids)
_TICKETS_NEWEST_FIRST = SqlOnce(
    lambda *ids: Ticket.select().where(Ticket.id.in_(ids)).order_by(Ticket.created_at.desc())
)


def similar_open_tickets(category: str, compound=None, lat=None, lng=None, limit: int = 3,
                         building: str = ""):  # fmt: skip
    """Active tickets of the same category in the same compound or within 250 m, last 7 days;
    with `building`, none that names another building (5号楼's lift is not 3号楼's)."""
    since = now() - timedelta(days=DUPLICATE_DAYS)
    if compound is not None:
        # Ids first: most reports have no duplicate, and a full ticket row costs to build.
        compound_id = compound if isinstance(compound, int) else compound.id
        ids = _SIMILAR_IDS.scalars(category, *ACTIVE_STATES, since, compound_id, limit)
        found = _TICKETS_NEWEST_FIRST.rows(Ticket, *ids) if ids else []
        return [t for t in found if not (building and t.building and t.building != building)]
    if lat is None or lng is None:
        return []
    span = DUPLICATE_RADIUS_M / 100_000 + 0.001
    query = (
        Ticket.select()
        .where(
            (Ticket.category == category)
            & Ticket.state.in_(list(ACTIVE_STATES))
            & (Ticket.created_at >= since)
            & Ticket.merged_into.is_null()
        )
        .order_by(Ticket.created_at.desc())
    )
    nearby = query.where(
        Ticket.lat.between(lat - span, lat + span) & Ticket.lng.between(lng - span, lng + span)
    )
    return [
        t
        for t in nearby.limit(50)
        if distance_m(lat, lng, t.lat, t.lng) <= DUPLICATE_RADIUS_M
        and not (building and t.building and t.building != building)
    ][:limit]
