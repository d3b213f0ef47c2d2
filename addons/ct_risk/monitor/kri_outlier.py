"""Statistical monitoring of key risk indicators (KRI) across institutions.

In the manner of central-monitoring tools such as gsm: for each institution
the KRI is a ratio (a count per exposure, or a proportion) and its
standardised deviation from the city-wide ratio is

    proportion  z = (p_i - p) / sqrt(p (1 - p) / n_i)
    rate        z = (r_i - r) / sqrt(r / n_i)          (Poisson)

computed for institutions whose denominator n_i reaches the minimum. With
``overdispersion`` the z-scores are divided by sqrt(phi), phi = mean(z^2)
when above 1 (the institutions vary more than chance alone explains), as
gsm does. |z| >= medium_z gives a medium finding, |z| >= high_z a high one.
The same numbers draw the funnel plot of the rule (funnel.py).
"""
import datetime as dt
import math
from collections import defaultdict

from sql import Null
from sql.aggregate import Count, Sum
from sql.conditionals import Case
from trytond.i18n import gettext
from trytond.pool import Pool

from ..exceptions import RuleError
from .base import Monitor, Param, register, to_date

# key: (kind of ratio, message id of its label)
KRIS = {
    'defects_per_inspection': ('rate', 'ct_risk.msg_kri_defects_per_inspection'),
    'critical_major_per_specialty': (
        'rate', 'ct_risk.msg_kri_critical_major_per_specialty'),
    'rectification_delay': ('rate', 'ct_risk.msg_kri_rectification_delay'),
    'trials_per_pi': ('rate', 'ct_risk.msg_kri_trials_per_pi'),
    'terminated_share': ('proportion', 'ct_risk.msg_kri_terminated_share'),
    'non_compliant_share': (
        'proportion', 'ct_risk.msg_kri_non_compliant_share'),
    }


@register
class KriOutlierMonitor(Monitor):
    "Institutions whose KRI deviates from the city-wide ratio"
    key = 'kri_outlier'
    parameter_specs = {
        'kri': Param('choice', 'defects_per_inspection',
            selection=[(k, v[1]) for k, v in KRIS.items()]),
        'min_denominator': Param('number', 3, minimum=1),
        'medium_z': Param('number', 2, minimum=0),
        'high_z': Param('number', 3, minimum=0),
        'direction': Param('choice', 'high',
            selection=[('high', 'ct_risk.msg_direction_high'),
                ('both', 'ct_risk.msg_direction_both')]),
        'window_days': Param('int', 730, minimum=1),
        'overdispersion': Param('bool', True),
        }
    placeholders = {
        'institution': "某医院", 'kri': "每次检查缺陷数", 'value': '4.20',
        'city': '2.10', 'z': '3.10', 'numerator': 42, 'denominator': 10,
        }
    template = 'ct_risk.msg_template_kri_outlier'

    @classmethod
    def check_parameters(cls, parameters, rule):
        if parameters['high_z'] < parameters['medium_z']:
            raise RuleError(gettext('ct_risk.msg_rule_kri_thresholds',
                    rule=rule))

    # -- the indicator -----------------------------------------------------

    def counts(self, rule, params):
        "{institution: [numerator, denominator]} of the KRI"
        kri = params['kri']
        today = self.today()
        since = today - dt.timedelta(days=params['window_days'])
        return getattr(self, f'_kri_{kri}')(rule, since, today)

    def _inspections(self, rule, since, today):
        inspection = Pool().get('ct.inspection').__table__()
        where = (inspection.state.in_(['concluded', 'closed'])
            & (inspection.date_end >= since) & (inspection.date_end <= today)
            & inspection.institution.in_(self.institution_scope(rule)))
        return inspection, where

    def _kri_defects_per_inspection(self, rule, since, today):
        defect = Pool().get('ct.inspection.defect').__table__()
        inspection, where = self._inspections(rule, since, today)
        cursor = self.cursor()
        result = defaultdict(lambda: [0, 0])
        cursor.execute(*inspection.select(inspection.institution,
                Count(inspection.id), where=where,
                group_by=[inspection.institution]))
        for institution_id, count in cursor:
            result[institution_id][1] = count
        cursor.execute(*defect.join(inspection,
                condition=defect.inspection == inspection.id).select(
                inspection.institution, Count(defect.id),
                where=self._and(where, self.specialty_condition(
                        rule, defect.specialty)),
                group_by=[inspection.institution]))
        for institution_id, count in cursor:
            result[institution_id][0] = count
        return result

    def _kri_critical_major_per_specialty(self, rule, since, today):
        pool = Pool()
        defect = pool.get('ct.inspection.defect').__table__()
        specialty = pool.get('ct.specialty').__table__()
        inspection, where = self._inspections(rule, since, today)
        cursor = self.cursor()
        result = defaultdict(lambda: [0, 0])
        cursor.execute(*specialty.select(specialty.institution,
                Count(specialty.id),
                where=self._and((specialty.active == True)  # noqa: E712
                    & (specialty.state == 'active')
                    & specialty.institution.in_(self.institution_scope(rule)),
                    self.specialty_condition(rule, specialty.id)),
                group_by=[specialty.institution]))
        for institution_id, count in cursor:
            result[institution_id][1] = count
        cursor.execute(*defect.join(inspection,
                condition=defect.inspection == inspection.id).select(
                inspection.institution, Count(defect.id),
                where=self._and(where
                    & defect.severity.in_(['critical', 'major']),
                    self.specialty_condition(rule, defect.specialty)),
                group_by=[inspection.institution]))
        for institution_id, count in cursor:
            result[institution_id][0] = count
        return result

    def _kri_rectification_delay(self, rule, since, today):
        rectification = Pool().get('ct.rectification').__table__()
        cursor = self.cursor()
        result = defaultdict(lambda: [0, 0])
        # Date arithmetic differs between backends: the rows are few (one
        # per rectification due in the window), sum the delays here.
        cursor.execute(*rectification.select(
                rectification.institution, rectification.report_due,
                rectification.report_date,
                where=(rectification.report_due >= since)
                & (rectification.report_due < today)
                & rectification.institution.in_(
                    self.institution_scope(rule))))
        for institution_id, due, submitted in cursor:
            due, submitted = to_date(due), to_date(submitted)
            delay = max(0, ((submitted or today) - due).days)
            result[institution_id][0] += delay
            result[institution_id][1] += 1
        return result

    def _kri_trials_per_pi(self, rule, since, today):
        pool = Pool()
        trial = pool.get('ct.trial').__table__()
        investigator = pool.get('ct.investigator').__table__()
        cursor = self.cursor()
        scope = self.institution_scope(rule)
        result = defaultdict(lambda: [0, 0])
        cursor.execute(*investigator.select(investigator.institution,
                Count(investigator.id),
                where=self._and((investigator.is_pi == True)  # noqa: E712
                    & (investigator.active == True)  # noqa: E712
                    & investigator.institution.in_(scope),
                    self.specialty_condition(rule, investigator.specialty)),
                group_by=[investigator.institution]))
        for institution_id, count in cursor:
            result[institution_id][1] = count
        cursor.execute(*trial.select(trial.institution, Count(trial.id),
                where=self._and((trial.state == 'ongoing')
                    & trial.institution.in_(scope),
                    self.phase_condition(rule, trial.phase),
                    self.specialty_condition(rule, trial.specialty)),
                group_by=[trial.institution]))
        for institution_id, count in cursor:
            result[institution_id][0] = count
        return result

    def _kri_terminated_share(self, rule, since, today):
        trial = Pool().get('ct.trial').__table__()
        cursor = self.cursor()
        result = defaultdict(lambda: [0, 0])
        cursor.execute(*trial.select(trial.institution,
                Sum(Case((trial.state == 'terminated', 1), else_=0)),
                Count(trial.id),
                where=self._and(trial.state.in_(['completed', 'terminated'])
                    & ((trial.end_date == Null) | (trial.end_date >= since))
                    & trial.institution.in_(self.institution_scope(rule)),
                    self.phase_condition(rule, trial.phase),
                    self.specialty_condition(rule, trial.specialty)),
                group_by=[trial.institution]))
        for institution_id, terminated, count in cursor:
            result[institution_id] = [int(terminated or 0), count]
        return result

    def _kri_non_compliant_share(self, rule, since, today):
        inspection, where = self._inspections(rule, since, today)
        cursor = self.cursor()
        result = defaultdict(lambda: [0, 0])
        cursor.execute(*inspection.select(inspection.institution,
                Sum(Case((inspection.conclusion == 'non_compliant', 1),
                        else_=0)),
                Count(inspection.id), where=where,
                group_by=[inspection.institution]))
        for institution_id, failed, count in cursor:
            result[institution_id] = [int(failed or 0), count]
        return result

    # -- the statistics ----------------------------------------------------

    def compute(self, rule):
        """The KRI of every institution with its z-score:
        {'kri', 'kind', 'overall', 'phi', 'points': [{institution,
        numerator, denominator, value, z}]}"""
        params = self.parameters(rule)
        kind = KRIS[params['kri']][0]
        counts = self.counts(rule, params)
        numerator = sum(n for n, d in counts.values() if d)
        denominator = sum(d for n, d in counts.values() if d)
        overall = numerator / denominator if denominator else 0.0
        if kind == 'proportion':
            variance = overall * (1 - overall)
        else:
            variance = overall
        minimum = params['min_denominator']
        points = []
        for institution_id, (num, den) in counts.items():
            if not den or den < minimum:
                continue
            value = num / den
            z = ((value - overall) / math.sqrt(variance / den)
                if variance > 0 else 0.0)
            points.append({
                    'institution': institution_id,
                    'numerator': num,
                    'denominator': den,
                    'value': value,
                    'z': z,
                    })
        phi = 1.0
        if params['overdispersion'] and len(points) > 1:
            phi = max(1.0, sum(p['z'] ** 2 for p in points) / len(points))
            for point in points:
                point['z'] /= math.sqrt(phi)
        self.scanned = len(points)
        if variance <= 0 and points:
            self.note(gettext('ct_risk.msg_kri_no_variance'))
        return {
            'kri': params['kri'],
            'kind': kind,
            'overall': overall,
            'variance': variance,
            'phi': phi,
            'min_denominator': minimum,
            'medium_z': params['medium_z'],
            'high_z': params['high_z'],
            'direction': params['direction'],
            'points': points,
            }

    def level(self, z, stats):
        score = z if stats['direction'] == 'high' else abs(z)
        if score >= stats['high_z']:
            return 'high'
        if score >= stats['medium_z']:
            return 'medium'
        return None

    def findings(self, rule):
        stats = self.compute(rule)
        flagged = [(p, self.level(p['z'], stats)) for p in stats['points']]
        flagged = [(p, level) for p, level in flagged if level]
        if not flagged:
            return []
        names = self.institution_names(p['institution'] for p, _ in flagged)
        label = gettext(KRIS[stats['kri']][1])
        result = []
        for point, level in flagged:
            institution_id = point['institution']
            values = {
                'institution': names.get(institution_id, ''),
                'kri': label,
                'value': f"{point['value']:.2f}",
                'city': f"{stats['overall']:.2f}",
                'z': f"{point['z']:.2f}",
                'numerator': point['numerator'],
                'denominator': point['denominator'],
                }
            detail = gettext('ct_risk.msg_kri_detail', kri=label,
                numerator=point['numerator'],
                denominator=point['denominator'],
                value=values['value'], city=values['city'], z=values['z'],
                phi=f"{stats['phi']:.2f}")
            result.append(self.finding(
                    f"kri:{stats['kri']}:{institution_id}", values,
                    institution=institution_id,
                    origin=f'ct.institution,{institution_id}',
                    level=level, detail=detail))
        return result

    def funnel(self, rule, steps=60):
        """The data of the funnel plot: the points with their institution
        names and the control limits at 2 and 3 standard deviations"""
        stats = self.compute(rule)
        names = self.institution_names(
            p['institution'] for p in stats['points'])
        points = [dict(p, name=names.get(p['institution'], ''),
                level=self.level(p['z'], stats)) for p in stats['points']]
        largest = max((p['denominator'] for p in points),
            default=stats['min_denominator'])
        smallest = max(stats['min_denominator'], 1)
        overall, variance, phi = (
            stats['overall'], stats['variance'], stats['phi'])
        limits = []
        if largest > smallest:
            ratio = (largest / smallest) ** (1 / steps)
            grid = sorted({smallest * ratio ** i for i in range(steps + 1)})
        else:
            grid = [smallest]
        for n in grid:
            sd = math.sqrt(variance * phi / n) if variance > 0 else 0.0
            row = {'n': n}
            for name, k in (('2', stats['medium_z']), ('3', stats['high_z'])):
                lower = max(0.0, overall - k * sd)
                upper = overall + k * sd
                if stats['kind'] == 'proportion':
                    upper = min(1.0, upper)
                row['lower' + name] = lower
                row['upper' + name] = upper
            limits.append(row)
        stats['points'] = points
        stats['limits'] = limits
        stats['kri_label'] = gettext(KRIS[stats['kri']][1])
        return stats
