from trytond.model import (
    DeactivableMixin,
    Index,
    ModelSQL,
    ModelView,
    Unique,
    fields,
)
from trytond.pyson import Eval

from .changelog import ChangeLogMixin
from .common import DISTRICTS, INSTITUTION_KINDS, rec_name_domain

STATES = [
    ('active', "Active"),
    ('suspended', "Suspended"),
    ('cancelled', "Cancelled"),
    ]


class Specialty(
        ChangeLogMixin, DeactivableMixin, ModelSQL, ModelView):
    "A filed professional group (专业) of an institution"
    __name__ = 'ct.specialty'
    __string__ = "Specialty"
    _history = True

    institution = fields.Many2One(
        'ct.institution', "Institution", required=True,
        ondelete='CASCADE')
    name = fields.Char("Name", required=True, strip=True)
    direction = fields.Char(
        "Research Direction", help="The research direction of the group.")
    filing_date = fields.Date("Filing Date")
    state = fields.Selection(STATES, "State", required=True, sort=False)
    investigators = fields.One2Many(
        'ct.investigator', 'specialty', "Investigators",
        domain=[('institution', '=', Eval('institution', -1))])
    trials = fields.One2Many(
        'ct.trial', 'specialty', "Trials",
        domain=[('institution', '=', Eval('institution', -1))])
    district = fields.Function(
        fields.Selection([(None, "")] + DISTRICTS, "District"),
        'get_institution_field', searcher='search_institution_field')
    kind = fields.Function(
        fields.Selection(INSTITUTION_KINDS, "Institution Kind"),
        'get_institution_field', searcher='search_institution_field')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('institution_name_unique', Unique(t, t.institution, t.name),
                'ct_base.msg_specialty_name_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.institution, Index.Range()),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.filing_date, Index.Range())),
                })
        cls._order = [('institution', 'ASC'), ('name', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_state(cls):
        return 'active'

    def get_rec_name(self, name):
        if self.institution:
            return f'{self.institution.rec_name} / {self.name}'
        return self.name

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, ['name', 'institution.rec_name'])

    def get_institution_field(self, name):
        return getattr(self.institution, name)

    @classmethod
    def search_institution_field(cls, name, clause):
        return [(f'institution.{name}', *clause[1:])]
