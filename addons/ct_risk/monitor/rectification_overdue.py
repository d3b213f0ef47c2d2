"""待整改风险: the rectification plan is submitted but the report is not
submitted by its due date."""
import datetime as dt

from sql.aggregate import Count
from trytond.pool import Pool

from .base import Monitor, Param, register, to_date


@register
class RectificationOverdueMonitor(Monitor):
    "One finding per rectification whose report is overdue"
    key = 'rectification_overdue'
    parameter_specs = {
        # The states in which the report is still owed
        'states': Param('choices', ['plan_submitted', 'returned'],
            selection=('ct.rectification', 'state')),
        'grace_days': Param('int', 0, minimum=0),
        # From this many days overdue the signal is high (0: never)
        'high_after_days': Param('int', 30, minimum=0),
        }
    placeholders = {
        'institution': "某医院", 'inspection': "JC2026-000001",
        'due': '2026-01-01', 'days': 12, 'state': "已提交整改计划",
        }
    template = 'ct_risk.msg_template_rectification_overdue'

    def findings(self, rule):
        pool = Pool()
        params = self.parameters(rule)
        rectification = pool.get('ct.rectification').__table__()
        inspection = pool.get('ct.inspection').__table__()
        cursor = self.cursor()
        today = self.today()
        limit = today - dt.timedelta(days=params['grace_days'])

        base = (rectification.state.in_(params['states'])
            & rectification.institution.in_(self.institution_scope(rule)))
        relation = pool.get('ct.inspection-ct.specialty').__table__()
        specialties = self.specialty_condition(rule, relation.specialty)
        if specialties is not None:
            base &= rectification.inspection.in_(relation.select(
                    relation.inspection, where=specialties))
        cursor.execute(*rectification.select(
                Count(rectification.id), where=base))
        self.scanned, = cursor.fetchone()
        cursor.execute(*rectification.join(inspection,
                condition=rectification.inspection == inspection.id).select(
                rectification.id, rectification.institution,
                rectification.report_due, rectification.state,
                inspection.id, inspection.number,
                where=base & (rectification.report_due < limit)))
        rows = cursor.fetchall()
        if not rows:
            return []
        names = self.institution_names(r[1] for r in rows)
        labels = self.selection_labels('ct.rectification', 'state')
        high_after = params['high_after_days']
        result = []
        for rect_id, institution_id, report_due, state, _, number in rows:
            report_due = to_date(report_due)
            days = (today - report_due).days
            values = {
                'institution': names.get(institution_id, ''),
                'inspection': number or '',
                'due': report_due.isoformat(),
                'days': days,
                'state': labels.get(state, state),
                }
            level = 'high' if high_after and days >= high_after else None
            result.append(self.finding(
                    f'rectification:{rect_id}', values,
                    institution=institution_id,
                    origin=f'ct.rectification,{rect_id}',
                    days_overdue=days, level=level))
        return result
