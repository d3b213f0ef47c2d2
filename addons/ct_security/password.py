"""Password verifiers (PBKDF2-HMAC-SM3) and the level-3 password policy.

Format of a stored verifier::

    $pbkdf2-sm3$<iterations>$<base64 salt>$<base64 digest>

16-byte random salt, 32-byte digest, base64 without padding.  It is the
first hasher of the pwdlib chain used by ``res.user``: a user whose stored
hash is still Argon2 (or bcrypt) is verified by that hasher and rehashed
with PBKDF2-HMAC-SM3 by ``res.user._login_password`` on the next good
login; fewer iterations than configured also trigger a rehash.

Policy (GB/T 22239-2019 8.1.4.1 a), configurable in ``[ct_security]``):
``password_length`` (12), ``password_classes`` (3 of lower, upper, digit,
other), no login or name inside, ``password_history`` (5: neither the
current nor the 4 previous passwords), ``password_max_age`` (90 days, 0
disables), ``password_force_change`` (True: a password set by somebody
else than the user, or a reset password, must be changed at login).

Expired and imposed passwords are changed during the login itself: the
server answers the good password with ``LoginException('new_password')``
then ``LoginException('new_password_confirm')``, the standard Tryton way
for a login method to ask for more parameters (sao and tryton prompt for
them and call login again with all of them).
"""
import base64
import binascii
import datetime as dt
import hmac
import logging

import pwdlib
import pwdlib.hashers.argon2
from pwdlib.exceptions import HasherNotAvailable, UnknownHashError
from pwdlib.hashers.base import ensure_bytes, ensure_str
from sql import Null
from sql.functions import CurrentTimestamp
from trytond import backend, config
from trytond.exceptions import LoginException
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, fields
from trytond.pool import Pool, PoolMeta
from trytond.res.user import PasswordError
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .crypto import get_provider

logger = logging.getLogger(__name__)

__all__ = ['PBKDF2SM3Hasher', 'PASSWORD_HASH', 'User',
    'UserPasswordHistory']

DEFAULT_ITERATIONS = 100_000


def _b64(data):
    return base64.b64encode(data).decode('ascii').rstrip('=')


def _unb64(text):
    return base64.b64decode(text + '=' * (-len(text) % 4), validate=True)


def _config_int(name, default):
    return config.getint('ct_security', name, default=default)


class PBKDF2SM3Hasher:
    "pwdlib hasher of PBKDF2-HMAC-SM3 verifiers"
    ident = '$pbkdf2-sm3$'
    salt_size = 16
    digest_size = 32

    def __init__(self, iterations=None):
        self._iterations = iterations

    @property
    def iterations(self):
        if self._iterations is not None:
            return self._iterations
        return _config_int('password_iterations', DEFAULT_ITERATIONS)

    @classmethod
    def identify(cls, hash):
        return ensure_str(hash).startswith(cls.ident)

    @classmethod
    def parse(cls, hash):
        "Return (iterations, salt, digest); raise ValueError if malformed"
        parts = ensure_str(hash)[len(cls.ident):].split('$')
        if len(parts) != 3 or not parts[0].isdigit():
            raise ValueError("malformed PBKDF2-SM3 hash")
        try:
            return int(parts[0]), _unb64(parts[1]), _unb64(parts[2])
        except binascii.Error:
            raise ValueError("malformed PBKDF2-SM3 hash")

    def _digest(self, password, salt, iterations, length):
        return get_provider().pbkdf2(
            ensure_bytes(password), salt, iterations, length)

    def hash(self, password, *, salt=None):
        if salt is None:
            salt = get_provider().random(self.salt_size)
        iterations = self.iterations
        digest = self._digest(password, salt, iterations, self.digest_size)
        return f'{self.ident}{iterations}${_b64(salt)}${_b64(digest)}'

    def verify(self, password, hash):
        try:
            iterations, salt, digest = self.parse(hash)
        except ValueError:
            return False
        if not iterations or len(digest) < 16:
            return False
        return hmac.compare_digest(
            self._digest(password, salt, iterations, len(digest)), digest)

    def check_needs_rehash(self, hash):
        try:
            iterations, salt, digest = self.parse(hash)
        except ValueError:
            return True
        return (iterations < self.iterations
            or len(salt) < self.salt_size
            or len(digest) < self.digest_size)


PASSWORD_HASH = pwdlib.PasswordHash([
        PBKDF2SM3Hasher(),
        pwdlib.hashers.argon2.Argon2Hasher(),
        ])
try:
    import pwdlib.hashers.bcrypt
    PASSWORD_HASH.hashers.append(pwdlib.hashers.bcrypt.BcryptHasher())
except HasherNotAvailable:
    pass


def character_classes(password):
    "Number of classes among lower case, upper case, digit and other"
    return sum([
            any(c.islower() for c in password),
            any(c.isupper() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
            ])


class User(metaclass=PoolMeta):
    __name__ = 'res.user'

    password_changed = fields.Timestamp("Password Changed", readonly=True)
    password_must_change = fields.Boolean("Must Change Password",
        help="The user must choose a new password at the next login.")

    @classmethod
    def __register__(cls, module_name):
        table_h = cls.__table_handler__(module_name)
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        created = not table_h.column_exist('password_changed')

        super().__register__(module_name)

        if created:
            # Existing passwords start their 90 days at activation
            cursor.execute(*table.update(
                    [table.password_changed], [CurrentTimestamp()],
                    where=table.password_hash != Null))

    @classmethod
    def default_password_must_change(cls):
        return False

    @classmethod
    def hash_password(cls, password):
        if not password:
            return None
        return PASSWORD_HASH.hash(password)

    @classmethod
    def check_password(cls, password, hash_):
        if not hash_:
            return False, None
        try:
            return PASSWORD_HASH.verify_and_update(password, hash_)
        except UnknownHashError:
            logger.warning("unknown password hash format")
            return False, None

    @classmethod
    def validate_password(cls, password, users):
        super().validate_password(password, users)
        length = _config_int('password_length', 12)
        if len(password) < length:
            raise PasswordError(gettext(
                    'ct_security.msg_password_length', length=length))
        classes = _config_int('password_classes', 3)
        if character_classes(password) < classes:
            raise PasswordError(gettext(
                    'ct_security.msg_password_classes', classes=classes))
        lowered = password.lower()
        for user in users:
            login = (getattr(user, 'login', None) or '').lower()
            if len(login) >= 3 and login in lowered:
                raise PasswordError(gettext(
                        'ct_security.msg_password_contains_login'))
            name = (getattr(user, 'name', None) or '').lower()
            parts = {name.replace(' ', '')} | set(name.split())
            if any(len(p) >= 2 and p in lowered for p in parts if p):
                raise PasswordError(gettext(
                        'ct_security.msg_password_contains_name'))
        user_ids = [u.id for u in users
            if isinstance(getattr(u, 'id', None), int) and u.id >= 0]
        count = _config_int('password_history', 5)
        if count > 0 and user_ids:
            for hash_ in cls._recent_password_hashes(user_ids, count):
                try:
                    reused = PASSWORD_HASH.verify(password, hash_)
                except UnknownHashError:
                    continue
                if reused:
                    raise PasswordError(gettext(
                            'ct_security.msg_password_reused', count=count))

    @classmethod
    def _recent_password_hashes(cls, user_ids, count):
        "The current and the count - 1 previous hashes of each user"
        pool = Pool()
        History = pool.get('res.user.password.history')
        table = cls.__table__()
        history = History.__table__()
        cursor = Transaction().connection.cursor()
        hashes = []
        for sub_ids in grouped_slice(user_ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(table.password_hash,
                    where=table.id.in_(list(sub_ids))
                    & (table.password_hash != Null)))
            hashes.extend(h for h, in cursor)
        for user_id in user_ids:
            cursor.execute(*history.select(history.password_hash,
                    where=history.user == user_id,
                    order_by=[history.date.desc, history.id.desc],
                    limit=count))
            hashes.extend(h for h, in cursor)
        return list(dict.fromkeys(hashes))

    @classmethod
    def set_password(cls, users, name, value):
        super().set_password(users, name, value)
        if value == 'x' * 10 or not value:
            return
        pool = Pool()
        History = pool.get('res.user.password.history')
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = dt.datetime.now()
        ids = [u.id for u in users]
        hashes = {}
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(table.id, table.password_hash,
                    where=table.id.in_(list(sub_ids))))
            hashes.update(cursor)
        with without_check_access():
            History.create([{
                        'user': i,
                        'password_hash': hashes[i],
                        'date': now,
                        } for i in ids if hashes.get(i)])
            History.prune(ids, _config_int('password_history', 5))
        force = config.getboolean(
            'ct_security', 'password_force_change', default=True)
        current = Transaction().user
        own = [u for u in users if u.id == current]
        others = [u for u in users if u.id != current]
        to_write = []
        if own:
            to_write.extend([own, {
                        'password_changed': now,
                        'password_must_change': False,
                        }])
        if others:
            to_write.extend([others, {
                        'password_changed': now,
                        'password_must_change': force,
                        }])
        cls.write(*to_write)

    @classmethod
    def _password_change_reason(cls, user_id, login, parameters):
        "The message id telling why the password must change, or None"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.password_must_change, table.password_changed,
                where=table.id == user_id))
        must_change, changed = cursor.fetchone()
        if config.getboolean(
                'ct_security', 'password_force_change', default=True):
            if must_change:
                return 'ct_security.msg_password_change_required'
            _, _, password_reset = cls._get_login(login)
            if password_reset and hmac.compare_digest(
                    password_reset, parameters.get('password') or ''):
                return 'ct_security.msg_password_change_required'
        max_age = _config_int('password_max_age', 90)
        if max_age > 0:
            if isinstance(changed, str):
                # SQLite without type conversion
                changed = dt.datetime.fromisoformat(changed)
            if (changed is None
                    or changed + dt.timedelta(days=max_age)
                    < dt.datetime.now()):
                return 'ct_security.msg_password_expired'

    @classmethod
    def _login_password(cls, login, parameters):
        user_id = super()._login_password(login, parameters)
        if user_id:
            reason = cls._password_change_reason(user_id, login, parameters)
            if reason and not cls._change_password_at_login(
                    user_id, reason, parameters):
                return None
        return user_id

    @classmethod
    def _check_further_factors(cls, user_id, login, parameters):
        """Prove the factors configured after the password (hook)

        Called before a password is changed during the login: the new
        password is written only once the whole login would succeed
        (see totp.py). Return False to refuse the login."""
        return True

    @classmethod
    def _change_password_at_login(cls, user_id, reason, parameters):
        """Ask for a new password (LoginException) and set it

        Return True once the password is changed, False if a further
        factor refused the login."""
        new = parameters.get('new_password')
        if not new:
            raise LoginException(
                'new_password', gettext(reason), type='password')
        user = cls(user_id)
        with Transaction().set_user(user_id):
            try:
                cls.validate_password(new, [user])
            except PasswordError as exception:
                raise LoginException(
                    'new_password', exception.message, type='password')
        confirm = parameters.get('new_password_confirm')
        if not confirm:
            raise LoginException('new_password_confirm',
                gettext('ct_security.msg_password_confirm'),
                type='password')
        if not hmac.compare_digest(confirm, new):
            raise LoginException('new_password_confirm',
                gettext('ct_security.msg_password_mismatch'),
                type='password')
        if not cls._check_further_factors(user_id, user.login, parameters):
            return False
        with Transaction().set_user(user_id), without_check_access():
            cls.write([user], {'password': new})
        logger.info("password of user %s changed at login", user_id)
        return True


class UserPasswordHistory(ModelSQL):
    "Verifiers of a user's previous passwords (no reuse of the last ones)"
    __name__ = 'res.user.password.history'
    __string__ = "User Password History"

    user = fields.Many2One(
        'res.user', "User", required=True, ondelete='CASCADE')
    password_hash = fields.Char("Password Hash", required=True, strip=False)
    date = fields.Timestamp("Date", required=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.user, Index.Range()), (t.date, Index.Range())))

    @classmethod
    def prune(cls, user_ids, keep):
        "Delete all but the keep most recent entries of each user"
        to_delete = []
        for user_id in user_ids:
            entries = cls.search([
                    ('user', '=', user_id),
                    ], order=[('date', 'DESC'), ('id', 'DESC')])
            to_delete.extend(entries[max(keep, 0):])
        cls.delete(to_delete)
