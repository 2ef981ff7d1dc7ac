"""Where a report is, for API input: a compound by id (nearest-to-a-point is models.places)."""

from models.errors import TicketError
from models.org import Compound


def compound_by_id(compound_id: int) -> Compound:
    """The compound, or a polite 400 (an id the caller typed is input, not a resource)."""
    compound = Compound.get_or_none(Compound.id == compound_id)
    if compound is None:
        raise TicketError("没有找到这个小区，请重新选择。", "invalid")
    return compound
