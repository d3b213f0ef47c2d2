import base64
import json
import tempfile
from unittest.mock import patch
from urllib.parse import quote

import trytond.config as config
from trytond.modules.ct_base import chart as chart_module
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase
from trytond.transaction import Transaction

PASSWORD = 'ct-route-test-2025'


def basic(login, password=PASSWORD):
    token = base64.b64encode(f'{login}:{password}'.encode()).decode()
    return {'Authorization': f'Basic {token}'}


class CtBaseRouteTestCase(RouteTestCase):
    "Chart routes"
    module = 'ct_base'

    @classmethod
    def setUpDatabase(cls):
        pool = Pool()
        Institution = pool.get('ct.institution')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')

        own, *_ = Institution.create([
                {'name': "Ruijin Hospital", 'code': 'R1',
                    'kind': 'clinical', 'district': 'huangpu'},
                {'name': "Zhongshan Hospital", 'code': 'R2',
                    'kind': 'clinical', 'district': 'xuhui'},
                {'name': "Xuhui GLP Centre", 'code': 'G1',
                    'kind': 'nonclinical', 'district': 'xuhui'},
                {'name': "Pudong Centre", 'code': 'G2',
                    'kind': 'nonclinical', 'district': None},
                ])
        regulator = ModelData.get_id('ct_base', 'group_regulator')
        institution = ModelData.get_id('ct_base', 'group_institution')
        User.create([{
                    'name': "Regulator", 'login': 'regulator',
                    'password': PASSWORD,
                    'groups': [('add', [regulator])],
                    }, {
                    'name': "Ruijin", 'login': 'ruijin',
                    'password': PASSWORD,
                    'groups': [('add', [institution])],
                    'ct_institution': own.id,
                    }, {
                    'name': "Nobody", 'login': 'nobody',
                    'password': PASSWORD,
                    }])
        Transaction().commit()

    def data(self, login):
        response = self.client().get(
            f'/{self.db_name}/ct/chart/institution_district/data',
            headers=basic(login))
        self.assertEqual(response.status_code, 200, response.text)
        self.assertIn('application/json', response.headers['Content-Type'])
        return json.loads(response.text)

    def test_regulator_sees_all(self):
        "A regulator's chart counts every institution"
        data = self.data('regulator')
        self.assertEqual(data['total'], 4)
        self.assertEqual(
            data['district_keys'], ['huangpu', 'xuhui', None])
        series = {s['key']: s['data'] for s in data['series']}
        self.assertEqual(series, {
                'clinical': [1, 1, 0],
                'nonclinical': [0, 1, 1],
                })
        self.assertEqual(data['categories'][:2], ["Huangpu", "Xuhui"])

    def test_institution_user_sees_own(self):
        "An institution user's chart counts only its institution"
        data = self.data('ruijin')
        self.assertEqual(data['total'], 1)
        self.assertEqual(data['district_keys'], ['huangpu'])
        series = {s['key']: s['data'] for s in data['series']}
        self.assertEqual(series, {'clinical': [1], 'nonclinical': [0]})

    def test_no_access_right(self):
        "A user without read access on institutions gets 403"
        response = self.client().get(
            f'/{self.db_name}/ct/chart/institution_district/data',
            headers=basic('nobody'))
        self.assertEqual(response.status_code, 403)

    def test_anonymous(self):
        "Page and data need a session"
        client = self.client()
        for url in ['institution_district', 'institution_district/data']:
            with self.subTest(url=url):
                response = client.get(f'/{self.db_name}/ct/chart/{url}')
                self.assertEqual(response.status_code, 401)

    def test_wrong_password(self):
        response = self.client().get(
            f'/{self.db_name}/ct/chart/institution_district/data',
            headers=basic('regulator', 'wrong-password'))
        self.assertEqual(response.status_code, 401)

    def test_page(self):
        "The page loads echarts, the runtime and the chart's script"
        response = self.client().get(
            f'/{self.db_name}/ct/chart/institution_district',
            headers=basic('regulator'))
        self.assertEqual(response.status_code, 200)
        self.assertIn('text/html', response.headers['Content-Type'])
        page = response.text
        static = f'/{quote(self.db_name)}/ct/static'
        for src in ['echarts.min.js', 'ct_base/chart.js',
                'ct_base/chart_institution_district.js']:
            self.assertIn(f'src="{static}/{src}"', page)
        self.assertIn("Institutions by District", page)
        self.assertIn(
            f'/{quote(self.db_name)}/ct/chart/institution_district/data',
            page)

    def test_unknown_chart(self):
        response = self.client().get(
            f'/{self.db_name}/ct/chart/unknown', headers=basic('regulator'))
        self.assertEqual(response.status_code, 404)

    def test_static(self):
        "The module's chart assets are served"
        response = self.client().get(
            f'/{self.db_name}/ct/static/ct_base/chart.js')
        self.assertEqual(response.status_code, 200)
        self.assertIn('javascript', response.headers['Content-Type'])
        self.assertIn(b'CtChart', response.get_data())

    def test_static_traversal(self):
        "Paths leaving the static folder are refused"
        client = self.client()
        for path in [
                'ct_base/../__init__.py',
                'ct_base/..%2F__init__.py',
                'ct_base/%2e%2e/__init__.py',
                'ct_base/%2e%2e/%2e%2e/ct_base/routes.py',
                'ct_base//etc/passwd',
                'ct_base/%2Fetc%2Fpasswd',
                'ir/../../trytond.conf',
                'ct_base/',
                'ct_base',
                ]:
            with self.subTest(path=path):
                response = client.get(f'/{self.db_name}/ct/static/{path}')
                self.assertIn(response.status_code, {404, 400}, path)
                self.assertNotIn(b'import', response.get_data())
                self.assertNotIn(b'root:', response.get_data())

    def test_echarts_missing(self):
        "A missing echarts.min.js is answered with a clear 503"
        get = config.get

        def config_get(section, option, default=None):
            if (section, option) == ('ct', 'web_assets'):
                return directory
            return get(section, option, default=default)

        with tempfile.TemporaryDirectory() as directory, \
                patch.object(config, 'get', config_get):
            response = self.client().get(
                f'/{self.db_name}/ct/static/echarts.min.js')
        self.assertEqual(response.status_code, 503)
        self.assertIn('tools/install-web', response.text)
        self.assertIn(directory, response.text)

    def test_echarts(self):
        "echarts.min.js is served when installed"
        if chart_module.echarts_path() is None:
            self.skipTest("ECharts not installed (tools/install-web)")
        response = self.client().get(
            f'/{self.db_name}/ct/static/echarts.min.js')
        self.assertEqual(response.status_code, 200)
        self.assertIn('javascript', response.headers['Content-Type'])
        response.close()


del RouteTestCase
