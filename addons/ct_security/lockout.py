"""Account lockout after repeated login failures (等保 身份鉴别 b).

Tryton 8.0 only rate-limits (HTTP 429); here ``[ct_security] max_failures``
failed logins (default 5) within ``failure_window`` seconds (default 900)
lock the account for ``lock_duration`` seconds (default 1800) or until a
system administrator clicks *Unlock*. Failures are counted from the audit
log, so no row of ``res_user`` is written per failed attempt.
"""
import datetime as dt

from sql import Literal
from sql.aggregate import Count, Max
from trytond import config
from trytond.exceptions import LoginException, RateLimitException
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.transaction import Transaction, without_check_access


def _now():
    return dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)


def max_failures():
    return config.getint('ct_security', 'max_failures', default=5)


def failure_window():
    return dt.timedelta(
        seconds=config.getint('ct_security', 'failure_window', default=900))


def lock_duration():
    return dt.timedelta(
        seconds=config.getint('ct_security', 'lock_duration', default=1800))


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    ct_locked_until = fields.Timestamp(
        "Locked Until (UTC)", readonly=True,
        help="Logins are refused until this time (UTC).")
    ct_locked = fields.Function(
        fields.Boolean("Locked"), 'get_ct_locked')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'ct_unlock': {
                    'invisible': ~Bool(Eval('ct_locked_until')),
                    'depends': ['ct_locked_until'],
                    },
                })

    def get_ct_locked(self, name):
        return bool(self.ct_locked_until and self.ct_locked_until > _now())

    @classmethod
    def copy(cls, users, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('ct_locked_until', None)
        return super().copy(users, default=default)

    @classmethod
    def _ct_lock_state(cls, login):
        "Return (user id, locked) for the active user with login."
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.id, table.ct_locked_until,
                where=(table.login == login)
                & (table.active == Literal(True))))
        row = cursor.fetchone()
        if not row:
            return None, False
        user_id, locked_until = row
        if isinstance(locked_until, str):
            locked_until = dt.datetime.fromisoformat(locked_until)
        return user_id, bool(locked_until and locked_until > _now())

    @classmethod
    def _ct_failure_count(cls, login):
        """Failures of login within the window since the last success,
        lock or unlock."""
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        log = AuditLog.__table__()
        cursor = Transaction().connection.cursor()
        since = _now() - failure_window()
        cursor.execute(*log.select(Max(log.timestamp),
                where=(log.login == login)
                & log.event.in_(['login', 'lock', 'unlock'])
                & (log.timestamp >= since)))
        last, = cursor.fetchone()
        if last is not None:
            if isinstance(last, str):
                last = dt.datetime.fromisoformat(last)
            since = max(since, last)
        cursor.execute(*log.select(Count(),
                where=(log.login == login)
                & (log.event == 'login_failed')
                & (log.timestamp >= since)))
        return cursor.fetchone()[0]

    @classmethod
    def get_login(cls, login, parameters):
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        Session = pool.get('ir.session')
        user_id, locked = cls._ct_lock_state(login)
        if locked:
            # No password change and no further factor while locked
            parameters = {k: v for k, v in parameters.items()
                if k not in {'new_password', 'new_password_confirm'}}
        try:
            result = super().get_login(login, parameters)
        except LoginException:
            if locked and 'password' in parameters:
                # A further prompt would confirm the password is right
                AuditLog.log('login_locked', user=user_id, login=login,
                    result='failure')
                return None
            # The password or a further factor is requested: not a failure
            raise
        except RateLimitException:
            AuditLog.log(
                'rate_limited', user=user_id, login=login, result='failure')
            raise
        if locked:
            # Checked after the password so that timing and the password
            # prompt do not reveal the lock to someone without it.
            AuditLog.log(
                'login_locked', user=user_id, login=login, result='failure')
            return None
        if result:
            AuditLog.log('login', user=result, login=login)
            return result
        AuditLog.log(
            'login_failed', user=user_id, login=login, result='failure')
        if user_id and cls._ct_failure_count(login) >= max_failures():
            until = _now() + lock_duration()
            with without_check_access():
                cls.write([cls(user_id)], {'ct_locked_until': until})
                Session.clear([user_id])
            AuditLog.log(
                'lock', user=user_id, login=login, result='success',
                model=cls.__name__, record=user_id,
                detail='until %s UTC' % until.isoformat(
                    sep=' ', timespec='seconds'))
        return None

    @classmethod
    @ModelView.button
    def ct_unlock(cls, users):
        AuditLog = Pool().get('ct.audit.log')
        cls.write(list(users), {'ct_locked_until': None})
        for user in users:
            AuditLog.log(
                'unlock', user=user.id, login=user.login, model=cls.__name__,
                record=user.id)
