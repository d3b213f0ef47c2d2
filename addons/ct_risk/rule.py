"""Risk rules (预警规则): what to watch (a monitor and its parameters), where
(the scope), how to word and grade what is found, when to patrol, with a
revision kept for every change."""
import datetime
import json

from sql.aggregate import Count, Max
from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    Index,
    ModelSQL,
    ModelView,
    Unique,
    Workflow,
    fields,
)
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.common import (
    DISTRICTS,
    INSTITUTION_KINDS,
    rec_name_domain,
)
from trytond.modules.ct_base.trial import PHASES
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.rpc import RPC
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import Button, StateView, Wizard

from .exceptions import PatrolError, RuleError
from .monitor import get_monitor
from .monitor.base import (
    COMMON_PLACEHOLDERS,
    render,
    template_fields,
)
from .signal import ACTIVE_STATES, LEVELS

MAX = backend.MAX_QUERY_PARAMS

MONITORS = [
    ('nmpa_defect', "NMPA Defect Awaiting Rectification"),
    ('inspection_conclusion', "Inspection Conclusion"),
    ('evaluation', "Comprehensive Evaluation"),
    ('rectification_overdue', "Rectification Overdue"),
    ('pi_overload', "Principal Investigator Overload"),
    ('first_inspection_due', "First Inspection Overdue"),
    ('kri_outlier', "Key Risk Indicator Outlier"),
    ('domain', "User-defined Condition"),
    ]
INTERVAL_TYPES = [
    ('minutes', "Minutes"),
    ('hours', "Hours"),
    ('days', "Days"),
    ('weeks', "Weeks"),
    ]
# The fields whose changes are kept as revisions (patrol bookkeeping such as
# next_patrol is not a change of the rule).
TRACKED = [
    'name', 'code', 'monitor', 'condition', 'parameters', 'scope_kinds',
    'scope_districts', 'scope_specialties', 'scope_phases', 'level',
    'measures', 'message', 'auto_dispose', 'interval_number',
    'interval_type', 'state',
    ]
# How many rows a preview shows in the form
PREVIEW_ROWS = 50


class Rule(Workflow, ModelSQL, ModelView):
    "A risk early-warning rule"
    __name__ = 'ct.risk.rule'
    __string__ = "Risk Rule"

    name = fields.Char("Name", required=True)
    code = fields.Char("Code", required=True, strip=True)
    monitor = fields.Selection(MONITORS, "Monitor", required=True,
        sort=False)
    condition = fields.Text("Trigger Condition",
        help="The condition the rule watches, in plain words.")
    parameters = fields.Dict(None, "Parameters",
        help="A JSON object; keys the monitor does not know are refused.")
    parameters_text = fields.Function(fields.Text("Parameters",
            help="A JSON object, for example {\"max_trials\": 10}. "
            "Leave a key out to use its default."),
        'get_parameters_text', setter='set_parameters_text')
    monitor_help = fields.Function(
        fields.Text("About the Monitor"), 'on_change_with_monitor_help')
    scope_kinds = fields.MultiSelection(INSTITUTION_KINDS,
        "Institution Kinds", sort=False,
        help="Leave empty for every kind.")
    scope_districts = fields.MultiSelection(DISTRICTS, "Districts",
        sort=False, help="Leave empty for every district.")
    scope_specialties = fields.Many2Many(
        'ct.risk.rule-ct.specialty', 'rule', 'specialty', "Specialties",
        help="Leave empty for every specialty.")
    scope_phases = fields.MultiSelection(PHASES, "Trial Phases", sort=False,
        help="Only trials of these phases count (monitors of trials). "
        "Leave empty for every phase.")
    scope = fields.Function(fields.Dict(None, "Scope"),
        'get_scope', setter='set_scope')
    scope_text = fields.Function(fields.Char("Scope"), 'get_scope_text')
    level = fields.Selection(LEVELS, "Level", required=True, sort=False,
        help="The level of the signals raised, unless the monitor grades "
        "them itself.")
    measures = fields.Text("Disposal Measures")
    message = fields.Char("Message Template",
        help="The summary of a signal, with placeholders such as "
        "{institution} or {days}; empty for the monitor's default.")
    placeholders = fields.Function(
        fields.Char("Placeholders"), 'on_change_with_placeholders')
    auto_dispose = fields.Boolean("Auto-dispose",
        help="Close the rule's signals automatically when their condition "
        "no longer holds.")
    interval_number = fields.Integer("Patrol Every", required=True,
        domain=[('interval_number', '>', 0)])
    interval_type = fields.Selection(INTERVAL_TYPES, "Interval Unit",
        required=True, sort=False)
    next_patrol = fields.DateTime("Next Patrol", readonly=True)
    last_run = fields.Function(
        fields.Many2One('ct.risk.run', "Last Run"), 'get_last_run')
    anomaly = fields.Function(fields.Boolean("Anomaly",
            help="The last patrol failed, met data errors or took far "
            "longer than usual."), 'get_last_run')
    signal_count = fields.Function(
        fields.Integer("Open Signals",
            help="Open, pushed or responded signals of the rule."),
        'get_signal_count')
    funnel_url = fields.Function(
        fields.Char("Funnel Plot"), 'get_funnel_url')
    state = fields.Selection([
            ('draft', "Draft"),
            ('running', "Running"),
            ('stopped', "Stopped"),
            ], "State", readonly=True, required=True, sort=False)
    revisions = fields.One2Many(
        'ct.risk.rule.revision', 'rule', "Revisions", readonly=True)
    runs = fields.One2Many('ct.risk.run', 'rule', "Runs", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code),
                'ct_risk.msg_rule_code_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.state, Index.Equality(cardinality='low')),
                (t.next_patrol, Index.Range())))
        cls._order = [('code', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('draft', 'running'),
            ('stopped', 'running'),
            ('running', 'stopped'),
            }
        cls._buttons.update({
                'start': {
                    'invisible': Eval('state') == 'running',
                    'icon': 'tryton-launch',
                    'depends': ['state'],
                    },
                'stop': {
                    'invisible': Eval('state') != 'running',
                    'icon': 'tryton-cancel',
                    'depends': ['state'],
                    },
                'launch_patrol': {
                    'invisible': Eval('state') != 'running',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'open_preview': {
                    'icon': 'tryton-search',
                    },
                })
        cls.__rpc__.update({
                'preview': RPC(readonly=True, instantiate=0),
                'patrol': RPC(readonly=False, instantiate=0),
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_level(cls):
        return 'medium'

    @classmethod
    def default_auto_dispose(cls):
        return True

    @classmethod
    def default_interval_number(cls):
        return 1

    @classmethod
    def default_interval_type(cls):
        return 'days'

    @classmethod
    def default_parameters(cls):
        return {}

    def get_rec_name(self, name):
        return f'[{self.code}] {self.name}' if self.code else self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, ['name', 'code'])

    # -- parameters, scope and messages ------------------------------------

    @property
    def monitor_class(self):
        return get_monitor(self.monitor) if self.monitor else None

    @property
    def effective_parameters(self):
        "The parameters merged with the monitor's defaults"
        return self.monitor_class.merged(self.parameters)

    def get_parameters_text(self, name):
        if not self.monitor:
            return json.dumps(dict(self.parameters or {}),
                ensure_ascii=False)
        return json.dumps(self.effective_parameters, ensure_ascii=False,
            indent=2)

    @classmethod
    def set_parameters_text(cls, rules, name, value):
        value = (value or '').strip()
        if not value:
            parameters = {}
        else:
            try:
                parameters = json.loads(value)
            except ValueError as exception:
                raise RuleError(gettext('ct_risk.msg_rule_parameters_json',
                        rule=', '.join(r.rec_name for r in rules),
                        error=str(exception)))
        if not isinstance(parameters, dict):
            raise RuleError(gettext('ct_risk.msg_rule_parameters_object',
                    rule=', '.join(r.rec_name for r in rules)))
        cls.write(rules, {'parameters': parameters})

    @fields.depends('monitor')
    def on_change_monitor(self):
        if self.monitor:
            monitor = get_monitor(self.monitor)
            self.parameters = dict(monitor.default_parameters)
            self.parameters_text = json.dumps(
                monitor.merged({}), ensure_ascii=False, indent=2)
            self.message = gettext(monitor.template)
            self.placeholders = self.on_change_with_placeholders()
            self.monitor_help = self.on_change_with_monitor_help()

    @fields.depends('monitor')
    def on_change_with_monitor_help(self, name=None):
        if not self.monitor:
            return None
        monitor = get_monitor(self.monitor)
        lines = [gettext(f'ct_risk.msg_monitor_help_{self.monitor}'), '']
        lines.append(gettext('ct_risk.msg_monitor_help_parameters'))
        for key, spec in monitor.parameter_specs.items():
            lines.append('  %s = %s  (%s)' % (
                    key, json.dumps(spec.default, ensure_ascii=False),
                    spec.describe() or '-'))
        return '\n'.join(lines)

    @fields.depends('monitor')
    def on_change_with_placeholders(self, name=None):
        if not self.monitor:
            return None
        names = list(get_monitor(self.monitor).placeholders)
        names += [n for n in COMMON_PLACEHOLDERS if n not in names]
        return ' '.join('{%s}' % n for n in names)

    def get_scope(self, name):
        return {
            'kinds': list(self.scope_kinds or []),
            'districts': list(self.scope_districts or []),
            'specialties': [s.id for s in self.scope_specialties],
            'phases': list(self.scope_phases or []),
            }

    @classmethod
    def set_scope(cls, rules, name, value):
        value = value or {}
        values = {}
        for key, field in [('kinds', 'scope_kinds'),
                ('districts', 'scope_districts'),
                ('phases', 'scope_phases')]:
            if key in value:
                values[field] = list(value[key] or [])
        args = []
        for rule in rules:
            rule_values = dict(values)
            if 'specialties' in value:
                rule_values['scope_specialties'] = [
                    ('remove', [s.id for s in rule.scope_specialties]),
                    ('add', list(value['specialties'] or []))]
            if rule_values:
                args.extend([[rule], rule_values])
        if args:
            cls.write(*args)

    def get_scope_text(self, name):
        parts = []
        for field in ['scope_kinds', 'scope_districts', 'scope_phases']:
            keys = getattr(self, field) or []
            if keys:
                definition = self.fields_get([field])[field]
                labels = dict(definition['selection'])
                parts.append('%s: %s' % (definition['string'],
                        '、'.join(labels.get(k, k) for k in keys)))
        if self.scope_specialties:
            parts.append(gettext('ct_risk.msg_scope_specialties',
                    count=len(self.scope_specialties)))
        return '；'.join(parts) if parts else gettext(
            'ct_risk.msg_scope_all')

    @classmethod
    def validate_fields(cls, rules, field_names):
        super().validate_fields(rules, field_names)
        if field_names & {'monitor', 'parameters'}:
            for rule in rules:
                rule.check_parameters()
        if field_names & {'monitor', 'message'}:
            for rule in rules:
                rule.check_message()

    def check_parameters(self):
        self.monitor_class.validate(
            dict(self.parameters or {}), rule=self.rec_name)

    def check_message(self):
        if not self.message:
            return
        monitor = self.monitor_class
        allowed = dict(COMMON_PLACEHOLDERS)
        allowed.update(monitor.placeholders)
        try:
            used = template_fields(self.message)
            unknown = sorted(used - set(allowed))
            if not unknown:
                render(self.message, allowed)
        except (ValueError, IndexError, KeyError, TypeError) as exception:
            raise RuleError(gettext('ct_risk.msg_rule_message_invalid',
                    rule=self.rec_name, error=str(exception)))
        if unknown:
            raise RuleError(gettext('ct_risk.msg_rule_message_placeholder',
                    rule=self.rec_name, placeholder=unknown[0],
                    placeholders=' '.join(
                        '{%s}' % n for n in allowed)))

    # -- function fields ---------------------------------------------------

    @classmethod
    def get_last_run(cls, rules, names):
        pool = Pool()
        Run = pool.get('ct.risk.run')
        run = Run.__table__()
        cursor = Transaction().connection.cursor()
        ids = [r.id for r in rules]
        last = {}
        for sub_ids in grouped_slice(ids, MAX):
            cursor.execute(*run.select(run.rule, Max(run.id),
                    where=run.rule.in_(list(sub_ids)),
                    group_by=[run.rule]))
            last.update(cursor)
        anomalies = {}
        if 'anomaly' in names and last:
            for sub_ids in grouped_slice(list(last.values()), MAX):
                cursor.execute(*run.select(run.id, run.anomaly,
                        where=run.id.in_(list(sub_ids))))
                anomalies.update(cursor)
        result = {}
        if 'last_run' in names:
            result['last_run'] = {i: last.get(i) for i in ids}
        if 'anomaly' in names:
            result['anomaly'] = {
                i: bool(anomalies.get(last.get(i))) for i in ids}
        return result

    @classmethod
    def get_signal_count(cls, rules, name):
        signal = Pool().get('ct.risk.signal').__table__()
        cursor = Transaction().connection.cursor()
        result = {r.id: 0 for r in rules}
        for sub_ids in grouped_slice(list(result), MAX):
            cursor.execute(*signal.select(signal.rule, Count(signal.id),
                    where=signal.rule.in_(list(sub_ids))
                    & signal.state.in_(ACTIVE_STATES),
                    group_by=[signal.rule]))
            result.update(cursor)
        return result

    def get_funnel_url(self, name):
        if self.monitor != 'kri_outlier' or not self.id or self.id < 0:
            return None
        database = Transaction().database.name
        return f'/{database}/ct/chart/kri_funnel?rule={self.id}'

    # -- revisions ---------------------------------------------------------

    @classmethod
    def _revision_snapshot(cls, rules):
        "{id: {field: plain value}} of the tracked fields"
        snapshot = {}
        with without_check_access():
            for rule in cls.browse([r.id for r in rules]):
                values = {}
                for name in TRACKED:
                    value = getattr(rule, name)
                    if name == 'scope_specialties':
                        value = sorted(
                            [s.id, s.rec_name] for s in value)
                    elif name == 'parameters':
                        value = dict(value or {})
                        value = json.loads(json.dumps(
                                value, sort_keys=True, default=list))
                    elif isinstance(value, tuple):
                        value = list(value)
                    values[name] = value
                snapshot[rule.id] = values
        return snapshot

    @classmethod
    def create(cls, vlist):
        Revision = Pool().get('ct.risk.rule.revision')
        rules = super().create(vlist)
        after = cls._revision_snapshot(rules)
        Revision.record([(rule, 'create', {}, after[rule.id])
                for rule in rules])
        return rules

    @classmethod
    def write(cls, *args):
        Revision = Pool().get('ct.risk.rule.revision')
        actions = iter(args)
        all_rules, tracked = [], False
        for records, values in zip(actions, actions, strict=True):
            all_rules.extend(records)
            tracked |= bool(set(values) & set(TRACKED))
        if not tracked:
            return super().write(*args)
        before = cls._revision_snapshot(all_rules)
        super().write(*args)
        after = cls._revision_snapshot(all_rules)
        Revision.record([(rule, 'write', before[rule.id], after[rule.id])
                for rule in cls.browse(list({r.id for r in all_rules}))])

    @classmethod
    def check_modification(cls, mode, rules, values=None, external=False):
        super().check_modification(
            mode, rules, values=values, external=external)
        if mode == 'delete':
            for rule in rules:
                if rule.state != 'draft':
                    raise AccessError(gettext(
                            'ct_risk.msg_rule_delete_draft',
                            rule=rule.rec_name))

    @classmethod
    def delete(cls, rules):
        # The revisions go with the (draft) rule.
        with Transaction().set_context(_ct_risk_rule_delete=True):
            super().delete(rules)

    @classmethod
    def copy(cls, rules, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('revisions', None)
        default.setdefault('runs', None)
        default.setdefault('next_patrol', None)
        default.setdefault('state', 'draft')
        result = []
        for rule in rules:
            values = default.copy()
            if 'code' not in default:
                values['code'] = cls._copy_code(rule.code)
            result.extend(super().copy([rule], default=values))
        return result

    @classmethod
    def _copy_code(cls, code):
        for i in range(1, 1000):
            candidate = f'{code}-{i}'
            if not cls.search([('code', '=', candidate)], limit=1):
                return candidate
        return f'{code}-{datetime.datetime.now():%Y%m%d%H%M%S}'

    # -- start and stop ----------------------------------------------------

    @classmethod
    @ModelView.button
    @Workflow.transition('running')
    def start(cls, rules):
        "Patrols begin at the next tick of the schedule"
        for rule in rules:
            rule.check_parameters()
        cls.write(rules, {'next_patrol': None})

    @classmethod
    @ModelView.button
    @Workflow.transition('stopped')
    def stop(cls, rules):
        """Patrols end; the open signals stay as they are (history) but are
        no longer active warnings, as their rule is not running."""
        cls.write(rules, {'next_patrol': None})

    # -- preview and patrols -----------------------------------------------

    def compute_findings(self, monitor):
        """The monitor's findings with their summary built from the message
        template (no write)"""
        findings = monitor.findings(self)
        levels = dict(self.fields_get(['level'])['level']['selection'])
        default = gettext(monitor.template)
        template = self.message or default
        for finding in findings:
            values = dict(finding.pop('values', {}) or {})
            values.setdefault('rule', self.name)
            values.setdefault('level', levels.get(
                    finding.get('level') or self.level, ''))
            try:
                summary = render(template, values)
            except (ValueError, IndexError, KeyError, TypeError):
                summary = render(default, values)
            finding['summary'] = summary
        return findings

    @classmethod
    def preview(cls, rules):
        """What the rules would raise now, as a list of dicts; writes
        nothing. status: new (would raise), refresh (already open),
        reopen (auto-closed, would reopen) or closed (closed by a person,
        left closed)."""
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        signal = Signal.__table__()
        cursor = Transaction().connection.cursor()
        # Access rights and record rules of the caller (RPC)
        cls.read([r.id for r in rules], ['monitor'])
        result = []
        for rule in rules:
            monitor = rule.monitor_class()
            with without_check_access():
                findings = rule.compute_findings(monitor)
            cursor.execute(*signal.select(signal.fingerprint, signal.state,
                    where=signal.rule == rule.id))
            existing = dict(cursor)
            names = monitor.institution_names(
                f.get('institution') for f in findings)
            for finding in findings:
                state = existing.get(str(finding['fingerprint'])[:200])
                if state is None:
                    status = 'new'
                elif state == 'auto_closed':
                    status = 'reopen'
                elif state == 'closed':
                    status = 'closed'
                else:
                    status = 'refresh'
                result.append({
                        'rule': rule.id,
                        'fingerprint': finding['fingerprint'],
                        'summary': finding['summary'],
                        'level': finding.get('level') or rule.level,
                        'institution': finding.get('institution'),
                        'institution_name': names.get(
                            finding.get('institution')),
                        'specialty': finding.get('specialty'),
                        'trial': finding.get('trial'),
                        'investigator': finding.get('investigator'),
                        'origin': finding.get('origin'),
                        'detail': finding.get('detail'),
                        'days_overdue': finding.get('days_overdue') or 0,
                        'status': status,
                        })
        return result

    @classmethod
    def _check_patrol_access(cls):
        "Patrols change signals: only who may edit rules may launch them"
        ModelAccess = Pool().get('ir.model.access')
        if Transaction().check_access:
            if not ModelAccess.check(cls.__name__, 'write',
                    raise_exception=False):
                raise AccessError(gettext('ct_risk.msg_patrol_access'))

    @classmethod
    def patrol(cls, rules):
        "Patrol the running rules now, synchronously; return the run ids"
        Run = Pool().get('ct.risk.run')
        cls._check_patrol_access()
        for rule in rules:
            if rule.state != 'running':
                raise PatrolError(gettext('ct_risk.msg_rule_not_running',
                        rule=rule.rec_name))
        with without_check_access():
            return [Run.execute(rule, trigger='manual').id for rule in rules]

    @classmethod
    @ModelView.button
    def launch_patrol(cls, rules):
        "Patrol the rules now as a background job and open the job"
        pool = Pool()
        Job = pool.get('ct.job')
        ModelData = pool.get('ir.model.data')
        Action = pool.get('ir.action')
        for rule in rules:
            if rule.state != 'running':
                raise PatrolError(gettext('ct_risk.msg_rule_not_running',
                        rule=rule.rec_name))
        name = gettext('ct_risk.msg_patrol_job_name',
            rules='、'.join(r.name for r in rules[:3])
            + ('…' if len(rules) > 3 else ''))
        job = Job.launch('risk_patrol', name[:100], 'ct.risk.rule|run_job',
            rules)
        action, = Action.get_action_values('ir.action.act_window',
            [ModelData.get_id('ct_base', 'act_job_form')])
        action['res_id'] = [job.id]
        action['views'] = list(reversed(action['views']))
        return action

    @classmethod
    def run_job(cls, rules, progress):
        "The background job: patrol each rule, committed one by one"
        Run = Pool().get('ct.risk.run')
        ids = [r.id for r in rules]
        total = len(ids)
        progress.update(0, total, force=True)
        last = None
        for i, rule_id in enumerate(ids, 1):
            with progress.chunk(i, total, gettext(
                        'ct_risk.msg_patrol_job_progress',
                        done=i, total=total)):
                rule = cls(rule_id)
                if rule.state != 'running':
                    continue
                with without_check_access():
                    last = Run.execute(
                        rule, trigger='job', job=progress.job_id)
        return last if total == 1 else None

    @classmethod
    def patrol_due(cls):
        "Patrol the running rules whose time has come (the cron)"
        Run = Pool().get('ct.risk.run')
        now = datetime.datetime.now()
        with without_check_access():
            rules = cls.search([
                    ('state', '=', 'running'),
                    ['OR',
                        ('next_patrol', '=', None),
                        ('next_patrol', '<=', now),
                        ],
                    ], order=[('next_patrol', 'ASC NULLS FIRST'),
                    ('id', 'ASC')])
            return [Run.execute(rule, trigger='cron') for rule in rules]

    def next_patrol_after(self, date):
        delta = {
            'minutes': datetime.timedelta(minutes=1),
            'hours': datetime.timedelta(hours=1),
            'days': datetime.timedelta(days=1),
            'weeks': datetime.timedelta(weeks=1),
            }[self.interval_type or 'days']
        return date + delta * max(1, self.interval_number or 1)

    @classmethod
    @ModelView.button_action('ct_risk.wizard_rule_preview')
    def open_preview(cls, rules):
        pass


class RuleSpecialty(ModelSQL):
    "Specialty in the scope of a risk rule"
    __name__ = 'ct.risk.rule-ct.specialty'
    __string__ = "Risk Rule Specialty"

    rule = fields.Many2One(
        'ct.risk.rule', "Rule", required=True, ondelete='CASCADE')
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", required=True, ondelete='CASCADE')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('rule')
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.rule, Index.Equality())))


class RuleRevision(ModelSQL, ModelView):
    "A change of a risk rule: who, when, field by field (append-only)"
    __name__ = 'ct.risk.rule.revision'
    __string__ = "Risk Rule Revision"

    rule = fields.Many2One(
        'ct.risk.rule', "Rule", required=True, readonly=True,
        ondelete='CASCADE')
    number = fields.Integer("Revision", readonly=True)
    user = fields.Many2One('res.user', "User", readonly=True)
    date = fields.Timestamp("Date", readonly=True, required=True)
    event = fields.Selection([
            ('create', "Created"),
            ('write', "Modified"),
            ], "Event", readonly=True, required=True)
    changes = fields.Text("Changes (JSON)", readonly=True)
    changed_fields = fields.Function(
        fields.Char("Changed Fields"), 'get_changes_text')
    changes_text = fields.Function(
        fields.Text("Changes"), 'get_changes_text')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.__access__.add('rule')
        t = cls.__table__()
        cls._sql_indexes.add(
            Index(t, (t.rule, Index.Equality()), (t.number, Index.Range())))
        cls._order = [('rule', 'ASC'), ('number', 'DESC'), ('id', 'DESC')]
        for method in ['create', 'write', 'delete', 'copy']:
            cls.__rpc__.pop(method, None)

    @classmethod
    def check_modification(cls, mode, revisions, values=None,
            external=False):
        super().check_modification(
            mode, revisions, values=values, external=external)
        if mode in {'write', 'delete'} and not Transaction().context.get(
                '_ct_risk_rule_delete'):
            raise AccessError(gettext('ct_risk.msg_revision_immutable'))

    @classmethod
    def record(cls, changes):
        """Append a revision per (rule, event, before, after) that changed
        something"""
        revision = cls.__table__()
        cursor = Transaction().connection.cursor()
        ids = [r.id for r, *_ in changes]
        numbers = {}
        for sub_ids in grouped_slice(ids, MAX):
            cursor.execute(*revision.select(revision.rule,
                    Max(revision.number),
                    where=revision.rule.in_(list(sub_ids)),
                    group_by=[revision.rule]))
            numbers.update(cursor)
        now = datetime.datetime.now()
        user = Transaction().user or None
        vlist = []
        for rule, event, before, after in changes:
            diff = [{'field': name, 'old': before.get(name),
                    'new': after.get(name)}
                for name in TRACKED
                if before.get(name) != after.get(name)]
            if not diff:
                continue
            numbers[rule.id] = (numbers.get(rule.id) or 0) + 1
            vlist.append({
                    'rule': rule.id,
                    'number': numbers[rule.id],
                    'user': user,
                    'date': now,
                    'event': event,
                    'changes': json.dumps(diff, ensure_ascii=False),
                    })
        if vlist:
            with without_check_access():
                cls.create(vlist)

    @classmethod
    def get_changes_text(cls, revisions, names):
        Rule = Pool().get('ct.risk.rule')
        definitions = Rule.fields_get(TRACKED)
        result = {n: {} for n in names}
        for revision in revisions:
            labels, lines = [], []
            for change in json.loads(revision.changes or '[]'):
                name = change['field']
                definition = definitions.get(name, {})
                label = definition.get('string', name)
                labels.append(label)
                lines.append('%s: %s → %s' % (label,
                        cls._display(definition, change.get('old')),
                        cls._display(definition, change.get('new'))))
            if 'changed_fields' in result:
                result['changed_fields'][revision.id] = '、'.join(labels)
            if 'changes_text' in result:
                result['changes_text'][revision.id] = '\n'.join(lines)
        return result

    @staticmethod
    def _display(definition, value):
        if value is None or value == [] or value == {}:
            return '∅'
        kind = definition.get('type')
        if kind in {'selection', 'multiselection'}:
            labels = dict(definition.get('selection') or [])
            if isinstance(value, list):
                return '、'.join(str(labels.get(v, v)) for v in value)
            return str(labels.get(value, value))
        if kind == 'boolean':
            return gettext('ct_base.msg_yes') if value else gettext(
                'ct_base.msg_no')
        if kind == 'many2many':
            return '、'.join(str(v[1]) for v in value)
        if kind == 'dict':
            return json.dumps(value, ensure_ascii=False, sort_keys=True)
        return str(value)


class PreviewStart(ModelView):
    "What a rule would raise now"
    __name__ = 'ct.risk.rule.preview.start'
    __string__ = "Risk Rule Preview"

    rule = fields.Many2One('ct.risk.rule', "Rule", readonly=True)
    count = fields.Integer("Findings", readonly=True)
    new = fields.Integer("New Signals", readonly=True)
    refreshed = fields.Integer("Signals Seen Again", readonly=True)
    reopened = fields.Integer("Signals Reopened", readonly=True)
    closed = fields.Integer("Signals Auto-closed", readonly=True,
        help="Active signals whose condition no longer holds (closed only "
        "when the rule auto-disposes).")
    lines = fields.Text("First Findings", readonly=True)


class Preview(Wizard):
    "Preview a risk rule (dry run)"
    __name__ = 'ct.risk.rule.preview'
    start = StateView('ct.risk.rule.preview.start',
        'ct_risk.rule_preview_start_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Signal = pool.get('ct.risk.signal')
        rule = self.record
        rows = Rule.preview([rule])
        found = {r['fingerprint'] for r in rows}
        with without_check_access():
            active = Signal.search([
                    ('rule', '=', rule.id),
                    ('state', 'in', ACTIVE_STATES + ['hidden']),
                    ])
        closing = [s for s in active if s.fingerprint not in found]
        levels = dict(Rule.fields_get(['level'])['level']['selection'])
        statuses = {
            'new': gettext('ct_risk.msg_preview_new'),
            'refresh': gettext('ct_risk.msg_preview_refresh'),
            'reopen': gettext('ct_risk.msg_preview_reopen'),
            'closed': gettext('ct_risk.msg_preview_closed'),
            }
        lines = ['[%s] %s — %s' % (levels.get(r['level'], r['level']),
                r['summary'], statuses[r['status']])
            for r in rows[:PREVIEW_ROWS]]
        if len(rows) > PREVIEW_ROWS:
            lines.append(gettext('ct_risk.msg_preview_more',
                    count=len(rows) - PREVIEW_ROWS))
        return {
            'rule': rule.id,
            'count': len(rows),
            'new': sum(1 for r in rows if r['status'] == 'new'),
            'refreshed': sum(1 for r in rows if r['status'] == 'refresh'),
            'reopened': sum(1 for r in rows if r['status'] == 'reopen'),
            'closed': len(closing) if rule.auto_dispose else 0,
            'lines': '\n'.join(lines) or gettext('ct_risk.msg_preview_none'),
            }


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ct.risk.rule|patrol_due', "Patrol Due Risk Rules"))
