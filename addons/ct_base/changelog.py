"""Business change log: who changed which record, when, and what.

Models that mix in :class:`ChangeLogMixin` write one ``ct.change.log`` row
per created, modified or deleted record, with field-by-field before/after
values.  Rows cannot be changed or deleted by anyone, administrators
included.
"""
import datetime
import json
from decimal import Decimal

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

EVENTS = [
    ('create', "Created"),
    ('write', "Modified"),
    ('delete', "Deleted"),
    ]

# Bookkeeping columns every model has; their change says nothing new.
_SKIPPED = {
    'id', 'create_uid', 'create_date', 'write_uid', 'write_date',
    'rec_name', '_timestamp', 'change_logs',
    }
_MASK = '***'


def _plain(field, value):
    "Return value as a JSON-ready plain value (Many2One as [id, name])."
    if value is None or value is False and field._type != 'boolean':
        return None
    if field._type == 'many2one':
        record = value if hasattr(value, 'id') else None
        if record is None:
            Target = Pool().get(field.model_name)
            record = Target(value)
        try:
            return [record.id, record.rec_name]
        except Exception:
            return [record.id, str(record.id)]
    if field._type in {'one2many', 'many2many'}:
        return sorted(r if isinstance(r, int) else r.id for r in value)
    if isinstance(value, (datetime.date, datetime.datetime, datetime.time)):
        return value.isoformat()
    if isinstance(value, (Decimal, datetime.timedelta)):
        return str(value)
    if isinstance(value, bytes):
        return _MASK
    return value


class ChangeLog(ModelSQL, ModelView):
    "Change log of business records (append-only)"
    __name__ = 'ct.change.log'
    __string__ = "Change Log"

    model = fields.Char("Model", readonly=True, required=True)
    model_name = fields.Function(
        fields.Char("Document Type"), 'get_model_name')
    record = fields.Integer("Record", readonly=True, required=True)
    record_name = fields.Char("Record Name", readonly=True)
    event = fields.Selection(EVENTS, "Event", readonly=True, required=True)
    user = fields.Many2One('res.user', "User", readonly=True,
        ondelete='RESTRICT')
    date = fields.Timestamp("Date", readonly=True, required=True)
    changes = fields.Text("Changes (JSON)", readonly=True)
    changes_text = fields.Function(fields.Text("Changes"), 'get_changes_text')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.model, Index.Equality()),
                    (t.record, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.date, Index.Range())),
                Index(t, (t.user, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        for method in ['create', 'write', 'delete', 'copy']:
            cls.__rpc__.pop(method, None)

    @classmethod
    def check_modification(cls, mode, logs, values=None, external=False):
        super().check_modification(
            mode, logs, values=values, external=external)
        if mode in {'write', 'delete'}:
            raise AccessError(gettext('ct_base.msg_change_log_immutable'))

    def get_model_name(self, name):
        pool = Pool()
        try:
            return pool.get(self.model).__string__ or self.model
        except KeyError:
            return self.model

    def get_changes_text(self, name):
        pool = Pool()
        try:
            Model = pool.get(self.model)
        except KeyError:
            Model = None
        lines = []
        for change in json.loads(self.changes or '[]'):
            fname = change['field']
            field = Model._fields.get(fname) if Model else None
            label = field.string if field else fname
            lines.append('%s: %s → %s' % (
                    label, self._display(field, change.get('old')),
                    self._display(field, change.get('new'))))
        return '\n'.join(lines)

    @staticmethod
    def _display(field, value):
        if value is None:
            return '∅'
        if field is not None and field._type == 'selection':
            selection = field.selection
            if isinstance(selection, (list, tuple)):
                labels = dict(selection)
                return str(labels.get(value, value))
        if field is not None and field._type == 'boolean':
            return gettext('ct_base.msg_yes') if value else gettext(
                'ct_base.msg_no')
        if isinstance(value, list) and len(value) == 2 and field is not None \
                and field._type == 'many2one':
            return str(value[1])
        return str(value)

    @classmethod
    def append(cls, vlist):
        "Write log rows given as dicts (no access check: logging is a duty)."
        if not vlist:
            return
        transaction = Transaction()
        now = datetime.datetime.now()
        user = transaction.user
        for values in vlist:
            values.setdefault('date', now)
            values.setdefault('user', user or None)
        with without_check_access():
            cls.create(vlist)


class ChangeLogMixin:
    """Log creation, modification and deletion of records in ct.change.log.

    Values of fields listed in ``_changelog_masked`` are never written to
    the log (encrypted personal data): only the fact that they changed.
    """
    __slots__ = ()
    _changelog_masked = set()

    change_logs = fields.Function(
        fields.Many2Many(
            'ct.change.log', None, None, "Change Log", readonly=True),
        'get_change_logs')

    @classmethod
    def _changelog_fields(cls, names):
        for name in names:
            field = cls._fields.get(name)
            if (name in _SKIPPED or field is None
                    or field._type in {'binary', 'one2many'}):
                continue
            if (isinstance(field, fields.Function)
                    and name not in cls._changelog_masked):
                continue
            yield name, field

    @classmethod
    def _changelog_value(cls, record, name, field):
        if name in cls._changelog_masked:
            return _MASK
        return _plain(field, getattr(record, name, None))

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        # Record rules before any business rule: a refusal must not tell
        # anything (state, name) about another institution's record.
        if external and mode in {'write', 'delete'} and records:
            with Transaction().set_context(_check_access=True):
                cls.read([r.id for r in records], ['id'])
        super().check_modification(
            mode, records, values=values, external=external)

    @classmethod
    def copy(cls, records, default=None):
        # Tryton's copy reads the originals without access checks: check
        # the user may read them (record rules) before anything is done.
        if Transaction().context.get('_check_access'):
            cls.read([r.id for r in records], ['id'])
        return super().copy(records, default=default)

    @classmethod
    def _changelog_off(cls):
        # Bulk imports log their batch instead of every row; the key starts
        # with '_' so RPC clients cannot set it.
        return Transaction().context.get('_ct_changelog_off', False)

    @classmethod
    def create(cls, vlist):
        records = super().create(vlist)
        if cls._changelog_off():
            return records
        ChangeLog = Pool().get('ct.change.log')
        names = set()
        for values in vlist:
            names.update(values)
        logs = []
        with without_check_access():
            for record in cls.browse(records):
                changes = [{
                        'field': name, 'old': None,
                        'new': cls._changelog_value(record, name, field)}
                    for name, field in cls._changelog_fields(sorted(names))]
                logs.append({
                        'model': cls.__name__, 'record': record.id,
                        'record_name': record.rec_name[:256],
                        'event': 'create',
                        'changes': json.dumps(changes, ensure_ascii=False),
                        })
        ChangeLog.append(logs)
        return records

    @classmethod
    def write(cls, *args):
        ChangeLog = Pool().get('ct.change.log')
        if cls._changelog_off():
            return super().write(*args)
        actions = iter(args)
        befores = []
        for records, values in zip(actions, actions, strict=True):
            names = [n for n, _ in cls._changelog_fields(sorted(values))]
            befores.append((records, names, cls._changelog_snapshot(
                        records, names)))
        super().write(*args)
        logs = []
        for records, names, before in befores:
            after = cls._changelog_snapshot(records, names)
            for record in records:
                changes = []
                for name in names:
                    old = before[record.id].get(name)
                    new = after[record.id].get(name)
                    if old != new or name in cls._changelog_masked:
                        changes.append(
                            {'field': name, 'old': old, 'new': new})
                if changes:
                    logs.append({
                            'model': cls.__name__, 'record': record.id,
                            'record_name': after[record.id]['rec_name'],
                            'event': 'write',
                            'changes': json.dumps(
                                changes, ensure_ascii=False),
                            })
        ChangeLog.append(logs)

    @classmethod
    def _changelog_snapshot(cls, records, names):
        snapshot = {}
        with without_check_access():
            for sub in grouped_slice(records, 1000):
                for record in cls.browse([r.id for r in sub]):
                    values = {'rec_name': record.rec_name[:256]}
                    for name in names:
                        values[name] = cls._changelog_value(
                            record, name, cls._fields[name])
                    snapshot[record.id] = values
        return snapshot

    @classmethod
    def delete(cls, records):
        ChangeLog = Pool().get('ct.change.log')
        if cls._changelog_off():
            return super().delete(records)
        with without_check_access():
            logs = [{
                    'model': cls.__name__, 'record': r.id,
                    'record_name': r.rec_name[:256], 'event': 'delete',
                    'changes': '[]',
                    } for r in cls.browse(records)]
        super().delete(records)
        ChangeLog.append(logs)

    def get_change_logs(self, name):
        pool = Pool()
        ChangeLog = pool.get('ct.change.log')
        ModelAccess = pool.get('ir.model.access')
        if not ModelAccess.check(
                'ct.change.log', 'read', raise_exception=False):
            return []
        with without_check_access():
            return [g.id for g in ChangeLog.search([
                        ('model', '=', self.__name__),
                        ('record', '=', self.id),
                        ], order=[('date', 'DESC'), ('id', 'DESC')])]
