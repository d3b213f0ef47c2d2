"""The interface every monitor (监测模型) implements.

A monitor is one class: its ``key`` (the value of ``ct.risk.rule``'s
``monitor`` field), the specification of its parameters (from which
``default_parameters`` is built), ``validate(parameters)`` and
``findings(rule)``, which returns the conditions that hold now as finding
dicts for ``ct.risk.signal.sync_findings``::

    {'fingerprint': 'inspection:42', 'values': {...}, 'institution': 7,
     'specialty': None, 'origin': 'ct.inspection,42', 'days_overdue': 3,
     'level': None, 'detail': '...'}

``values`` fill the placeholders of the rule's message template (the
engine turns them into the ``summary``). Monitors read the database with
python-sql over whole sets (no loop over records) and respect the rule's
scope through the helpers below. They never write: a preview and a patrol
run the same code.
"""
import datetime as dt
import string

from sql import Null
from trytond import backend
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from ..exceptions import RuleError

MONITORS = {}
LEVEL_KEYS = ('high', 'medium', 'low')
# Placeholders every template may use, besides the monitor's own.
COMMON_PLACEHOLDERS = {'rule': "规则", 'level': "高"}


def register(cls):
    "Class decorator: make the monitor available to rules"
    MONITORS[cls.key] = cls
    return cls


def get_monitor(key):
    "The monitor class of the key (KeyError when unknown)"
    return MONITORS[key]


def to_date(value):
    "A date from what the backend returns (SQLite gives text for aggregates)"
    if value is None or isinstance(value, dt.date) and not isinstance(
            value, dt.datetime):
        return value
    if isinstance(value, dt.datetime):
        return value.date()
    return dt.date.fromisoformat(str(value)[:10])


class Param:
    """The specification of one parameter.

    kind: 'int', 'number', 'bool', 'choice' (one key), 'choices' (a list
    of keys), 'levels' (an object from keys to high/medium/low), 'model'
    or 'domain' (free values checked by the monitor).
    selection: the allowed keys as [(key, label)] or a (model, field) pair
    whose translated selection gives them.
    """

    def __init__(self, kind, default, minimum=None, selection=None):
        self.kind = kind
        self.default = default
        self.minimum = minimum
        self.selection = selection

    def choices(self):
        "[(key, label)] in the user's language"
        selection = self.selection
        if isinstance(selection, tuple):
            model, field = selection
            Model = Pool().get(model)
            selection = Model.fields_get([field])[field]['selection']
            return [(k, v) for k, v in selection if k is not None]
        return [(k, gettext(v) if v.startswith('ct_risk.msg_') else v)
            for k, v in selection]

    def describe(self):
        "What the value must be, for the error message"
        choices = '、'.join(
            f'{k}（{v}）' if v and v != k else str(k)
            for k, v in (self.choices() if self.selection else []))
        if self.kind == 'int':
            if self.minimum is not None:
                return gettext('ct_risk.msg_param_int_min',
                    minimum=self.minimum)
            return gettext('ct_risk.msg_param_int')
        if self.kind == 'number':
            if self.minimum is not None:
                return gettext('ct_risk.msg_param_number_min',
                    minimum=self.minimum)
            return gettext('ct_risk.msg_param_number')
        if self.kind == 'bool':
            return gettext('ct_risk.msg_param_bool')
        if self.kind == 'choice':
            return gettext('ct_risk.msg_param_choice', choices=choices)
        if self.kind == 'choices':
            return gettext('ct_risk.msg_param_choices', choices=choices)
        if self.kind == 'levels':
            return gettext('ct_risk.msg_param_levels', choices=choices)
        return ''

    def check(self, value):
        "True when value fits the specification"
        kind = self.kind
        if kind == 'bool':
            return isinstance(value, bool)
        if kind in {'int', 'number'}:
            types = (int,) if kind == 'int' else (int, float)
            if isinstance(value, bool) or not isinstance(value, types):
                return False
            return self.minimum is None or value >= self.minimum
        keys = {k for k, _ in self.choices()} if self.selection else set()
        if kind == 'choice':
            return isinstance(value, str) and value in keys
        if kind == 'choices':
            return (isinstance(value, (list, tuple)) and bool(value)
                and all(isinstance(v, str) and v in keys for v in value))
        if kind == 'levels':
            return isinstance(value, dict) and all(
                k in keys and v in LEVEL_KEYS for k, v in value.items())
        return True


class Monitor:
    """A kind of risk condition: the parameters it takes and the findings
    it computes for a rule (see the module docstring)."""
    key = None
    # name: Param
    parameter_specs = {}
    # name: sample value (used to check message templates)
    placeholders = {}
    # ir.message id of the default message template
    template = None
    # Filled from parameter_specs for each subclass.
    default_parameters = {}

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls.default_parameters = {
            k: p.default for k, p in cls.parameter_specs.items()}

    def __init__(self):
        # What the last findings() call examined, the data errors it met
        # and notes for the run's log.
        self.scanned = 0
        self.errors = []
        self.notes = []

    # -- parameters --------------------------------------------------------

    @classmethod
    def validate(cls, parameters, rule=''):
        """Raise RuleError with a clear message when the parameters (merged
        with the defaults) do not fit the monitor."""
        if not isinstance(parameters, dict):
            raise RuleError(gettext(
                    'ct_risk.msg_rule_parameters_object', rule=rule))
        unknown = sorted(set(parameters) - set(cls.parameter_specs))
        if unknown:
            raise RuleError(gettext('ct_risk.msg_rule_parameter_unknown',
                    rule=rule, parameter=unknown[0],
                    parameters='、'.join(cls.parameter_specs) or '-'))
        for name, spec in cls.parameter_specs.items():
            value = parameters.get(name, spec.default)
            if not spec.check(value):
                raise RuleError(gettext('ct_risk.msg_rule_parameter_invalid',
                        rule=rule, parameter=name, value=_show(value),
                        expected=spec.describe()))
        cls.check_parameters(cls.merged(parameters), rule)

    @classmethod
    def check_parameters(cls, parameters, rule):
        "Checks across parameters (a hook for subclasses)"

    @classmethod
    def merged(cls, parameters):
        "The defaults updated with the given parameters (lists, not tuples)"
        result = {}
        for key, value in cls.default_parameters.items():
            result[key] = _plain(value)
        for key, value in (parameters or {}).items():
            result[key] = _plain(value)
        return result

    def parameters(self, rule):
        return self.merged(rule.parameters)

    # -- findings ----------------------------------------------------------

    def findings(self, rule):
        "Return the finding dicts of the conditions that hold now"
        raise NotImplementedError

    def finding(self, fingerprint, values, institution=None, **extra):
        result = {
            'fingerprint': fingerprint,
            'values': values,
            'institution': institution,
            }
        result.update(extra)
        return result

    def error(self, message):
        "Record a data error met while computing (the run counts them)"
        self.errors.append(message)

    def note(self, message):
        self.notes.append(message)

    # -- helpers -----------------------------------------------------------

    @staticmethod
    def cursor():
        return Transaction().connection.cursor()

    @staticmethod
    def today():
        return Pool().get('ir.date').today()

    @staticmethod
    def scope_specialties(rule):
        "The ids of the scoped specialties or None (no restriction)"
        ids = [s.id for s in rule.scope_specialties]
        return ids or None

    @staticmethod
    def scope_phases(rule):
        return list(rule.scope_phases or []) or None

    def institution_scope(self, rule):
        """A sub-query of the ids of the active institutions in the rule's
        scope (kinds, districts and, when specialties are scoped, the
        institutions owning one of them)."""
        pool = Pool()
        institution = pool.get('ct.institution').__table__()
        where = institution.active == True  # noqa: E712
        if rule.scope_kinds:
            where &= institution.kind.in_(list(rule.scope_kinds))
        if rule.scope_districts:
            where &= institution.district.in_(list(rule.scope_districts))
        specialties = self.scope_specialties(rule)
        if specialties:
            specialty = pool.get('ct.specialty').__table__()
            where &= institution.id.in_(specialty.select(
                    specialty.institution,
                    where=specialty.id.in_(specialties)))
        return institution.select(institution.id, where=where)

    def specialty_condition(self, rule, column, none_ok=False):
        """The condition keeping column in the scoped specialties (None
        when they are not restricted); none_ok also keeps empty values."""
        specialties = self.scope_specialties(rule)
        if not specialties:
            return None
        condition = column.in_(specialties)
        if none_ok:
            condition |= (column == Null)
        return condition

    def phase_condition(self, rule, column):
        phases = self.scope_phases(rule)
        if not phases:
            return None
        return column.in_(phases)

    @staticmethod
    def _and(where, *conditions):
        for condition in conditions:
            if condition is not None:
                where &= condition
        return where

    def _column_values(self, table, column, ids, join=None):
        "{id: value} of column for ids, read in chunks"
        cursor = self.cursor()
        result = {}
        ids = [i for i in set(ids) if i is not None]
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            query = (join or table).select(
                table.id, column, where=table.id.in_(list(sub_ids)))
            cursor.execute(*query)
            result.update(cursor)
        return result

    def institution_names(self, ids):
        pool = Pool()
        institution = pool.get('ct.institution').__table__()
        party = pool.get('party.party').__table__()
        return self._column_values(institution, party.name, ids,
            join=institution.join(
                party, condition=institution.party == party.id))

    def specialty_names(self, ids):
        specialty = Pool().get('ct.specialty').__table__()
        return self._column_values(specialty, specialty.name, ids)

    def investigator_names(self, ids):
        investigator = Pool().get('ct.investigator').__table__()
        return self._column_values(investigator, investigator.name, ids)

    def inspection_numbers(self, ids):
        inspection = Pool().get('ct.inspection').__table__()
        return self._column_values(inspection, inspection.number, ids)

    @staticmethod
    def selection_labels(model, field):
        Model = Pool().get(model)
        return dict(Model.fields_get([field])[field]['selection'])


def _plain(value):
    "JSON-like value: tuples (as Dict fields give them) become lists"
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _show(value):
    import json
    try:
        return json.dumps(_plain(value), ensure_ascii=False)
    except TypeError:
        return str(value)


class _Values(dict):
    "Unknown placeholders stay as they are"

    def __missing__(self, key):
        return '{' + key + '}'


def render(template, values):
    "The template with its {placeholders} replaced (ValueError if broken)"
    return string.Formatter().vformat(template, (), _Values(values))


def template_fields(template):
    "The placeholder names used by the template (ValueError if broken)"
    names = set()
    for _, field, _, _ in string.Formatter().parse(template):
        if field is None:
            continue
        if not field:
            raise ValueError("positional placeholder")
        names.add(field.split('.')[0].split('[')[0])
    return names
