"""Where a report is: a compound by id, or the nearest one to a point."""

from math import cos, radians

from models.errors import TicketError
from models.geo import distance_m
from models.org import Compound

NEAREST_COMPOUND_M = 500


def compound_by_id(compound_id: int) -> Compound:
    """The compound, or a polite 400 (an id the caller typed is input, not a resource)."""
    compound = Compound.get_or_none(Compound.id == compound_id)
    if compound is None:
        raise TicketError("没有找到这个小区，请重新选择。", "invalid")
    return compound


def nearest_compound(lat: float, lng: float, within_m: float = NEAREST_COMPOUND_M):
    """The compound nearest to (lat, lng) within `within_m`, or None."""
    dlat = within_m / 111_000
    dlng = within_m / (111_000 * max(cos(radians(lat)), 0.01))
    candidates = Compound.select().where(
        Compound.lat.between(lat - dlat, lat + dlat) & Compound.lng.between(lng - dlng, lng + dlng)
    )
    best, best_d = None, within_m
    for compound in candidates:
        d = distance_m(lat, lng, compound.lat, compound.lng)
        if d <= best_d:
            best, best_d = compound, d
    return best
