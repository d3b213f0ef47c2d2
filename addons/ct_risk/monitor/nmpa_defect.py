"""缺陷待整改风险: an NMPA inspection found critical or major defects and
its rectification is not accepted yet."""
from collections import defaultdict

from sql.aggregate import Count, Min
from trytond import backend
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice

from .base import Monitor, Param, register, to_date


@register
class NmpaDefectMonitor(Monitor):
    "One finding per NMPA inspection with unaccepted serious defects"
    key = 'nmpa_defect'
    parameter_specs = {
        'severities': Param('choices', ['critical', 'major'],
            selection=('ct.inspection.defect', 'severity')),
        'sources': Param('choices', ['nmpa'],
            selection=('ct.inspection', 'source')),
        }
    placeholders = {
        'institution': "某医院", 'inspection': "JC2026-000001",
        'critical': 1, 'major': 2, 'count': 3, 'days': 5, 'due': '2026-01-01',
        }
    template = 'ct_risk.msg_template_nmpa_defect'

    def findings(self, rule):
        pool = Pool()
        params = self.parameters(rule)
        defect = pool.get('ct.inspection.defect').__table__()
        inspection = pool.get('ct.inspection').__table__()
        rectification = pool.get('ct.rectification').__table__()
        cursor = self.cursor()

        accepted = rectification.select(rectification.inspection,
            where=rectification.state == 'accepted')
        base = self._and(
            inspection.source.in_(params['sources'])
            & inspection.state.in_(['concluded', 'closed'])
            & inspection.institution.in_(self.institution_scope(rule)))
        cursor.execute(*inspection.select(Count(inspection.id), where=base))
        self.scanned, = cursor.fetchone()

        where = self._and(base
            & defect.severity.in_(params['severities'])
            & ~inspection.id.in_(accepted),
            self.specialty_condition(rule, defect.specialty))
        cursor.execute(*defect.join(inspection,
                condition=defect.inspection == inspection.id).select(
                inspection.id, inspection.institution, defect.severity,
                Count(defect.id), where=where,
                group_by=[inspection.id, inspection.institution,
                    defect.severity]))
        counts = defaultdict(lambda: defaultdict(int))
        institutions = {}
        for inspection_id, institution_id, severity, count in cursor:
            counts[inspection_id][severity] += count
            institutions[inspection_id] = institution_id
        if not counts:
            return []

        # The report deadline of the open rectification gives the delay.
        due = {}
        ids = list(counts)
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*rectification.select(
                    rectification.inspection, Min(rectification.report_due),
                    where=rectification.inspection.in_(list(sub_ids))
                    & (rectification.state != 'accepted'),
                    group_by=[rectification.inspection]))
            due.update((k, to_date(v)) for k, v in cursor)

        today = self.today()
        names = self.institution_names(institutions.values())
        numbers = self.inspection_numbers(ids)
        labels = self.selection_labels('ct.inspection.defect', 'severity')
        result = []
        for inspection_id, by_severity in counts.items():
            report_due = due.get(inspection_id)
            days = (today - report_due).days if (
                report_due and report_due < today) else 0
            values = {
                'institution': names.get(institutions[inspection_id], ''),
                'inspection': numbers.get(inspection_id) or '',
                'critical': by_severity.get('critical', 0),
                'major': by_severity.get('major', 0),
                'count': sum(by_severity.values()),
                'days': days,
                'due': report_due.isoformat() if report_due else '',
                }
            detail = '\n'.join(
                f"{labels.get(s, s)}: {c}" for s, c in sorted(
                    by_severity.items()))
            if report_due:
                detail += '\n' + gettext('ct_risk.msg_detail_report_due',
                    date=report_due.isoformat(), days=days)
            result.append(self.finding(
                    f'inspection:{inspection_id}', values,
                    institution=institutions[inspection_id],
                    origin=f'ct.inspection,{inspection_id}',
                    days_overdue=days, detail=detail))
        return result
