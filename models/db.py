"""Database handle, base model and connection set-up (deferred until start-up)."""

import json
from urllib.parse import urlparse

import peewee
from playhouse.db_url import connect

database = peewee.DatabaseProxy()


class BaseModel(peewee.Model):
    class Meta:
        database = database
        legacy_table_names = False


class JSONField(peewee.TextField):
    """JSON stored as text, so the same schema works on SQLite and PostgreSQL."""

    def db_value(self, value):
        return None if value is None else json.dumps(value, ensure_ascii=False)

    def python_value(self, value):
        return None if value is None else json.loads(value)


SQLITE_PRAGMAS = {
    "journal_mode": "wal",
    "foreign_keys": 1,
    # Web workers, the scheduler and the chat simulator share one file.
    "busy_timeout": 10000,
    "synchronous": "normal",
}


_bound_url: str | None = None


def open_database(url: str, pool_size: int = 8) -> peewee.Database:
    """Connect the models to the database at `url` (sqlite:///path or postgresql://...).

    Binding the same URL again keeps the existing handle (and its connection pool): a new
    pool per app would leave the old one's connections open until garbage collection.
    """
    global _bound_url
    if url == _bound_url and database.obj is not None:
        return database.obj
    if database.obj is not None:
        close_pool = getattr(database.obj, "close_all", None)
        close_pool() if close_pool else database.obj.close()
    scheme = urlparse(url).scheme
    if scheme.startswith("sqlite"):
        db = connect(url, pragmas=SQLITE_PRAGMAS)
    elif scheme.startswith("postgres"):
        # A pool: a fresh PostgreSQL connection per web request costs more than the request.
        pooled = url if "+pool" in scheme else url.replace(scheme, f"{scheme}+pool", 1)
        # A small pool per process, waiting (not failing) when all are busy: N workers times
        # the pool must stay under the server's max_connections (docs/operations.md). Idle
        # connections older than a minute are closed at the next checkout.
        db = connect(pooled, max_connections=pool_size, stale_timeout=60, timeout=10,
                     connect_timeout=5)  # fmt: skip
    else:
        raise ValueError(f"unsupported DATABASE_URL scheme: {scheme!r}")
    database.initialize(db)
    _bound_url = url
    return db


def write_transaction():
    """A transaction that will write: on SQLite take the write lock up front (BEGIN IMMEDIATE),
    since a read transaction upgraded later fails at once under WAL instead of waiting."""
    if isinstance(database.obj, peewee.SqliteDatabase) and not database.in_transaction():
        return database.atomic(lock_type="IMMEDIATE")
    return database.atomic()


def under_path(column, path: str):
    """`column` starts with the materialised path `path` ("/1/4/"), in a form an index serves.

    peewee's startswith() is ILIKE on PostgreSQL and case-blind LIKE on SQLite, and neither
    can use a btree index. A LIKE prefix can on PostgreSQL (with the varchar_pattern_ops index
    of schema v4), and a GLOB prefix can on SQLite. Paths hold only digits and slashes, so no
    wildcard needs escaping.
    """
    if is_postgres():
        return peewee.Expression(column, peewee.OP.LIKE, path + "%")
    return peewee.Expression(column, "GLOB", path + "*")


def is_postgres() -> bool:
    """True when the models are bound to PostgreSQL."""
    return isinstance(database.obj, peewee.PostgresqlDatabase)


def insert_rows(model, rows: list[dict], *, ignore_conflicts: bool = False) -> int:
    """Insert many rows (dicts keyed by field name) in one statement per chunk; the row count.

    What model.insert_many(rows) writes (same columns, defaults, db_value conversions), built
    without peewee's per-value query nodes: for the thousands of rows a bulk sweep writes, that
    SQL generation cost more than the INSERT itself.
    """
    if not rows:
        return 0
    meta = model._meta
    given = {name for row in rows for name in row}
    fields = [f for f in meta.sorted_fields if f.name in given or f in meta.defaults]
    defaults = {f.name: meta.defaults[f] for f in fields if f in meta.defaults}
    p = database.param
    cols = ", ".join(f'"{f.column_name}"' for f in fields)
    row_sql = "(" + ", ".join([p] * len(fields)) + ")"
    head = "INSERT OR IGNORE INTO" if ignore_conflicts and not is_postgres() else "INSERT INTO"
    tail = " ON CONFLICT DO NOTHING" if ignore_conflicts and is_postgres() else ""
    # SQLite allows 32766 parameters per statement (3.32+). psycopg2 binds on the client, so
    # PostgreSQL has no such limit here; chunks keep each statement's text bounded anyway.
    chunk = max(1, (60000 if is_postgres() else 30000) // len(fields))
    count = 0
    for start in range(0, len(rows), chunk):
        part = rows[start : start + chunk]
        params = []
        for row in part:
            for f in fields:
                if f.name in row:
                    value = row[f.name]
                else:
                    value = defaults.get(f.name)
                    value = value() if callable(value) else value
                params.append(f.db_value(value))
        sql = f'{head} "{meta.table_name}" ({cols}) VALUES {", ".join([row_sql] * len(part))}{tail}'
        count += database.execute_sql(sql, params).rowcount
    return count


_UNBUILT = object()


class SqlOnce:
    """A hot SELECT whose SQL text is written once per kind of database, then run with fresh
    parameters. peewee writes the text anew on every call, and for a wide row (a user's 17
    columns) writing it costs more than running it.

    `build(*params)` returns the peewee query. Each parameter must reach the SQL once, in
    order, unconverted (checked when the text is first written; a query that fails the check
    is simply built by peewee on every call). An IN list of another length is another text.
    """

    def __init__(self, build):
        self.build = build
        self._texts: dict[tuple[type, int], str | None] = {}
        self._joined: dict[tuple[type, int], bool] = {}

    def _text(self, params: tuple) -> str | None:
        key = (type(database.obj), len(params))
        text = self._texts.get(key, _UNBUILT)
        if text is _UNBUILT:
            sql, built = self.build(*params).sql()
            text = sql if list(built) == list(params) else None
            self._texts[key] = text
        return text

    def _whole(self, models: tuple, params: tuple) -> str | None:
        """The text, if the query selects every field of `models` in their declared order (so
        each row can be filled column by column); else None. Checked once per text."""
        text = self._text(params)
        key = (type(database.obj), len(params))
        if text is not None and key not in self._joined:
            selected = list(self.build(*params)._returning)
            whole = [f for model in models for f in model._meta.sorted_fields]
            self._joined[key] = len(selected) == len(whole) and all(
                a is b for a, b in zip(selected, whole, strict=True)
            )
        return text if text is not None and self._joined[key] else None

    def rows(self, model, *params) -> list:
        """The rows as `model` instances, as the built query would give them. A query of the
        whole model is filled column by column: peewee's raw() resolves the cursor's columns
        against the model on every call, which for one user row cost more than the query."""
        text = self._whole((model,), params)
        if text is None:
            text = self._text(params)
            if text is None:
                return list(self.build(*params))
            return list(model.raw(text, *params))
        return [_instance(model, row) for row in database.execute_sql(text, params).fetchall()]

    def joined(self, models: tuple, attach: str, *params) -> list:
        """Rows of a `select(A, B).join(B, on=A.fk == B.id)` query as A instances with their B
        set on A.<attach> (no further query), as peewee's own join gives them. The columns must
        be A's fields then B's, in their declared order (checked once; else peewee builds
        and reads the query on every call)."""
        head, tail = models
        text = self._whole(models, params)
        if text is None:
            return list(self.build(*params))
        split = len(head._meta.sorted_fields)
        found = []
        for row in database.execute_sql(text, params).fetchall():
            first = _instance(head, row[:split])
            first.__rel__[attach] = _instance(tail, row[split:])
            found.append(first)
        return found

    def scalars(self, *params) -> list:
        """The first column of every row."""
        text = self._text(params)
        if text is None:
            return [row[0] for row in self.build(*params).tuples()]
        return [row[0] for row in database.execute_sql(text, params).fetchall()]


def _instance(model, values):
    """A model instance from its columns in declared order, converted as peewee converts them."""
    instance = model(__no_default__=1)
    data = instance.__data__
    for field, value in zip(model._meta.sorted_fields, values, strict=True):
        data[field.name] = field.python_value(value)
    return instance


_INSERT_TEXTS: dict[tuple, str | None] = {}


def insert_new(instance):
    """`instance.save(force_insert=True)` for a new row with an auto-increment id, with the
    INSERT's text written once per model, set of columns and kind of database (as SqlOnce
    does for a SELECT: a ticket's 38 columns cost more to write out than to insert). The
    parameters are the fields' db_value()s in peewee's column order, checked against peewee's
    own the first time; anything unusual goes through save(). Returns the instance."""
    model, meta = type(instance), instance._meta
    pk = meta.primary_key
    data = instance.__data__
    if not meta.auto_increment or data.get(pk.name) is not None:
        instance.save(force_insert=True)
        return instance
    fields = [f for f in meta.sorted_fields if f.name in data and f is not pk]
    params = [f.db_value(data[f.name]) for f in fields]
    key = (type(database.obj), model, tuple(f.name for f in fields))
    text = _INSERT_TEXTS.get(key, _UNBUILT)
    if text is _UNBUILT:
        sql, built = model.insert({f: data[f.name] for f in fields}).sql()
        text = sql if list(built) == params else None
        _INSERT_TEXTS[key] = text
    if text is None:
        instance.save(force_insert=True)
        return instance
    cursor = database.execute_sql(text, params)
    instance._pk = cursor.fetchone()[0] if cursor.description else cursor.lastrowid
    instance._dirty -= {f.name for f in fields} | {pk.name}
    return instance


_UPDATE_TEXTS: dict[tuple, tuple[str, tuple[str, ...]] | None] = {}


def update_where(model, changes: dict, match: dict) -> int:
    """`model.update(**changes).where(<each field of match> == value)`, run; the rows it
    changed. The statement's text is written once per model, set of columns and kind of
    database, as insert_new does (the lifecycle's compare-and-set update wrote out its columns
    on every transition). The SET order is read off peewee's own text the first time and the
    parameters checked against peewee's; anything unusual is built by peewee every time."""
    meta = model._meta
    key = (type(database.obj), model, frozenset(changes), tuple(match))
    entry = _UPDATE_TEXTS.get(key, _UNBUILT)
    if entry is _UNBUILT:
        entry = _checked_update(model, changes, match)
        _UPDATE_TEXTS[key] = entry
    if entry is None:
        return _plain_update(model, changes, match).execute()
    text, order = entry
    params = [meta.fields[name].db_value(changes[name]) for name in order]
    params += [meta.fields[name].db_value(value) for name, value in match.items()]
    return database.execute_sql(text, params).rowcount


def _plain_update(model, changes: dict, match: dict):
    where = [getattr(model, name) == value for name, value in match.items()]
    condition = where[0]
    for term in where[1:]:
        condition &= term
    return model.update(**changes).where(condition)


def _checked_update(model, changes: dict, match: dict) -> tuple[str, tuple[str, ...]] | None:
    """(text, SET field names in the text's order), or None when the text cannot be reused."""
    meta = model._meta
    sql, built = _plain_update(model, changes, match).sql()
    if " SET " not in sql or " WHERE " not in sql:
        return None
    head = sql[sql.index(" SET ") : sql.index(" WHERE ")]
    by_column = {meta.fields[name].column_name: name for name in changes}
    at = {head.find(f'"{column}" = '): name for column, name in by_column.items()}
    if -1 in at or len(at) != len(changes):
        return None
    order = tuple(at[i] for i in sorted(at))
    params = [meta.fields[name].db_value(changes[name]) for name in order]
    params += [meta.fields[name].db_value(value) for name, value in match.items()]
    return (sql, order) if list(built) == params else None
