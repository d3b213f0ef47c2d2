"""Risk signals (风险信号): raised and refreshed by patrols, handled by
regulators and institutions in a closed loop, every step recorded.

Everything people do with a signal goes through ``Signal.apply_action``:
the form buttons, the wizards below and the RPC clients call it, so the
transition table, the reasons, the notifications and the access checks are
the same whatever the entry point.

A signal is an *active warning* while it is open, pushed or responded and
its rule is running: stopping a rule takes its signals off the warning
lists and the dashboard without touching their history.
"""
import datetime
from collections import defaultdict

from sql import Null
from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.common import DISTRICTS
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Bool, Eval, If, PYSONEncoder
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button,
    StateAction,
    StateTransition,
    StateView,
    Wizard,
)

from .exceptions import SignalActionError

LEVELS = [
    ('high', "High"),
    ('medium', "Medium"),
    ('low', "Low"),
    ]
LEVEL_RANK = {'high': 3, 'medium': 2, 'low': 1}
# The coloured lights: 高 red, 中 yellow, 低 blue (icons/*.svg).
LEVEL_ICONS = {
    'high': 'ct-risk-level-high',
    'medium': 'ct-risk-level-medium',
    'low': 'ct-risk-level-low',
    }
STATES = [
    ('open', "Open"),
    ('pushed', "Pushed to Institution"),
    ('responded', "Responded by Institution"),
    ('closed', "Closed"),
    ('auto_closed', "Closed Automatically"),
    ('hidden', "Hidden"),
    ]
# Signals in these states are active warnings (when their rule runs).
ACTIVE_STATES = ['open', 'pushed', 'responded']
CLOSED_STATES = ['closed', 'auto_closed']
ACTIONS = [
    ('raise', "Raised"),
    ('refresh', "Seen Again"),
    ('reopen', "Reopened"),
    ('push', "Pushed"),
    ('respond', "Responded"),
    ('confirm', "Confirmed"),
    ('reject', "Rejected"),
    ('dispose', "Disposed"),
    ('hide', "Hidden"),
    ('unhide', "Shown Again"),
    ('regrade', "Regraded"),
    ('auto_close', "Closed Automatically"),
    ]
# action: (states it starts from, state it leads to or None to keep)
TRANSITIONS = {
    'push': (['open', 'hidden'], 'pushed'),
    'respond': (['pushed'], 'responded'),
    'confirm': (['responded'], 'closed'),
    'reject': (['responded'], 'pushed'),
    'dispose': (['open', 'pushed', 'responded', 'hidden'], 'closed'),
    'hide': (['open', 'pushed'], 'hidden'),
    'regrade': (['open', 'pushed', 'responded', 'hidden'], None),
    }
# Actions users may call through apply_action (the others are the
# system's: patrols and the cron).
USER_ACTIONS = set(TRANSITIONS)
# The institution's only action; all others are the regulator's.
INSTITUTION_ACTIONS = {'respond'}
REASON_OPTIONAL = {'push', 'confirm'}
# The steps of its signals' timelines an institution sees: the regulator's
# internal handling (hiding, regrading, patrol refreshes) stays internal.
INSTITUTION_VISIBLE_ACTIONS = [
    'push', 'respond', 'confirm', 'reject', 'dispose', 'auto_close',
    'reopen']


def _to_datetime(value):
    "SQLite returns the timestamps of raw queries as text"
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


def _chunks(items, size=200):
    "Successive lists of at most size items"
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _in_max():
    return backend.MAX_QUERY_PARAMS // 2


def _in(column, ids):
    return fields.SQL_OPERATORS['in'](column, list(ids))


class Signal(ModelSQL, ModelView):
    "A risk signal raised by a risk rule"
    __name__ = 'ct.risk.signal'
    __string__ = "Risk Signal"

    # rule and fingerprint are rule internals, not readable by institution
    # users (ir.model.field.access): lazy so that clients reading "all the
    # fields" (proteus) do not ask for them.
    rule = fields.Many2One(
        'ct.risk.rule', "Rule", required=True, readonly=True,
        ondelete='RESTRICT', loading='lazy')
    monitor = fields.Selection(
        'get_monitors', "Monitor", readonly=True,
        help="The monitor of the rule that raised the signal.")
    fingerprint = fields.Char(
        "Fingerprint", readonly=True, required=True, loading='lazy',
        help="Identifies the condition within its rule: a patrol that "
        "finds it again refreshes this signal instead of raising another.")
    level = fields.Selection(LEVELS, "Level", required=True, readonly=True,
        sort=False)
    level_icon = fields.Function(
        fields.Char("Level Light"), 'on_change_with_level_icon')
    institution = fields.Many2One(
        'ct.institution', "Institution", readonly=True, ondelete='CASCADE')
    district = fields.Function(
        fields.Selection([(None, "")] + DISTRICTS, "District"),
        'get_district', searcher='search_district')
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", readonly=True, ondelete='SET NULL')
    trial = fields.Many2One(
        'ct.trial', "Trial", readonly=True, ondelete='SET NULL')
    investigator = fields.Many2One(
        'ct.investigator', "Investigator", readonly=True,
        ondelete='SET NULL')
    origin = fields.Reference(
        "Origin", selection='get_origins', readonly=True,
        help="The record that triggered the signal.")
    inspection = fields.Function(
        fields.Many2One('ct.inspection', "Inspection",
            help="The inspection behind the record that triggered the "
            "signal."),
        'get_inspection')
    summary = fields.Char("Summary", readonly=True, required=True)
    detail = fields.Text("Detail", readonly=True)
    measures = fields.Text("Disposal Measures", readonly=True)
    first_seen = fields.DateTime("First Seen", readonly=True, required=True)
    last_seen = fields.DateTime("Last Seen", readonly=True, required=True)
    seen_count = fields.Integer(
        "Times Seen", readonly=True,
        help="How many patrols found the condition.")
    repeat_count = fields.Integer(
        "Repeats", readonly=True,
        help="How many times the condition came back after closing.")
    days_overdue = fields.Integer("Days Overdue", readonly=True)
    age_days = fields.Function(
        fields.Integer("Age (days)",
            help="Days since the condition was first seen."),
        'get_age_days')
    urgency = fields.Integer(
        "Urgency", readonly=True,
        help="Higher is more urgent: level first, then overdue days, "
        "repeats and age.")
    state = fields.Selection(
        STATES, "State", readonly=True, required=True, sort=False)
    is_active_warning = fields.Function(
        fields.Boolean("Active Warning",
            help="Open, pushed or responded, and its rule is running."),
        'get_is_active_warning', searcher='search_is_active_warning')
    state_before_hide = fields.Char("State before Hiding", readonly=True)
    hidden_until = fields.Date("Hidden Until", readonly=True)
    closed_date = fields.DateTime("Closed At", readonly=True)
    pushed_date = fields.DateTime("Pushed At", readonly=True)
    actions = fields.One2Many(
        'ct.risk.signal.action', 'signal', "Actions", readonly=True)
    last_response = fields.Function(
        fields.Text("Institution's Handling",
            help="What the institution last reported."),
        'get_last_reasons')
    last_reject_reason = fields.Function(
        fields.Text("Rejection Reason",
            help="Why the regulator last sent the handling back."),
        'get_last_reasons')
    attachment_count = fields.Function(
        fields.Integer("Attachments"), 'get_attachment_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('rule_fingerprint_unique', Unique(t, t.rule, t.fingerprint),
                'ct_risk.msg_signal_fingerprint_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    (t.urgency, Index.Range(order='DESC'))),
                Index(t, (t.institution, Index.Equality()),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.rule, Index.Equality()),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.level, Index.Equality(cardinality='low'))),
                Index(t, (t.first_seen, Index.Range())),
                Index(t, (t.closed_date, Index.Range())),
                Index(t, (t.hidden_until, Index.Range()),
                    where=t.state == 'hidden'),
                })
        cls._order = [('urgency', 'DESC'), ('first_seen', 'ASC'),
            ('id', 'DESC')]
        cls.__rpc__.update({
                'apply_action': RPC(readonly=False, instantiate=0),
                })
        for method in ['create', 'write', 'delete', 'copy']:
            cls.__rpc__.pop(method, None)
        regradable = TRANSITIONS['regrade'][0]
        cls._buttons.update({
                'push': {
                    'invisible': ~Eval('state').in_(TRANSITIONS['push'][0]),
                    'depends': ['state'],
                    },
                'respond': {
                    'invisible': Eval('state') != 'pushed',
                    'depends': ['state'],
                    },
                'confirm': {
                    'invisible': Eval('state') != 'responded',
                    'depends': ['state'],
                    },
                'reject': {
                    'invisible': Eval('state') != 'responded',
                    'depends': ['state'],
                    },
                'dispose': {
                    'invisible': ~Eval('state').in_(
                        TRANSITIONS['dispose'][0]),
                    'depends': ['state'],
                    },
                'hide': {
                    'invisible': ~Eval('state').in_(TRANSITIONS['hide'][0]),
                    'depends': ['state'],
                    },
                'regrade': {
                    'invisible': ~Eval('state').in_(regradable),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def view_attributes(cls):
        # Rows light up by level: 高 red, 中 yellow (sao has no blue row:
        # the level icon carries blue); closed ones are muted.
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state').in_(CLOSED_STATES), 'muted',
                    If(Eval('level') == 'high', 'danger',
                        If(Eval('level') == 'medium', 'warning', ''))),
                ['state', 'level']),
            ]

    @classmethod
    def default_state(cls):
        return 'open'

    @classmethod
    def default_seen_count(cls):
        return 1

    @classmethod
    def default_repeat_count(cls):
        return 0

    @classmethod
    def get_monitors(cls):
        "The monitors of the rules, labelled in the user's language"
        Rule = Pool().get('ct.risk.rule')
        selection = Rule.fields_get(['monitor'])['monitor']['selection']
        return [(None, '')] + [(k, v) for k, v in selection if k]

    @classmethod
    def get_origins(cls):
        pool = Pool()
        Model = pool.get('ir.model')
        models = [
            'ct.inspection', 'ct.inspection.defect', 'ct.rectification',
            'ct.evaluation', 'ct.trial', 'ct.investigator', 'ct.institution',
            'ct.specialty',
            ]
        return [(None, '')] + [(m, Model.get_name(m)) for m in models]

    def get_rec_name(self, name):
        return self.summary

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('summary',) + tuple(clause[1:])]

    @fields.depends('level')
    def on_change_with_level_icon(self, name=None):
        return LEVEL_ICONS.get(self.level)

    def get_district(self, name):
        return self.institution.district if self.institution else None

    @classmethod
    def search_district(cls, name, clause):
        return [('institution.district',) + tuple(clause[1:])]

    @classmethod
    def order_district(cls, tables):
        pool = Pool()
        Institution = pool.get('ct.institution')
        table, _ = tables[None]
        if 'institution' not in tables:
            institution = Institution.__table__()
            tables['institution'] = {
                None: (institution,
                    table.institution == institution.id),
                }
        institution, _ = tables['institution'][None]
        return [institution.district]

    def get_inspection(self, name):
        origin = self.origin
        if origin is None or origin.id is None or origin.id < 0:
            return None
        with without_check_access():
            if origin.__name__ == 'ct.inspection':
                return origin.id
            if origin.__name__ in {'ct.inspection.defect',
                    'ct.rectification', 'ct.evaluation'}:
                inspection = type(origin)(origin.id).inspection
                return inspection.id if inspection else None

    @classmethod
    def get_age_days(cls, signals, name):
        now = datetime.datetime.now()
        return {s.id: max((now - s.first_seen).days, 0)
            if s.first_seen else 0 for s in signals}

    @classmethod
    def _active_warning_query(cls, where=None):
        "SELECT id of the signals that are active warnings"
        Rule = Pool().get('ct.risk.rule')
        signal = cls.__table__()
        rule = Rule.__table__()
        condition = (signal.state.in_(ACTIVE_STATES)
            & (rule.state == 'running'))
        if where is not None:
            condition &= where(signal)
        return signal.join(rule, condition=signal.rule == rule.id).select(
            signal.id, where=condition)

    @classmethod
    def get_is_active_warning(cls, signals, name):
        # SQL: institution users may not read the rules.
        cursor = Transaction().connection.cursor()
        result = {s.id: False for s in signals}
        for sub_ids in grouped_slice(list(result), _in_max()):
            sub_ids = list(sub_ids)
            cursor.execute(*cls._active_warning_query(
                    lambda t, ids=sub_ids: _in(t.id, ids)))
            result.update({i: True for i, in cursor})
        return result

    @classmethod
    def search_is_active_warning(cls, name, clause):
        _, operator, value = clause[:3]
        positive = bool(value) == (operator in {'=', 'in'})
        if operator in {'in', 'not in'}:
            positive = (True in value) == (operator == 'in')
        return [('id', 'in' if positive else 'not in',
                cls._active_warning_query())]

    @classmethod
    def get_last_reasons(cls, signals, names):
        "The reason of the last respond / reject of each signal"
        Action = Pool().get('ct.risk.signal.action')
        action = Action.__table__()
        cursor = Transaction().connection.cursor()
        keys = {'last_response': 'respond', 'last_reject_reason': 'reject'}
        result = {n: {s.id: None for s in signals} for n in names}
        wanted = [keys[n] for n in names]
        for sub_ids in grouped_slice([s.id for s in signals], _in_max()):
            cursor.execute(*action.select(
                    action.signal, action.action, action.reason,
                    where=_in(action.signal, sub_ids)
                    & action.action.in_(wanted),
                    order_by=[action.date.asc, action.id.asc]))
            for signal_id, kind, reason in cursor:
                for name in names:
                    if keys[name] == kind:
                        result[name][signal_id] = reason
        return result

    @classmethod
    def get_attachment_count(cls, signals, name):
        return cls._attachment_counts([s.id for s in signals])

    @classmethod
    def _attachment_counts(cls, ids):
        Attachment = Pool().get('ir.attachment')
        counts = {i: 0 for i in ids}
        with without_check_access():
            for attachment in Attachment.search([
                        ('resource', 'in',
                            [f'{cls.__name__},{i}' for i in ids]),
                        ]):
                counts[attachment.resource.id] += 1
        return counts

    @staticmethod
    def compute_urgency(level, days_overdue=0, repeat_count=0, age_days=0):
        "An integer that sorts signals by urgency (higher first)"
        return (LEVEL_RANK.get(level, 0) * 1_000_000
            + min(days_overdue or 0, 999) * 1000
            + min(repeat_count or 0, 9) * 100
            + min(age_days or 0, 99))

    @classmethod
    def update_urgency(cls, signals=None):
        """Recompute the urgency of the signals not closed (the daily cron:
        the age part grows every day)"""
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        now = datetime.datetime.now()
        where = ~table.state.in_(CLOSED_STATES)
        if signals is not None:
            where &= _in(table.id, [s.id for s in signals])
        cursor.execute(*table.select(
                table.id, table.level, table.days_overdue,
                table.repeat_count, table.first_seen, table.urgency,
                where=where))
        by_value = defaultdict(list)
        for id_, level, days, repeats, first_seen, urgency in cursor:
            age = (now - _to_datetime(first_seen)).days
            value = cls.compute_urgency(level, days, repeats, age)
            if value != urgency:
                by_value[value].append(id_)
        with without_check_access():
            for value, ids in by_value.items():
                for chunk in _chunks(ids):
                    cls.write(cls.browse(chunk), {'urgency': value})

    # -- the lifecycle -----------------------------------------------------

    @classmethod
    def apply_action(cls, signals, action, values=None):
        """Apply a lifecycle action to the signals (the only entry point
        of screens, wizards and RPC). A refused action raises a user error
        and changes nothing.

        ``values``: ``reason`` (required but for push and confirm),
        ``hidden_until`` (hide), ``level`` (regrade), ``attachments``
        (respond: a list of ``{'name': ..., 'data': bytes}`` attached to
        the signals before the check that each has at least one).
        """
        pool = Pool()
        User = pool.get('res.user')
        values = dict(values or {})
        if action not in USER_ACTIONS:
            raise SignalActionError(gettext(
                    'ct_risk.msg_signal_action_unknown', action=action))
        cls._check_action_access(signals, action)
        is_institution = User.get_ct_institution() is not None
        if is_institution != (action in INSTITUTION_ACTIONS):
            raise SignalActionError(gettext(
                    'ct_risk.msg_signal_action_not_allowed',
                    action=cls.action_label(action)))
        reason = (values.get('reason') or '').strip()
        if action not in REASON_OPTIONAL and not reason:
            raise SignalActionError(gettext(
                    'ct_risk.msg_signal_reason_required',
                    action=cls.action_label(action)))
        starts, target = TRANSITIONS[action]
        for signal in signals:
            if signal.state not in starts:
                raise SignalActionError(gettext(
                        'ct_risk.msg_signal_wrong_state',
                        signal=signal.rec_name,
                        action=cls.action_label(action),
                        state=signal.state_string))
        changes = {}
        if action == 'hide':
            hidden_until = values.get('hidden_until')
            if isinstance(hidden_until, str):
                hidden_until = datetime.date.fromisoformat(hidden_until)
            today = pool.get('ir.date').today()
            if not hidden_until or hidden_until <= today:
                raise SignalActionError(gettext(
                        'ct_risk.msg_signal_hide_until'))
            changes['hidden_until'] = hidden_until
        if action == 'regrade':
            level = values.get('level')
            if level not in LEVEL_RANK:
                raise SignalActionError(gettext(
                        'ct_risk.msg_signal_regrade_level'))
            changes['level'] = level
        with without_check_access():
            if action == 'respond':
                cls._add_attachments(signals, values.get('attachments'))
                counts = cls._attachment_counts([s.id for s in signals])
                for signal in signals:
                    if not counts[signal.id]:
                        raise SignalActionError(gettext(
                                'ct_risk.msg_signal_attachment_required',
                                signal=signal.rec_name))
            cls._transition(signals, action, target, reason, changes)
            cls._notify(signals, action, reason)

    @classmethod
    def _check_action_access(cls, signals, action):
        """Over RPC: the caller must read every signal (record rules) and,
        but for the institution's respond, may write the model (regulators)
        """
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        transaction = Transaction()
        if transaction.user == 0 or not transaction.check_access:
            return
        ModelAccess.check(cls.__name__, 'read')
        if action not in INSTITUTION_ACTIONS:
            ModelAccess.check(cls.__name__, 'write')
        ids = {s.id for s in signals}
        visible = set()
        for sub_ids in grouped_slice(list(ids), _in_max()):
            visible.update(s.id for s in cls.search(
                    [('id', 'in', list(sub_ids))], order=[]))
        if ids - visible:
            raise AccessError(gettext('ct_risk.msg_signal_access_denied',
                    ids=', '.join(map(str, sorted(ids - visible)))))

    @classmethod
    def _add_attachments(cls, signals, attachments):
        Attachment = Pool().get('ir.attachment')
        to_create = []
        for attachment in attachments or []:
            data = attachment.get('data')
            if not data:
                continue
            for signal in signals:
                to_create.append({
                        'resource': str(signal),
                        'name': attachment.get('name') or 'attachment',
                        'data': data,
                        'type': 'data',
                        })
        if to_create:
            Attachment.create(to_create)

    @classmethod
    def _transition(cls, signals, action, target, reason, changes=None,
            user=None):
        "Write the new state and one action row per signal"
        pool = Pool()
        Action = pool.get('ct.risk.signal.action')
        now = datetime.datetime.now()
        if user is None:
            user = Transaction().user or None
        to_write, actions = [], []
        for signal in signals:
            values = dict(changes or {})
            to_state = target or signal.state
            if target:
                values['state'] = target
            if target == 'hidden':
                values['state_before_hide'] = signal.state
            if target in CLOSED_STATES:
                values['closed_date'] = now
            if target == 'pushed' and not signal.pushed_date:
                values['pushed_date'] = now
            if 'level' in values:
                values['urgency'] = cls.compute_urgency(
                    values['level'], signal.days_overdue,
                    signal.repeat_count, (now - signal.first_seen).days)
            to_write.extend([[signal], values])
            actions.append({
                    'signal': signal.id,
                    'user': user,
                    'date': now,
                    'action': action,
                    'reason': reason or None,
                    'from_state': signal.state,
                    'to_state': to_state,
                    'from_level': signal.level,
                    'to_level': values.get('level', signal.level),
                    })
        if to_write:
            cls.write(*to_write)
        if actions:
            Action.create(actions)

    state_string = state.translated('state')
    level_string = level.translated('level')

    @classmethod
    def action_label(cls, action):
        Action = Pool().get('ct.risk.signal.action')
        return dict(Action.fields_get(['action'])['action']['selection']).get(
            action, action)

    # -- notifications -----------------------------------------------------

    @classmethod
    def _institution_users(cls, signals):
        "{signal: [user ids of its institution]}"
        User = Pool().get('res.user')
        institutions = {s.institution.id for s in signals if s.institution}
        users = defaultdict(list)
        if institutions:
            with without_check_access():
                for user in User.search([
                            ('ct_institution', 'in', list(institutions)),
                            ]):
                    users[user.ct_institution.id].append(user.id)
        return {s: users.get(s.institution.id, []) if s.institution else []
            for s in signals}

    @classmethod
    def _last_actor(cls, signals, action):
        "{signal id: the user of its last action of that kind}"
        Action = Pool().get('ct.risk.signal.action')
        table = Action.__table__()
        cursor = Transaction().connection.cursor()
        result = {}
        for sub_ids in grouped_slice([s.id for s in signals], _in_max()):
            cursor.execute(*table.select(
                    table.signal, table.user,
                    where=_in(table.signal, sub_ids)
                    & (table.action == action) & (table.user != Null),
                    order_by=[table.date.asc, table.id.asc]))
            result.update(dict(cursor))
        return result

    @classmethod
    def _notify(cls, signals, action, reason=None):
        """Tell the people concerned (res.notification): the institution of
        a pushed or rejected signal, the regulator who pushed a signal the
        institution responded to."""
        if action in {'push', 'reject'}:
            message = {
                'push': 'ct_risk.msg_signal_notify_pushed',
                'reject': 'ct_risk.msg_signal_notify_rejected',
                }[action]
            for signal, users in cls._institution_users(signals).items():
                for user in users:
                    cls.notify_user([signal], 'tryton-warning',
                        gettext(message, signal=signal.rec_name),
                        description=(reason or signal.measures
                            or signal.summary)[:250],
                        user=user)
        elif action == 'respond':
            pushers = cls._last_actor(signals, 'push')
            for signal in signals:
                user = pushers.get(signal.id)
                if user:
                    cls.notify_user([signal], 'tryton-info',
                        gettext('ct_risk.msg_signal_notify_responded',
                            signal=signal.rec_name),
                        description=(reason or '')[:250], user=user)

    # -- buttons (screens call apply_action too) ---------------------------

    @classmethod
    @ModelView.button
    def push(cls, signals):
        cls.apply_action(signals, 'push', {})

    @classmethod
    @ModelView.button
    def confirm(cls, signals):
        cls.apply_action(signals, 'confirm', {})

    @classmethod
    @ModelView.button_action('ct_risk.wizard_signal_respond')
    def respond(cls, signals):
        pass

    @classmethod
    @ModelView.button_action('ct_risk.wizard_signal_reject')
    def reject(cls, signals):
        pass

    @classmethod
    @ModelView.button_action('ct_risk.wizard_signal_dispose')
    def dispose(cls, signals):
        pass

    @classmethod
    @ModelView.button_action('ct_risk.wizard_signal_hide')
    def hide(cls, signals):
        pass

    @classmethod
    @ModelView.button_action('ct_risk.wizard_signal_regrade')
    def regrade(cls, signals):
        pass

    # -- the patrol side ---------------------------------------------------

    @classmethod
    def sync_findings(cls, rule, findings, run=None, close_missing=None):
        """Make the rule's signals match what its patrol found.

        ``findings`` is a list of dicts with at least ``fingerprint`` and
        ``summary``; optional ``institution``, ``specialty``, ``trial``,
        ``investigator``, ``origin`` ('model,id'), ``detail``,
        ``days_overdue``, ``level`` (default: the rule's). A new
        fingerprint raises a signal; a known one is refreshed (an
        auto-closed one is reopened); an open signal whose condition is
        no longer found is auto-closed when ``close_missing`` (default:
        the rule's auto_dispose). Manually closed signals stay closed.
        Return a dict of counts: raised, refreshed, reopened, closed.
        """
        pool = Pool()
        Action = pool.get('ct.risk.signal.action')
        if close_missing is None:
            close_missing = bool(rule.auto_dispose)
        now = datetime.datetime.now()
        counts = {'raised': 0, 'refreshed': 0, 'reopened': 0, 'closed': 0}
        with without_check_access():
            # Plain rows, not records: browsing thousands of records at
            # once costs quadratic time in trytond.
            existing = {row['fingerprint']: row
                for row in cls._rule_signal_rows(rule)}
            found = set()
            to_create, to_write, actions = [], [], []
            for finding in findings:
                fingerprint = str(finding['fingerprint'])[:200]
                if fingerprint in found:
                    continue
                found.add(fingerprint)
                level = finding.get('level') or rule.level
                days = finding.get('days_overdue') or 0
                signal = existing.get(fingerprint)
                common = {
                    'summary': str(finding['summary'])[:250],
                    'detail': finding.get('detail'),
                    'days_overdue': days,
                    'last_seen': now,
                    }
                if signal is None:
                    values = {
                        'rule': rule.id,
                        'monitor': rule.monitor,
                        'fingerprint': fingerprint,
                        'level': level,
                        'institution': finding.get('institution'),
                        'specialty': finding.get('specialty'),
                        'trial': finding.get('trial'),
                        'investigator': finding.get('investigator'),
                        'origin': finding.get('origin'),
                        'measures': rule.measures,
                        'first_seen': now,
                        'state': 'open',
                        'urgency': cls.compute_urgency(level, days),
                        }
                    values.update(common)
                    to_create.append(values)
                    counts['raised'] += 1
                    continue
                values = dict(common)
                values['seen_count'] = (signal['seen_count'] or 0) + 1
                if signal['state'] == 'auto_closed':
                    values['state'] = 'open'
                    values['closed_date'] = None
                    values['repeat_count'] = (
                        signal['repeat_count'] or 0) + 1
                    counts['reopened'] += 1
                    actions.append(cls._system_action(
                            signal, 'reopen', 'open', now))
                elif signal['state'] == 'closed':
                    # A person closed it: the patrol does not overrule.
                    continue
                else:
                    counts['refreshed'] += 1
                age = (now - signal['first_seen']).days
                values['urgency'] = cls.compute_urgency(
                    signal['level'], days, values.get(
                        'repeat_count', signal['repeat_count']), age)
                to_write.append((signal['id'], values))
            if close_missing:
                stale = [s for f, s in existing.items()
                    if f not in found
                    and s['state'] in ACTIVE_STATES + ['hidden']]
                to_write.extend((s['id'], {
                            'state': 'auto_closed',
                            'closed_date': now,
                            }) for s in stale)
                actions.extend(cls._system_action(
                        s, 'auto_close', 'auto_closed', now)
                    for s in stale)
                counts['closed'] = len(stale)
            for chunk in _chunks(to_create):
                created = cls.create(chunk)
                actions.extend(cls._system_action(
                        s, 'raise', 'open', now, from_state=None)
                    for s in created)
            for chunk in _chunks(to_write):
                args = []
                for id_, values in chunk:
                    args.extend([[cls(id_)], values])
                cls.write(*args)
            if run is not None:
                for values in actions:
                    values['run'] = run.id
            for chunk in _chunks(actions):
                Action.create(chunk)
        return counts

    @classmethod
    def _rule_signal_rows(cls, rule):
        "The signals of the rule as dicts (SQL)"
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        columns = ['id', 'fingerprint', 'state', 'level', 'seen_count',
            'repeat_count', 'first_seen']
        cursor.execute(*table.select(
                *[getattr(table, c) for c in columns],
                where=table.rule == rule.id))
        for row in cursor:
            row = dict(zip(columns, row, strict=True))
            row['first_seen'] = _to_datetime(row['first_seen'])
            yield row

    @staticmethod
    def _system_action(signal, action, to_state, now, from_state=''):
        "The values of a system action (signal: a record or a row dict)"
        if isinstance(signal, dict):
            id_, state, level = signal['id'], signal['state'], signal['level']
        else:
            id_, state, level = signal.id, signal.state, signal.level
        return {
            'signal': id_,
            'user': None,
            'date': now,
            'action': action,
            'from_state': state if from_state == '' else from_state,
            'to_state': to_state,
            'from_level': level,
            'to_level': level,
            }

    @classmethod
    def unhide_expired(cls, date=None):
        """Bring back the hidden signals whose period ended (the daily
        cron) to the state they had, and notify again: the regulator who
        hid them and, for a signal pushed before, its institution."""
        pool = Pool()
        Action = pool.get('ct.risk.signal.action')
        if date is None:
            date = pool.get('ir.date').today()
        now = datetime.datetime.now()
        with without_check_access():
            signals = cls.search([
                    ('state', '=', 'hidden'),
                    ('hidden_until', '<=', date),
                    ])
            actions = []
            by_target = defaultdict(list)
            for signal in signals:
                target = signal.state_before_hide or 'open'
                actions.append(cls._system_action(
                        signal, 'unhide', target, now))
                by_target[target].append(signal)
            hiders = cls._last_actor(signals, 'hide')
            to_write = []
            for target, records in by_target.items():
                to_write.extend([records, {
                            'state': target,
                            'hidden_until': None,
                            'state_before_hide': None,
                            }])
            if to_write:
                cls.write(*to_write)
            Action.create(actions)
            institution_users = cls._institution_users(
                by_target.get('pushed', []))
            for signal in signals:
                users = set(institution_users.get(signal, []))
                if hiders.get(signal.id):
                    users.add(hiders[signal.id])
                for user in sorted(users):
                    cls.notify_user([signal], 'tryton-warning',
                        gettext('ct_risk.msg_signal_notify_unhidden',
                            signal=signal.rec_name),
                        description=(signal.measures
                            or signal.summary)[:250],
                        user=user)
        return signals


class SignalAction(ModelSQL, ModelView):
    "A step in the life of a risk signal (append-only)"
    __name__ = 'ct.risk.signal.action'
    __string__ = "Signal Action"

    signal = fields.Many2One(
        'ct.risk.signal', "Signal", required=True, ondelete='CASCADE',
        readonly=True)
    institution = fields.Function(
        fields.Many2One('ct.institution', "Institution"),
        'get_institution', searcher='search_institution')
    user = fields.Many2One('res.user', "User", readonly=True,
        help="Empty for the system (patrols and schedules).")
    actor = fields.Function(
        fields.Char("By", help="The user, or the system."), 'get_actor')
    date = fields.DateTime("Date", readonly=True, required=True)
    action = fields.Selection(ACTIONS, "Action", readonly=True,
        required=True)
    reason = fields.Text("Reason", readonly=True)
    from_state = fields.Selection(
        [(None, "")] + STATES, "From State", readonly=True)
    to_state = fields.Selection(STATES, "To State", readonly=True)
    from_level = fields.Selection(
        [(None, "")] + LEVELS, "From Level", readonly=True)
    to_level = fields.Selection(
        [(None, "")] + LEVELS, "To Level", readonly=True)
    to_level_icon = fields.Function(
        fields.Char("Level Light"), 'get_to_level_icon')
    run = fields.Many2One('ct.risk.run', "Patrol Run", readonly=True,
        ondelete='SET NULL', loading='lazy')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.signal, Index.Equality()), (t.date, Index.Range())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]
        for method in ['create', 'write', 'delete', 'copy']:
            cls.__rpc__.pop(method, None)

    def get_institution(self, name):
        return self.signal.institution.id if self.signal.institution else None

    @classmethod
    def search_institution(cls, name, clause):
        return [('signal.institution',) + tuple(clause[1:])]

    @classmethod
    def get_actor(cls, actions, name):
        User = Pool().get('res.user')
        system = gettext('ct_risk.msg_signal_system_actor')
        user_ids = {a.user.id for a in actions if a.user}
        with without_check_access():
            names = {u.id: u.name for u in User.browse(list(user_ids))}
        return {a.id: names.get(a.user.id) if a.user else system
            for a in actions}

    def get_to_level_icon(self, name):
        return LEVEL_ICONS.get(self.to_level)

    @classmethod
    def check_modification(cls, mode, actions, values=None, external=False):
        super().check_modification(
            mode, actions, values=values, external=external)
        if mode in {'write', 'delete'}:
            raise SignalActionError(gettext(
                    'ct_risk.msg_signal_action_immutable'))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.extend([
                ('ct.risk.signal|unhide_expired',
                    "Show Again Hidden Risk Signals"),
                ('ct.risk.signal|update_urgency',
                    "Update Risk Signal Urgency"),
                ])


# -- wizards ---------------------------------------------------------------

class SignalApplyStart(ModelView):
    "The reason (and values) of a signal action"
    __name__ = 'ct.risk.signal.apply.start'
    __string__ = "Risk Signal Action"

    action = fields.Selection(ACTIONS, "Action", readonly=True)
    signal_count = fields.Integer("Signals", readonly=True)
    reason = fields.Text("Reason", required=True,
        help="Kept in the signal's history.")
    hidden_until = fields.Date("Hidden Until",
        states={
            'invisible': Eval('action') != 'hide',
            'required': Eval('action') == 'hide',
            },
        help="The signal comes back the morning of this day.")
    level = fields.Selection([(None, "")] + LEVELS, "New Level", sort=False,
        states={
            'invisible': Eval('action') != 'regrade',
            'required': Eval('action') == 'regrade',
            })
    attachment = fields.Binary("Attachment", filename='attachment_name',
        states={
            'invisible': Eval('action') != 'respond',
            'required': ((Eval('action') == 'respond')
                & ~Bool(Eval('attachment_count'))),
            },
        help="A document of the handling (required when the signal has "
        "no attachment yet).")
    attachment_name = fields.Char("Attachment Name",
        states={
            'invisible': Eval('action') != 'respond',
            })
    attachment_count = fields.Integer("Attachments Already Filed",
        readonly=True,
        states={
            'invisible': Eval('action') != 'respond',
            })


class _SignalApply(Wizard):
    """Ask the reason of an action, then apply it to the selected signals
    (or, for regrade from rules, to the regradable signals of the rules)"""
    _action = None
    start = StateView('ct.risk.signal.apply.start',
        'ct_risk.signal_apply_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Apply", 'apply', 'tryton-ok', default=True),
            ])
    apply = StateTransition()

    def _signals(self):
        return list(self.records)

    def default_start(self, fields):
        signals = self._signals()
        values = {
            'action': self._action,
            'signal_count': len(signals),
            }
        if self._action == 'hide':
            today = Pool().get('ir.date').today()
            values['hidden_until'] = today + datetime.timedelta(days=7)
        if self._action == 'regrade':
            levels = {s.level for s in signals}
            if len(levels) == 1:
                values['level'] = levels.pop()
        if self._action == 'respond':
            Signal = Pool().get('ct.risk.signal')
            counts = Signal._attachment_counts([s.id for s in signals])
            values['attachment_count'] = min(counts.values(), default=0)
        return values

    def transition_apply(self):
        Signal = Pool().get('ct.risk.signal')
        values = {'reason': self.start.reason}
        if self._action == 'hide':
            values['hidden_until'] = self.start.hidden_until
        if self._action == 'regrade':
            values['level'] = self.start.level
        if self._action == 'respond' and self.start.attachment:
            values['attachments'] = [{
                    'name': self.start.attachment_name or 'attachment',
                    'data': self.start.attachment,
                    }]
        Signal.apply_action(self._signals(), self._action, values)
        return 'end'


class SignalRespond(_SignalApply):
    "The institution reports its handling of a signal"
    __name__ = 'ct.risk.signal.respond'
    _action = 'respond'


class SignalReject(_SignalApply):
    "The regulator sends the institution's handling back"
    __name__ = 'ct.risk.signal.reject'
    _action = 'reject'


class SignalDispose(_SignalApply):
    "The regulator closes signals with a reason"
    __name__ = 'ct.risk.signal.dispose'
    _action = 'dispose'


class SignalHide(_SignalApply):
    "Hide signals for a period"
    __name__ = 'ct.risk.signal.hide'
    _action = 'hide'


class SignalRegrade(_SignalApply):
    """Re-grade the selected signals, or all the signals still in progress
    of the selected rules"""
    __name__ = 'ct.risk.signal.regrade'
    _action = 'regrade'

    def _signals(self):
        Signal = Pool().get('ct.risk.signal')
        if self.model and self.model.__name__ == 'ct.risk.rule':
            with without_check_access():
                return Signal.search([
                        ('rule', 'in', [r.id for r in self.records]),
                        ('state', 'in', TRANSITIONS['regrade'][0]),
                        ])
        return list(self.records)

    def transition_apply(self):
        if not self._signals():
            raise SignalActionError(gettext(
                    'ct_risk.msg_signal_regrade_none'))
        return super().transition_apply()


class SignalOpenRelated(Wizard):
    """Open the signals of the selected institutions, or of the
    institutions of the selected inspections (relate action)"""
    __name__ = 'ct.risk.signal.open_related'
    start = StateAction('ct_risk.act_signal_related')

    def do_start(self, action):
        model = self.model.__name__ if self.model else None
        if model == 'ct.institution':
            institutions = list(self.records)
        elif model == 'ct.inspection':
            with without_check_access():
                institutions = [i.institution for i in self.records]
        else:
            institutions = []
        ids = sorted({i.id for i in institutions})
        action['pyson_domain'] = PYSONEncoder().encode(
            [('institution', 'in', ids)])
        with without_check_access():
            names = [i.rec_name for i in institutions[:3]]
        if names:
            action['name'] += ' - ' + ', '.join(names)
        return action, {}
