"""The built-in monitors on crafted data: positive and negative cases,
scope, idempotent patrols and auto-disposal when the data is fixed."""
import datetime as dt
import unittest

from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction


class RiskDataMixin:
    "Builders of the records the monitors read"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_risk')

    def today(self):
        return Pool().get('ir.date').today()

    def days_ago(self, days):
        return self.today() - dt.timedelta(days=days)

    def institution(self, name, **values):
        Institution = Pool().get('ct.institution')
        values.setdefault('code', f'CODE-{name}')
        values.setdefault('kind', 'clinical')
        values.setdefault('district', 'xuhui')
        values.setdefault('filing_date', self.days_ago(2000))
        institution, = Institution.create([dict(values, name=name)])
        return institution

    def specialty(self, institution, name, **values):
        Specialty = Pool().get('ct.specialty')
        values.setdefault('filing_date', self.days_ago(2000))
        specialty, = Specialty.create([dict(values,
                    institution=institution.id, name=name)])
        return specialty

    def investigator(self, institution, name, id_number=None, **values):
        Investigator = Pool().get('ct.investigator')
        values.setdefault('is_pi', True)
        if id_number:
            values['id_number'] = id_number
        investigator, = Investigator.create([dict(values,
                    institution=institution.id, name=name)])
        return investigator

    def trials(self, pi, count, state='ongoing', phase='ii', **values):
        Trial = Pool().get('ct.trial')
        return Trial.create([dict(values,
                    title=f'{pi.name} trial {i}', phase=phase,
                    institution=pi.institution.id, pi=pi.id, state=state)
                for i in range(count)])

    def inspection(self, institution, source='center', conclusion='rectify',
            state='concluded', defects=(), date_end=None, specialties=(),
            rectification=True):
        """A concluded inspection with defects given as (severity,
        specialty) and its rectification opened like the workflow does"""
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        Rectification = pool.get('ct.rectification')
        date_end = date_end or self.days_ago(30)
        with Transaction().set_context(_ct_inspection_import=True):
            inspection, = Inspection.create([{
                        'institution': institution.id,
                        'source': source,
                        'inspection_type': 'routine',
                        'date_start': date_end - dt.timedelta(days=2),
                        'date_end': date_end,
                        'conclusion': conclusion,
                        'judgement': 'test',
                        'state': state,
                        'specialties': [('add', [s.id for s in specialties])],
                        'defects': [('create', [{
                                        'description': f'defect {i}',
                                        'severity': severity,
                                        'specialty': (specialty.id
                                            if specialty else None),
                                        } for i, (severity, specialty)
                                    in enumerate(defects)])],
                        }])
            if rectification and state in {'concluded', 'closed'}:
                Rectification.open_for([inspection])
        return inspection

    def set_rectification(self, inspection, **values):
        Rectification = Pool().get('ct.rectification')
        rectifications = Rectification.search(
            [('inspection', '=', inspection.id)])
        Rectification.write(rectifications, values)
        return rectifications

    def evaluation(self, institution, conclusion, date=None, specialty=None,
            state='approved'):
        Evaluation = Pool().get('ct.evaluation')
        evaluation, = Evaluation.create([{
                    'institution': institution.id,
                    'specialty': specialty.id if specialty else None,
                    'date': date or self.days_ago(10),
                    'evaluators': 'test',
                    'conclusion': conclusion,
                    'summary': 'test',
                    }])
        if state == 'approved':
            Evaluation.write([evaluation], {'state': 'approved'})
        return evaluation

    def rule(self, monitor, parameters=None, start=True, **values):
        Rule = Pool().get('ct.risk.rule')
        values.setdefault('code', f'T-{monitor}-{Rule.search_count([])}')
        values.setdefault('name', f'test {monitor}')
        values.setdefault('level', 'medium')
        rule, = Rule.create([dict(values, monitor=monitor,
                    parameters=parameters or {})])
        if start:
            Rule.start([rule])
        return rule

    def patrol(self, rule):
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Run = pool.get('ct.risk.run')
        run_id, = Rule.patrol([rule])
        return Run(run_id)

    def signals(self, rule, states=('open', 'pushed', 'responded')):
        Signal = Pool().get('ct.risk.signal')
        return Signal.search([
                ('rule', '=', rule.id),
                ('state', 'in', list(states)),
                ], order=[('fingerprint', 'ASC')])

    def fingerprints(self, rule, **kwargs):
        return {s.fingerprint for s in self.signals(rule, **kwargs)}

    def preview(self, rule):
        Rule = Pool().get('ct.risk.rule')
        return {r['fingerprint']: r for r in Rule.preview([rule])}


class MonitorTestCase(RiskDataMixin, unittest.TestCase):
    "Each built-in monitor on a crafted dataset"

    @with_transaction()
    def test_registry_matches_selection(self):
        "Every monitor of the selection has a class, and only those"
        from trytond.modules.ct_risk.monitor import MONITORS
        from trytond.modules.ct_risk.rule import MONITORS as SELECTION
        self.assertEqual(set(MONITORS), {k for k, _ in SELECTION})
        for key, monitor in MONITORS.items():
            with self.subTest(monitor=key):
                monitor.validate({})
                self.assertEqual(
                    set(monitor.default_parameters),
                    set(monitor.parameter_specs))

    @with_transaction()
    def test_nmpa_defect(self):
        "NMPA inspections with critical/major defects not yet accepted"
        a = self.institution("甲医院")
        b = self.institution("乙医院")
        c = self.institution("丙医院")
        # positive: NMPA, major defect, rectification open
        positive = self.inspection(a, source='nmpa',
            defects=[('major', None), ('minor', None)])
        # negative: only minor defects
        self.inspection(b, source='nmpa', defects=[('minor', None)])
        # negative: a center inspection
        self.inspection(b, source='center', defects=[('critical', None)])
        # negative: accepted rectification
        accepted = self.inspection(c, source='nmpa',
            defects=[('critical', None)])
        self.set_rectification(accepted, state='accepted')
        rule = self.rule('nmpa_defect', level='high')

        run = self.patrol(rule)

        self.assertEqual(run.state, 'done')
        self.assertEqual(run.raised, 1)
        self.assertEqual(run.scanned, 3)
        signal, = self.signals(rule)
        self.assertEqual(signal.fingerprint, f'inspection:{positive.id}')
        self.assertEqual(signal.institution, a)
        self.assertEqual(signal.level, 'high')
        self.assertEqual(str(signal.origin), f'ct.inspection,{positive.id}')
        self.assertIn("甲医院", signal.summary)
        self.assertIn(positive.number, signal.summary)

        # fixing: the rectification is accepted, the signal auto-closes
        self.set_rectification(positive, state='accepted')
        run = self.patrol(rule)
        self.assertEqual(run.closed, 1)
        self.assertFalse(self.signals(rule))
        self.assertEqual(
            len(self.signals(rule, states=['auto_closed'])), 1)

    @with_transaction()
    def test_inspection_conclusion(self):
        "Center inspections concluded non-compliant or rectify"
        a = self.institution("甲医院")
        b = self.institution("乙医院")
        failed = self.inspection(a, conclusion='non_compliant',
            defects=[('critical', None)])
        rectify = self.inspection(b, conclusion='rectify',
            defects=[('major', None)])
        self.inspection(b, conclusion='compliant')
        self.inspection(a, conclusion='non_compliant', source='nmpa',
            defects=[('critical', None)])
        self.inspection(b, conclusion='rectify', state='in_progress')
        rule = self.rule('inspection_conclusion', level='medium')

        self.patrol(rule)

        signals = {s.fingerprint: s for s in self.signals(rule)}
        self.assertEqual(set(signals), {
                f'inspection:{failed.id}', f'inspection:{rectify.id}'})
        # the levels parameter grades non-compliant conclusions high
        self.assertEqual(signals[f'inspection:{failed.id}'].level, 'high')
        self.assertEqual(signals[f'inspection:{rectify.id}'].level, 'medium')

        self.set_rectification(rectify, state='accepted')
        self.patrol(rule)
        self.assertEqual(self.fingerprints(rule), {f'inspection:{failed.id}'})

    @with_transaction()
    def test_evaluation(self):
        "The latest approved evaluation of an institution or specialty"
        a = self.institution("甲医院")
        b = self.institution("乙医院")
        oncology = self.specialty(a, "肿瘤科")
        self.evaluation(a, 'non_compliant', date=self.days_ago(20))
        self.evaluation(a, 'non_compliant', date=self.days_ago(5),
            specialty=oncology)
        # b failed once, then passed: no risk
        self.evaluation(b, 'non_compliant', date=self.days_ago(200))
        self.evaluation(b, 'compliant', date=self.days_ago(20))
        # draft evaluations do not count
        self.evaluation(b, 'non_compliant', state='draft')
        rule = self.rule('evaluation')

        self.patrol(rule)

        self.assertEqual(self.fingerprints(rule), {
                f'institution:{a.id}', f'specialty:{oncology.id}'})
        signal, = [s for s in self.signals(rule) if s.specialty]
        self.assertEqual(signal.specialty, oncology)

        # a later compliant evaluation of the institution clears it
        self.evaluation(a, 'compliant', date=self.days_ago(1))
        run = self.patrol(rule)
        self.assertEqual(run.closed, 1)
        self.assertEqual(self.fingerprints(rule),
            {f'specialty:{oncology.id}'})

    @with_transaction()
    def test_rectification_overdue(self):
        "Plan submitted, report overdue, graded high after 30 days"
        a = self.institution("甲医院")
        late = self.inspection(a, defects=[('major', None)])
        very_late = self.inspection(a, defects=[('major', None)])
        on_time = self.inspection(a, defects=[('major', None)])
        waiting = self.inspection(a, defects=[('major', None)])
        submitted = self.inspection(a, defects=[('major', None)])
        self.set_rectification(late, state='plan_submitted',
            report_due=self.days_ago(5))
        self.set_rectification(very_late, state='returned',
            report_due=self.days_ago(45))
        self.set_rectification(on_time, state='plan_submitted',
            report_due=self.days_ago(-5))
        self.set_rectification(waiting, state='waiting_plan',
            report_due=self.days_ago(5))
        self.set_rectification(submitted, state='report_submitted',
            report_due=self.days_ago(5))
        rule = self.rule('rectification_overdue', level='medium')

        self.patrol(rule)

        signals = {s.origin.inspection: s for s in self.signals(rule)}
        self.assertEqual(set(signals), {late, very_late})
        self.assertEqual(signals[late].days_overdue, 5)
        self.assertEqual(signals[late].level, 'medium')
        self.assertEqual(signals[very_late].days_overdue, 45)
        self.assertEqual(signals[very_late].level, 'high')
        self.assertIn('5', signals[late].summary)

        # a grace period hides the small delays
        Pool().get('ct.risk.rule').write([rule], {
                'parameters': {'grace_days': 10}})
        self.patrol(rule)
        self.assertEqual({s.origin.inspection for s in self.signals(rule)},
            {very_late})

    @with_transaction()
    def test_pi_overload(self):
        "Overloaded PIs and one person PI at several institutions"
        a = self.institution("甲医院")
        b = self.institution("乙医院")
        busy = self.investigator(a, "张三", id_number='310101198001011234')
        self.trials(busy, 3)
        calm = self.investigator(a, "李四", id_number='310101198001015678')
        self.trials(calm, 2)
        self.trials(calm, 5, state='completed')
        # the same person at a and b: 2 + 1 ongoing trials in total
        wang_a = self.investigator(a, "王五", id_number='31010119800101999X')
        wang_b = self.investigator(b, "王五", id_number='31010119800101999x')
        self.trials(wang_a, 2)
        self.trials(wang_b, 1)
        # a namesake (another ID number) is another person
        namesake = self.investigator(b, "李四",
            id_number='310101199001011111')
        # not a PI
        self.investigator(b, "王五", id_number='31010119800101999X',
            is_pi=False)
        rule = self.rule('pi_overload', {'max_trials': 2})

        run = self.patrol(rule)

        self.assertEqual(run.scanned, 5)
        self.assertEqual(self.fingerprints(rule), {
                f'overload:{busy.id}',
                f'overload:{wang_a.id}', f'overload:{wang_b.id}',
                f'multi:{wang_a.id}', f'multi:{wang_b.id}',
                })
        self.assertNotIn(f'multi:{namesake.id}', self.fingerprints(rule))
        signal, = [s for s in self.signals(rule)
            if s.fingerprint == f'multi:{wang_b.id}']
        self.assertEqual(signal.investigator, wang_b)
        self.assertEqual(signal.institution, b)
        self.assertIn("甲医院", signal.summary)

        # without multi_institution and with a higher limit
        Pool().get('ct.risk.rule').write([rule], {
                'parameters': {'max_trials': 3, 'multi_institution': False}})
        self.patrol(rule)
        self.assertEqual(self.fingerprints(rule), set())

        # phases in scope: only phase I trials count
        Pool().get('ct.risk.rule').write([rule], {
                'parameters': {'max_trials': 1, 'multi_institution': False},
                'scope_phases': ['i']})
        self.trials(busy, 2, phase='i')
        self.patrol(rule)
        self.assertEqual(self.fingerprints(rule), {f'overload:{busy.id}'})

    @with_transaction()
    def test_first_inspection_due(self):
        "New filings and address changes not inspected in N working days"
        pool = Pool()
        Institution = pool.get('ct.institution')
        new = self.institution("新医院", filing_date=self.days_ago(200))
        self.institution("近医院", filing_date=self.days_ago(10))
        inspected = self.institution("查医院", filing_date=self.days_ago(200))
        self.inspection(inspected, conclusion='compliant',
            date_end=self.days_ago(100))
        old = self.institution("老医院", filing_date=self.days_ago(3000))
        moved = self.institution("迁医院", filing_date=self.days_ago(3000))
        self.inspection(moved, conclusion='compliant',
            date_end=self.days_ago(2000))
        Institution.write([moved], {'address': "新地址 1 号"})
        # a new specialty of an old institution, one covered by an
        # inspection of it, one by a whole-institution inspection
        oncology = self.specialty(old, "肿瘤科",
            filing_date=self.days_ago(150))
        self.specialty(inspected, "心内科",
            filing_date=self.days_ago(150))
        self.specialty(new, "眼科", filing_date=self.days_ago(150))
        covered = self.specialty(moved, "儿科",
            filing_date=self.days_ago(150))
        self.inspection(moved, conclusion='compliant',
            date_end=self.days_ago(50), specialties=[covered])
        rule = self.rule('first_inspection_due', {'days': 60})

        self.patrol(rule)

        # the new institution and the new specialty of the old one; not the
        # recent, inspected, old or moved (today) institutions, nor the
        # specialties covered by an inspection of the specialty (covered) or
        # of the whole institution (cardiology), or of a flagged institution
        self.assertEqual(self.fingerprints(rule), {
                f'institution:{new.id}:{self.days_ago(200).isoformat()}',
                f'specialty:{oncology.id}:{self.days_ago(150).isoformat()}',
                })
        signal, = [s for s in self.signals(rule)
            if s.fingerprint.startswith(f'institution:{new.id}:')]
        self.assertGreater(signal.days_overdue, 0)

        # an inspection clears the new institution
        self.inspection(new, conclusion='compliant',
            date_end=self.days_ago(1))
        self.patrol(rule)
        keys = {f.split(':')[0] + ':' + f.split(':')[1]
            for f in self.fingerprints(rule)}
        self.assertNotIn(f'institution:{new.id}', keys)

    @with_transaction()
    def test_first_inspection_due_address_change(self):
        "An address change restarts the clock of the first inspection"
        pool = Pool()
        ChangeLog = pool.get('ct.change.log')
        moved = self.institution("迁医院", filing_date=self.days_ago(3000))
        self.inspection(moved, conclusion='compliant',
            date_end=self.days_ago(2000))
        # the address changed 150 days ago (as the change log says)
        ChangeLog.append([{
                    'model': 'ct.institution', 'record': moved.id,
                    'record_name': moved.rec_name, 'event': 'write',
                    'date': dt.datetime.combine(
                        self.days_ago(150), dt.time(9)),
                    'changes': '[{"field": "address", "old": "a", '
                    '"new": "b"}]',
                    }])
        rule = self.rule('first_inspection_due', {
                'days': 60, 'targets': ['institution']})
        self.patrol(rule)
        self.assertEqual(self.fingerprints(rule), {
                f'institution:{moved.id}:{self.days_ago(150).isoformat()}'})
        signal, = self.signals(rule)
        self.assertIn(gettext('ct_risk.msg_reason_address'), signal.summary)

        Pool().get('ct.risk.rule').write([rule], {
                'parameters': {'days': 60, 'targets': ['institution'],
                    'address_change': False}})
        self.patrol(rule)
        self.assertEqual(self.fingerprints(rule), set())

    @with_transaction()
    def test_kri_outlier(self):
        "Funnel-plot z-scores of defects per inspection"
        institutions = [self.institution(f"医院{i}") for i in range(8)]
        # seven ordinary institutions: 2 inspections, 2 defects each
        for institution in institutions[:7]:
            for _ in range(2):
                self.inspection(institution, conclusion='rectify',
                    defects=[('minor', None)])
        # one outlier: 2 inspections with 12 defects each
        outlier = institutions[7]
        for _ in range(2):
            self.inspection(outlier, conclusion='rectify',
                defects=[('minor', None)] * 12)
        # below the minimum denominator: not assessed
        small = self.institution("小医院")
        self.inspection(small, conclusion='rectify',
            defects=[('minor', None)] * 30)
        rule = self.rule('kri_outlier', {
                'kri': 'defects_per_inspection', 'min_denominator': 2,
                'overdispersion': False})

        run = self.patrol(rule)

        self.assertEqual(run.scanned, 8)
        signal, = self.signals(rule)
        self.assertEqual(signal.institution, outlier)
        self.assertEqual(signal.level, 'high')
        self.assertEqual(signal.fingerprint,
            f'kri:defects_per_inspection:{outlier.id}')

        # the funnel plot data: points, city-wide ratio and limits
        from trytond.modules.ct_risk.monitor import get_monitor
        funnel = get_monitor('kri_outlier')().funnel(rule)
        self.assertEqual(len(funnel['points']), 8)
        # the city-wide ratio counts every institution (68 defects, 17
        # inspections), the small one too
        self.assertAlmostEqual(funnel['overall'], 68 / 17)
        point, = [p for p in funnel['points'] if p['level']]
        self.assertEqual(point['institution'], outlier.id)
        self.assertGreater(point['z'], 3)
        self.assertTrue(funnel['limits'])
        for limit in funnel['limits']:
            self.assertLessEqual(limit['lower3'], limit['lower2'])
            self.assertLessEqual(limit['upper2'], limit['upper3'])

        # with the overdispersion adjustment the outlier is still medium+
        Pool().get('ct.risk.rule').write([rule], {
                'parameters': {'kri': 'defects_per_inspection',
                    'min_denominator': 2, 'overdispersion': True}})
        self.patrol(rule)
        self.assertEqual(
            [s.institution for s in self.signals(rule)], [outlier])

    @with_transaction()
    def test_kri_proportion(self):
        "A proportion KRI: the share of terminated trials"
        institutions = [self.institution(f"医院{i}") for i in range(6)]
        for i, institution in enumerate(institutions):
            pi = self.investigator(institution, f"研究者{i}")
            terminated = 18 if i == 5 else 2
            self.trials(pi, terminated, state='terminated')
            self.trials(pi, 20 - terminated, state='completed')
        rule = self.rule('kri_outlier', {
                'kri': 'terminated_share', 'min_denominator': 10,
                'overdispersion': False})
        self.patrol(rule)
        self.assertEqual([s.institution for s in self.signals(rule)],
            [institutions[5]])

        # direction both also flags the institutions far below
        Pool().get('ct.risk.rule').write([rule], {
                'parameters': {'kri': 'terminated_share',
                    'min_denominator': 10, 'overdispersion': False,
                    'direction': 'both', 'medium_z': 1.2}})
        self.patrol(rule)
        self.assertEqual(len(self.signals(rule)), 6)

    @with_transaction()
    def test_domain(self):
        "A user-defined domain mapped to institutions"
        a = self.institution("甲医院")
        b = self.institution("乙医院", state='suspended')
        c = self.institution("丙医院", state='suspended')
        pi_a = self.investigator(a, "张三")
        pi_b = self.investigator(b, "李四")
        self.investigator(c, "王五")
        self.trials(pi_a, 2)
        ongoing = self.trials(pi_b, 2)
        self.trials(pi_b, 1, state='completed')
        rule = self.rule('domain', {
                'model': 'ct.institution',
                'domain': [['state', '=', 'suspended'],
                    ['trials.state', '=', 'ongoing']]})

        self.patrol(rule)
        self.assertEqual(self.fingerprints(rule), {f'ct.institution,{b.id}'})

        # one signal per record of another model, with its trial
        trials = self.rule('domain', {
                'model': 'ct.trial',
                'domain': [['institution.state', '=', 'suspended'],
                    ['state', '=', 'ongoing']]})
        self.patrol(trials)
        signals = self.signals(trials)
        self.assertEqual({s.trial for s in signals}, set(ongoing))
        self.assertEqual({s.institution for s in signals}, {b})

        # grouped by institution
        Pool().get('ct.risk.rule').write([trials], {
                'parameters': {'model': 'ct.trial',
                    'domain': [['institution.state', '=', 'suspended'],
                        ['state', '=', 'ongoing']],
                    'group_by_institution': True}})
        self.patrol(trials)
        self.assertEqual(self.fingerprints(trials), {f'institution:{b.id}'})


class ScopeTestCase(RiskDataMixin, unittest.TestCase):
    "The rule's scope filters what its monitor finds"

    @with_transaction()
    def test_scope(self):
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        a = self.institution("甲医院", district='xuhui')
        b = self.institution("乙医院", district='pudong')
        glp = self.institution("丙所", kind='nonclinical', district='xuhui')
        oncology = self.specialty(a, "肿瘤科")
        cardiology = self.specialty(a, "心内科")
        for institution in (a, b, glp):
            self.inspection(institution, source='nmpa',
                defects=[('major', oncology if institution == a else None)])
        rule = self.rule('nmpa_defect')

        def institutions():
            return {r['institution'] for r in Rule.preview([rule])}

        self.assertEqual(institutions(), {a.id, b.id, glp.id})
        Rule.write([rule], {'scope_districts': ['xuhui']})
        self.assertEqual(institutions(), {a.id, glp.id})
        Rule.write([rule], {'scope_kinds': ['clinical']})
        self.assertEqual(institutions(), {a.id})
        Rule.write([rule], {'scope_specialties': [('add', [cardiology.id])]})
        self.assertEqual(institutions(), set())
        Rule.write([rule], {
                'scope_specialties': [('add', [oncology.id])]})
        self.assertEqual(institutions(), {a.id})
        # the scope Dict reads and writes the same
        self.assertEqual(rule.scope['districts'], ['xuhui'])
        Rule.write([rule], {'scope': {'districts': [], 'kinds': [],
                    'specialties': []}})
        self.assertEqual(institutions(), {a.id, b.id, glp.id})

        # an inactive institution is out of every scope
        Institution = pool.get('ct.institution')
        Institution.write([b], {'active': False})
        self.assertEqual(institutions(), {a.id, glp.id})

