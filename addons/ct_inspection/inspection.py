"""Inspections (监督检查) of every source, their conclusions and locking."""
from sql import Null
from sql.aggregate import Count
from trytond import backend
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, Workflow, fields
from trytond.modules.ct_base.changelog import ChangeLogMixin
from trytond.modules.ct_base.common import rec_name_domain
from trytond.modules.ct_base.signature import SignedDocumentMixin
from trytond.pool import Pool
from trytond.pyson import Bool, Eval, If
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .common import (
    CONCLUSIONS,
    INSPECTION_TYPES,
    SOURCES,
    propose_conclusion,
)
from .exceptions import InspectionError, InspectionLockedError

STATES = [
    ('draft', "Draft"),
    ('in_progress', "In Progress"),
    ('concluded', "Concluded"),
    ('closed', "Closed"),
    ]
LOCKED_STATES = {'concluded', 'closed'}
_LOCKED = Eval('state').in_(list(LOCKED_STATES))


def _internal_write():
    "True while the server numbers or imports records (never over RPC)"
    context = Transaction().context
    return bool(context.get('_ct_inspection_numbering')
        or context.get('_ct_inspection_import')
        or context.get('_ct_signing'))


class LockedByInspectionMixin:
    "Lines of an inspection are locked with it."
    __slots__ = ()

    @classmethod
    def check_modification(cls, mode, records, values=None, external=False):
        super().check_modification(
            mode, records, values=values, external=external)
        if mode == 'create' or _internal_write():
            return
        for record in records:
            inspection = record.inspection
            if inspection and inspection.state in LOCKED_STATES:
                raise InspectionLockedError(gettext(
                        'ct_inspection.msg_inspection_locked',
                        inspection=inspection.rec_name))

    @classmethod
    def create(cls, vlist):
        Inspection = Pool().get('ct.inspection')
        ids = {v['inspection'] for v in vlist if v.get('inspection')}
        if not Transaction().context.get('_ct_inspection_import'):
            for inspection in Inspection.browse(list(ids)):
                if inspection.state in LOCKED_STATES:
                    raise InspectionLockedError(gettext(
                            'ct_inspection.msg_inspection_locked',
                            inspection=inspection.rec_name))
        return super().create(vlist)


class Inspection(
        SignedDocumentMixin, ChangeLogMixin, Workflow, ModelSQL,
        ModelView):
    "A supervision inspection of an institution"
    __name__ = 'ct.inspection'
    __string__ = "Inspection"
    _rec_name = 'number'
    _signed_fields = [
        'number', 'institution', 'specialties', 'source', 'inspection_type',
        'date_start', 'date_end', 'inspectors', 'conclusion', 'judgement',
        'concluded_by', 'concluded_date']

    number = fields.Char("Number", readonly=True)
    institution = fields.Many2One(
        'ct.institution', "Institution", required=True,
        ondelete='RESTRICT', states={'readonly': Eval('state') != 'draft'})
    specialties = fields.Many2Many(
        'ct.inspection-ct.specialty', 'inspection', 'specialty',
        "Specialties Inspected",
        domain=[('institution', '=', Eval('institution', -1))],
        states={'readonly': _LOCKED})
    source = fields.Selection(
        SOURCES, "Source", required=True, sort=False,
        states={'readonly': Eval('state') != 'draft'})
    inspection_type = fields.Selection(
        INSPECTION_TYPES, "Type", required=True, sort=False,
        states={'readonly': _LOCKED})
    date_start = fields.Date(
        "Start Date", required=True,
        states={'readonly': _LOCKED})
    date_end = fields.Date(
        "End Date", required=True,
        domain=[If(Bool(Eval('date_start')),
                ('date_end', '>=', Eval('date_start')), ())],
        states={'readonly': _LOCKED})
    inspectors = fields.Char(
        "Inspectors", states={'readonly': _LOCKED},
        help="Names of the inspectors, separated by commas.")
    lead_inspector = fields.Many2One(
        'res.user', "Lead Inspector", states={'readonly': _LOCKED})
    purpose = fields.Text("Purpose", states={'readonly': _LOCKED})
    defects = fields.One2Many(
        'ct.inspection.defect', 'inspection', "Defects",
        states={'readonly': _LOCKED})
    critical_count = fields.Function(
        fields.Integer("Critical Defects"), 'get_defect_counts')
    major_count = fields.Function(
        fields.Integer("Major Defects"), 'get_defect_counts')
    minor_count = fields.Function(
        fields.Integer("Minor Defects"), 'get_defect_counts')
    proposed_conclusion = fields.Function(
        fields.Selection(CONCLUSIONS, "Proposed Conclusion"),
        'get_proposed_conclusion')
    conclusion = fields.Selection(
        CONCLUSIONS, "Conclusion", sort=False,
        states={
            'readonly': _LOCKED,
            'required': Eval('state') == 'concluded',
            },
        help="Proposed from the defects; the inspector confirms or "
        "overrides it with a written judgement.")
    judgement = fields.Text(
        "Judgement", states={
            'readonly': _LOCKED,
            'required': Eval('state') == 'concluded',
            },
        help="The inspector's comprehensive judgement (综合研判).")
    specialty_conclusions = fields.One2Many(
        'ct.inspection.specialty_conclusion', 'inspection',
        "Specialty Conclusions", states={'readonly': _LOCKED})
    rectifications = fields.One2Many(
        'ct.rectification', 'inspection', "Rectifications", readonly=True)
    rectification = fields.Function(
        fields.Many2One('ct.rectification', "Rectification"),
        'get_rectification')
    concluded_by = fields.Many2One('res.user', "Concluded By", readonly=True)
    concluded_date = fields.Date("Concluded On", readonly=True)
    external_key = fields.Char(
        "External Key", readonly=True,
        help="Identifies an inspection imported from another system.")
    nmpa_batch = fields.Many2One(
        'ct.nmpa.batch', "Import Batch", readonly=True, ondelete='SET NULL')
    state = fields.Selection(
        STATES, "State", readonly=True, required=True, sort=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('external_key_unique', Unique(t, t.external_key),
                'ct_inspection.msg_inspection_external_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.institution, Index.Equality()),
                    (t.date_end, Index.Range())),
                Index(t, (t.date_end, Index.Range())),
                Index(t, (t.source, Index.Equality(cardinality='low')),
                    (t.state, Index.Equality(cardinality='low'))),
                Index(t, (t.conclusion, Index.Equality(cardinality='low'))),
                })
        cls._order = [('date_start', 'DESC'), ('id', 'DESC')]
        cls._transitions |= {
            ('draft', 'in_progress'),
            ('in_progress', 'draft'),
            ('in_progress', 'concluded'),
            ('concluded', 'closed'),
            }
        cls._buttons.update({
                'start': {
                    'invisible': Eval('state') != 'draft',
                    'icon': 'tryton-forward',
                    'depends': ['state'],
                    },
                'draft': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-back',
                    'depends': ['state'],
                    },
                'apply_proposal': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-refresh',
                    'depends': ['state'],
                    },
                'conclude': {
                    'invisible': Eval('state') != 'in_progress',
                    'icon': 'tryton-ok',
                    'depends': ['state'],
                    },
                'close': {
                    'invisible': Eval('state') != 'concluded',
                    'icon': 'tryton-close',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'draft'

    @classmethod
    def default_source(cls):
        return 'center'

    @classmethod
    def default_inspection_type(cls):
        return 'routine'

    def get_rec_name(self, name):
        institution = self.institution.rec_name if self.institution else ''
        return f'{self.number or ""} {institution}'.strip()

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, ['number', 'institution.rec_name'])

    @classmethod
    def create(cls, vlist):
        vlist = [v.copy() for v in vlist]
        inspections = super().create(vlist)
        # The number shows the year and the id: unique and stable without a
        # sequence lock shared by concurrent imports.
        to_write = []
        for inspection in inspections:
            if not inspection.number:
                year = inspection.date_start.year
                to_write.extend([[inspection], {
                            'number': f'JC{year}-{inspection.id:06d}'}])
        if to_write:
            with Transaction().set_context(_ct_inspection_numbering=True):
                super().write(*to_write)
        return inspections

    @classmethod
    def check_modification(
            cls, mode, inspections, values=None, external=False):
        super().check_modification(
            mode, inspections, values=values, external=external)
        if _internal_write():
            return
        if mode == 'write':
            # Transitions write the state only; everything else is locked.
            if set(values) <= {'state', 'concluded_by', 'concluded_date'}:
                return
        if mode in {'write', 'delete'}:
            for inspection in inspections:
                if inspection.state in LOCKED_STATES:
                    raise InspectionLockedError(gettext(
                            'ct_inspection.msg_inspection_locked',
                            inspection=inspection.rec_name))
        if mode == 'delete':
            for inspection in inspections:
                if inspection.state != 'draft':
                    raise InspectionLockedError(gettext(
                            'ct_inspection.msg_inspection_delete_draft',
                            inspection=inspection.rec_name))

    @classmethod
    def copy(cls, inspections, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('number')
        default.setdefault('external_key')
        default.setdefault('nmpa_batch')
        default.setdefault('conclusion')
        default.setdefault('judgement')
        default.setdefault('concluded_by')
        default.setdefault('concluded_date')
        default.setdefault('rectifications')
        return super().copy(inspections, default=default)

    def signed_extra(self):
        "The defects and specialty conclusions are part of the report"
        return {
            'defects': [[d.clause_code, d.specialty.id if d.specialty
                    else None, d.default_severity, d.severity,
                    d.regrade_reason, d.description]
                for d in sorted(self.defects, key=lambda d: d.id)],
            'specialty_conclusions': [[c.specialty.id, c.conclusion,
                    c.judgement]
                for c in sorted(self.specialty_conclusions,
                    key=lambda c: c.id)],
            }

    @classmethod
    def get_defect_counts(cls, inspections, names):
        pool = Pool()
        Defect = pool.get('ct.inspection.defect')
        defect = Defect.__table__()
        cursor = Transaction().connection.cursor()
        column = {
            'critical_count': 'critical',
            'major_count': 'major',
            'minor_count': 'minor',
            }
        result = {n: {i.id: 0 for i in inspections} for n in names}
        for sub_ids in grouped_slice(
                [i.id for i in inspections], backend.MAX_QUERY_PARAMS):
            cursor.execute(*defect.select(
                    defect.inspection, defect.severity, Count(defect.id),
                    where=defect.inspection.in_(list(sub_ids)),
                    group_by=[defect.inspection, defect.severity]))
            for inspection_id, severity, count in cursor:
                for name in names:
                    if column.get(name) == severity:
                        result[name][inspection_id] = count
        return result

    @classmethod
    def get_proposed_conclusion(cls, inspections, name):
        config = Pool().get('ct.inspection.configuration')(1)
        counts = cls.get_defect_counts(
            inspections, ['critical_count', 'major_count', 'minor_count'])
        return {
            i.id: propose_conclusion(
                counts['critical_count'][i.id],
                counts['major_count'][i.id],
                counts['minor_count'][i.id], config)
            for i in inspections}

    @classmethod
    def get_rectification(cls, inspections, name):
        Rectification = Pool().get('ct.rectification')
        result = {i.id: None for i in inspections}
        for rectification in Rectification.search([
                    ('inspection', 'in', [i.id for i in inspections]),
                    ], order=[('id', 'ASC')]):
            result[rectification.inspection.id] = rectification.id
        return result

    @classmethod
    def validate_fields(cls, inspections, field_names):
        super().validate_fields(inspections, field_names)
        if field_names & {'specialties', 'institution'}:
            for inspection in inspections:
                for specialty in inspection.specialties:
                    if specialty.institution != inspection.institution:
                        raise InspectionError(gettext(
                                'ct_inspection.msg_specialty_other_institution',
                                specialty=specialty.rec_name,
                                inspection=inspection.rec_name))

    @classmethod
    @ModelView.button
    @Workflow.transition('in_progress')
    def start(cls, inspections):
        pass

    @classmethod
    @ModelView.button
    @Workflow.transition('draft')
    def draft(cls, inspections):
        pass

    @classmethod
    @ModelView.button
    def apply_proposal(cls, inspections):
        "Fill the conclusions (institution and specialties) with the proposal"
        pool = Pool()
        SpecialtyConclusion = pool.get('ct.inspection.specialty_conclusion')
        for inspection in inspections:
            if inspection.state != 'in_progress':
                raise InspectionError(gettext(
                        'ct_inspection.msg_inspection_not_in_progress',
                        inspection=inspection.rec_name))
        to_write = []
        for inspection in inspections:
            to_write.extend([[inspection], {
                        'conclusion': inspection.proposed_conclusion}])
        if to_write:
            cls.write(*to_write)
        SpecialtyConclusion.sync(inspections)

    @classmethod
    @ModelView.button
    @Workflow.transition('concluded')
    def conclude(cls, inspections):
        """Lock the inspection with its conclusions and open the
        rectification when defects were found."""
        pool = Pool()
        Rectification = pool.get('ct.rectification')
        SpecialtyConclusion = pool.get('ct.inspection.specialty_conclusion')
        Date = pool.get('ir.date')
        SpecialtyConclusion.sync(inspections)
        for inspection in inspections:
            if not inspection.conclusion:
                raise InspectionError(gettext(
                        'ct_inspection.msg_conclusion_required',
                        inspection=inspection.rec_name))
            if not (inspection.judgement or '').strip():
                raise InspectionError(gettext(
                        'ct_inspection.msg_judgement_required',
                        inspection=inspection.rec_name))
            for line in inspection.specialty_conclusions:
                if not line.conclusion or not (line.judgement or '').strip():
                    raise InspectionError(gettext(
                            'ct_inspection.msg_specialty_conclusion_required',
                            inspection=inspection.rec_name,
                            specialty=line.specialty.rec_name))
        cls.write(inspections, {
                'concluded_by': Transaction().user or None,
                'concluded_date': Date.today(),
                })
        cls.sign_documents(inspections)
        Rectification.open_for(inspections)

    @classmethod
    @ModelView.button
    @Workflow.transition('closed')
    def close(cls, inspections):
        for inspection in inspections:
            for rectification in inspection.rectifications:
                if rectification.state != 'accepted':
                    raise InspectionError(gettext(
                            'ct_inspection.msg_close_rectification_open',
                            inspection=inspection.rec_name))


class InspectionSpecialty(ModelSQL):
    "Specialty covered by an inspection"
    __name__ = 'ct.inspection-ct.specialty'
    __string__ = "Inspection Specialty"

    inspection = fields.Many2One(
        'ct.inspection', "Inspection", required=True, ondelete='CASCADE')
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", required=True, ondelete='RESTRICT')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.inspection, Index.Equality())),
                Index(t, (t.specialty, Index.Equality())),
                })


class SpecialtyConclusion(
        LockedByInspectionMixin, ChangeLogMixin, ModelSQL, ModelView):
    "The conclusion of an inspection for one specialty"
    __name__ = 'ct.inspection.specialty_conclusion'
    __string__ = "Specialty Conclusion"

    inspection = fields.Many2One(
        'ct.inspection', "Inspection", required=True, ondelete='CASCADE')
    institution = fields.Many2One(
        'ct.institution', "Institution", readonly=True, required=True)
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", required=True, readonly=True,
        ondelete='RESTRICT')
    proposed_conclusion = fields.Function(
        fields.Selection(CONCLUSIONS, "Proposed Conclusion"),
        'get_proposed_conclusion')
    conclusion = fields.Selection(CONCLUSIONS, "Conclusion", sort=False)
    judgement = fields.Text("Judgement")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('specialty_unique', Unique(t, t.inspection, t.specialty),
                'ct_inspection.msg_specialty_conclusion_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.inspection, Index.Equality())),
                Index(t, (t.specialty, Index.Equality()),
                    (t.conclusion, Index.Equality(cardinality='low'))),
                Index(t, (t.institution, Index.Equality())),
                })

    @classmethod
    def sync(cls, inspections):
        """Create the missing lines for the specialties inspected, drop the
        lines of specialties no longer inspected, and fill empty
        conclusions with the proposal."""
        to_create, to_delete, to_write = [], [], []
        for inspection in inspections:
            wanted = {s.id for s in inspection.specialties}
            existing = {}
            for line in inspection.specialty_conclusions:
                if line.specialty.id in wanted:
                    existing[line.specialty.id] = line
                else:
                    to_delete.append(line)
            for specialty_id in wanted - existing.keys():
                to_create.append({
                        'inspection': inspection.id,
                        'institution': inspection.institution.id,
                        'specialty': specialty_id,
                        })
        if to_delete:
            cls.delete(to_delete)
        if to_create:
            cls.create(to_create)
        for inspection in inspections:
            for line in cls.search([('inspection', '=', inspection.id)]):
                if not line.conclusion:
                    to_write.extend([[line], {
                                'conclusion': line.proposed_conclusion}])
        if to_write:
            cls.write(*to_write)

    @classmethod
    def get_proposed_conclusion(cls, lines, name):
        pool = Pool()
        Defect = pool.get('ct.inspection.defect')
        config = pool.get('ct.inspection.configuration')(1)
        defect = Defect.__table__()
        cursor = Transaction().connection.cursor()
        counts = {}
        inspection_ids = list({line.inspection.id for line in lines})
        for sub_ids in grouped_slice(inspection_ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*defect.select(
                    defect.inspection, defect.specialty, defect.severity,
                    Count(defect.id),
                    where=defect.inspection.in_(list(sub_ids))
                    & (defect.specialty != Null),
                    group_by=[
                        defect.inspection, defect.specialty,
                        defect.severity]))
            for inspection_id, specialty_id, severity, count in cursor:
                counts.setdefault((inspection_id, specialty_id), {})[
                    severity] = count
        result = {}
        for line in lines:
            c = counts.get((line.inspection.id, line.specialty.id), {})
            result[line.id] = propose_conclusion(
                c.get('critical', 0), c.get('major', 0), c.get('minor', 0),
                config)
        return result

    @classmethod
    def create(cls, vlist):
        Inspection = Pool().get('ct.inspection')
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if not values.get('institution') and values.get('inspection'):
                values['institution'] = Inspection(
                    values['inspection']).institution.id
        return super().create(vlist)


