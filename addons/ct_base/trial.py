from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pyson import Eval

from .changelog import ChangeLogMixin

PHASES = [
    ('i', "Phase I"),
    ('ii', "Phase II"),
    ('iii', "Phase III"),
    ('iv', "Phase IV"),
    ('be', "Bioequivalence"),
    ('other', "Other"),
    ]
DRUG_CATEGORIES = [
    (None, ""),
    ('chemical', "Chemical Drug"),
    ('biological', "Biological Product"),
    ('tcm', "Traditional Chinese Medicine"),
    ]
STATES = [
    ('preparing', "Preparing"),
    ('ongoing', "Ongoing"),
    ('completed', "Completed"),
    ('terminated', "Terminated"),
    ('suspended', "Suspended"),
    ]


class Trial(ChangeLogMixin, ModelSQL, ModelView):
    "A drug clinical trial project run at an institution"
    __name__ = 'ct.trial'
    __string__ = "Trial"
    _history = True

    title = fields.Char("Title", required=True)
    registration_no = fields.Char(
        "Registration Number", strip=True,
        help="The registration number on the drug clinical trial "
        "registration platform, e.g. CTR20241234.")
    drug_name = fields.Char("Drug Name")
    sponsor = fields.Char("Sponsor")
    phase = fields.Selection(PHASES, "Phase", required=True, sort=False)
    drug_category = fields.Selection(
        DRUG_CATEGORIES, "Drug Category", sort=False)
    is_innovative = fields.Boolean("Innovative Drug")
    is_cell_gene = fields.Boolean("Cell and Gene Therapy")
    institution = fields.Many2One(
        'ct.institution', "Institution", required=True,
        ondelete='CASCADE')
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", ondelete='SET NULL',
        domain=[('institution', '=', Eval('institution', -1))])
    pi = fields.Many2One(
        'ct.investigator', "Principal Investigator", ondelete='SET NULL',
        domain=[('institution', '=', Eval('institution', -1))])
    start_date = fields.Date(
        "Start Date",
        domain=['OR',
            ('start_date', '<=', Eval('end_date', None)),
            ('end_date', '=', None),
            ])
    end_date = fields.Date("End Date")
    state = fields.Selection(STATES, "State", required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('registration_institution_unique',
                Unique(t, t.registration_no, t.institution),
                'ct_base.msg_trial_registration_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.institution, Index.Range()),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.pi, Index.Range()),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.specialty, Index.Range())),
                Index(t, (t.registration_no, Index.Equality())),
                Index(t, (t.phase, Index.Equality(cardinality='low'))),
                Index(t, (t.start_date, Index.Range())),
                })
        cls._order = [('start_date', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_state(cls):
        return 'preparing'

    @classmethod
    def default_phase(cls):
        return 'i'

    @classmethod
    def default_is_innovative(cls):
        return False

    @classmethod
    def default_is_cell_gene(cls):
        return False

    def get_rec_name(self, name):
        if self.registration_no:
            return f'[{self.registration_no}] {self.title}'
        return self.title

    @classmethod
    def search_rec_name(cls, name, clause):
        _, operator, operand, *extra = clause
        bool_op = 'AND' if operator.startswith('!') or operator.startswith(
            'not ') else 'OR'
        return [bool_op,
            ('title', operator, operand, *extra),
            ('registration_no', operator, operand, *extra),
            ('drug_name', operator, operand, *extra),
            ]

    @classmethod
    def validate_fields(cls, trials, field_names):
        super().validate_fields(trials, field_names)
        if field_names & {'pi', 'specialty', 'institution'}:
            for trial in trials:
                trial.check_same_institution()

    def check_same_institution(self):
        "Server-side guard: PI and specialty belong to the institution"
        from trytond.i18n import gettext
        from trytond.model.exceptions import ValidationError
        for record in (self.pi, self.specialty):
            if record and record.institution != self.institution:
                raise ValidationError(gettext(
                        'ct_base.msg_trial_other_institution',
                        trial=self.rec_name, record=record.rec_name))
