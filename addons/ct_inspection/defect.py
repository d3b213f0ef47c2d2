"""Defects (缺陷) found during an inspection, graded from the checklist."""
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.modules.ct_base.changelog import ChangeLogMixin
from trytond.modules.ct_base.common import rec_name_domain
from trytond.pool import Pool
from trytond.pyson import Eval

from .common import CLASS_SEVERITY, ITEM_CLASSES, SEVERITIES
from .exceptions import DefectError
from .inspection import LockedByInspectionMixin


class Defect(LockedByInspectionMixin, ChangeLogMixin, ModelSQL, ModelView):
    "A defect found during an inspection"
    __name__ = 'ct.inspection.defect'
    __string__ = "Defect"

    inspection = fields.Many2One(
        'ct.inspection', "Inspection", required=True, ondelete='CASCADE')
    institution = fields.Many2One(
        'ct.institution', "Institution", readonly=True, required=True,
        help="The inspected institution (copied from the inspection).")
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", ondelete='RESTRICT',
        domain=[('institution', '=', Eval('institution', -1))])
    clause = fields.Many2One(
        'ct.inspection.clause', "Clause", ondelete='RESTRICT')
    clause_code = fields.Char("Clause Code")
    clause_text = fields.Char("Clause Text")
    item_class = fields.Selection(
        [(None, "")] + ITEM_CLASSES, "Clause Class", readonly=True)
    description = fields.Text("Description", required=True)
    default_severity = fields.Selection(
        SEVERITIES, "Default Severity", readonly=True, required=True,
        help="The grade the checklist gives this clause.")
    severity = fields.Selection(
        SEVERITIES, "Severity", required=True, sort=False,
        help="The final grade; a change from the default needs a reason.")
    regrade_reason = fields.Text(
        "Regrade Reason",
        states={
            'required': (Eval('severity') != Eval('default_severity')),
            'invisible': (Eval('severity') == Eval('default_severity')),
            })
    import_key = fields.Char("Import Key", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('import_key_unique', Unique(t, t.import_key),
                'ct_inspection.msg_defect_import_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.inspection, Index.Equality())),
                Index(t, (t.institution, Index.Equality()),
                    (t.severity, Index.Equality(cardinality='low'))),
                Index(t, (t.clause, Index.Equality())),
                Index(t, (t.specialty, Index.Equality())),
                })
        cls._order = [('inspection', 'DESC'), ('id', 'ASC')]

    @classmethod
    def default_default_severity(cls):
        return 'minor'

    @fields.depends('clause', 'severity', 'default_severity')
    def on_change_clause(self):
        if self.clause:
            self.clause_code = self.clause.code
            self.clause_text = self.clause.title
            self.item_class = self.clause.item_class
            severity = CLASS_SEVERITY[self.clause.item_class]
            if self.severity in {None, self.default_severity}:
                self.severity = severity
            self.default_severity = severity

    @fields.depends('clause', 'severity')
    def on_change_severity(self):
        if not self.clause:
            self.default_severity = self.severity

    @fields.depends('inspection', '_parent_inspection.institution')
    def on_change_inspection(self):
        if self.inspection:
            self.institution = self.inspection.institution

    def get_rec_name(self, name):
        code = f'[{self.clause_code}] ' if self.clause_code else ''
        return code + (self.description or '')[:60]

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, ['clause_code', 'description'])

    @classmethod
    def _complete(cls, vlist):
        "Server-side defaults: institution and grade follow the clause."
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        Clause = pool.get('ct.inspection.clause')
        vlist = [v.copy() for v in vlist]
        for values in vlist:
            if values.get('inspection'):
                values['institution'] = Inspection(
                    values['inspection']).institution.id
            if values.get('clause'):
                clause = Clause(values['clause'])
                values.setdefault('clause_code', clause.code)
                values.setdefault('clause_text', clause.title)
                values['item_class'] = clause.item_class
                values['default_severity'] = CLASS_SEVERITY[
                    clause.item_class]
                values.setdefault('severity', values['default_severity'])
            elif 'clause' in values or 'id' not in values:
                # Without a clause the grade given is the default grade.
                values.setdefault('severity', 'minor')
                values['default_severity'] = values['severity']
        return vlist

    @classmethod
    def create(cls, vlist):
        return super().create(cls._complete(vlist))

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        args = []
        for records, values in zip(actions, actions, strict=True):
            if 'clause' in values or 'inspection' in values:
                values, = cls._complete([values])
            args.extend([records, values])
        super().write(*args)

    @classmethod
    def validate_fields(cls, defects, field_names):
        super().validate_fields(defects, field_names)
        if field_names & {
                'severity', 'default_severity', 'regrade_reason',
                'specialty', 'inspection'}:
            for defect in defects:
                defect.check_regrade()
                defect.check_specialty()

    def check_regrade(self):
        if (self.clause and self.severity != self.default_severity
                and not (self.regrade_reason or '').strip()):
            raise DefectError(gettext(
                    'ct_inspection.msg_defect_regrade_reason',
                    defect=self.rec_name))

    def check_specialty(self):
        if self.specialty and self.specialty.institution != self.institution:
            raise DefectError(gettext(
                    'ct_inspection.msg_defect_specialty_institution',
                    defect=self.rec_name,
                    specialty=self.specialty.rec_name))
