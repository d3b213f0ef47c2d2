from sql.aggregate import Count
from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin,
    Index,
    ModelSQL,
    ModelView,
    Unique,
    fields,
)
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .changelog import ChangeLogMixin
from .common import DISTRICTS, INSTITUTION_KINDS
from .exceptions import InstitutionError

GRADES = [
    (None, ""),
    ('3a', "Grade III Class A"),
    ('3b', "Grade III Class B"),
    ('3', "Grade III"),
    ('2a', "Grade II Class A"),
    ('2', "Grade II"),
    ('other', "Other"),
    ]


class Institution(
        ChangeLogMixin, DeactivableMixin, ModelSQL, ModelView):
    "A clinical trial institution or a non-clinical (GLP) institution"
    __name__ = 'ct.institution'
    __string__ = "Institution"
    _history = True

    party = fields.Many2One(
        'party.party', "Party", required=True, ondelete='RESTRICT')
    name = fields.Function(
        fields.Char("Name", required=True),
        'get_name', setter='set_name', searcher='search_name')
    code = fields.Char(
        "Filing Number", required=True, strip=True,
        help="The filing number (备案号) of the institution.")
    credit_code = fields.Char(
        "Unified Social Credit Code", size=18, strip=True)
    kind = fields.Selection(
        INSTITUTION_KINDS, "Kind", required=True, sort=False)
    district = fields.Selection(
        [(None, "")] + DISTRICTS, "District", sort=False)
    grade = fields.Selection(GRADES, "Hospital Grade", sort=False)
    filing_date = fields.Date("Filing Date")
    address = fields.Char("Address")
    contact_name = fields.Char("Contact")
    contact_phone = fields.Char("Contact Phone")
    state = fields.Selection([
            ('active', "Active"),
            ('suspended', "Suspended"),
            ('cancelled', "Cancelled"),
            ], "State", required=True, sort=False)
    specialties = fields.One2Many(
        'ct.specialty', 'institution', "Specialties")
    investigators = fields.One2Many(
        'ct.investigator', 'institution', "Investigators")
    trials = fields.One2Many('ct.trial', 'institution', "Trials")
    specialty_count = fields.Function(
        fields.Integer("Specialties"), 'get_counts')
    investigator_count = fields.Function(
        fields.Integer("Investigators"), 'get_counts')
    trial_count = fields.Function(
        fields.Integer("Trials"), 'get_counts')
    ongoing_trial_count = fields.Function(
        fields.Integer("Ongoing Trials"), 'get_counts')
    # The institution itself is the scope of the institution record rule.
    institution = fields.Function(
        fields.Many2One('ct.institution', "Institution"),
        'get_institution', searcher='search_institution')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('code_unique', Unique(t, t.code), 'ct_base.msg_institution_code_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.kind, Index.Equality(cardinality='low')),
                    (t.district, Index.Equality(cardinality='low'))),
                Index(t, (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.party, Index.Range())),
                Index(t, (t.credit_code, Index.Equality())),
                })
        cls._order = [('code', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_kind(cls):
        return 'clinical'

    @classmethod
    def default_state(cls):
        return 'active'

    def get_rec_name(self, name):
        return self.party.name if self.party else ''

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        if operator.startswith('!') or operator.startswith('not '):
            bool_op = 'AND'
        else:
            bool_op = 'OR'
        return [bool_op,
            ('party.name', operator, operand, *extra),
            ('code', operator, operand, *extra),
            ('credit_code', operator, operand, *extra),
            ]

    @classmethod
    def get_name(cls, institutions, name):
        return {i.id: i.party.name for i in institutions}

    @classmethod
    def set_name(cls, institutions, name, value):
        Party = Pool().get('party.party')
        Party.write([i.party for i in institutions], {'name': value})

    @classmethod
    def search_name(cls, name, clause):
        return [('party.name', *clause[1:])]

    def get_institution(self, name):
        return self.id

    @classmethod
    def search_institution(cls, name, clause):
        _, operator, value = clause[:3]
        return [('id', operator, value)]

    @classmethod
    def preprocess_values(cls, mode, values):
        "An institution created by name alone gets its party"
        pool = Pool()
        Party = pool.get('party.party')
        values = super().preprocess_values(mode, values)
        if mode == 'create' and not values.get('party'):
            if not values.get('name'):
                raise InstitutionError(gettext(
                        'ct_base.msg_institution_name_required'))
            party, = Party.create([{'name': values['name']}])
            values['party'] = party.id
            values.pop('name')
        return values

    @classmethod
    def get_counts(cls, institutions, names):
        if isinstance(names, str):
            return cls.get_counts(institutions, [names])[names]
        pool = Pool()
        cursor = Transaction().connection.cursor()
        ids = [i.id for i in institutions]
        result = {n: dict.fromkeys(ids, 0) for n in names}
        sources = {
            'specialty_count': ('ct.specialty', None),
            'investigator_count': ('ct.investigator', None),
            'trial_count': ('ct.trial', None),
            'ongoing_trial_count': ('ct.trial', 'ongoing'),
            }
        for name in names:
            model, state = sources[name]
            table = pool.get(model).__table__()
            for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
                where = table.institution.in_(list(sub_ids))
                if state:
                    where &= table.state == state
                cursor.execute(*table.select(
                        table.institution, Count(),
                        where=where, group_by=[table.institution]))
                result[name].update(cursor)
        return result

    @classmethod
    def validate_fields(cls, institutions, field_names):
        super().validate_fields(institutions, field_names)
        if 'credit_code' in field_names:
            for institution in institutions:
                institution.check_credit_code()

    def check_credit_code(self):
        code = self.credit_code
        if code and (len(code) != 18 or not code.isalnum()):
            raise InstitutionError(gettext(
                    'ct_base.msg_institution_credit_code_invalid',
                    institution=self.rec_name, code=code))

    @classmethod
    def copy(cls, institutions, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('code', lambda data: data['code'] + '-copy')
        default.setdefault('specialties', None)
        default.setdefault('investigators', None)
        default.setdefault('trials', None)
        return super().copy(institutions, default=default)

    @classmethod
    def view_attributes(cls):
        return super().view_attributes() + [
            ('/tree', 'visual',
                If(Eval('state') != 'active', 'muted', '')),
            ]

