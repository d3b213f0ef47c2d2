"""Comprehensive evaluation (综合评定) of an institution or a specialty."""
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.ct_base.changelog import ChangeLogMixin
from trytond.modules.ct_base.signature import SignedDocumentMixin
from trytond.pool import Pool
from trytond.pyson import Eval, If
from trytond.report import Report
from trytond.transaction import Transaction

from .exceptions import EvaluationError

CONCLUSIONS = [
    ('compliant', "Compliant"),
    ('rectify', "Assess after Rectification"),
    ('non_compliant', "Non-compliant"),
    ]
_LOCKED = Eval('state') == 'approved'


class Evaluation(
        SignedDocumentMixin, ChangeLogMixin, Workflow, ModelSQL,
        ModelView):
    "A comprehensive evaluation of an institution or one of its specialties"
    __name__ = 'ct.evaluation'
    __string__ = "Comprehensive Evaluation"
    _signed_fields = [
        'institution', 'specialty', 'date', 'evaluators', 'inspection',
        'conclusion', 'summary', 'approved_by', 'approved_date']

    institution = fields.Many2One(
        'ct.institution', "Institution", required=True,
        ondelete='RESTRICT', states={'readonly': _LOCKED})
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", ondelete='RESTRICT',
        domain=[('institution', '=', Eval('institution', -1))],
        states={'readonly': _LOCKED},
        help="Leave empty for an evaluation of the whole institution.")
    level = fields.Function(
        fields.Selection([
                ('institution', "Institution"),
                ('specialty', "Specialty"),
                ], "Level"), 'get_level', searcher='search_level')
    date = fields.Date("Date", required=True, states={'readonly': _LOCKED})
    evaluators = fields.Char(
        "Evaluators", required=True, states={'readonly': _LOCKED})
    inspection = fields.Many2One(
        'ct.inspection', "Inspection", ondelete='RESTRICT',
        domain=[If(Eval('institution'),
                ('institution', '=', Eval('institution', -1)), ())],
        states={'readonly': _LOCKED})
    conclusion = fields.Selection(
        CONCLUSIONS, "Conclusion", required=True, sort=False,
        states={'readonly': _LOCKED})
    summary = fields.Text(
        "Evaluation Opinion", required=True, states={'readonly': _LOCKED})
    conclusion_string = conclusion.translated('conclusion')
    approved_by = fields.Many2One('res.user', "Approved By", readonly=True)
    approved_date = fields.Date("Approved On", readonly=True)
    state = fields.Selection([
            ('draft', "Draft"),
            ('approved', "Approved"),
            ], "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.institution, Index.Equality()),
                    (t.date, Index.Range())),
                Index(t, (t.conclusion, Index.Equality(cardinality='low')),
                    (t.date, Index.Range())),
                Index(t, (t.specialty, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {('draft', 'approved')}
        cls._buttons.update({
                'approve': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_date(cls):
        return Pool().get('ir.date').today()

    def get_rec_name(self, name):
        target = (self.specialty or self.institution)
        return f'{target.rec_name if target else ""} {self.date or ""}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('institution.rec_name',) + tuple(clause[1:])]

    def get_level(self, name):
        return 'specialty' if self.specialty else 'institution'

    @classmethod
    def search_level(cls, name, clause):
        _, operator, value = clause[:3]
        specialty = value == 'specialty'
        if operator in {'!=', 'not in'}:
            specialty = not specialty
        return [('specialty', '!=' if specialty else '=', None)]

    @classmethod
    def validate_fields(cls, evaluations, field_names):
        super().validate_fields(evaluations, field_names)
        if field_names & {'specialty', 'inspection', 'institution'}:
            for evaluation in evaluations:
                for record in (evaluation.specialty, evaluation.inspection):
                    if (record
                            and record.institution != evaluation.institution):
                        raise EvaluationError(gettext(
                                'ct_inspection.msg_evaluation_other_institution',
                                evaluation=evaluation.rec_name,
                                record=record.rec_name))

    @classmethod
    def check_modification(
            cls, mode, evaluations, values=None, external=False):
        super().check_modification(
            mode, evaluations, values=values, external=external)
        if mode == 'write' and (set(values) <= {
                    'state', 'approved_by', 'approved_date'}
                or Transaction().context.get('_ct_signing')):
            return
        if mode in {'write', 'delete'}:
            for evaluation in evaluations:
                if evaluation.state == 'approved':
                    raise EvaluationError(gettext(
                            'ct_inspection.msg_evaluation_locked',
                            evaluation=evaluation.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('approved')
    def approve(cls, evaluations):
        Date = Pool().get('ir.date')
        cls.write(evaluations, {
                'approved_by': Transaction().user or None,
                'approved_date': Date.today(),
                })
        cls.sign_documents(evaluations)


class EvaluationReport(Report):
    __name__ = 'ct.evaluation.report'
