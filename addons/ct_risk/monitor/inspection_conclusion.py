"""整改风险: a concluded inspection found the institution 不符合要求 or
待整改后评定 and its rectification is not accepted yet."""
from sql.aggregate import Count, Min
from trytond import backend
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice

from .base import Monitor, Param, register, to_date


@register
class InspectionConclusionMonitor(Monitor):
    "One finding per concluded inspection awaiting rectification"
    key = 'inspection_conclusion'
    parameter_specs = {
        'sources': Param('choices', ['center'],
            selection=('ct.inspection', 'source')),
        'conclusions': Param('choices', ['non_compliant', 'rectify'],
            selection=('ct.inspection', 'conclusion')),
        # The level of a conclusion when it is not the rule's
        'levels': Param('levels', {'non_compliant': 'high'},
            selection=('ct.inspection', 'conclusion')),
        }
    placeholders = {
        'institution': "某医院", 'inspection': "JC2026-000001",
        'conclusion': "不符合要求", 'date': '2026-01-01', 'days': 5,
        'due': '2026-02-01',
        }
    template = 'ct_risk.msg_template_inspection_conclusion'

    def findings(self, rule):
        pool = Pool()
        params = self.parameters(rule)
        inspection = pool.get('ct.inspection').__table__()
        relation = pool.get('ct.inspection-ct.specialty').__table__()
        rectification = pool.get('ct.rectification').__table__()
        cursor = self.cursor()

        base = (inspection.source.in_(params['sources'])
            & (inspection.state == 'concluded')
            & inspection.institution.in_(self.institution_scope(rule)))
        specialties = self.specialty_condition(rule, relation.specialty)
        if specialties is not None:
            base &= inspection.id.in_(relation.select(
                    relation.inspection, where=specialties))
        cursor.execute(*inspection.select(
                inspection.id, inspection.institution, inspection.conclusion,
                inspection.date_end, inspection.number,
                where=base & inspection.conclusion.in_(
                    params['conclusions'])
                & ~inspection.id.in_(rectification.select(
                        rectification.inspection,
                        where=rectification.state == 'accepted'))))
        rows = cursor.fetchall()
        cursor.execute(*inspection.select(Count(inspection.id), where=base))
        self.scanned, = cursor.fetchone()
        if not rows:
            return []

        due = {}
        for sub_ids in grouped_slice(
                [r[0] for r in rows], backend.MAX_QUERY_PARAMS):
            cursor.execute(*rectification.select(
                    rectification.inspection, Min(rectification.report_due),
                    where=rectification.inspection.in_(list(sub_ids))
                    & (rectification.state != 'accepted'),
                    group_by=[rectification.inspection]))
            due.update((k, to_date(v)) for k, v in cursor)

        today = self.today()
        names = self.institution_names(r[1] for r in rows)
        labels = self.selection_labels('ct.inspection', 'conclusion')
        levels = params['levels']
        result = []
        for inspection_id, institution_id, conclusion, date_end, number \
                in rows:
            date_end = to_date(date_end)
            report_due = due.get(inspection_id)
            days = (today - report_due).days if (
                report_due and report_due < today) else 0
            values = {
                'institution': names.get(institution_id, ''),
                'inspection': number or '',
                'conclusion': labels.get(conclusion, conclusion),
                'date': date_end.isoformat() if date_end else '',
                'days': days,
                'due': report_due.isoformat() if report_due else '',
                }
            detail = None
            if report_due:
                detail = gettext('ct_risk.msg_detail_report_due',
                    date=report_due.isoformat(), days=days)
            result.append(self.finding(
                    f'inspection:{inspection_id}', values,
                    institution=institution_id,
                    origin=f'ct.inspection,{inspection_id}',
                    days_overdue=days, detail=detail,
                    level=levels.get(conclusion)))
        return result
