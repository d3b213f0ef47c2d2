"""Chart-ready statistics of inspections, defects and rectifications.

Every helper aggregates in SQL over the records the user may read (the
record rules apply through ``search(..., query=True)``) and returns plain
lists and dicts ready for ECharts or a report.
"""
import datetime

from sql import Literal, Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case
from sql.functions import Extract
from trytond.i18n import gettext
from trytond.modules.ct_base.chart import register_chart, selection_labels
from trytond.pool import Pool
from trytond.transaction import Transaction


def _allowed(Model, domain=None):
    return Model.search(domain or [], query=True, order=[])


def defects_by_severity(domain=None):
    "{severity: count} over the defects matching domain"
    Defect = Pool().get('ct.inspection.defect')
    defect = Defect.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*defect.select(
            defect.severity, Count(defect.id),
            where=defect.id.in_(_allowed(Defect, domain)),
            group_by=[defect.severity]))
    return dict(cursor)


def defects_by_clause(domain=None, limit=20):
    """The clauses most often found deficient:
    [(clause_code, clause_text, total, critical, major, minor)]"""
    Defect = Pool().get('ct.inspection.defect')
    defect = Defect.__table__()
    cursor = Transaction().connection.cursor()

    def severity(key):
        return Sum(Case((defect.severity == key, 1), else_=0))
    cursor.execute(*defect.select(
            defect.clause_code, defect.clause_text, Count(defect.id),
            severity('critical'), severity('major'), severity('minor'),
            where=defect.id.in_(_allowed(Defect, domain))
            & (defect.clause_code != Null),
            group_by=[defect.clause_code, defect.clause_text],
            order_by=[Count(defect.id).desc, defect.clause_code],
            limit=limit))
    return [tuple(r) for r in cursor]


def conclusions_over_time(domain=None, by='year'):
    """[(period, conclusion, count)] of concluded inspections, period the
    year (2024) or the month (2024-03) of the inspection's end."""
    Inspection = Pool().get('ct.inspection')
    inspection = Inspection.__table__()
    cursor = Transaction().connection.cursor()
    year = Extract('YEAR', inspection.date_end)
    columns = [year]
    if by == 'month':
        columns.append(Extract('MONTH', inspection.date_end))
    cursor.execute(*inspection.select(
            *columns, inspection.conclusion, Count(inspection.id),
            where=inspection.id.in_(_allowed(Inspection, domain))
            & (inspection.conclusion != Null),
            group_by=columns + [inspection.conclusion],
            order_by=columns + [inspection.conclusion]))
    result = []
    for row in cursor:
        if by == 'month':
            period = '%04d-%02d' % (int(row[0]), int(row[1]))
        else:
            period = '%04d' % int(row[0])
        result.append((period, row[-2], row[-1]))
    return result


def rectification_timeliness(domain=None, today=None):
    """Per institution: [(institution id, total, on time, late, overdue
    now, average days late)] where late means the report came after its
    due date and overdue now means it is still missing past it."""
    pool = Pool()
    Rectification = pool.get('ct.rectification')
    rectification = Rectification.__table__()
    cursor = Transaction().connection.cursor()
    if today is None:
        today = pool.get('ir.date').today()
    submitted = rectification.report_date != Null
    late = submitted & (rectification.report_date > rectification.report_due)
    open_ = rectification.state.in_(['waiting_plan', 'plan_submitted',
            'returned'])
    overdue = open_ & (rectification.report_due < today)
    cursor.execute(*rectification.select(
            rectification.institution,
            Count(rectification.id),
            Sum(Case((submitted & ~late, 1), else_=0)),
            Sum(Case((late, 1), else_=0)),
            Sum(Case((overdue, 1), else_=0)),
            Literal(0),
            where=rectification.id.in_(_allowed(Rectification, domain)),
            group_by=[rectification.institution]))
    rows = {r[0]: list(r) for r in cursor}
    # Days late: date arithmetic differs between backends, so the days are
    # summed over the late reports only (few rows) in Python.
    cursor.execute(*rectification.select(
            rectification.institution, rectification.report_date,
            rectification.report_due,
            where=rectification.id.in_(_allowed(Rectification, domain))
            & late))
    days = {}
    for institution, report_date, report_due in cursor:
        if isinstance(report_date, str):
            report_date = datetime.date.fromisoformat(report_date)
            report_due = datetime.date.fromisoformat(report_due)
        days.setdefault(institution, []).append(
            (report_date - report_due).days)
    result = []
    for institution, row in sorted(rows.items()):
        late_days = days.get(institution, [])
        row[5] = round(sum(late_days) / len(late_days), 1) if late_days else 0
        result.append(tuple(row))
    return result


def defect_chart(pool):
    "Defects by severity and by the most frequent clauses"
    Defect = pool.get('ct.inspection.defect')
    labels = selection_labels(Defect, 'severity')
    counts = defects_by_severity()
    clauses = defects_by_clause(limit=15)
    return {
        'severity': [{'key': k, 'name': labels[k], 'value': counts.get(k, 0)}
            for k in ['critical', 'major', 'minor']],
        'clauses': {
            'categories': [c[0] for c in clauses],
            'titles': [c[1] or '' for c in clauses],
            'series': [{
                    'key': key, 'name': labels[key],
                    'data': [c[3 + i] for c in clauses],
                    } for i, key in enumerate(['critical', 'major', 'minor'])],
            },
        'total': sum(counts.values()),
        'text': {
            'severity': gettext('ct_inspection.msg_chart_by_severity'),
            'clauses': gettext('ct_inspection.msg_chart_by_clause'),
            },
        }


register_chart(
    'inspection_defects', module='ct_inspection',
    title='ct_inspection.msg_chart_defects',
    data=defect_chart, script='chart_inspection_defects.js')
