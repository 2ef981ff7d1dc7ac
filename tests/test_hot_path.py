"""The webhook's hot-path shortcuts give what the plain peewee calls give: the org-unit and
compound row cache, SQL written once (SqlOnce, insert_new), the lock that reads the
conversation."""

import pytest

from models import lifecycle
from models.db import SqlOnce, insert_new
from models.enums import Action, Role, State
from models.org import Compound, OrgUnit, User, cached_row, responsible_staff, touch_user
from models.places import similar_open_tickets
from models.tickets import Ticket, TicketEvent


def test_touch_user_reads_the_same_row_as_peewee(demo):
    for user in User.select():
        touched = touch_user(user.openid)
        plain = User.get_by_id(user.id)
        assert touched.__data__ == plain.__data__
    assert touch_user("someone_new").id == User.get(User.openid == "someone_new").id


def test_staff_on_the_path_as_the_plain_query_finds_them(demo):
    for unit in OrgUnit.select():
        chain = [int(p) for p in unit.path.strip("/").split("/") if p]
        plain = list(User.select().where((User.role == Role.DISPATCHER) & User.org_unit.in_(chain)))
        expected = []
        for unit_id in reversed(chain):
            expected = sorted((p for p in plain if p.org_unit_id == unit_id), key=lambda p: p.id)
            if expected:
                break
        found = responsible_staff(unit, Role.DISPATCHER)
        assert [p.__data__ for p in found] == [p.__data__ for p in expected]


def test_sql_once_falls_back_to_peewee_when_parameters_are_converted(demo):
    # The parameter reaches the SQL changed (upper-cased): the text cannot be reused.
    query = SqlOnce(lambda openid: User.select().where(User.openid == openid.lower()))
    assert [u.openid for u in query.rows(User, "DEMO_RESIDENT_1")] == ["demo_resident_1"]
    assert [u.openid for u in query.rows(User, "DEMO_RESIDENT_2")] == ["demo_resident_2"]
    assert list(query._texts.values()) == [None]


def test_similar_open_tickets_as_the_plain_query_finds_them(demo):
    from datetime import timedelta

    from models.clock import now
    from models.enums import ACTIVE_STATES
    from models.places import DUPLICATE_DAYS

    home = demo.resident_1.compound
    for text in ("3号楼楼道灯坏了", "楼道灯不亮", "路灯坏了"):
        lifecycle.submit(demo.resident_1, text, "power_lighting")
    lifecycle.submit(demo.resident_1, "垃圾没人收", "sanitation")
    found = similar_open_tickets("power_lighting", home, limit=2)
    plain = list(
        Ticket.select()
        .where(
            (Ticket.category == "power_lighting")
            & Ticket.state.in_(list(ACTIVE_STATES))
            & (Ticket.created_at >= now() - timedelta(days=DUPLICATE_DAYS))
            & Ticket.merged_into.is_null()
            & (Ticket.compound == home)
        )
        .order_by(Ticket.created_at.desc())
        .limit(2)
    )
    assert len(found) == 2
    assert [t.__data__ for t in found] == [t.__data__ for t in plain]


def test_insert_new_writes_the_row_create_would(demo):
    ticket = lifecycle.submit(demo.resident_1, "3号楼楼道灯坏了", "power_lighting")
    stored = Ticket.get_by_id(ticket.id)
    assert {k: stored.__data__[k] for k in ticket.__data__} == ticket.__data__
    fields = dict(ticket=ticket, actor=demo.dispatcher_1, action=Action.URGE,
                  from_state=State.SUBMITTED, to_state=State.SUBMITTED, level=ticket.level,
                  org_unit=ticket.org_unit_id, note="快点", data={"n": 1})  # fmt: skip
    fast = insert_new(TicketEvent(**fields))
    plain = TicketEvent.create(**fields)
    assert fast.id and not fast.is_dirty()
    got_fast, got_plain = TicketEvent.get_by_id(fast.id), TicketEvent.get_by_id(plain.id)
    assert {**got_fast.__data__, "id": 0, "created_at": 0} == {
        **got_plain.__data__,
        "id": 0,
        "created_at": 0,
    }


def test_cached_rows_follow_a_save_in_this_process(demo):
    compound = demo.resident_1.compound
    assert cached_row(Compound, compound.id) is cached_row(Compound, compound.id)
    row = Compound.get_by_id(compound.id)
    row.name = "改过名的小区"
    row.save()
    assert cached_row(Compound, compound.id).name == "改过名的小区"
    assert User.get_by_id(demo.resident_1.id).compound.name == "改过名的小区"
    assert cached_row(Compound, 10**9) is None


def test_the_lock_reads_the_conversation_and_marks_and_writes_go_with_the_release(
    redis_client, redis_prefix
):
    from handlers.conversation import ConversationStore

    store = ConversationStore(redis_client, redis_prefix)
    store.save("p1", "report", "confirm", {"text": "灯坏了"}, 60)
    redis_client.set(f"{redis_prefix}filed:p1", 1)
    marks = (f"{redis_prefix}rebind:p1", f"{redis_prefix}filed:p1")
    lock = store.person_lock("p1", f"{redis_prefix}lock:p1", timeout=5, blocking_timeout=1,
                             marks=marks)  # fmt: skip
    assert lock.acquire()
    try:
        assert store.load("p1")["state"] == "confirm"
        assert [_text(store.mark(key)) for key in marks] == [None, "1"]
        store.clear("p1")
        store.set_mark(f"{redis_prefix}filed:p1", 2, ex=60)
        assert store.load("p1") is None
        # The writes wait for the release: Redis still holds the old state meanwhile ...
        outside = ConversationStore(redis_client, redis_prefix)
        assert outside.load("p1")["state"] == "confirm"
        assert _text(redis_client.get(f"{redis_prefix}filed:p1")) == "1"
        # ... and someone else's lock is not taken meanwhile: the lock is a real one.
        other = store.person_lock("p1", f"{redis_prefix}lock:p1", timeout=5, blocking_timeout=0.2)
        assert not other.acquire()
    finally:
        lock.release()
    assert ConversationStore(redis_client, redis_prefix).load("p1") is None
    assert _text(redis_client.get(f"{redis_prefix}filed:p1")) == "2"
    assert not redis_client.exists(f"{redis_prefix}lock:p1")
    empty = ConversationStore(redis_client, redis_prefix)
    again = empty.person_lock("p2", f"{redis_prefix}lock:p2", timeout=5, blocking_timeout=1)
    assert again.acquire()
    assert empty.load("p2") is None
    empty.save("p2", "report", "describe", {}, 60)
    again.release()
    assert ConversationStore(redis_client, redis_prefix).load("p2")["state"] == "describe"


def _text(value):
    return value.decode() if isinstance(value, bytes) else value


def test_a_release_after_the_lock_expired_still_writes_and_says_so(redis_client, redis_prefix):
    from redis.exceptions import LockNotOwnedError

    from handlers.conversation import ConversationStore

    store = ConversationStore(redis_client, redis_prefix)
    lock = store.person_lock("p3", f"{redis_prefix}lock:p3", timeout=5, blocking_timeout=1)
    assert lock.acquire()
    store.save("p3", "report", "confirm", {}, 60)
    redis_client.delete(f"{redis_prefix}lock:p3")  # expired under a slow message
    with pytest.raises(LockNotOwnedError):
        lock.release()
    assert ConversationStore(redis_client, redis_prefix).load("p3")["state"] == "confirm"


def test_a_release_after_redis_forgot_its_scripts_still_releases(redis_client, redis_prefix):
    from handlers.conversation import ConversationStore

    store = ConversationStore(redis_client, redis_prefix)
    lock = store.person_lock("p4", f"{redis_prefix}lock:p4", timeout=5, blocking_timeout=1)
    assert lock.acquire()
    store.save("p4", "report", "confirm", {}, 60)
    redis_client.script_flush()  # as after a Redis restart
    lock.release()
    assert not redis_client.exists(f"{redis_prefix}lock:p4")
    assert ConversationStore(redis_client, redis_prefix).load("p4")["state"] == "confirm"


def test_load_ticket_reads_what_the_plain_join_reads(demo, monkeypatch):
    from models.access import load_ticket
    from models.db import database

    queries = []
    original = database.obj.execute_sql

    def spy(*args, **kwargs):
        queries.append(args)
        return original(*args, **kwargs)

    for text, category in (("3号楼楼道灯坏了", "power_lighting"), ("垃圾没人收", "sanitation")):
        filed = lifecycle.submit(demo.resident_1, text, category)
        plain = (
            Ticket.select(Ticket, User)
            .join(User, on=(Ticket.reporter == User.id))
            .where(Ticket.id == filed.id)
            .get()
        )
        fast = load_ticket(filed.id)
        assert fast.__data__ == plain.__data__ and not fast.is_dirty()
        with monkeypatch.context() as patch:
            patch.setattr(database.obj, "execute_sql", spy)
            assert fast.reporter.__data__ == plain.reporter.__data__
        assert queries == []  # the reporter came with the ticket


def test_update_where_changes_what_the_plain_update_changes(demo):
    from models import db
    from models.clock import now

    first = lifecycle.submit(demo.resident_1, "3号楼楼道灯坏了", "power_lighting")
    second = lifecycle.submit(demo.resident_1, "4号楼楼道灯坏了", "power_lighting")
    at = now()
    changes = {"state": State.TAKEN, "assignee": demo.volunteer_1, "taken_at": at,
               "version": first.version + 1, "updated_at": at}  # fmt: skip
    match = {"id": first.id, "state": first.state, "version": first.version}
    assert db.update_where(Ticket, changes, match) == 1
    Ticket.update(**changes).where(Ticket.id == second.id).execute()
    fast, plain = Ticket.get_by_id(first.id), Ticket.get_by_id(second.id)
    for name in changes:
        assert fast.__data__[name] == plain.__data__[name], name
    # Written once and reused; a stale version changes nothing.
    assert [text for text in db._UPDATE_TEXTS.values() if text] != []
    assert db.update_where(Ticket, changes, match) == 0
