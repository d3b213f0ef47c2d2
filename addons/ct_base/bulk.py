"""Bulk loading for trusted server paths (imports, demo data).

The rows are inserted with multi-row INSERTs (COPY on PostgreSQL) after the
caller validated them: no ORM validation, no per-record overhead. Stored
defaults of the columns the caller does not give are filled in, and the
history table is kept in step.
"""
import datetime as dt

from sql import Column
from sql.aggregate import Max
from trytond import backend
from trytond.model import fields
from trytond.transaction import Transaction


def stored_defaults(Model, given):
    "Default values (SQL formatted) of stored fields the loader does not set"
    skip = {'id', 'create_uid', 'create_date', 'write_uid', 'write_date'}
    names = [n for n, f in Model._fields.items()
        if n not in given and n not in skip
        and not isinstance(f, fields.Function)
        and f.sql_type() and not hasattr(f, 'set')]
    defaults = Model.default_get(names, with_rec_name=False)
    return {n: Model._fields[n].sql_format(v) for n, v in defaults.items()
        if n in names}


def allocate_ids(Model, count):
    "Reserve count ids of Model's table"
    transaction = Transaction()
    database, connection = transaction.database, transaction.connection
    if not count:
        return []
    ids = database.nextid(connection, Model._table, count)
    if ids is not None:
        return [ids] if count == 1 else list(ids)
    # SQLite: single writer, AUTOINCREMENT follows explicit ids
    table = Model.__table__()
    cursor = connection.cursor()
    cursor.execute(*table.select(Max(table.id)))
    start = (cursor.fetchone()[0] or 0) + 1
    if backend.name == 'sqlite':
        cursor.execute('SELECT seq FROM sqlite_sequence WHERE name = ?',
            (Model._table,))
        row = cursor.fetchone()
        if row and row[0] is not None:
            start = max(start, row[0] + 1)
    return list(range(start, start + count))


def bulk_insert(Model, rows, chunk=500):
    """Insert rows (dicts with 'id') with multi-row INSERTs and copy them
    to the history table"""
    if not rows:
        return
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    table = Model.__table__()
    names = sorted(rows[0])
    defaults = stored_defaults(Model, set(names))
    extra = sorted(defaults)
    columns = [Column(table, n) for n in
        ['create_uid', 'create_date'] + names + extra]
    now = dt.datetime.now()
    user = transaction.user
    copy = backend.name == 'postgresql'
    if copy:
        chunk = 5000
        statement = 'COPY "%s" (%s) FROM STDIN' % (Model._table,
            ', '.join('"%s"' % c.name for c in columns))
    for i in range(0, len(rows), chunk):
        part = rows[i:i + chunk]
        values = [[user, now] + [r[n] for n in names]
            + [defaults[n] for n in extra] for r in part]
        if copy:
            # psycopg parses big parameterised INSERTs slowly: COPY rows in
            with cursor.copy(statement) as copier:
                for value in values:
                    copier.write_row(value)
        else:
            cursor.execute(*table.insert(columns, values))
        for j in range(0, len(part), 1000):
            Model._insert_history([r['id'] for r in part[j:j + 1000]])


def bulk_create(Model, rows):
    """Allocate ids for rows (dicts), insert them and return the ids"""
    ids = allocate_ids(Model, len(rows))
    for id_, row in zip(ids, rows, strict=True):
        row['id'] = id_
    bulk_insert(Model, rows)
    return ids
