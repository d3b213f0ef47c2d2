"""Second authentication factor: time-based one-time codes (身份鉴别 d).

TOTP as in RFC 6238 (HOTP of RFC 4226 over the time step) with HMAC-SM3
instead of HMAC-SHA1: 6 digits, 30-second steps from the Unix epoch, a code
of the previous, current or next step is accepted (clock drift), and a step
is accepted at most once per user (``totp_last_counter``: replay refused).
The per-user secret is 256 random bits from the crypto provider, kept
encrypted (SM4-GCM, data key ``field.res_user.totp_secret``, bound to the
row) and never readable over RPC.

Which users need it: members of the groups listed in the security
configuration (``ct.security.configuration``, default: every regulator and
administrator group, not the institution users), plus anybody enrolled.
It is enforced at login by the ``totp`` method of
``[session] authentications = password+totp``: after the right password,
``res.user._login_totp`` raises ``LoginException('totp_code')`` (sao asks
for the code and logs in again with it); a wrong or replayed code makes the
login fail, which the lockout counts like a wrong password.

Enrolment is done by the security administrator (wizard on the user form,
or ``totp_cli enrol`` on the server for the first one): the secret is shown
once, as text and ``otpauth://`` URI, to be handed to the user with the
token. A required user who is not enrolled cannot log in.
"""
import base64
import binascii
import datetime as dt
import hmac
import logging
import re
import struct
import time
from urllib.parse import quote, urlencode

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from sql import Literal, Null
from trytond import backend, config
from trytond.exceptions import LoginException
from trytond.i18n import gettext
from trytond.model import ModelSingleton, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.encrypted import EncryptedMixin, encrypted_field
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .crypto import get_provider

logger = logging.getLogger(__name__)

__all__ = ['hotp', 'totp', 'verify', 'counter_at', 'encode_secret',
    'decode_secret', 'provisioning_uri', 'totp_configured',
    'Configuration', 'ConfigurationGroup', 'User', 'EnrolStart',
    'EnrolShow', 'Enrol']

DIGITS = 6
PERIOD = 30
WINDOW = 1
SECRET_SIZE = 32
ALGORITHM = 'SM3'
METHOD = 'totp'
PARAMETER = 'totp_code'
SECRET_FIELDS = {'totp_secret', 'totp_secret_cipher'}
# Groups whose members must use the second factor when the configuration
# has never been saved (the XML data creates it with the same list)
DEFAULT_GROUPS = [
    'group_regulator', 'group_inspector', 'group_reviewer', 'group_leader',
    'group_sysadmin', 'group_secadmin', 'group_auditor',
    ]


# -- algorithm -------------------------------------------------------------

def hotp(key, counter, digits=DIGITS, algorithm=None):
    """HOTP value (RFC 4226 §5.3) of counter under key, HMAC-SM3 unless
    another ``cryptography`` hash algorithm is given"""
    mac = crypto_hmac.HMAC(key, algorithm or hashes.SM3())
    mac.update(struct.pack('>Q', counter))
    digest = mac.finalize()
    offset = digest[-1] & 0x0F
    binary = struct.unpack('>I', digest[offset:offset + 4])[0] & 0x7FFFFFFF
    return str(binary % 10 ** digits).zfill(digits)


def counter_at(timestamp, period=PERIOD):
    "The RFC 6238 time step T of timestamp (seconds since the epoch, T0 = 0)"
    return int(timestamp // period)


def totp(key, timestamp, digits=DIGITS, period=PERIOD, algorithm=None):
    "TOTP value (RFC 6238) of key at timestamp"
    return hotp(key, counter_at(timestamp, period), digits, algorithm)


def normalize_code(code):
    "The code without the spaces or dashes people type, or None"
    if not isinstance(code, str):
        return None
    code = re.sub(r'[\s-]', '', code)
    if not re.fullmatch(r'[0-9]{%d}' % DIGITS, code):
        return None
    return code


def verify(key, code, timestamp, last_counter=None, window=WINDOW):
    """Return (counter, None) for the step code belongs to, or (None,
    reason) with reason 'malformed', 'wrong' or 'replayed'.

    Steps current - window .. current + window are tried; a step not after
    last_counter (already used) is refused."""
    code = normalize_code(code)
    if code is None:
        return None, 'malformed'
    current = counter_at(timestamp)
    matched = []
    for counter in range(current - window, current + window + 1):
        # Compare every candidate: the time does not depend on the match
        if hmac.compare_digest(hotp(key, counter), code):
            matched.append(counter)
    if not matched:
        return None, 'wrong'
    fresh = [c for c in matched if last_counter is None or c > last_counter]
    if not fresh:
        return None, 'replayed'
    return fresh[0], None


def encode_secret(secret):
    "Base32 (RFC 4648, no padding) as authenticator apps expect"
    return base64.b32encode(secret).decode('ascii').rstrip('=')


def decode_secret(text):
    text = re.sub(r'\s', '', text).upper()
    return base64.b32decode(text + '=' * (-len(text) % 8))


def group_secret(text, size=4):
    "ABCD EFGH … for reading aloud or typing"
    return ' '.join(text[i:i + size] for i in range(0, len(text), size))


def issuer():
    return config.get('ct_security', 'totp_issuer',
        default='临床试验监管平台')


def provisioning_uri(secret_b32, login, issuer_=None):
    "The otpauth:// URI (Key Uri Format) of a secret"
    issuer_ = issuer_ or issuer()
    label = quote(f'{issuer_}:{login}', safe=':@')
    query = urlencode({
            'secret': secret_b32,
            'issuer': issuer_,
            'algorithm': ALGORITHM,
            'digits': DIGITS,
            'period': PERIOD,
            }, quote_via=quote)
    return f'otpauth://totp/{label}?{query}'


def totp_configured():
    """True when a login chain of ``[session] authentications`` asks for
    the password and then the second factor"""
    chains = config.get('session', 'authentications', default='password')
    for chain in chains.split(','):
        methods = [m.split('?', 1)[0].strip() for m in chain.split('+')]
        if ('password' in methods and METHOD in methods
                and methods.index('password') < methods.index(METHOD)):
            return True
    return False


def _now():
    "Seconds since the epoch (patched by the tests)"
    return time.time()


def login_message(message_id):
    """ir.message text for a login prompt

    sao sends its locale as 'zh-CN' while Tryton's languages are 'zh_CN':
    normalise it, and fall back to the database language when the client's
    one is not translated."""
    pool = Pool()
    Configuration = pool.get('ir.configuration')
    Lang = pool.get('ir.lang')
    language = (Transaction().language or '').replace('-', '_')
    if language not in Lang.get_translatable_languages():
        language = Configuration.get_language()
    return gettext(message_id, language)


def _audit(event, user_id, login, result, detail=None, model=None,
        record=None):
    Pool().get('ct.audit.log').log(event, user=user_id, login=login,
        result=result, detail=detail, model=model, record=record)


def check_security_administrator():
    "Raise AccessError unless root or a security administrator calls"
    pool = Pool()
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    if Transaction().user and ModelData.get_id(
            'ct_base', 'group_secadmin') not in User.get_groups():
        raise AccessError(gettext('ct_security.msg_totp_denied'))


# -- configuration ---------------------------------------------------------

class Configuration(ModelSingleton, ModelSQL, ModelView):
    __name__ = 'ct.security.configuration'
    __string__ = "Security Configuration"

    totp_groups = fields.Many2Many(
        'ct.security.configuration-res.group', 'configuration', 'group',
        "Groups Requiring a Second Factor",
        help="Members of these groups must log in with a one-time code "
        "after the password.")

    @classmethod
    def default_totp_groups(cls):
        ModelData = Pool().get('ir.model.data')
        return [ModelData.get_id('ct_base', g) for g in DEFAULT_GROUPS]

    @classmethod
    def totp_group_ids(cls):
        "Ids of the groups requiring the second factor"
        with without_check_access():
            configuration = cls.get_singleton()
            if configuration is None:
                return cls.default_totp_groups()
            return [g.id for g in configuration.totp_groups]


class ConfigurationGroup(ModelSQL):
    __name__ = 'ct.security.configuration-res.group'
    __string__ = "Security Configuration - Group"

    configuration = fields.Many2One(
        'ct.security.configuration', "Configuration", required=True,
        ondelete='CASCADE')
    group = fields.Many2One(
        'res.group', "Group", required=True, ondelete='CASCADE')

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        # Every path (the form's Many2Many, RPC on this model, XML data)
        # goes through here: one audit row per group added or removed
        sign = {'create': '+', 'delete': '-'}.get(mode, '=')
        for record in records:
            _audit('totp_policy', None, None, 'success',
                detail=f'{sign}{record.group.name}',
                model='res.group', record=record.group.id)


# -- users -----------------------------------------------------------------

class User(EncryptedMixin, metaclass=PoolMeta):
    __name__ = 'res.user'

    totp_secret = encrypted_field(fields.Char("Second Factor Secret"))
    totp_secret_cipher = fields.Char(
        "Second Factor Secret (encrypted)", readonly=True, strip=False)
    totp_enrolled = fields.Timestamp(
        "Second Factor Enrolled On", readonly=True,
        help="When the security administrator issued the user's "
        "one-time code secret.")
    totp_last_counter = fields.Integer(
        "Last Used Code Step", readonly=True,
        help="A one-time code is accepted once: codes of this time step "
        "and earlier are refused.")
    totp_enabled = fields.Function(
        fields.Boolean("Second Factor Enabled"),
        'get_totp_enabled', searcher='search_totp_enabled')
    totp_required = fields.Function(
        fields.Boolean("Second Factor Required",
            help="The user belongs to a group for which the security "
            "configuration requires a one-time code at login."),
        'get_totp_required', searcher='search_totp_required')

    @classmethod
    def may_read_clear(cls):
        # Field access rows refuse the secret to every user over RPC; the
        # server code that verifies codes needs it clear.
        return True

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._buttons.update({
                'totp_enrol': {
                    'depends': ['totp_enrolled'],
                    },
                'totp_reset': {
                    'invisible': ~Bool(Eval('totp_enrolled')),
                    'depends': ['totp_enrolled'],
                    },
                })

    # Fields

    def get_totp_enabled(self, name):
        return self.totp_enrolled is not None

    @classmethod
    def search_totp_enabled(cls, name, clause):
        _, operator, value = clause
        enabled = bool(value) if operator == '=' else not value
        return [('totp_enrolled', '!=' if enabled else '=', None)]

    @classmethod
    def _totp_required_query(cls):
        "SQL query of the ids of the users requiring the second factor"
        pool = Pool()
        Configuration = pool.get('ct.security.configuration')
        Group = pool.get('res.group')
        UserGroup = pool.get('res.user-res.group')
        group = Group.__table__()
        user_group = UserGroup.user_group_all_table()
        group_ids = Configuration.totp_group_ids() or [-1]
        return user_group.join(group,
            condition=user_group.group == group.id).select(
            user_group.user,
            where=user_group.group.in_(group_ids)
            & (group.active == Literal(True)))

    @classmethod
    def totp_required_ids(cls, user_ids):
        "The ids among user_ids that must use the second factor"
        query = cls._totp_required_query()
        cursor = Transaction().connection.cursor()
        required = set()
        for sub_ids in grouped_slice(user_ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*query.select(query.user,
                    where=query.user.in_(list(sub_ids))))
            required.update(u for u, in cursor)
        return required

    @classmethod
    def get_totp_required(cls, users, name):
        required = cls.totp_required_ids([u.id for u in users])
        return {u.id: u.id in required for u in users}

    @classmethod
    def search_totp_required(cls, name, clause):
        _, operator, value = clause
        required = bool(value) if operator == '=' else not value
        return [('id', 'in' if required else 'not in',
                cls._totp_required_query())]

    @classmethod
    def read(cls, ids, fields_names):
        # Defence in depth besides the field access rows (which a security
        # administrator could widen): the secret never leaves over RPC
        transaction = Transaction()
        if (transaction.user and transaction.check_access
                and SECRET_FIELDS & {f.split('.', 1)[0].split(':', 1)[0]
                    for f in fields_names}):
            raise AccessError(gettext('ct_security.msg_totp_secret_read'))
        return super().read(ids, fields_names)

    @classmethod
    def copy(cls, users, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('totp_enrolled', None)
        default.setdefault('totp_last_counter', None)
        copies = super().copy(users, default=default)
        # EncryptedMixin re-seals the secret for each copy: a copy is a new
        # account, without the original's token
        cls.set_encrypted(copies, 'totp_secret', None)
        return copies

    # Enrolment

    @classmethod
    def totp_enrol_users(cls, users):
        """Issue a new secret to each user (replacing any previous one)

        Return {user id: base32 secret}: the only time it exists in clear
        outside the login check. The users' sessions are closed."""
        pool = Pool()
        Session = pool.get('ir.session')
        provider = get_provider()
        now = dt.datetime.now()
        secrets = {}
        with without_check_access():
            for user in users:
                secret = encode_secret(provider.random(SECRET_SIZE))
                renewed = user.totp_enrolled is not None
                cls.write([user], {
                        'totp_secret': secret,
                        'totp_enrolled': now,
                        'totp_last_counter': None,
                        })
                secrets[user.id] = secret
                _audit('totp_enrolled', user.id, user.login, 'success',
                    detail='renewed' if renewed else None,
                    model=cls.__name__, record=user.id)
            Session.clear([u.id for u in users])
        return secrets

    @classmethod
    @ModelView.button_action('ct_security.wizard_totp_enrol')
    def totp_enrol(cls, users):
        pass

    @classmethod
    @ModelView.button
    def totp_reset(cls, users):
        "Withdraw the users' tokens: required users cannot log in any more"
        pool = Pool()
        Session = pool.get('ir.session')
        check_security_administrator()
        with without_check_access():
            cls.write(list(users), {
                    'totp_secret': None,
                    'totp_enrolled': None,
                    'totp_last_counter': None,
                    })
            Session.clear([u.id for u in users])
        for user in users:
            _audit('totp_reset', user.id, user.login, 'success',
                model=cls.__name__, record=user.id)

    # Login

    @classmethod
    def _login_totp(cls, login, parameters):
        "Login method ``totp``: the one-time code after the password"
        user_id, _, _ = cls._get_login(login)
        if not user_id:
            return None
        if cls._totp_check(user_id, login, parameters, consume=True):
            return user_id
        return None

    @classmethod
    def _check_further_factors(cls, user_id, login, parameters):
        # A password change at login waits for the code (not consumed
        # here: _login_totp checks it again right after)
        if not super()._check_further_factors(user_id, login, parameters):
            return False
        if totp_configured():
            return cls._totp_check(user_id, login, parameters, consume=False)
        return True

    @classmethod
    def _totp_state(cls, user_id):
        "(enrolled, last used counter) of user_id"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.totp_enrolled, table.totp_last_counter,
                where=table.id == user_id))
        row = cursor.fetchone()
        return (row[0] is not None, row[1]) if row else (False, None)

    @classmethod
    def _totp_check(cls, user_id, login, parameters, consume):
        """Check the code of parameters for user_id

        Raise LoginException when a code is needed and missing; return
        False (audited) when it is wrong, True when it is right or not
        needed. With consume, the step is recorded so that the code cannot
        be used again."""
        enrolled, last_counter = cls._totp_state(user_id)
        if not enrolled:
            if not cls.totp_required_ids([user_id]):
                return True
            # Only the security administrator can issue the token
            _audit('totp_failed', user_id, login, 'failure',
                detail='not enrolled')
            if not parameters.get(PARAMETER):
                raise LoginException(PARAMETER,
                    login_message('ct_security.msg_totp_not_enrolled'),
                    type='char')
            return False
        if not parameters.get(PARAMETER):
            raise LoginException(PARAMETER,
                login_message('ct_security.msg_totp_code'), type='char')
        try:
            secret = cls.get_encrypted(
                [cls(user_id)], ['totp_secret'])['totp_secret'][user_id]
            key = decode_secret(secret or '')
        except (ValueError, binascii.Error):
            logger.error("second factor secret of user %s unreadable",
                user_id)
            key = b''
        if not key:
            _audit('totp_failed', user_id, login, 'failure',
                detail='secret unreadable')
            return False
        now = _now()
        counter, reason = verify(
            key, parameters[PARAMETER], now, last_counter=last_counter)
        if counter is not None and consume and not cls._totp_consume(
                user_id, counter):
            # Used by a concurrent login in the meantime
            counter, reason = None, 'replayed'
        if counter is None:
            _audit('totp_failed', user_id, login, 'failure', detail=reason)
            return False
        if consume:
            _audit('totp_verified', user_id, login, 'success',
                detail='step %+d' % (counter - counter_at(now)))
        return True

    @classmethod
    def _totp_consume(cls, user_id, counter):
        "Record counter as used; False if it (or a later one) already is"
        table = cls.__table__()
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        cursor.execute(*table.update(
                [table.totp_last_counter], [counter],
                where=(table.id == user_id)
                & ((table.totp_last_counter == Null)
                    | (table.totp_last_counter < counter))))
        consumed = cursor.rowcount == 1
        # As ModelStorage.write does: no stale value in the record caches
        for cache in transaction.cache.values():
            if cls.__name__ in cache:
                cache[cls.__name__].pop(user_id, None)
        return consumed


# -- enrolment wizard ------------------------------------------------------

class EnrolStart(ModelView):
    __name__ = 'ct.security.totp.enrol.start'
    __string__ = "Enrol Second Factor"

    user = fields.Many2One('res.user', "User", readonly=True)
    enrolled = fields.Boolean("Already Enrolled", readonly=True,
        help="Enrolling again replaces the current secret: the user's "
        "old token stops working.")


class EnrolShow(ModelView):
    __name__ = 'ct.security.totp.enrol.show'
    __string__ = "Second Factor Secret"

    login = fields.Char("Login", readonly=True)
    secret = fields.Char("Secret (Base32)", readonly=True)
    uri = fields.Char("Provisioning URI", readonly=True)
    parameters = fields.Char("Parameters", readonly=True)
    note = fields.Text("Note", readonly=True)


class Enrol(Wizard):
    __name__ = 'ct.security.totp.enrol'
    start = StateView('ct.security.totp.enrol.start',
        'ct_security.totp_enrol_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Issue Secret", 'enrol', 'tryton-ok', default=True),
            ])
    enrol = StateTransition()
    show = StateView('ct.security.totp.enrol.show',
        'ct_security.totp_enrol_show_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def _user(self):
        check_security_administrator()
        if (self.model is None or self.model.__name__ != 'res.user'
                or len(self.records) != 1):
            raise AccessError(gettext('ct_security.msg_totp_one_user'))
        return self.records[0]

    def default_start(self, fields):
        user = self._user()
        return {
            'user': user.id,
            'enrolled': user.totp_enrolled is not None,
            }

    def transition_enrol(self):
        User = Pool().get('res.user')
        user = self._user()
        # Kept on the instance only: _save never stores it
        self._secret = User.totp_enrol_users([user])[user.id], user.login
        return 'show'

    def default_show(self, fields):
        secret, login = getattr(self, '_secret', (None, None))
        if secret is None:
            return {}
        return {
            'login': login,
            'secret': group_secret(secret),
            'uri': provisioning_uri(secret, login),
            'parameters': gettext('ct_security.msg_totp_parameters',
                digits=DIGITS, period=PERIOD),
            'note': gettext('ct_security.msg_totp_shown_once'),
            }

    def _save(self):
        # The secret is shown once: it is never written to the wizard
        # session, even when the client sends the form back on Close
        self.show = Pool().get('ct.security.totp.enrol.show')()
        super()._save()
