"""Demo inspection history (data/inspections.py through data/generate.py):
consistent with the rules the models enforce."""
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


class DemoInspectionsTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['ct_inspection'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    @with_transaction(user=0)
    def test_history(self):
        "Inspections, defects, rectifications and evaluations are coherent"
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        Defect = pool.get('ct.inspection.defect')
        Rectification = pool.get('ct.rectification')
        Institution = pool.get('ct.institution')
        with Transaction().set_context(active_test=False):
            result = demo.generate(0.1, 3)
        self.assertGreater(result['inspections'], 0)
        self.assertGreater(result['defects'], 0)
        self.assertEqual(result['nmpa_sample_institutions'], 13)
        self.assertEqual(Inspection.search_count([]), result['inspections'])
        for defect in Defect.search([]):
            self.assertEqual(defect.institution, defect.inspection.institution)
            if defect.severity != defect.default_severity:
                self.assertTrue(defect.regrade_reason)
        for inspection in Inspection.search([('state', '=', 'concluded')]):
            self.assertEqual(inspection.conclusion,
                inspection.proposed_conclusion)
            self.assertEqual(bool(inspection.defects),
                bool(inspection.rectifications))
            self.assertTrue(inspection.number.startswith('JC'))
        states = Counter(r.state for r in Rectification.search([]))
        self.assertGreater(states['accepted'], 0)
        self.assertGreaterEqual(len(states), 2)
        self.assertTrue(Rectification.search([('is_overdue', '=', True)]))
        self.assertTrue(all(r.report_due > r.inspection.date_end
                for r in Rectification.search([])))
        # The NMPA sample institutions exist once each, with their codes
        from data.inspections import sample_institution_values
        for values in sample_institution_values():
            institution, = Institution.search(
                [('name', '=', values['name'])])
            self.assertEqual(institution.credit_code, values['credit_code'])
