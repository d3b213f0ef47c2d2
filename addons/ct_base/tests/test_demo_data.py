"""The demo-data generator (data/generate.py) at a tiny scale."""
import os
import sys
import unittest
from collections import Counter

from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module,
    drop_db,
    with_transaction,
)
from trytond.transaction import Transaction

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(
                os.path.abspath(__file__)))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from data import generate as demo  # noqa: E402

SCALE = 0.05
SEED = 7


class DemoDataTestCase(unittest.TestCase):
    "Test the demo-data generator"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['ct_base'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def _generate(self, seed=SEED):
        with Transaction().set_context(active_test=False):
            return demo.generate(SCALE, seed)

    @with_transaction(user=0)
    def test_counts(self):
        "Counts are proportional to the scale"
        pool = Pool()
        Institution = pool.get('ct.institution')
        Specialty = pool.get('ct.specialty')
        Investigator = pool.get('ct.investigator')
        Trial = pool.get('ct.trial')
        result = self._generate()
        expected = {
            'clinical': round(120 * SCALE),
            'nonclinical': round(15 * SCALE),
            'specialties': round(1500 * SCALE),
            'investigators': round(6000 * SCALE),
            'trials': round(20000 * SCALE),
            }
        for key, value in expected.items():
            self.assertEqual(result[key], value, key)
        self.assertEqual(Institution.search_count(
                [('kind', '=', 'clinical')]), expected['clinical'])
        self.assertEqual(Institution.search_count(
                [('kind', '=', 'nonclinical')]), expected['nonclinical'])
        self.assertEqual(Specialty.search_count([]), expected['specialties'])
        self.assertEqual(
            Investigator.search_count([]), expected['investigators'])
        self.assertEqual(Trial.search_count([]), expected['trials'])
        counts = demo.table_counts()
        for table in ['ct_institution', 'ct_specialty', 'ct_investigator',
                'ct_trial']:
            self.assertEqual(counts[table], counts[f'{table}__history'])

        names = [i.name for i in Institution.search([])]
        self.assertEqual(len(names), len(set(names)))
        self.assertIn("复旦大学附属中山医院", names)
        for institution in Institution.search([]):
            self.assertTrue(demo.is_valid_credit_code(
                    institution.credit_code), institution.credit_code)
        states = Counter(t.state for t in Trial.search([]))
        self.assertGreater(states['ongoing'], 0)
        self.assertGreater(states['completed'], 0)
        for trial in Trial.search([]):
            self.assertRegex(trial.registration_no, r'^CTR20\d{6,7}$')
            if trial.end_date and trial.start_date:
                self.assertLessEqual(trial.start_date, trial.end_date)

        # a second run finds the data and does nothing
        self.assertIsNone(self._generate())

    @with_transaction(user=0)
    def test_investigators(self):
        "Encrypted fields decrypt; PIs belong to their trial's institution"
        pool = Pool()
        Investigator = pool.get('ct.investigator')
        Trial = pool.get('ct.trial')
        self._generate()
        investigators = Investigator.search([])
        people = {}
        for investigator in investigators:
            self.assertTrue(demo.is_valid_id_number(investigator.id_number),
                investigator.id_number)
            self.assertRegex(investigator.phone, r'^1[3-9]\d{9}$')
            self.assertTrue(investigator.id_number_cipher.startswith('v1:'))
            self.assertNotIn(
                investigator.id_number, investigator.id_number_cipher)
            self.assertEqual(investigator.specialty.institution,
                investigator.institution)
            people.setdefault(investigator.id_number, set()).add(
                investigator.institution.id)
        # a few PIs work at two institutions under the same ID number
        duals = [k for k, v in people.items() if len(v) > 1]
        self.assertGreaterEqual(len(duals), 2)

        trials = Trial.search([])
        for trial in trials:
            self.assertTrue(trial.pi)
            self.assertTrue(trial.pi.is_pi)
            self.assertEqual(trial.pi.institution, trial.institution)
            self.assertEqual(trial.specialty.institution, trial.institution)
            trial.check_same_institution()
        ongoing = Counter(t.pi.id for t in trials if t.state == 'ongoing')
        self.assertGreaterEqual(ongoing.most_common(1)[0][1], 5)

    @with_transaction(user=0)
    def test_users(self):
        "Demo users exist with their groups and can log in"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Institution = pool.get('ct.institution')
        self._generate()
        for login, _, group in demo.ROLE_USERS:
            user, = User.search([('login', '=', login)])
            self.assertIn(ModelData.get_id('ct_base', group),
                [g.id for g in user.groups])
            self.assertFalse(user.ct_institution)
        self.assertEqual(User._login_password(
                'regulator', {'password': demo.DEMO_PASSWORD}),
            User.search([('login', '=', 'regulator')])[0].id)
        institutions = Institution.search([], order=[('id', 'ASC')])
        group = ModelData.get_id('ct_base', 'group_institution')
        for login, institution in zip(
                demo.INSTITUTION_USERS, institutions, strict=False):
            user, = User.search([('login', '=', login)])
            self.assertEqual(user.ct_institution, institution)
            self.assertIn(group, [g.id for g in user.groups])

    def test_determinism(self):
        "The same seed gives the same data, another seed other data"
        @with_transaction(user=0)
        def run(seed):
            self._generate(seed)
            return demo.digest()

        first = run(SEED)
        self.assertEqual(run(SEED), first)
        self.assertNotEqual(run(SEED + 1), first)

    def test_check_digits(self):
        "ID number and credit code check digits"
        self.assertTrue(demo.is_valid_id_number('11010519491231002X'))
        self.assertFalse(demo.is_valid_id_number('110105194912310021'))
        self.assertTrue(demo.is_valid_credit_code('91350100M000100Y43'))
        self.assertFalse(demo.is_valid_credit_code('91350100M000100Y44'))
        plan = demo.Plan(SCALE, SEED)
        self.assertEqual(
            [i['code'] for i in plan.institutions],
            [i['code'] for i in demo.Plan(SCALE, SEED).institutions])
