"""The deadline sweep's system steps for a whole batch at once, set-based (issue 15).

models.deadlines decides what each due ticket needs; this module does it the way the
per-ticket transitions in chase.py do (same columns, same TicketEvent, same outbox rows:
the notices come from the same `tell_*` functions), but per batch instead of per ticket:

- one `UPDATE ticket … FROM (VALUES (id, judged version, …)) … RETURNING id` per kind of
  step, a compare-and-set on every row's own (version, state): a row someone else moved
  since the sweep read it (another sweeper, a user) is not returned and not acted on, so
  each breach is acted on once however many sweeps race;
- one INSERT of the events and one of the outbox rows, for exactly the returned rows;
- all of it in one transaction.

What the texts need (units, compounds, people, the staff to tell) is read once per batch,
not per ticket. Needs UPDATE … FROM and RETURNING: PostgreSQL, or SQLite 3.35 and later
(`supported`); elsewhere the sweep stays on the per-ticket path.
"""

import sqlite3
from collections import Counter
from datetime import datetime

import peewee

from models.clock import now
from models.db import database, insert_rows, is_postgres
from models.enums import Action, Level, Role, State
from models.lifecycle.chase import (
    BREACH_REASON,
    CLOSE_UNRATED_NOTE,
    step_name_of,
    tell_closed_unrated,
    tell_escalated,
    tell_rating_reminder,
    tell_reminded,
)
from models.lifecycle.core import ALLOWED_FROM, transition
from models.org import Compound, OrgUnit, User, nearest_staff, path_ids, staff_by_unit
from models.tickets import Ticket, TicketEvent

# Not a transition: only when the sweep next looks (no version bump, no event, no notice).
RESCHEDULE = "reschedule"

# The columns each kind of step writes, besides version and updated_at. `v_*` name the
# per-row values; the row's judged id, version and state come first in every group.
_SETS = {
    Action.REMIND: (
        ("next_check_at",),
        "breach_count = t.breach_count + 1, next_check_at = v.v_next_check_at",
    ),
    Action.ESCALATE: (
        ("next_check_at", "level", "org_unit_id"),
        "breach_count = t.breach_count + 1, next_check_at = v.v_next_check_at, "
        "level = v.v_level, org_unit_id = v.v_org_unit_id",
    ),
    Action.RATING_REMINDER: (
        ("next_check_at",),
        "rating_reminded = {true}, next_check_at = v.v_next_check_at",
    ),
    Action.CLOSE_UNRATED: ((), "state = {closed}, closed_at = {at}, next_check_at = NULL"),
    RESCHEDULE: (("next_check_at",), "next_check_at = v.v_next_check_at"),
}
# A fixed order, so two sweepers lock rows in the same order (and ids ascend inside each).
_ORDER = (Action.CLOSE_UNRATED, Action.RATING_REMINDER, Action.REMIND, Action.ESCALATE,
          RESCHEDULE)  # fmt: skip


def supported() -> bool:
    """True when the bound database can run the set-based steps."""
    if is_postgres():
        return True
    return (
        isinstance(database.obj, peewee.SqliteDatabase)
        and sqlite3.sqlite_version_info >= (3, 35, 0)  # RETURNING (UPDATE … FROM: 3.33)
    )


def act_on_due(plans: list[tuple[Ticket, str, datetime | None]]) -> Counter:
    """Carry out the sweep's decisions for one batch: (ticket as read, action, next check).

    Returns how many of each step were done; a ticket changed since it was read is skipped
    (as the per-ticket path skips it on a version conflict) and the next sweep looks again.
    """
    plans = [p for p in plans if _allowed(p[0], p[1])]
    if not plans:
        return Counter()
    units = _preload([ticket for ticket, _, _ in plans])
    targets = {}  # ticket id -> the unit an escalation moves it to
    for ticket, action, _ in plans:
        if action == Action.ESCALATE:
            targets[ticket.id] = ticket.grid.ancestor_at(Level(ticket.level).up())
    staff = _staff_lookup(units) if any(a != RESCHEDULE for _, a, _ in plans) else None
    return _act(plans, targets, staff)


@transition
def _act(plans, targets, staff) -> Counter:
    at = now()
    by_action: dict[str, list] = {}
    for plan in plans:
        by_action.setdefault(plan[1], []).append(plan)
    moved: set[int] = set()
    for action in _ORDER:
        if action in by_action:
            moved |= _update(action, by_action[action], targets, at)
    done: Counter = Counter()
    events = []
    for ticket, action, next_check_at in plans:  # the batch's order, as the per-ticket path
        if ticket.id not in moved or action == RESCHEDULE:
            if ticket.id in moved:
                ticket.next_check_at = next_check_at
            continue
        events.append(_move(ticket, action, next_check_at, targets.get(ticket.id), at, staff))
        done[str(action)] += 1
    if events:
        insert_rows(TicketEvent, events)
    return done


def _allowed(ticket: Ticket, action: str) -> bool:
    """What move() and _escalate refuse (as a conflict) is left out here the same way."""
    if action == RESCHEDULE:
        return True
    if ticket.state not in ALLOWED_FROM[Action(action)]:
        return False
    return action != Action.ESCALATE or Level(ticket.level).up() is not None


def _update(action: str, plans, targets: dict, at: datetime) -> set[int]:
    """One compare-and-set UPDATE for every ticket of one kind of step; the ids it moved."""
    columns, sets = _SETS[action]
    pg = is_postgres()
    p = database.param
    typed = {"next_check_at": f"CAST({p} AS timestamp)" if pg else p}
    key = ("id", "version") if action == RESCHEDULE else ("id", "version", "state")
    row_sql = "(" + ", ".join([p] * len(key) + [typed.get(c, p) for c in columns]) + ")"
    params: list = []
    for ticket, _, next_check_at in sorted(plans, key=lambda plan: plan[0].id):
        params += [ticket.id, ticket.version, ticket.state][: len(key)]
        owner = targets.get(ticket.id)
        values = {
            "next_check_at": Ticket.next_check_at.db_value(next_check_at),
            "level": owner.level if owner else None,
            "org_unit_id": owner.id if owner else None,
        }
        params += [values[c] for c in columns]
    names = ", ".join(f"v_{c}" for c in (*key, *columns))
    sets = sets.format(true=p, closed=p, at=p)
    set_params = {
        Action.RATING_REMINDER: [True],
        Action.CLOSE_UNRATED: [State.CLOSED.value, Ticket.closed_at.db_value(at)],
    }.get(action, [])
    if action != RESCHEDULE:
        sets += f", version = t.version + 1, updated_at = {p}"
        set_params.append(Ticket.updated_at.db_value(at))
    where = " AND ".join(f"t.{c} = v.v_{c}" for c in key)
    sql = (
        f"WITH v({names}) AS (VALUES {', '.join([row_sql] * len(plans))}) "
        f'UPDATE "{Ticket._meta.table_name}" AS t SET {sets} FROM v WHERE {where} RETURNING id'
    )
    return {row[0] for row in database.execute_sql(sql, params + set_params).fetchall()}


def _move(ticket: Ticket, action: str, next_check_at, owner, at, staff) -> dict:
    """Apply to the instance what the UPDATE wrote (as move() does), queue the notices the
    per-ticket transition queues, and return its TicketEvent row."""
    from_state = ticket.state
    step_name = step_name_of(ticket)
    changes: dict = {"version": ticket.version + 1, "updated_at": at}
    note, data = "", None
    if action == Action.REMIND:
        changes.update(breach_count=ticket.breach_count + 1, next_check_at=next_check_at)
        note = f"{step_name}超时提醒"
    elif action == Action.ESCALATE:
        changes.update(breach_count=ticket.breach_count + 1, next_check_at=next_check_at,
                       level=owner.level, org_unit=owner)  # fmt: skip
        note, data = BREACH_REASON, {"to_level": owner.level}
    elif action == Action.RATING_REMINDER:
        changes.update(rating_reminded=True, next_check_at=next_check_at)
    elif action == Action.CLOSE_UNRATED:
        changes.update(state=State.CLOSED, closed_at=at, next_check_at=None)
        note = CLOSE_UNRATED_NOTE
    for field, value in changes.items():
        setattr(ticket, field, value)
    if action == Action.REMIND:
        tell_reminded(ticket, step_name, staff=staff)
    elif action == Action.ESCALATE:
        tell_escalated(ticket, owner, BREACH_REASON, staff=staff)
    elif action == Action.RATING_REMINDER:
        tell_rating_reminder(ticket)
    else:
        tell_closed_unrated(ticket, staff=staff)
    return {
        "ticket": ticket.id, "actor": None, "action": action, "from_state": from_state,
        "to_state": ticket.state, "level": ticket.level, "org_unit": ticket.org_unit_id,
        "assignee": ticket.assignee_id, "note": note, "data": data, "created_at": at,
    }  # fmt: skip


def _preload(tickets: list[Ticket]) -> dict[int, OrgUnit]:
    """Read what the notices and the escalation targets need, a query per table for the
    whole batch, and hang it on the tickets (so nothing below reads per ticket). Returns
    the units read: every unit the tickets name, with all their ancestors linked."""
    units = _org_units(tickets)
    compound_ids = {t.compound_id for t in tickets if t.compound_id}
    compounds = {c.id: c for c in Compound.select().where(Compound.id.in_(list(compound_ids)))}
    user_ids = {t.reporter_id for t in tickets} | {t.assignee_id for t in tickets}
    user_ids.discard(None)
    users = {u.id: u for u in User.select().where(User.id.in_(list(user_ids)))}
    for ticket in tickets:
        ticket.grid = units[ticket.grid_id]
        ticket.org_unit = units[ticket.org_unit_id]
        if ticket.compound_id in compounds:
            ticket.compound = compounds[ticket.compound_id]
        ticket.reporter = users[ticket.reporter_id]
        if ticket.assignee_id in users:
            ticket.assignee = users[ticket.assignee_id]
    return units


def _org_units(tickets: list[Ticket]) -> dict[int, OrgUnit]:
    """The units the tickets name and all their ancestors (their materialised paths name
    them), parents linked so that ancestor_at walks up without a query."""
    wanted = {t.grid_id for t in tickets} | {t.org_unit_id for t in tickets}
    for ticket in tickets:
        wanted.update(path_ids(ticket.area_path))
    units: dict[int, OrgUnit] = {}
    while missing := wanted - units.keys():
        found = list(OrgUnit.select().where(OrgUnit.id.in_(list(missing))))
        if not found:
            break
        for unit in found:
            units[unit.id] = unit
            wanted.update(path_ids(unit.path))
    for unit in units.values():
        if unit.parent_id in units:
            unit.parent = units[unit.parent_id]
    return units


def _staff_lookup(units: dict[int, OrgUnit]):
    """The dispatchers and supervisors of a batch's units, read in one query, as a
    `staff(unit, role)` that answers as models.org.responsible_staff does."""
    roles = (Role.DISPATCHER, Role.SUPERVISOR)
    people = list(User.select().where(User.role.in_(roles) & User.org_unit.in_(list(units))))
    index = {role: staff_by_unit(p for p in people if p.role == role) for role in roles}

    def staff(unit: OrgUnit, role: Role) -> list[User]:
        return nearest_staff(index[role], unit)

    return staff
