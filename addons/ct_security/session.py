"""Idle timeout, absolute lifetime and concurrent-session cap.

Tryton 8.0's ``[session] timeout`` only governs "fresh" sessions; a normal
session lives ``[session] max_age`` from its creation (that part is kept as
the absolute lifetime). Here every ``check`` (each RPC and each
authenticated route) also refuses and deletes a session unused for longer
than ``[ct_security] idle_timeout`` seconds (default 1800), and refreshes its
last activity at most once per ``[ct_security] activity_interval`` seconds
(default 60) with a single UPDATE, so read RPCs do not write on every call.
``write_date`` is left alone because core uses it for freshness.
"""
import datetime as dt

from trytond import config
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


def idle_timeout():
    return dt.timedelta(
        seconds=config.getint('ct_security', 'idle_timeout', default=1800))


def activity_interval():
    return dt.timedelta(seconds=config.getint(
            'ct_security', 'activity_interval', default=60))


def max_sessions():
    return config.getint('ct_security', 'max_sessions', default=3)


class Session(metaclass=PoolMeta):
    __name__ = 'ir.session'

    ct_last_activity = fields.Timestamp("Last Activity")

    @classmethod
    def check(cls, user, key, domain=None):
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        find = super().check(user, key, domain=domain)
        if find is False:
            AuditLog.log(
                'session_expired', user=user, session=key, result='failure')
        if not find:
            return find
        sessions = cls.search([
                ('create_uid', '=', user),
                ('key', '=', key),
                ], limit=1)
        if not sessions:
            return None
        session, = sessions
        # core compares create_date with a naive now() (the server runs UTC)
        now = dt.datetime.now()
        last = session.ct_last_activity or session.create_date
        if now - last > idle_timeout():
            cls.delete([session])
            AuditLog.log(
                'idle_timeout', user=user, session=key, result='failure',
                detail='idle since %s' % last.isoformat(
                    sep=' ', timespec='seconds'))
            return False
        if now - last > activity_interval():
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.update(
                    [table.ct_last_activity], [now],
                    where=table.id == session.id))
        return find

    @classmethod
    def new(cls, values=None):
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        key = super().new(values)
        limit = max_sessions()
        if limit > 0:
            user = Transaction().user
            sessions = cls.search([
                    ('create_uid', '=', user),
                    ], order=[('create_date', 'DESC'), ('id', 'DESC')])
            old = sessions[limit:]
            if old:
                for session in old:
                    AuditLog.log(
                        'session_evicted', user=user, session=session.key,
                        detail='max_sessions=%s' % limit)
                cls.delete(old)
        return key

    @classmethod
    def remove(cls, key, domain=None):
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        sessions = cls.search([('key', '=', key), domain or []], limit=1)
        user = sessions[0].create_uid.id if sessions else None
        name = super().remove(key, domain=domain)
        if name:
            AuditLog.log('logout', user=user, login=name, session=key)
        return name
