"""An institution user is confined to its own pushed risk signals over
JSON-RPC: read, search, apply_action, wizards and exports of another
institution's signal ids are refused, and the rule behind a signal stays
hidden. The requests go through the WSGI application (login, session,
dispatcher) as for the web client."""
import base64
import json
from urllib.parse import quote

from trytond.modules.ct_base.tests.tools import JSONRPCMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase

PASSWORD = 'Signal#Isolation2026'


class SignalIsolationRPCTestCase(JSONRPCMixin, RouteTestCase):
    "Risk signal isolation through JSON-RPC"
    PASSWORD = PASSWORD
    module = 'ct_risk'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Institution = pool.get('ct.institution')
        Rule = pool.get('ct.risk.rule')
        Signal = pool.get('ct.risk.signal')

        a, b = Institution.create([
                {'name': "甲医院", 'code': 'SISO-A', 'district': 'xuhui'},
                {'name': "乙医院", 'code': 'SISO-B', 'district': 'pudong'},
                ])

        def group(name):
            return ModelData.get_id('ct_base', name)
        User.create([{
                    'login': 'inst_a', 'name': "甲机构用户",
                    'password': PASSWORD, 'ct_institution': a.id,
                    'groups': [('add', [group('group_institution')])],
                    }, {
                    'login': 'inst_b', 'name': "乙机构用户",
                    'password': PASSWORD, 'ct_institution': b.id,
                    'groups': [('add', [group('group_institution')])],
                    }, {
                    'login': 'regulator', 'name': "监管用户",
                    'password': PASSWORD,
                    'groups': [('add', [group('group_regulator')])],
                    }])
        rule, = Rule.create([{
                    'name': "整改逾期", 'code': 'SISO',
                    'monitor': 'rectification_overdue', 'level': 'high',
                    'measures': "督促整改",
                    }])
        Rule.write([rule], {'state': 'running'})
        Signal.sync_findings(rule, [
                {'fingerprint': f'{i.code}-{n}', 'summary': f"{i.name} {n}",
                    'institution': i.id}
                for i in [a, b] for n in range(2)])
        signals = Signal.search([('fingerprint', 'like', '%-0')])
        Signal.apply_action(signals, 'push', {})

    def signals(self, client, session, domain=None):
        result = self.rpc(client, 'model.ct.risk.signal.search_read',
            [domain or [], 0, None, None,
                ['institution', 'state', 'pushed_date'], {}], session)
        self.assertNotIn('error', result, result)
        return result['result']

    def setup_sessions(self, client):
        regulator = self.login(client, 'regulator')
        inst_a = self.login(client, 'inst_a')
        everything = self.signals(client, regulator)
        self.assertEqual(len(everything), 4)
        own_institution = self.rpc(client, 'model.res.user.get_preferences',
            [True, {}], inst_a)['result']['ct_institution']
        own = [s['id'] for s in everything
            if s['institution'] == own_institution and s['pushed_date']]
        foreign = [s['id'] for s in everything
            if s['institution'] != own_institution]
        return regulator, inst_a, own, foreign

    def test_search_sees_own_pushed_only(self):
        "search_read/search_count: own institution, pushed signals only"
        client = self.client()
        regulator, inst_a, own, foreign = self.setup_sessions(client)
        self.assertEqual(len(own), 1)
        mine = self.signals(client, inst_a)
        self.assertEqual([s['id'] for s in mine], own)
        count = self.rpc(client, 'model.ct.risk.signal.search_count',
            [[], 0, None, {}], inst_a)['result']
        self.assertEqual(count, 1)
        steps = self.rpc(client, 'model.ct.risk.signal.action.search_read',
            [[], 0, None, None, ['signal', 'action'], {}], inst_a)['result']
        # (other tests of the class may have moved the loop on)
        self.assertEqual({s['signal'] for s in steps}, set(own))
        self.assertIn('push', {s['action'] for s in steps})
        self.assertFalse({s['action'] for s in steps} & {'raise', 'hide',
                'unhide', 'regrade', 'refresh'})

    def test_foreign_ids_refused(self):
        "read, apply_action, wizard, export and report on B fail for A"
        client = self.client()
        regulator, inst_a, own, foreign = self.setup_sessions(client)
        attachment = {'__class__': 'bytes',
            'base64': base64.b64encode(b'%PDF-1.4').decode()}
        calls = {
            'read': ('model.ct.risk.signal.read',
                [foreign, ['summary'], {}]),
            'export_data': ('model.ct.risk.signal.export_data',
                [foreign, ['summary'], {}]),
            'respond': ('model.ct.risk.signal.apply_action',
                [foreign, 'respond', {'reason': "越权",
                        'attachments': [{'name': 'x.pdf',
                                'data': attachment}]}, {}]),
            'dispose': ('model.ct.risk.signal.apply_action',
                [foreign, 'dispose', {'reason': "越权"}, {}]),
            'button': ('model.ct.risk.signal.push', [foreign, {}]),
            'report': ('report.ct.risk.signal.xlsx.execute',
                [foreign, {}, {}]),
            'pdf': ('report.ct.risk.signal.pdf.execute',
                [foreign, {}, {}]),
            'wizard': ('wizard.ct.risk.signal.respond.create',
                [{'active_model': 'ct.risk.signal', 'active_id': foreign[0],
                        'active_ids': foreign}]),
            'timeline': ('model.ct.risk.signal.action.search_read',
                [[('signal', 'in', foreign)], 0, None, None, ['id'], {}]),
            }
        for name, (method, params) in calls.items():
            with self.subTest(call=name):
                result = self.rpc(client, method, params, inst_a)
                if name == 'timeline':
                    self.assertEqual(result.get('result'), [])
                else:
                    self.assertIn('error', result, result)
        # Nothing of B changed.
        states = {s['id']: s['state'] for s in self.signals(
                client, regulator) if s['id'] in foreign}
        self.assertEqual(sorted(states.values()), ['open', 'pushed'])

    def test_rule_internals_hidden(self):
        "The rule of a signal is not readable by its institution"
        client = self.client()
        regulator, inst_a, own, foreign = self.setup_sessions(client)
        result = self.rpc(client, 'model.ct.risk.signal.read',
            [own, ['rule'], {}], inst_a)
        self.assertIn('error', result)
        result = self.rpc(client, 'model.ct.risk.rule.search_read',
            [[], 0, None, None, ['name'], {}], inst_a)
        self.assertIn('error', result)
        view = self.rpc(client, 'model.ct.risk.signal.fields_view_get',
            [None, 'form', {}], inst_a)['result']
        self.assertNotIn('rule', view['fields'])
        self.assertIn('summary', view['fields'])

    def test_own_loop_over_rpc(self):
        "The institution responds to its own signal; the regulator checks"
        client = self.client()
        regulator, inst_a, own, foreign = self.setup_sessions(client)
        attachment = {'__class__': 'bytes',
            'base64': base64.b64encode(b'%PDF-1.4').decode()}
        result = self.rpc(client, 'model.ct.risk.signal.apply_action',
            [own, 'respond', {'reason': "已整改",
                    'attachments': [{'name': '整改报告.pdf',
                            'data': attachment}]}, {}], inst_a)
        self.assertNotIn('error', result, result)
        # a wrong transition: a clear message, nothing changed
        result = self.rpc(client, 'model.ct.risk.signal.apply_action',
            [own, 'push', {}, {}], regulator)
        self.assertIn('error', result)
        self.assertIn('is not possible', str(result['error']))
        result = self.rpc(client, 'model.ct.risk.signal.apply_action',
            [own, 'confirm', {}, {}], regulator)
        self.assertNotIn('error', result, result)
        state, = [s['state'] for s in self.signals(client, regulator)
            if s['id'] == own[0]]
        self.assertEqual(state, 'closed')

    def test_dashboard_data_confined(self):
        "The dashboard counts what the user may see, with working drills"
        client = self.client()
        regulator, inst_a, own, foreign = self.setup_sessions(client)
        for session in [regulator, inst_a]:
            login, user_id, key = session
            token = base64.b64encode(
                f'{login}:{user_id}:{key}'.encode()).decode()
            response = client.get(
                f'/{self.db_name}/ct/chart/risk_dashboard/data',
                headers={'Authorization': f'Session {token}'})
            self.assertEqual(response.status_code, 200, response.data)
            data = json.loads(response.data)
            active = self.rpc(client, 'model.ct.risk.signal.search_count',
                [[('is_active_warning', '=', True)], 0, None, {}],
                session)['result']
            with self.subTest(login=login):
                self.assertEqual(data['total'], active)
                self.assertEqual(data['sao_url'],
                    f'/#{quote(self.db_name, safe="")}/model/ct.risk.signal')
                for level in data['levels']:
                    count = self.rpc(client,
                        'model.ct.risk.signal.search_count',
                        [level['drill']['domain'], 0, None, {}],
                        session)['result']
                    self.assertEqual(count, level['value'])
        response = client.get(
            f'/{self.db_name}/ct/static/ct_risk/chart_risk_dashboard.js')
        self.assertEqual(response.status_code, 200)

    def test_no_direct_write(self):
        "Signals and their history change only through apply_action"
        client = self.client()
        regulator, inst_a, own, foreign = self.setup_sessions(client)
        for method, params in [
                ('model.ct.risk.signal.write',
                    [own, {'state': 'closed'}, {}]),
                ('model.ct.risk.signal.create',
                    [[{'summary': 'x'}], {}]),
                ('model.ct.risk.signal.delete', [own, {}]),
                ('model.ct.risk.signal.action.create',
                    [[{'signal': own[0], 'action': 'confirm'}], {}]),
                ]:
            with self.subTest(method=method):
                self.rpc(client, method, params, regulator, status=403)


del RouteTestCase
