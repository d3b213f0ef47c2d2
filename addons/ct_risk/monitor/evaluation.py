"""体系风险: the latest approved comprehensive evaluation of an institution
or of a specialty concluded 不符合."""
from sql import Null
from sql.aggregate import Count
from sql.conditionals import Coalesce
from sql.operators import Exists
from trytond.pool import Pool

from .base import Monitor, Param, register, to_date


@register
class EvaluationMonitor(Monitor):
    "One finding per institution or specialty whose latest evaluation failed"
    key = 'evaluation'
    parameter_specs = {
        'conclusions': Param('choices', ['non_compliant'],
            selection=('ct.evaluation', 'conclusion')),
        'targets': Param('choices', ['institution', 'specialty'],
            selection=[('institution', 'ct_risk.msg_target_institution'),
                ('specialty', 'ct_risk.msg_target_specialty')]),
        }
    placeholders = {
        'institution': "某医院", 'specialty': "肿瘤科", 'target': "某医院",
        'conclusion': "不符合要求", 'date': '2026-01-01',
        }
    template = 'ct_risk.msg_template_evaluation'

    def findings(self, rule):
        pool = Pool()
        params = self.parameters(rule)
        evaluation = pool.get('ct.evaluation').__table__()
        later = pool.get('ct.evaluation').__table__()
        cursor = self.cursor()

        base = ((evaluation.state == 'approved')
            & evaluation.institution.in_(self.institution_scope(rule)))
        targets = set(params['targets'])
        if targets == {'institution'}:
            base &= evaluation.specialty == Null
        elif targets == {'specialty'}:
            base &= evaluation.specialty != Null
        specialties = self.specialty_condition(
            rule, evaluation.specialty, none_ok=True)
        if specialties is not None:
            base &= specialties
        # Only the latest approved evaluation of each target counts: a
        # later compliant one clears the risk.
        newer = later.select(later.id, where=(
                later.institution == evaluation.institution)
            & (Coalesce(later.specialty, -1)
                == Coalesce(evaluation.specialty, -1))
            & (later.state == 'approved')
            & ((later.date > evaluation.date)
                | ((later.date == evaluation.date)
                    & (later.id > evaluation.id))))
        latest = base & ~Exists(newer)
        cursor.execute(*evaluation.select(Count(evaluation.id), where=latest))
        self.scanned, = cursor.fetchone()
        cursor.execute(*evaluation.select(
                evaluation.id, evaluation.institution, evaluation.specialty,
                evaluation.conclusion, evaluation.date,
                where=latest & evaluation.conclusion.in_(
                    params['conclusions'])))
        rows = cursor.fetchall()
        if not rows:
            return []
        names = self.institution_names(r[1] for r in rows)
        specialty_names = self.specialty_names(r[2] for r in rows)
        labels = self.selection_labels('ct.evaluation', 'conclusion')
        result = []
        for evaluation_id, institution_id, specialty_id, conclusion, date \
                in rows:
            date = to_date(date)
            institution = names.get(institution_id, '')
            specialty = specialty_names.get(specialty_id, '')
            values = {
                'institution': institution,
                'specialty': specialty,
                'target': (f'{institution} / {specialty}' if specialty_id
                    else institution),
                'conclusion': labels.get(conclusion, conclusion),
                'date': date.isoformat() if date else '',
                }
            fingerprint = (f'specialty:{specialty_id}' if specialty_id
                else f'institution:{institution_id}')
            result.append(self.finding(fingerprint, values,
                    institution=institution_id, specialty=specialty_id,
                    origin=f'ct.evaluation,{evaluation_id}'))
        return result
