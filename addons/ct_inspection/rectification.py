"""Rectification (整改): the institution's plan and report, the center's
acceptance or return, repeated until accepted."""
from sql.aggregate import Count
from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Workflow, fields
from trytond.modules.ct_base.changelog import ChangeLogMixin
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access

from .exceptions import RectificationError

STATES = [
    ('waiting_plan', "Waiting for Plan"),
    ('plan_submitted', "Plan Submitted"),
    ('report_submitted', "Report Submitted"),
    ('returned', "Returned"),
    ('accepted', "Accepted"),
    ]
# States in which the institution still owes its report.
OPEN_STATES = ['waiting_plan', 'plan_submitted', 'returned']
# What an institution user may write, and when.
INSTITUTION_FIELDS = {'plan', 'report'}
INSTITUTION_STATES = {'waiting_plan', 'plan_submitted', 'returned'}
REVIEW_FIELDS = {'return_reason', 'review_comment', 'report_due'}


class Rectification(ChangeLogMixin, Workflow, ModelSQL, ModelView):
    "The rectification of the defects found by an inspection"
    __name__ = 'ct.rectification'
    __string__ = "Rectification"

    inspection = fields.Many2One(
        'ct.inspection', "Inspection", required=True, readonly=True,
        ondelete='RESTRICT')
    institution = fields.Many2One(
        'ct.institution', "Institution", required=True, readonly=True,
        ondelete='RESTRICT')
    defect_count = fields.Function(
        fields.Integer("Defects"), 'get_defect_count')
    plan = fields.Text(
        "Rectification Plan",
        states={'readonly': ~Eval('state').in_(
                ['waiting_plan', 'plan_submitted', 'returned'])})
    plan_due = fields.Date("Plan Due", readonly=True)
    plan_date = fields.Date("Plan Submitted On", readonly=True)
    report = fields.Text(
        "Rectification Report",
        states={'readonly': ~Eval('state').in_(
                ['plan_submitted', 'returned'])})
    report_due = fields.Date(
        "Report Due", required=True,
        states={'readonly': Eval('state') == 'accepted'})
    report_date = fields.Date("Report Submitted On", readonly=True)
    return_reason = fields.Text(
        "Return Reason",
        states={'readonly': Eval('state') != 'report_submitted'},
        help="Why the report is returned to the institution.")
    return_count = fields.Integer("Returns", readonly=True)
    review_comment = fields.Text(
        "Review Comment",
        states={'readonly': Eval('state') != 'report_submitted'})
    accepted_by = fields.Many2One('res.user', "Accepted By", readonly=True)
    accepted_date = fields.Date("Accepted On", readonly=True)
    is_overdue = fields.Function(
        fields.Boolean("Overdue"), 'get_overdue', searcher='search_overdue')
    days_overdue = fields.Function(
        fields.Integer("Days Overdue"), 'get_overdue')
    state = fields.Selection(
        STATES, "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.inspection, Index.Equality())),
                Index(t, (t.institution, Index.Equality()),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.state, Index.Equality(cardinality='low')),
                    (t.report_due, Index.Range())),
                })
        cls._order = [('report_due', 'ASC'), ('id', 'ASC')]
        cls._transitions |= {
            ('waiting_plan', 'plan_submitted'),
            ('plan_submitted', 'report_submitted'),
            ('returned', 'report_submitted'),
            ('report_submitted', 'accepted'),
            ('report_submitted', 'returned'),
            }
        cls._buttons.update({
                'submit_plan': {
                    'invisible': Eval('state') != 'waiting_plan',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'submit_report': {
                    'invisible': ~Eval('state').in_(
                        ['plan_submitted', 'returned']),
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'accept': {
                    'invisible': Eval('state') != 'report_submitted',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'return_': {
                    'invisible': Eval('state') != 'report_submitted',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'waiting_plan'

    @classmethod
    def default_return_count(cls):
        return 0

    def get_rec_name(self, name):
        return self.inspection.rec_name if self.inspection else str(self.id)

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('inspection.rec_name',) + tuple(clause[1:])]

    @classmethod
    def get_defect_count(cls, rectifications, name):
        Defect = Pool().get('ct.inspection.defect')
        defect = Defect.__table__()
        cursor = Transaction().connection.cursor()
        by_inspection = {r.inspection.id: 0 for r in rectifications}
        for sub_ids in grouped_slice(
                list(by_inspection), backend.MAX_QUERY_PARAMS):
            cursor.execute(*defect.select(
                    defect.inspection, Count(defect.id),
                    where=defect.inspection.in_(list(sub_ids)),
                    group_by=[defect.inspection]))
            by_inspection.update(cursor)
        return {r.id: by_inspection[r.inspection.id] for r in rectifications}

    @classmethod
    def get_overdue(cls, rectifications, names):
        if isinstance(names, str):
            return cls.get_overdue(rectifications, [names])[names]
        today = Pool().get('ir.date').today()
        result = {n: {} for n in names}
        for r in rectifications:
            late = (r.state in OPEN_STATES and r.report_due
                and r.report_due < today)
            if 'is_overdue' in result:
                result['is_overdue'][r.id] = bool(late)
            if 'days_overdue' in result:
                result['days_overdue'][r.id] = (
                    (today - r.report_due).days if late else 0)
        return result

    @classmethod
    def search_overdue(cls, name, clause):
        _, operator, value = clause[:3]
        today = Pool().get('ir.date').today()
        overdue = [
            ('state', 'in', OPEN_STATES),
            ('report_due', '<', today),
            ]
        wanted = bool(value)
        if operator in {'!=', 'not in'}:
            wanted = not wanted
        if wanted:
            return overdue
        return ['OR',
            ('state', 'not in', OPEN_STATES),
            ('report_due', '>=', today),
            ]

    @classmethod
    def check_modification(
            cls, mode, rectifications, values=None, external=False):
        pool = Pool()
        User = pool.get('res.user')
        super().check_modification(
            mode, rectifications, values=values, external=external)
        if mode == 'delete':
            raise RectificationError(gettext(
                    'ct_inspection.msg_rectification_no_delete'))
        if mode != 'write' or not external:
            return
        fields_ = set(values)
        is_institution = User.get_ct_institution() is not None
        for r in rectifications:
            if r.state == 'accepted':
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_accepted_locked',
                        rectification=r.rec_name))
            if is_institution:
                if not fields_ <= INSTITUTION_FIELDS:
                    raise RectificationError(gettext(
                            'ct_inspection.msg_rectification_institution_fields',
                            rectification=r.rec_name))
                if r.state not in INSTITUTION_STATES:
                    raise RectificationError(gettext(
                            'ct_inspection.msg_rectification_under_review',
                            rectification=r.rec_name))
            elif not fields_ <= REVIEW_FIELDS | INSTITUTION_FIELDS:
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_readonly_fields',
                        rectification=r.rec_name))

    @classmethod
    def _apply(cls, rectifications, action, states, transition):
        "Refuse a wrong state, then run the transition"
        cls.check_state(rectifications, states, action)
        # The state is written by the transition only: without access
        # checks here, while a direct write of it over RPC stays refused.
        with without_check_access():
            transition(rectifications)

    @classmethod
    def check_state(cls, rectifications, states, action):
        "Refuse an action from a state it does not start from (RPC too)."
        for r in rectifications:
            if r.state not in states:
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_wrong_state',
                        rectification=r.rec_name,
                        action=gettext(
                            'ct_inspection.msg_rectification_action_'
                            + action),
                        state=r.state_string))

    state_string = state.translated('state')

    @classmethod
    def open_for(cls, inspections):
        """Create the rectification of each inspection that needs one:
        a conclusion other than 符合要求 or any defect."""
        pool = Pool()
        Config = pool.get('ct.inspection.configuration')
        Calendar = pool.get('ct.calendar.day')
        config = Config(1)
        vlist = []
        for inspection in inspections:
            if inspection.rectifications:
                continue
            if (inspection.conclusion == 'compliant'
                    and not inspection.defects):
                continue
            end = inspection.date_end or inspection.date_start
            vlist.append({
                    'inspection': inspection.id,
                    'institution': inspection.institution.id,
                    'plan_due': Calendar.add_working_days(
                        end, config.plan_days),
                    'report_due': Calendar.add_working_days(
                        end, config.rectification_days),
                    })
        if vlist:
            with without_check_access():
                return cls.create(vlist)
        return []

    def _attachment_count(self):
        Attachment = Pool().get('ir.attachment')
        with without_check_access():
            return Attachment.search_count([
                    ('resource', '=', str(self)),
                    ])

    @classmethod
    @ModelView.button
    def submit_plan(cls, rectifications):
        cls._apply(rectifications, 'submit_plan', {'waiting_plan'}, cls._submit_plan)

    @classmethod
    @Workflow.transition('plan_submitted')
    def _submit_plan(cls, rectifications):
        Date = Pool().get('ir.date')
        for r in rectifications:
            if not (r.plan or '').strip():
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_plan_required',
                        rectification=r.rec_name))
        with without_check_access():
            cls.write(rectifications, {'plan_date': Date.today()})

    @classmethod
    @ModelView.button
    def submit_report(cls, rectifications):
        cls._apply(rectifications, 'submit_report', {'plan_submitted', 'returned'}, cls._submit_report)

    @classmethod
    @Workflow.transition('report_submitted')
    def _submit_report(cls, rectifications):
        Date = Pool().get('ir.date')
        for r in rectifications:
            if not (r.report or '').strip():
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_report_required',
                        rectification=r.rec_name))
            if not r._attachment_count():
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_attachment_required',
                        rectification=r.rec_name))
        with without_check_access():
            cls.write(rectifications, {'report_date': Date.today()})

    @classmethod
    @ModelView.button
    def accept(cls, rectifications):
        cls._apply(rectifications, 'accept', {'report_submitted'}, cls._accept)

    @classmethod
    @Workflow.transition('accepted')
    def _accept(cls, rectifications):
        Date = Pool().get('ir.date')
        with without_check_access():
            cls.write(rectifications, {
                    'accepted_by': Transaction().user or None,
                    'accepted_date': Date.today(),
                    })

    @classmethod
    @ModelView.button
    def return_(cls, rectifications):
        cls._apply(rectifications, 'return_', {'report_submitted'}, cls._return_)

    @classmethod
    @Workflow.transition('returned')
    def _return_(cls, rectifications):
        for r in rectifications:
            if not (r.return_reason or '').strip():
                raise RectificationError(gettext(
                        'ct_inspection.msg_rectification_return_reason',
                        rectification=r.rec_name))
        with without_check_access():
            for r in rectifications:
                cls.write([r], {'return_count': (r.return_count or 0) + 1})
        cls.notify_institution(rectifications, 'returned')

    @classmethod
    def notify_institution(cls, rectifications, event):
        "Tell the institution's users (res.notification) what happened."
        pool = Pool()
        User = pool.get('res.user')
        with without_check_access():
            for r in rectifications:
                users = User.search([
                        ('ct_institution', '=', r.institution.id)])
                for user in users:
                    cls.notify_user([r], 'tryton-warning',
                        gettext('ct_inspection.msg_rectification_notify_'
                            + event, rectification=r.rec_name),
                        description=r.return_reason, user=user.id)

