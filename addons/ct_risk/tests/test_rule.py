"""Risk rules: parameters and their validation, message templates,
revisions, start/stop, preview (writes nothing), access rights and the
built-in rules."""
import json
import os
import unittest

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.ct_risk.exceptions import PatrolError, RuleError
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

from .test_monitors import RiskDataMixin

PASSWORD = 'ct-risk-route-2026'


def make_user(login, *groups, institution=None):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    values = {'name': login, 'login': login}
    if groups:
        values['groups'] = [('add', [ModelData.get_id(*g.split('.'))
                    for g in groups])]
    if institution:
        values['ct_institution'] = institution.id
    user, = User.create([values])
    return user


def count_rows(*models):
    return {m: Pool().get(m).search_count([]) for m in models}


class RuleTestCase(RiskDataMixin, unittest.TestCase):
    "Risk rules"

    @with_transaction()
    def test_builtin_rules(self):
        "One running built-in rule per monitor, with valid parameters"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        ModelData = pool.get('ir.model.data')
        from trytond.modules.ct_risk.rule import MONITORS
        rules = Rule.browse([d.db_id for d in ModelData.search([
                        ('module', '=', 'ct_risk'),
                        ('model', '=', 'ct.risk.rule')])])
        self.assertEqual({r.monitor for r in rules},
            {k for k, _ in MONITORS})
        for rule in rules:
            with self.subTest(rule=rule.code):
                self.assertEqual(rule.state, 'running')
                rule.check_parameters()
                rule.check_message()
                self.assertTrue(rule.measures)
                self.assertEqual(len(rule.revisions), 1)
        # they patrol an empty database without a finding
        self.assertEqual(Rule.preview(rules), [])
        runs = Rule.patrol(rules)
        Run = pool.get('ct.risk.run')
        self.assertEqual({r.state for r in Run.browse(runs)}, {'done'})

    @with_transaction()
    def test_parameter_defaults_and_text(self):
        "Defaults per monitor, edited as JSON text"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        rule = Rule()
        rule.monitor = 'pi_overload'
        rule.on_change_monitor()
        self.assertEqual(rule.parameters,
            {'max_trials': 10, 'multi_institution': True})
        self.assertEqual(json.loads(rule.parameters_text),
            {'max_trials': 10, 'multi_institution': True})
        self.assertIn('{investigator}', rule.placeholders)
        self.assertIn('max_trials', rule.monitor_help)

        rule = self.rule('pi_overload', start=False)
        Rule.write([rule], {'parameters_text': '{"max_trials": 4}'})
        self.assertEqual(dict(rule.parameters), {'max_trials': 4})
        self.assertEqual(json.loads(rule.parameters_text),
            {'max_trials': 4, 'multi_institution': True})
        # monitor and parameters change together (as the form saves them)
        Rule.write([rule], {'monitor': 'evaluation',
                'parameters_text': '{"targets": ["institution"]}'})
        self.assertEqual(dict(rule.parameters), {'targets': ('institution',)})
        created, = Rule.create([{'name': "x", 'code': 'X-1',
                    'monitor': 'kri_outlier',
                    'parameters_text': '{"kri": "trials_per_pi"}'}])
        self.assertEqual(dict(created.parameters), {'kri': 'trials_per_pi'})
        with self.assertRaises(RuleError):
            Rule.create([{'name': "y", 'code': 'Y-1',
                        'monitor': 'kri_outlier',
                        'parameters_text': '{"kri": "beds"}'}])
        with self.assertRaises(RuleError):
            Rule.write([rule], {'parameters_text': '{"max_trials": '})
        with self.assertRaises(RuleError):
            Rule.write([rule], {'parameters_text': '[1, 2]'})

    @with_transaction()
    def test_parameter_validation(self):
        "Clear errors for unknown keys, wrong types and values"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        rule = self.rule('pi_overload', start=False)
        cases = [
            ('pi_overload', {'max_trial': 3}, 'max_trial'),
            ('pi_overload', {'max_trials': '3'}, 'max_trials'),
            ('pi_overload', {'max_trials': 0}, 'max_trials'),
            ('pi_overload', {'max_trials': True}, 'max_trials'),
            ('pi_overload', {'multi_institution': 1}, 'multi_institution'),
            ('nmpa_defect', {'severities': ['grave']}, 'severities'),
            ('nmpa_defect', {'severities': []}, 'severities'),
            ('inspection_conclusion', {'levels': {'rectify': 'urgent'}},
                'levels'),
            ('kri_outlier', {'kri': 'beds'}, 'kri'),
            ('kri_outlier', {'medium_z': 3, 'high_z': 2}, 'high_z'),
            ('domain', {'model': 'res.user'}, 'model'),
            ('domain', {'model': 'ct.trial', 'domain': 'x'}, 'domain'),
            ('domain', {'model': 'ct.trial',
                    'domain': [['nope', '=', 1]]}, 'nope'),
            ('domain', {'model': 'ct.trial',
                    'domain': [['state', 'is about', 1]]}, 'domain'),
            ]
        for monitor, parameters, word in cases:
            with self.subTest(monitor=monitor, parameters=parameters):
                with self.assertRaises(RuleError) as cm:
                    Rule.write([rule], {
                            'monitor': monitor, 'parameters': parameters})
                self.assertIn(word, cm.exception.message)
                self.assertIn(rule.code, cm.exception.message)
        # a valid change is accepted
        Rule.write([rule], {'monitor': 'domain', 'parameters': {
                    'model': 'ct.trial',
                    'domain': [['state', '=', 'suspended']]}})

    @with_transaction()
    def test_parameter_error_in_chinese(self):
        "The errors read in Chinese for Chinese users"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Lang = pool.get('ir.lang')
        Translation = pool.get('ir.translation')
        lang, = Lang.search([('code', '=', 'zh_CN')])
        Lang.write([lang], {'translatable': True})
        Translation.translation_import('zh_CN', 'ct_risk', os.path.join(
                os.path.dirname(os.path.dirname(__file__)), 'locale',
                'zh_CN.po'))
        rule = self.rule('pi_overload', start=False)
        with Transaction().set_context(language='zh_CN'):
            with self.assertRaises(RuleError) as cm:
                Rule.write([rule], {'parameters': {'max_trials': 'x'}})
        self.assertIn('规则', cm.exception.message)
        self.assertIn('不小于 1 的整数', cm.exception.message)

    @with_transaction()
    def test_message_template(self):
        "Placeholders are checked and fill the summary"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        a = self.institution("甲医院")
        self.inspection(a, source='nmpa', defects=[('critical', None)])
        rule = self.rule('nmpa_defect',
            message="{institution} 严重 {critical} 项，{rule}，{level}")
        summary, = [r['summary'] for r in Rule.preview([rule])]
        self.assertEqual(summary, "甲医院 严重 1 项，test nmpa_defect，Medium")
        with self.assertRaises(RuleError) as cm:
            Rule.write([rule], {'message': "{institution} {beds}"})
        self.assertIn('beds', cm.exception.message)
        with self.assertRaises(RuleError):
            Rule.write([rule], {'message': "{institution"})
        with self.assertRaises(RuleError):
            Rule.write([rule], {'message': "{institution:d}"})
        # no template: the monitor's default one
        Rule.write([rule], {'message': None})
        summary, = [r['summary'] for r in Rule.preview([rule])]
        self.assertIn("甲医院", summary)

    @with_transaction()
    def test_revisions(self):
        "Every change is kept: who, when, field by field"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Revision = pool.get('ct.risk.rule.revision')
        manager = make_user('manager', 'ct_risk.group_risk_manager',
            'ct_base.group_regulator')
        a = self.institution("甲医院")
        oncology = self.specialty(a, "肿瘤科")
        with Transaction().set_user(manager.id), \
                Transaction().set_context(_check_access=True):
            rule, = Rule.create([{
                        'name': "负荷", 'code': 'R-1',
                        'monitor': 'pi_overload', 'level': 'low',
                        'parameters': {'max_trials': 5}}])
            Rule.write([rule], {
                    'level': 'high', 'parameters': {'max_trials': 8},
                    'scope_districts': ['xuhui'],
                    'scope_specialties': [('add', [oncology.id])],
                    })
            Rule.start([rule])
            Rule.write([rule], {'name': "负荷"})  # no change: no revision
        first, second, third = sorted(rule.revisions, key=lambda r: r.number)
        self.assertEqual([first.number, second.number, third.number],
            [1, 2, 3])
        self.assertEqual(first.event, 'create')
        self.assertEqual(second.event, 'write')
        self.assertEqual(second.user, manager)
        self.assertTrue(second.date)
        changes = {c['field']: c for c in json.loads(second.changes)}
        self.assertEqual(set(changes), {
                'level', 'parameters', 'scope_districts',
                'scope_specialties'})
        self.assertEqual(changes['level']['old'], 'low')
        self.assertEqual(changes['level']['new'], 'high')
        self.assertEqual(changes['parameters']['old'], {'max_trials': 5})
        self.assertEqual(changes['parameters']['new'], {'max_trials': 8})
        self.assertEqual(changes['scope_specialties']['new'],
            [[oncology.id, oncology.rec_name]])
        self.assertIn('Level: Low → High', second.changes_text)
        self.assertIn('肿瘤科', second.changes_text)
        self.assertIn('Level', second.changed_fields)
        self.assertEqual(json.loads(third.changes), [
                {'field': 'state', 'old': 'draft', 'new': 'running'}])
        # patrol bookkeeping is not a revision
        Rule.patrol([rule])
        self.assertEqual(len(Rule(rule.id).revisions), 3)
        # revisions are append-only
        with self.assertRaises(AccessError):
            Revision.write([first], {'changes': '[]'})
        with self.assertRaises(AccessError):
            Revision.delete([first])

    @with_transaction()
    def test_start_stop(self):
        "Starting begins patrols; stopping ends them, signals stay"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Signal = pool.get('ct.risk.signal')
        a = self.institution("甲医院")
        self.inspection(a, source='nmpa', defects=[('major', None)])
        rule = self.rule('nmpa_defect', start=False)
        self.assertEqual(rule.state, 'draft')
        with self.assertRaises(PatrolError):
            Rule.patrol([rule])
        self.assertNotIn(rule, [r.rule for r in Rule.patrol_due()])

        Rule.start([rule])
        self.assertEqual(rule.state, 'running')
        self.assertIn(rule, [r.rule for r in Rule.patrol_due()])
        self.assertEqual(rule.signal_count, 1)
        signal, = self.signals(rule)

        Rule.stop([rule])
        self.assertEqual(rule.state, 'stopped')
        self.assertIsNone(rule.next_patrol)
        # the signal stays in its state (history) ...
        self.assertEqual(Signal(signal.id).state, 'open')
        # ... but the rule is not patrolled any more
        with self.assertRaises(PatrolError):
            Rule.patrol([rule])
        self.assertNotIn(rule, [r.rule for r in Rule.patrol_due()])
        with self.assertRaises(PatrolError):
            Rule.launch_patrol([rule])
        # started again, its patrols resume
        Rule.start([rule])
        run, = [r for r in Rule.patrol_due() if r.rule == rule]
        self.assertEqual(run.refreshed, 1)

    @with_transaction()
    def test_preview_writes_nothing(self):
        "A preview lists what would be raised and writes no row"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        a = self.institution("甲医院")
        b = self.institution("乙医院")
        first = self.inspection(a, source='nmpa', defects=[('major', None)])
        rule = self.rule('nmpa_defect')
        self.patrol(rule)
        second = self.inspection(b, source='nmpa',
            defects=[('critical', None)])
        models = ['ct.risk.signal', 'ct.risk.signal.action', 'ct.risk.run',
            'ct.change.log', 'ct.risk.rule.revision', 'ct.job']
        before = count_rows(*models)
        signals_before = [(s.id, s.state, s.last_seen, s.seen_count)
            for s in Pool().get('ct.risk.signal').search([])]
        rule_before = Rule.read([rule.id], ['write_date', 'next_patrol'])

        rows = Rule.preview([rule])

        self.assertEqual(count_rows(*models), before)
        self.assertEqual([(s.id, s.state, s.last_seen, s.seen_count)
                for s in Pool().get('ct.risk.signal').search([])],
            signals_before)
        self.assertEqual(
            Rule.read([rule.id], ['write_date', 'next_patrol']), rule_before)
        statuses = {r['fingerprint']: r['status'] for r in rows}
        self.assertEqual(statuses, {
                f'inspection:{first.id}': 'refresh',
                f'inspection:{second.id}': 'new'})
        row, = [r for r in rows if r['status'] == 'new']
        self.assertEqual(row['rule'], rule.id)
        self.assertEqual(row['institution'], b.id)
        self.assertEqual(row['institution_name'], "乙医院")
        self.assertEqual(row['level'], 'medium')
        self.assertIn("乙医院", row['summary'])

        # the form's preview (wizard) shows the same, writing nothing
        Preview = pool.get('ct.risk.rule.preview', type='wizard')
        manager = make_user('manager', 'ct_risk.group_risk_manager')
        with Transaction().set_user(manager.id), \
                Transaction().set_context(active_model='ct.risk.rule',
                    active_id=rule.id, active_ids=[rule.id],
                    _check_access=True):
            session_id, _, _ = Preview.create()
            result = Preview.execute(session_id, {}, 'start')
            Preview.delete(session_id)
        values = result['view']['defaults']
        self.assertEqual(values['count'], 2)
        self.assertEqual(values['new'], 1)
        self.assertEqual(values['refreshed'], 1)
        self.assertIn("乙医院", values['lines'])
        self.assertEqual(count_rows(*models), before)

    @with_transaction()
    def test_access(self):
        "Managers edit and patrol, regulators read, institutions see nothing"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Run = pool.get('ct.risk.run')
        Revision = pool.get('ct.risk.rule.revision')
        a = self.institution("甲医院")
        rule = self.rule('nmpa_defect')
        Rule.patrol([rule])
        manager = make_user('manager', 'ct_risk.group_risk_manager',
            'ct_base.group_regulator')
        regulator = make_user('regulator', 'ct_base.group_regulator')
        institution = make_user('inst', 'ct_base.group_institution',
            institution=a)

        def as_user(user):
            return (Transaction().set_user(user.id),
                Transaction().set_context(_check_access=True))

        ctx = as_user(manager)
        with ctx[0], ctx[1]:
            Rule.write([Rule(rule.id)], {'level': 'high'})
            Rule.stop([Rule(rule.id)])
            Rule.start([Rule(rule.id)])
            self.assertEqual(len(Rule.patrol([Rule(rule.id)])), 1)
            self.assertTrue(Run.search([]))
            self.assertTrue(Revision.search([]))
            Rule.preview([Rule(rule.id)])

        ctx = as_user(regulator)
        with ctx[0], ctx[1]:
            self.assertEqual(Rule.search_count([('id', '=', rule.id)]), 1)
            self.assertTrue(Run.search([]))
            self.assertTrue(Revision.search([]))
            Rule.preview([Rule(rule.id)])
            with self.assertRaises(AccessError):
                Rule.write([Rule(rule.id)], {'level': 'low'})
            with self.assertRaises(AccessButtonError):
                Rule.stop([Rule(rule.id)])
            with self.assertRaises(AccessError):
                Rule.patrol([Rule(rule.id)])

        ctx = as_user(institution)
        with ctx[0], ctx[1]:
            for model in [Rule, Run, Revision]:
                with self.assertRaises(AccessError):
                    model.search([])
            with self.assertRaises(UserError):
                Rule.preview([Rule(rule.id)])

    @with_transaction()
    def test_delete_and_copy(self):
        "Only draft rules are deleted; copies start as drafts"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Revision = pool.get('ct.risk.rule.revision')
        draft = self.rule('evaluation', start=False)
        Rule.write([draft], {'level': 'high'})
        Rule.delete([draft])
        self.assertFalse(Revision.search([('rule', '=', draft.id)]))
        running = self.rule('evaluation')
        with self.assertRaises(AccessError):
            Rule.delete([running])
        copy, = Rule.copy([running])
        self.assertEqual(copy.state, 'draft')
        self.assertEqual(copy.code, f'{running.code}-1')
        self.assertEqual(len(copy.revisions), 1)
        self.assertEqual(copy.parameters, running.parameters)

    @with_transaction()
    def test_funnel_url(self):
        "KRI rules link to their funnel plot"
        rule = self.rule('kri_outlier', start=False)
        database = Transaction().database.name
        self.assertEqual(rule.funnel_url,
            f'/{database}/ct/chart/kri_funnel?rule={rule.id}')
        other = self.rule('evaluation', start=False)
        self.assertIsNone(other.funnel_url)

        from trytond.modules.ct_risk.funnel import kri_funnel
        data = kri_funnel(Pool())
        self.assertIn(rule.id, [r['id'] for r in data['rules']])
        self.assertIn('limits', data['rules'][0])


class FunnelChartTestCase(unittest.TestCase):
    """The funnel plot chart of KRI rules, as the chart routes call it
    (the route mechanics, 401/403/404, are tested in ct_base)"""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_risk')

    def user(self, login, group, **values):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        user, = User.create([dict(values, name=login, login=login,
                    groups=[('add', [ModelData.get_id('ct_base', group)])])])
        return user

    @with_transaction()
    def test_regulator(self):
        "A regulator gets the page and the data of the KRI rules"
        from trytond.modules.ct_base.chart import CHARTS, render_page
        pool = Pool()
        chart = CHARTS['kri_funnel']
        user = self.user('regulator', 'group_regulator')
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            self.assertIn('chart_kri_funnel.js',
                render_page(chart, pool.database_name))
            data = chart.data(pool)
        rule, = data['rules']
        self.assertEqual(rule['kri'], 'critical_major_per_specialty')
        self.assertEqual(rule['points'], [])

    @with_transaction()
    def test_institution(self):
        "Institutions never see rules (the route answers 403)"
        from trytond.modules.ct_base.chart import CHARTS
        pool = Pool()
        Institution = pool.get('ct.institution')
        own, = Institution.create([{'name': "甲医院", 'code': 'F1'}])
        user = self.user('institution', 'group_institution',
            ct_institution=own.id)
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                CHARTS['kri_funnel'].data(pool)
