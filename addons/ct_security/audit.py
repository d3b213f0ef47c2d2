"""Append-only security audit log with an HMAC-SM3 integrity chain.

Every row carries ``mac = HMAC-SM3(key, prev_mac || canonical(row))``; the
first row chains from an empty MAC. ``verify_chain`` recomputes the chain and
reports the first row whose sequence or MAC does not match, so an edited,
inserted or deleted row is detected (truncating the *tail* is not: that needs
the anchor shipped off-host, see docs/security.md).

Nobody may write or delete rows: ``check_modification``/``write``/``delete``
raise for every user including root, and database triggers refuse UPDATE and
DELETE (and TRUNCATE on PostgreSQL) of the table.
"""
import datetime as dt
import hashlib
import json
import logging

from cryptography.hazmat.primitives import hashes, hmac
from sql import Null
from trytond import backend
from trytond import config as _config
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateView, Wizard

logger = logging.getLogger(__name__)

# Serialises chain appends on PostgreSQL (pg_advisory_xact_lock key).
_CHAIN_LOCK_ID = 0x43544155  # "CTAU"
_DEV_KEY = hashlib.sha256(b'ct_security development audit key').digest()
_warned = False

EVENTS = [
    ('login', "Login"),
    ('login_failed', "Login Failed"),
    ('login_locked', "Login Refused (Locked)"),
    ('rate_limited', "Login Rate Limited"),
    ('lock', "Account Locked"),
    ('unlock', "Account Unlocked"),
    ('logout', "Logout"),
    ('idle_timeout', "Idle Timeout"),
    ('session_expired', "Session Expired"),
    ('session_evicted', "Session Evicted"),
    ('group_added', "Group Added"),
    ('group_removed', "Group Removed"),
    ('totp_verified', "Second Factor Verified"),
    ('totp_failed', "Second Factor Failed"),
    ('totp_enrolled', "Second Factor Enrolled"),
    ('totp_reset', "Second Factor Reset"),
    ('totp_policy', "Second Factor Policy Changed"),
    ]


def audit_key():
    "Return the HMAC-SM3 key of the audit chain (bytes)."
    global _warned
    value = _config.get('ct_security', 'audit_key', default=None)
    if value:
        return bytes.fromhex(value.strip())
    if not _warned:
        logger.warning(
            "[ct_security] audit_key is not set: using the development "
            "audit key; the audit chain is NOT protected")
        _warned = True
    return _DEV_KEY


def hmac_sm3(key, data):
    h = hmac.HMAC(key, hashes.SM3())
    h.update(data)
    return h.finalize()


def session_hash(key):
    "Non-reversible reference to a session key for the audit log."
    if not key:
        return None
    digest = hashes.Hash(hashes.SM3())
    digest.update(key.encode('utf-8'))
    return digest.finalize().hex()[:32]


def _remote_address():
    ip_address, _ = Transaction().remote_address()
    return str(ip_address) if ip_address else None


class AuditLog(ModelSQL, ModelView):
    __name__ = 'ct.audit.log'
    __string__ = "Security Audit Log"
    _rec_name = 'login'

    sequence = fields.Integer("Sequence", readonly=True, required=True)
    timestamp = fields.Timestamp(
        "Timestamp (UTC)", readonly=True, required=True)
    user = fields.Many2One(
        'res.user', "User", readonly=True, ondelete='RESTRICT',
        help="The account concerned or acting.")
    login = fields.Char("Login", readonly=True)
    actor = fields.Many2One(
        'res.user', "Actor", readonly=True, ondelete='RESTRICT',
        help="The user of the transaction that wrote the row "
        "(empty for the login process and root).")
    event = fields.Selection(EVENTS, "Event", readonly=True, required=True)
    model = fields.Char("Model", readonly=True)
    record = fields.Integer("Record", readonly=True)
    result = fields.Selection([
            ('success', "Success"),
            ('failure', "Failure"),
            ], "Result", readonly=True, required=True)
    detail = fields.Text("Detail", readonly=True)
    ip_address = fields.Char("IP Address", readonly=True)
    session_hash = fields.Char("Session Hash", readonly=True)
    mac = fields.Char("MAC", readonly=True, required=True, strip=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('sequence_uniq', Unique(t, t.sequence),
                'ct_security.msg_audit_sequence_unique'),
            ]
        cls._sql_indexes.update({
                Index(t,
                    (t.login, Index.Equality()),
                    (t.event, Index.Equality(cardinality='low')),
                    (t.timestamp, Index.Range())),
                Index(t, (t.timestamp, Index.Range())),
                })
        cls._order = [('sequence', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.pop('create', None)
        cls.__rpc__.pop('write', None)
        cls.__rpc__.pop('delete', None)

    @classmethod
    def __register__(cls, module_name):
        # Triggers are dropped while the schema is updated (column additions
        # may UPDATE existing rows) and always recreated afterwards.
        cls._drop_triggers()
        try:
            super().__register__(module_name)
        finally:
            cls._create_triggers()

    @classmethod
    def _drop_triggers(cls):
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        table = cls._table
        if backend.name == 'postgresql':
            if not backend.TableHandler.table_exist(table):
                return
            cursor.execute(
                f'DROP TRIGGER IF EXISTS "{table}_immutable" ON "{table}"')
            cursor.execute(
                f'DROP TRIGGER IF EXISTS "{table}_no_truncate" ON "{table}"')
        else:
            cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_update"')
            cursor.execute(f'DROP TRIGGER IF EXISTS "{table}_no_delete"')

    @classmethod
    def _create_triggers(cls):
        cursor = Transaction().connection.cursor()
        table = cls._table
        if backend.name == 'postgresql':
            cursor.execute(
                'CREATE OR REPLACE FUNCTION ct_audit_log_refuse() '
                'RETURNS trigger AS $$ BEGIN '
                "RAISE EXCEPTION 'ct_audit_log is append-only (%)', TG_OP; "
                'END $$ LANGUAGE plpgsql')
            cursor.execute(
                f'CREATE TRIGGER "{table}_immutable" '
                f'BEFORE UPDATE OR DELETE ON "{table}" '
                'FOR EACH ROW EXECUTE FUNCTION ct_audit_log_refuse()')
            cursor.execute(
                f'CREATE TRIGGER "{table}_no_truncate" '
                f'BEFORE TRUNCATE ON "{table}" '
                'FOR EACH STATEMENT EXECUTE FUNCTION ct_audit_log_refuse()')
        else:
            for op in ['UPDATE', 'DELETE']:
                cursor.execute(
                    f'CREATE TRIGGER IF NOT EXISTS "{table}_no_{op.lower()}" '
                    f'BEFORE {op} ON "{table}" BEGIN '
                    "SELECT RAISE(ABORT, 'ct_audit_log is append-only'); "
                    'END')

    @classmethod
    def default_result(cls):
        return 'success'

    # -- append ------------------------------------------------------------

    @classmethod
    def log(cls, event, user=None, login=None, model=None, record=None,
            result='success', detail=None, session=None, ip_address=None):
        """Append one row to the chain in the current transaction.

        It is written in the caller's transaction on purpose: if the audit
        row cannot be written, the audited action fails too (fail closed).
        """
        return cls.log_many([{
                    'event': event,
                    'user': int(user) if user is not None else None,
                    'login': login,
                    'actor': Transaction().user or None,
                    'model': model,
                    'record': record,
                    'result': result,
                    'detail': detail,
                    'session_hash': session_hash(session),
                    'ip_address': ip_address or _remote_address(),
                    }])

    @classmethod
    def log_many(cls, vlist):
        transaction = Transaction()
        cursor = transaction.connection.cursor()
        if backend.name == 'postgresql':
            cursor.execute('SELECT pg_advisory_xact_lock(%s)', (_CHAIN_LOCK_ID,))
        table = cls.__table__()
        cursor.execute(*table.select(
                table.sequence, table.mac,
                where=table.sequence != Null,
                order_by=[table.sequence.desc], limit=1))
        row = cursor.fetchone()
        sequence, prev_mac = row if row else (0, '')
        key = audit_key()
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        to_create = []
        for values in vlist:
            sequence += 1
            values = dict(values, sequence=sequence, timestamp=now)
            values.setdefault('actor', transaction.user or None)
            values.setdefault('ip_address', _remote_address())
            values['mac'] = prev_mac = cls.compute_mac(key, prev_mac, values)
            to_create.append(values)
        with without_check_access(), \
                transaction.set_context(_ct_audit_append=True):
            return cls.create(to_create)

    @classmethod
    def canonical(cls, values):
        "Return the canonical bytes of a row (list of its chained fields)."
        def get(name):
            value = values.get(name)
            if isinstance(value, ModelSQL):
                value = value.id
            return value
        timestamp = get('timestamp')
        return json.dumps([
                get('sequence'),
                timestamp.isoformat() if timestamp else None,
                get('user'),
                get('login'),
                get('actor'),
                get('event'),
                get('model'),
                get('record'),
                get('result'),
                get('detail'),
                get('ip_address'),
                get('session_hash'),
                ], ensure_ascii=False, separators=(',', ':')).encode('utf-8')

    @classmethod
    def compute_mac(cls, key, prev_mac, values):
        data = bytes.fromhex(prev_mac or '') + cls.canonical(values)
        return hmac_sm3(key, data).hex()

    # -- immutability ------------------------------------------------------

    @classmethod
    def check_modification(cls, mode, logs, values=None, external=False):
        super().check_modification(
            mode, logs, values=values, external=external)
        if (mode != 'create'
                or external
                or not Transaction().context.get('_ct_audit_append')):
            raise AccessError(gettext('ct_security.msg_audit_immutable'))

    @classmethod
    def write(cls, *args):
        raise AccessError(gettext('ct_security.msg_audit_immutable'))

    @classmethod
    def delete(cls, logs):
        raise AccessError(gettext('ct_security.msg_audit_immutable'))

    @classmethod
    def copy(cls, logs, default=None):
        if logs:
            raise AccessError(gettext('ct_security.msg_audit_immutable'))
        return super().copy(logs, default=default)

    def get_rec_name(self, name):
        return '#%s' % self.sequence

    # -- verification ------------------------------------------------------

    @classmethod
    def verify_chain(cls):
        """Return the first row that breaks the chain, or None if it is intact.

        A modified row fails its own MAC; a deleted row makes the next row's
        sequence (and MAC) wrong; an inserted row fails its MAC.
        """
        bad, _, _ = cls._verify()
        return bad

    @classmethod
    def verify_report(cls):
        "Return (first bad row or None, number of rows checked, reason)."
        return cls._verify()

    @classmethod
    def _verify(cls):
        key = audit_key()
        names = ['sequence', 'timestamp', 'user', 'login', 'actor', 'event',
            'model', 'record', 'result', 'detail', 'ip_address', 'session_hash', 'mac']
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.id, order_by=[table.sequence.asc, table.id.asc]))
        ids = [i for i, in cursor]
        prev_mac, expected, count = '', 1, 0
        with without_check_access():
            for sub_ids in grouped_slice(ids, 1000):
                sub_ids = list(sub_ids)
                rows = cls.read(sub_ids, names)
                order = {i: n for n, i in enumerate(sub_ids)}
                rows.sort(key=lambda r: order[r['id']])
                for row in rows:
                    count += 1
                    if row['sequence'] != expected:
                        return cls(row['id']), count, 'sequence'
                    if row['mac'] != cls.compute_mac(key, prev_mac, row):
                        return cls(row['id']), count, 'mac'
                    prev_mac, expected = row['mac'], expected + 1
        return None, count, None


class AuditVerifyResult(ModelView):
    __name__ = 'ct.audit.log.verify.result'
    __string__ = "Audit Chain Verification"

    valid = fields.Boolean("Valid", readonly=True)
    rows = fields.Integer("Rows Checked", readonly=True)
    first_bad = fields.Many2One(
        'ct.audit.log', "First Bad Row", readonly=True,
        states={'invisible': Eval('valid', False)})
    message = fields.Text("Result", readonly=True)


class AuditVerify(Wizard):
    __name__ = 'ct.audit.log.verify'
    start = StateView(
        'ct.audit.log.verify.result',
        'ct_security.audit_verify_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        ModelData = pool.get('ir.model.data')
        User = pool.get('res.user')
        # Not an ir.action-res.group restriction: the wizard stays defined
        # for everyone, but only the audit administrator (or root, from the
        # command line) gets a result.
        if Transaction().user and ModelData.get_id(
                'ct_base', 'group_auditor') not in User.get_groups():
            raise AccessError(gettext('ct_security.msg_audit_verify_denied'))
        bad, count, reason = AuditLog.verify_report()
        if bad is None:
            message = gettext('ct_security.msg_audit_chain_valid', rows=count)
        else:
            message = gettext('ct_security.msg_audit_chain_tampered',
                sequence=bad.sequence,
                reason=gettext('ct_security.msg_audit_reason_%s' % reason))
        return {
            'valid': bad is None,
            'rows': count,
            'first_bad': bad.id if bad else None,
            'message': message,
            }
