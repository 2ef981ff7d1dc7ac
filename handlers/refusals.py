"""Refusals that fit the person: when someone sends another role's command, say whose it is
and what this person can do instead (a dispatcher is never told to ask for an invite code)."""

from handlers import texts
from models.enums import Role

# The commands of the people who do the work (volunteers, workers).
ASSIGNEE_VERBS = {"nearby", "my_tasks", "my_points", "接单", "抢单", "进度", "办结", "退单"}
# The supervisor-only ones.
SUPERVISE_VERBS = {"督办"}


def refusal(role: Role, verb: str) -> str:
    """The reply for `verb` sent by someone whose role has no such command."""
    if role == Role.RESIDENT:
        return texts.NEED_VOLUNTEER if verb in ASSIGNEE_VERBS else texts.REFUSE_RESIDENT_STAFF
    if role in (Role.VOLUNTEER, Role.WORKER):
        return texts.REFUSE_ASSIGNEE
    if role == Role.DISPATCHER:
        if verb in ASSIGNEE_VERBS:
            return texts.REFUSE_DISPATCHER_TAKE
        if verb in SUPERVISE_VERBS or verb == "催单":
            return texts.REFUSE_DISPATCHER_URGE
        if verb == "撤销":
            return texts.REFUSE_DISPATCHER_CANCEL
        return texts.NOT_UNDERSTOOD
    if role == Role.SUPERVISOR:
        what = (
            texts.REFUSE_SUPERVISOR_TAKE if verb in ASSIGNEE_VERBS
            else texts.REFUSE_SUPERVISOR_DISPATCH
        )  # fmt: skip
        return texts.REFUSE_SUPERVISOR.format(what=what)
    return texts.NOT_UNDERSTOOD
