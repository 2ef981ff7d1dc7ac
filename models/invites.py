"""Issuing invite codes (operators) — redeeming them lives with the user model."""

import secrets

from models.clock import now
from models.enums import Role
from models.errors import TicketError
from models.org import InviteCode, OrgUnit, WorkUnit

ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"  # no 0/O or 1/I: people read these aloud


def issue_invites(role: Role, unit_name: str, count: int = 1, expires_at=None) -> list[str]:
    """New one-use codes making their users `role` of the org or work unit named."""
    if role == Role.RESIDENT:
        raise TicketError("居民不需要邀请码。")
    org = OrgUnit.get_or_none(OrgUnit.name == unit_name)
    work = WorkUnit.get_or_none(WorkUnit.name == unit_name) if org is None else None
    if org is None and work is None:
        raise TicketError(f"没有找到单位“{unit_name}”。", "not_found")
    codes = []
    for _ in range(count):
        code = f"{role.value[:3].upper()}-" + "".join(secrets.choice(ALPHABET) for _ in range(6))
        InviteCode.create(code=code, role=role, org_unit=org, work_unit=work,
                          expires_at=expires_at, created_at=now())  # fmt: skip
        codes.append(code)
    return codes
