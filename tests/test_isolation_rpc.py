"""An institution user is confined to its institution over JSON-RPC.

The requests go through the real WSGI application (login, session header,
dispatcher), so access rights and record rules are checked exactly as for
the web client.
"""

from trytond.modules.ct_base.tests.tools import JSONRPCMixin
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase

PASSWORD = 'Isolation#Test2026'
MODELS = ['ct.institution', 'ct.specialty', 'ct.investigator', 'ct.trial']


class InstitutionIsolationRPCTestCase(JSONRPCMixin, RouteTestCase):
    "Institution isolation through JSON-RPC"
    PASSWORD = PASSWORD
    module = 'ct_base'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Institution = pool.get('ct.institution')
        Specialty = pool.get('ct.specialty')
        Investigator = pool.get('ct.investigator')
        Trial = pool.get('ct.trial')

        institutions = Institution.create([
                {'name': "甲医院", 'code': 'ISO-A', 'district': 'xuhui'},
                {'name': "乙医院", 'code': 'ISO-B', 'district': 'pudong'},
                ])
        for institution in institutions:
            specialty, = Specialty.create([{
                        'institution': institution.id, 'name': "肿瘤科"}])
            pi, = Investigator.create([{
                        'institution': institution.id, 'name': "研究者",
                        'specialty': specialty.id, 'is_pi': True,
                        'id_number': '310101198001011234'}])
            Trial.create([{
                        'institution': institution.id, 'title': "试验",
                        'registration_no': f'CTR-{institution.code}',
                        'specialty': specialty.id, 'pi': pi.id,
                        'phase': 'ii', 'state': 'ongoing'}])

        def group(name):
            return ModelData.get_id('ct_base', name)
        User.create([{
                    'login': 'inst_a', 'name': "甲机构用户",
                    'password': PASSWORD,
                    'ct_institution': institutions[0].id,
                    'groups': [('add', [group('group_institution')])],
                    }, {
                    'login': 'inst_b', 'name': "乙机构用户",
                    'password': PASSWORD,
                    'ct_institution': institutions[1].id,
                    'groups': [('add', [group('group_institution')])],
                    }, {
                    'login': 'regulator', 'name': "监管用户",
                    'password': PASSWORD,
                    'groups': [('add', [group('group_regulator')])],
                    }])

    def ids_by_institution(self, client, session, model):
        field = 'id' if model == 'ct.institution' else 'institution'
        result = self.rpc(client, f'model.{model}.search_read',
            [[], 0, None, None, [field], {}], session)
        self.assertNotIn('error', result, result)
        rows = result['result']
        return {r['id']: r[field] for r in rows}

    def own_and_foreign(self, client):
        regulator = self.login(client, 'regulator')
        institutions = self.ids_by_institution(
            client, regulator, 'ct.institution')
        self.assertEqual(len(institutions), 2)
        return regulator

    def test_search_sees_only_own_institution(self):
        "search_read, search and search_count return only own records"
        client = self.client()
        regulator = self.own_and_foreign(client)
        for login in ['inst_a', 'inst_b']:
            session = self.login(client, login)
            own = self.rpc(client, 'model.res.user.get_preferences',
                [True, {}], session)['result']['ct_institution']
            for model in MODELS:
                with self.subTest(login=login, model=model):
                    everything = self.ids_by_institution(
                        client, regulator, model)
                    mine = self.ids_by_institution(client, session, model)
                    self.assertTrue(mine)
                    self.assertEqual(set(mine.values()), {own})
                    self.assertEqual(set(mine), {
                            i for i, inst in everything.items()
                            if inst == own})
                    count = self.rpc(client, f'model.{model}.search_count',
                        [[], 0, None, {}], session)['result']
                    self.assertEqual(count, len(mine))

    def test_foreign_ids_refused(self):
        "read, write, delete, copy, export and create on B fail for A"
        client = self.client()
        regulator = self.own_and_foreign(client)
        session = self.login(client, 'inst_a')
        own = self.rpc(client, 'model.res.user.get_preferences',
            [True, {}], session)['result']['ct_institution']
        for model in MODELS:
            everything = self.ids_by_institution(client, regulator, model)
            foreign = [i for i, inst in everything.items() if inst != own]
            self.assertTrue(foreign)
            calls = {
                'read': [foreign, ['id'], {}],
                'write': [foreign, {'active': True}
                    if model != 'ct.trial' else {'title': "x"}, {}],
                'delete': [foreign, {}],
                'copy': [foreign, {}, {}],
                'export_data': [foreign, ['id'], {}],
                }
            for method, params in calls.items():
                with self.subTest(model=model, method=method):
                    result = self.rpc(
                        client, f'model.{model}.{method}', params, session)
                    self.assertIn('error', result, result)
            if model != 'ct.institution':
                foreign_institution = [
                    inst for inst in self.ids_by_institution(
                        client, regulator, 'ct.institution')
                    if inst != own][0]
                with self.subTest(model=model, method='create'):
                    values = {'institution': foreign_institution,
                        'name': "越权", 'title': "越权", 'phase': 'i'}
                    fields = self.rpc(client,
                        f'model.{model}.fields_get', [None, {}],
                        session)['result']
                    values = {k: v for k, v in values.items()
                        if k in fields}
                    result = self.rpc(client, f'model.{model}.create',
                        [[values], {}], session)
                    self.assertIn('error', result, result)
        # Nothing of B changed.
        after = self.ids_by_institution(client, regulator, 'ct.trial')
        self.assertEqual(len(after), 2)

    def test_regulator_sees_all(self):
        "A regulator is not confined"
        client = self.client()
        regulator = self.login(client, 'regulator')
        for model in MODELS:
            with self.subTest(model=model):
                self.assertEqual(len(set(self.ids_by_institution(
                                client, regulator, model).values())), 2)


del RouteTestCase
