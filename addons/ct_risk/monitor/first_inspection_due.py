"""首次检查逾期风险: a newly filed institution or specialty, or an
institution whose address changed, has had no inspection within N working
days.

The reference date of an institution is the later of its filing date and
the last change of its address (from the business change log); a
specialty's is its filing date. An inspection that started (any state but
draft) on or after the reference date clears the condition; for a
specialty it must cover the specialty or the whole institution (an
inspection listing no specialty). Only references within the look-back
period are "new": older ones are not watched. A specialty of an
institution that is itself flagged is left to the institution's signal.
"""
import datetime as dt

from sql import Null
from sql.aggregate import Count, Max
from sql.operators import Exists
from trytond import backend
from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tools import grouped_slice

from .base import Monitor, Param, register, to_date


@register
class FirstInspectionDueMonitor(Monitor):
    "Newly filed or moved institutions and specialties not inspected"
    key = 'first_inspection_due'
    parameter_specs = {
        'days': Param('int', 60, minimum=1),
        'lookback_days': Param('int', 365, minimum=1),
        'targets': Param('choices', ['institution', 'specialty'],
            selection=[('institution', 'ct_risk.msg_target_institution'),
                ('specialty', 'ct_risk.msg_target_specialty')]),
        'address_change': Param('bool', True),
        }
    placeholders = {
        'institution': "某医院", 'specialty': "肿瘤科", 'target': "某医院",
        'reason': "备案", 'date': '2026-01-01', 'limit': 60, 'days': 5,
        }
    template = 'ct_risk.msg_template_first_inspection_due'

    def findings(self, rule):
        pool = Pool()
        Calendar = pool.get('ct.calendar.day')
        params = self.parameters(rule)
        today = self.today()
        # A reference before the cutoff has more than N working days behind
        self._limit = params['days']
        cutoff = Calendar.add_working_days(today, -self._limit)
        since = today - dt.timedelta(days=params['lookback_days'])
        self._today = today
        self._overdue_cache = {}
        targets = set(params['targets'])
        result = []
        flagged = set()
        self.scanned = 0
        if 'institution' in targets:
            for finding in self._institutions(
                    rule, params, since, cutoff):
                flagged.add(finding['institution'])
                result.append(finding)
        if 'specialty' in targets:
            result.extend(self._specialties(
                    rule, since, cutoff, flagged))
        return result

    def _overdue(self, reference):
        "Working days past the deadline of the reference date"
        if reference not in self._overdue_cache:
            Calendar = Pool().get('ct.calendar.day')
            self._overdue_cache[reference] = max(0,
                Calendar.working_days_between(reference, self._today)
                - self._limit)
        return self._overdue_cache[reference]

    def _institutions(self, rule, params, since, cutoff):
        pool = Pool()
        institution = pool.get('ct.institution').__table__()
        inspection = pool.get('ct.inspection').__table__()
        log = pool.get('ct.change.log').__table__()
        cursor = self.cursor()
        scope = institution.id.in_(self.institution_scope(rule)) & (
            institution.state != 'cancelled')
        cursor.execute(*institution.select(
                institution.id, institution.filing_date, where=scope))
        references = {}
        for institution_id, filing_date in cursor:
            filing_date = to_date(filing_date)
            if filing_date:
                references[institution_id] = (filing_date, 'filing')
        self.scanned += len(references)
        if params['address_change']:
            cursor.execute(*log.select(log.record, Max(log.date),
                    where=(log.model == 'ct.institution')
                    & (log.event == 'write')
                    & log.changes.like('%"field": "address"%')
                    & log.record.in_(institution.select(
                            institution.id, where=scope)),
                    group_by=[log.record]))
            for institution_id, changed in cursor:
                changed = to_date(changed)
                current = references.get(institution_id)
                if changed and (not current or changed > current[0]):
                    references[institution_id] = (changed, 'address')
        candidates = {i: r for i, r in references.items()
            if since <= r[0] < cutoff}
        if not candidates:
            return []
        last = {}
        for sub_ids in grouped_slice(
                list(candidates), backend.MAX_QUERY_PARAMS):
            cursor.execute(*inspection.select(
                    inspection.institution, Max(inspection.date_start),
                    where=inspection.institution.in_(list(sub_ids))
                    & (inspection.state != 'draft'),
                    group_by=[inspection.institution]))
            last.update((k, to_date(v)) for k, v in cursor)
        names = self.institution_names(candidates)
        reasons = {
            'filing': gettext('ct_risk.msg_reason_filing'),
            'address': gettext('ct_risk.msg_reason_address'),
            }
        result = []
        for institution_id, (reference, reason) in candidates.items():
            inspected = last.get(institution_id)
            if inspected and inspected >= reference:
                continue
            days = self._overdue(reference)
            name = names.get(institution_id, '')
            values = {
                'institution': name, 'specialty': '', 'target': name,
                'reason': reasons[reason], 'date': reference.isoformat(),
                'limit': self._limit, 'days': days,
                }
            result.append(self.finding(
                    f'institution:{institution_id}:{reference.isoformat()}',
                    values, institution=institution_id,
                    origin=f'ct.institution,{institution_id}',
                    days_overdue=days))
        return result

    def _specialties(self, rule, since, cutoff, flagged):
        pool = Pool()
        specialty = pool.get('ct.specialty').__table__()
        inspection = pool.get('ct.inspection').__table__()
        relation = pool.get('ct.inspection-ct.specialty').__table__()
        other = pool.get('ct.inspection-ct.specialty').__table__()
        cursor = self.cursor()
        where = self._and(
            (specialty.active == True)  # noqa: E712
            & (specialty.state == 'active')
            & specialty.institution.in_(self.institution_scope(rule)),
            self.specialty_condition(rule, specialty.id))
        cursor.execute(*specialty.select(
                specialty.id, specialty.institution, specialty.filing_date,
                where=where & (specialty.filing_date != Null)
                & (specialty.filing_date >= since)
                & (specialty.filing_date < cutoff)))
        candidates = {r[0]: (r[1], to_date(r[2])) for r in cursor
            if r[1] not in flagged}
        cursor.execute(*specialty.select(Count(specialty.id),
                where=where & (specialty.filing_date != Null)))
        self.scanned += cursor.fetchone()[0]
        if not candidates:
            return []
        covered, whole = {}, {}
        for sub_ids in grouped_slice(
                list(candidates), backend.MAX_QUERY_PARAMS):
            cursor.execute(*relation.join(inspection,
                    condition=relation.inspection == inspection.id).select(
                    relation.specialty, Max(inspection.date_start),
                    where=relation.specialty.in_(list(sub_ids))
                    & (inspection.state != 'draft'),
                    group_by=[relation.specialty]))
            covered.update((k, to_date(v)) for k, v in cursor)
        institution_ids = {i for i, _ in candidates.values()}
        for sub_ids in grouped_slice(
                list(institution_ids), backend.MAX_QUERY_PARAMS):
            cursor.execute(*inspection.select(
                    inspection.institution, Max(inspection.date_start),
                    where=inspection.institution.in_(list(sub_ids))
                    & (inspection.state != 'draft')
                    & ~Exists(other.select(other.id,
                            where=other.inspection == inspection.id)),
                    group_by=[inspection.institution]))
            whole.update((k, to_date(v)) for k, v in cursor)
        names = self.institution_names(institution_ids)
        specialty_names = self.specialty_names(candidates)
        reason = gettext('ct_risk.msg_reason_filing')
        result = []
        for specialty_id, (institution_id, reference) in candidates.items():
            inspected = max(filter(None, [
                        covered.get(specialty_id), whole.get(institution_id)]),
                default=None)
            if inspected and inspected >= reference:
                continue
            days = self._overdue(reference)
            institution = names.get(institution_id, '')
            name = specialty_names.get(specialty_id, '')
            values = {
                'institution': institution, 'specialty': name,
                'target': f'{institution} / {name}', 'reason': reason,
                'date': reference.isoformat(), 'limit': self._limit,
                'days': days,
                }
            result.append(self.finding(
                    f'specialty:{specialty_id}:{reference.isoformat()}',
                    values, institution=institution_id,
                    specialty=specialty_id,
                    origin=f'ct.specialty,{specialty_id}',
                    days_overdue=days))
        return result
