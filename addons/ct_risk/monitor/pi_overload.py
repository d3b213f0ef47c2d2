"""主要研究者风险: a principal investigator runs more than N ongoing trials
at once, or is a PI at several institutions.

Investigators are filed per institution, so one person at two institutions
is two ``ct.investigator`` records. The ID number is the person's identity
but it is encrypted with a random nonce (``ct_base/encrypted.py``), so SQL
cannot compare it and there is no blind index. The monitor therefore
narrows the candidates in SQL to the PIs whose *name* is filed at more
than one institution, then decrypts only their ID numbers and groups them
by (name, ID number): the same person for certain, never a namesake. A
record without an ID number is never matched (it stays a person of its
own). A person's ongoing trials are counted over all their records.
"""
from collections import defaultdict

from sql.aggregate import Count
from trytond.i18n import gettext
from trytond.modules.ct_base.encrypted import get_cipher
from trytond.pool import Pool

from .base import Monitor, Param, register


@register
class PiOverloadMonitor(Monitor):
    "Overloaded principal investigators and PIs at several institutions"
    key = 'pi_overload'
    parameter_specs = {
        'max_trials': Param('int', 10, minimum=1),
        'multi_institution': Param('bool', True),
        }
    placeholders = {
        'investigator': "张三", 'institution': "某医院", 'count': 12,
        'max': 10, 'institutions': "甲医院、乙医院",
        'condition': "在研项目 12 项，超过上限 10 项",
        }
    template = 'ct_risk.msg_template_pi_overload'

    def findings(self, rule):
        pool = Pool()
        Investigator = pool.get('ct.investigator')
        params = self.parameters(rule)
        investigator = Investigator.__table__()
        trial = pool.get('ct.trial').__table__()
        cursor = self.cursor()
        is_pi = (investigator.is_pi == True) & (  # noqa: E712
            investigator.active == True)  # noqa: E712

        # The PIs the rule watches
        watched = self._and(
            is_pi & investigator.institution.in_(
                self.institution_scope(rule)),
            self.specialty_condition(rule, investigator.specialty))
        cursor.execute(*investigator.select(
                investigator.id, investigator.institution,
                investigator.specialty, investigator.name, where=watched))
        pis = {r[0]: r[1:] for r in cursor}
        self.scanned = len(pis)
        if not pis:
            return []

        # Ongoing trials of every PI (a person's load counts everywhere)
        where = self._and(trial.state == 'ongoing',
            self.phase_condition(rule, trial.phase))
        cursor.execute(*trial.select(trial.pi, Count(trial.id),
                where=where & (trial.pi != None),  # noqa: E711
                group_by=[trial.pi]))
        ongoing = dict(cursor)

        persons = self.persons(Investigator)
        person_of = {}
        for records in persons:
            for record in records:
                person_of[record[0]] = records

        institution_ids = {p[0] for p in pis.values()}
        institution_ids.update(
            r[1] for records in persons for r in records)
        names = self.institution_names(institution_ids)
        maximum = params['max_trials']
        result = []
        for pi_id, (institution_id, specialty_id, name) in pis.items():
            records = person_of.get(pi_id, [(pi_id, institution_id)])
            total = sum(ongoing.get(r[0], 0) for r in records)
            places = sorted({r[1] for r in records})
            institutions = '、'.join(names.get(i, '') for i in places)
            common = {
                'investigator': name,
                'institution': names.get(institution_id, ''),
                'count': total,
                'max': maximum,
                'institutions': institutions,
                }
            extra = {
                'institution': institution_id,
                'specialty': specialty_id,
                'investigator': pi_id,
                'origin': f'ct.investigator,{pi_id}',
                }
            if total > maximum:
                values = dict(common, condition=gettext(
                        'ct_risk.msg_pi_overload_condition',
                        count=total, max=maximum))
                detail = None
                if len(places) > 1:
                    detail = gettext('ct_risk.msg_pi_overload_detail',
                        institutions=institutions)
                result.append(self.finding(
                        f'overload:{pi_id}', values, detail=detail, **extra))
            if params['multi_institution'] and len(places) > 1:
                values = dict(common, condition=gettext(
                        'ct_risk.msg_pi_multi_condition',
                        count=len(places), institutions=institutions))
                result.append(self.finding(
                        f'multi:{pi_id}', values, **extra))
        return result

    def persons(self, Investigator):
        """The PIs filed more than once, as lists of (id, institution) of
        the same person (same name and same decrypted ID number)"""
        investigator = Investigator.__table__()
        cursor = self.cursor()
        is_pi = (investigator.is_pi == True) & (  # noqa: E712
            investigator.active == True)  # noqa: E712
        shared = investigator.select(investigator.name, where=is_pi,
            group_by=[investigator.name],
            having=Count(investigator.institution, distinct=True) > 1)
        cursor.execute(*investigator.select(
                investigator.id, investigator.name, investigator.institution,
                investigator.id_number_cipher,
                where=is_pi & investigator.name.in_(shared)
                & (investigator.id_number_cipher != None)))  # noqa: E711
        cipher = get_cipher()
        groups = defaultdict(list)
        for record_id, name, institution_id, envelope in cursor:
            try:
                id_number = cipher.decrypt(envelope,
                    Investigator._encryption_aad('id_number', record_id))
            except ValueError:
                self.error(gettext('ct_risk.msg_data_error_id_number',
                        investigator=name, id=record_id))
                continue
            if id_number:
                groups[(name, id_number.strip().upper())].append(
                    (record_id, institution_id))
        return [records for records in groups.values() if len(records) > 1]
