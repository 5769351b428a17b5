"""Plain SQL for the few statements every send runs, with their text built once per process.

A send's database hop runs before its reply's upstream call starts, and fifty tabs sending at
once queue their hops one behind another on the database thread; most of a hop's CPU was
Django building each statement's SQL (the compiler), not the database running it. These write
and read exactly what the ORM would (each value prepared by its field, `auto_now` fields set),
so the rows are the same; they only skip building the same SQL again and again.
"""
from __future__ import annotations

import functools
import uuid
from collections.abc import Sequence
from typing import Any

from django.db import DEFAULT_DB_ALIAS, DatabaseError, connection, connections
from django.db.models import Field, Model

from .models import Attachment, Message


@functools.cache
def _insert(model: type[Model], rows: int, returning: bool) -> tuple[str, tuple[Field[Any, Any], ...],
                                                                      tuple[Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(f for f in meta.concrete_fields if not f.db_returning)  # an auto id is the database's
    returned = tuple(f for f in meta.concrete_fields if f.db_returning) if returning else ()
    q = connection.ops.quote_name
    row = "(" + ", ".join(["%s"] * len(fields)) + ")"
    sql = (f"INSERT INTO {q(meta.db_table)} ({', '.join(q(f.column) for f in fields)}) VALUES "
           + ", ".join([row] * rows))
    if returned:
        sql += " RETURNING " + ", ".join(q(f.column) for f in returned)
    return sql, fields, returned


def insert(*objs: Model) -> None:
    """Insert new rows of one model in one statement, as `save()` would store them.

    `auto_now_add`/`auto_now` fields are set on the objects, each value prepared by its field for
    this database; an auto id comes back from the database (RETURNING) and is set on its object.
    No signals are sent (none are connected to the models this is used for; see tests/chat/test_rows.py).
    """
    model = type(objs[0])
    db = connections[DEFAULT_DB_ALIAS]  # this thread's connection, once: the proxy costs a lookup per use
    returning = any(f.db_returning for f in model._meta.concrete_fields)
    if returning and not db.features.can_return_rows_from_bulk_insert:  # an old SQLite: the ORM's way
        model._default_manager.bulk_create(objs)
        return
    sql, fields, returned = _insert(model, len(objs), returning)  # type: ignore[arg-type]
    params = [f.get_db_prep_save(f.pre_save(obj, True), db) for obj in objs for f in fields]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        if returned:
            for obj, values in zip(objs, cursor.fetchall(), strict=True):
                for f, value in zip(returned, values, strict=True):
                    setattr(obj, f.attname, value)
    for obj in objs:
        obj._state.adding = False
        obj._state.db = db.alias


@functools.cache
def _update(model: type[Model], names: tuple[str, ...]) -> tuple[str, tuple[Field[Any, Any], ...]]:
    meta = model._meta
    fields = tuple(meta.get_field(name) for name in names)
    q = connection.ops.quote_name
    sets = ", ".join(f"{q(f.column)} = %s" for f in fields)  # type: ignore[union-attr]
    return f"UPDATE {q(meta.db_table)} SET {sets} WHERE {q(meta.pk.column)} = %s", fields  # type: ignore[union-attr,return-value]


def update(obj: Model, *names: str) -> None:
    """`obj.save(update_fields=names)`, `auto_now` fields included in `names` set to now.

    Raises DatabaseError when the row is gone, as `save(update_fields=...)` does.
    """
    sql, fields = _update(type(obj), names)  # type: ignore[arg-type]
    db = connections[DEFAULT_DB_ALIAS]
    params = [f.get_db_prep_save(f.pre_save(obj, False), db) for f in fields]
    params.append(obj._meta.pk.get_db_prep_value(obj.pk, db))  # type: ignore[union-attr]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        if cursor.rowcount != 1:
            raise DatabaseError("Save with update_fields did not affect any rows.")


def _fields_where(model: type[Model], names: tuple[str, ...], where: tuple[str, ...]) -> tuple[Any, ...]:
    """The fields named, the `where` fields, and the WHERE clause testing each of those for equality."""
    meta = model._meta
    q = connection.ops.quote_name
    fields = tuple(meta.get_field(name) for name in names)
    keys = tuple(meta.get_field(name) for name in where)
    return fields, keys, " AND ".join(f"{q(f.column)} = %s" for f in keys)  # type: ignore[union-attr]


@functools.cache
def _update_where(model: type[Model], names: tuple[str, ...], where: tuple[str, ...]) -> tuple[Any, ...]:
    q = connection.ops.quote_name
    fields, keys, condition = _fields_where(model, names, where)
    assignments = ", ".join(f"{q(f.column)} = %s" for f in fields)
    return f"UPDATE {q(model._meta.db_table)} SET {assignments} WHERE {condition}", fields, keys


def update_where(model: type[Model], values: dict[str, Any], **where: Any) -> int:
    """`model.objects.filter(**where).update(**values)` (each `where` an equality): how many rows changed."""
    sql, fields, keys = _update_where(model, tuple(values), tuple(where))  # type: ignore[arg-type]
    db = connections[DEFAULT_DB_ALIAS]
    params = [f.get_db_prep_save(value, db) for f, value in zip(fields, values.values(), strict=True)]
    params += [f.get_db_prep_value(value, db) for f, value in zip(keys, where.values(), strict=True)]
    with db.cursor() as cursor:
        cursor.execute(sql, params)
        return int(cursor.rowcount)


@functools.cache
def _has_attachments_sql() -> str:
    q = connection.ops.quote_name
    a, m = Attachment._meta, Message._meta
    return (f"SELECT 1 FROM {q(a.db_table)} INNER JOIN {q(m.db_table)} ON "
            f"{q(a.db_table)}.{q(a.get_field('message').column)} = {q(m.db_table)}.{q(m.pk.column)} "  # type: ignore[union-attr]
            f"WHERE {q(m.db_table)}.{q(m.get_field('conversation').column)} = %s LIMIT 1")


def has_attachments(conversation_id: uuid.UUID) -> bool:
    """Whether any message of the conversation has an attachment."""
    with connection.cursor() as cursor:
        cursor.execute(_has_attachments_sql(), [Message._meta.pk.get_db_prep_value(conversation_id, connection)])  # type: ignore[union-attr]
        return cursor.fetchone() is not None


@functools.cache
def _children_sql(parents: int) -> str:
    q = connection.ops.quote_name
    m = Message._meta
    parent = q(m.get_field("parent").column)
    return (f"SELECT {q(m.pk.column)}, {parent} FROM {q(m.db_table)} WHERE {parent} IN "  # type: ignore[union-attr]
            f"({', '.join(['%s'] * parents)}) ORDER BY {q(m.get_field('created_at').column)}, {q(m.pk.column)}")  # type: ignore[union-attr]


def children(parents: list[uuid.UUID]) -> list[tuple[uuid.UUID, uuid.UUID]]:
    """(id, parent id) of the messages under `parents`, oldest first (as chat.paging.siblings_of orders them)."""
    prep = Message._meta.pk.get_db_prep_value  # type: ignore[union-attr]
    with connection.cursor() as cursor:
        cursor.execute(_children_sql(len(parents)), [prep(p, connection) for p in parents])
        return [(_uuid(key), _uuid(parent)) for key, parent in cursor.fetchall()]


def _uuid(value: Any) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(value)  # SQLite keeps them as hex text


@functools.cache
def _select(vendor: str, model: type[Model], names: tuple[str, ...], where: tuple[str, ...]) -> tuple[Any, ...]:
    """The statement, its fields and columns, and the `where` fields: per database kind, not per connection.

    Keyed by `vendor`, never by the connection object: each thread has its own (Django's ASGI
    handler runs every request in a thread of its own), and a cache holding them would keep
    every one of their database connections open for the life of the process.
    """
    meta = model._meta
    q = connection.ops.quote_name
    fields, keys, condition = _fields_where(model, names, where)
    sql = f"SELECT {', '.join(q(f.column) for f in fields)} FROM {q(meta.db_table)} WHERE {condition}"
    columns = tuple(f.get_col(meta.db_table) for f in fields)  # type: ignore[union-attr]
    return sql, fields, columns, keys


def _converters(wrapper: Any, fields: tuple[Any, ...], columns: tuple[Any, ...]) -> list[tuple[int, list[Any], Any]]:
    """Each column's converters from this connection (bound to it, so asked per call: a few µs)."""
    out = []
    for i, (f, col) in enumerate(zip(fields, columns, strict=True)):
        functions = wrapper.ops.get_db_converters(col) + f.get_db_converters(wrapper)
        if functions:
            out.append((i, functions, col))
    return out


def select(model: type[Model], names: Sequence[str], **where: Any) -> list[list[Any]]:
    """The `names` columns of the rows where each of `where` equals its value, as `values_list` reads them
    (each value converted by its field and the database's converters), in no particular order."""
    wrapper = connections[DEFAULT_DB_ALIAS]  # this thread's connection
    sql, fields, columns, keys = _select(wrapper.vendor, model, tuple(names), tuple(where))  # type: ignore[arg-type]
    params = [f.get_db_prep_value(value, wrapper) for f, value in zip(keys, where.values(), strict=True)]
    with wrapper.cursor() as cursor:
        cursor.execute(sql, params)
        found = cursor.fetchall()
    if not found:
        return []
    converters = _converters(wrapper, fields, columns)
    out = []
    for row in found:
        values = list(row)
        for i, functions, col in converters:
            value = values[i]
            for function in functions:
                value = function(value, col, wrapper)
            values[i] = value
        out.append(values)
    return out


def select_raw(model: type[Model], names: Sequence[str], **where: Any) -> list[tuple[Any, ...]]:
    """`select`'s rows as the database driver returns them, unconverted (SQLite: a UUID as hex text, a
    JSON column as its text): for a caller that keeps a few of many rows and converts only those."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    sql, _fields, _columns, keys = _select(wrapper.vendor, model, tuple(names), tuple(where))  # type: ignore[arg-type]
    params = [f.get_db_prep_value(value, wrapper) for f, value in zip(keys, where.values(), strict=True)]
    with wrapper.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def db_value(model: type[Model], name: str, value: Any) -> Any:
    """`value` as the database stores `model.name` (what `select_raw` returns for it): to match raw rows."""
    return model._meta.get_field(name).get_db_prep_value(value, connections[DEFAULT_DB_ALIAS])  # type: ignore[union-attr]


def converter(model: type[Model], name: str) -> Any:
    """A function turning a raw value of `model.name` into what `select` returns for it."""
    wrapper = connections[DEFAULT_DB_ALIAS]
    field = model._meta.get_field(name)
    col = field.get_col(model._meta.db_table)  # type: ignore[union-attr]
    functions = wrapper.ops.get_db_converters(col) + field.get_db_converters(wrapper)  # type: ignore[union-attr]

    def convert(value: Any) -> Any:
        for function in functions:
            value = function(value, col, wrapper)
        return value

    return convert


def get(model: type[Model], **where: Any) -> Any:
    """The one instance where each of `where` equals its value (as `objects.filter(...).first()` without an
    ordering), or None."""
    names = tuple(f.attname for f in model._meta.concrete_fields)
    found = select(model, names, **where)
    if not found:
        return None
    return model.from_db(DEFAULT_DB_ALIAS, list(names), found[0])
