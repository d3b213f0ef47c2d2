"""Isolation sweep: for every model an institution user can read, another
institution's records are refused by every route (read, search, write,
delete, copy, export, attachments, reports, chart data).

The data is the demo generator's (every module activated), so new models
and new demo data are swept without changing this test. A model readable
by institution users that holds no institution data must be declared in
SHARED below: reference data everyone may read.
"""
import os
import sys

from trytond.model import ModelSQL
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import TestCase as _TestCase
from trytond.tests.test_tryton import (
    activate_module,
    drop_db,
    with_transaction,
)
from trytond.transaction import Transaction, without_check_access

from .common import ct_modules
from .test_meta import holds_institution_data

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from data import generate as demo  # noqa: E402

# Readable by institution users on purpose: no institution's data in them.
SHARED = {
    'ct.inspection.catalogue', 'ct.inspection.clause',
    'ct.inspection.configuration', 'ct.calendar.day', 'ct.job',
    'ct.inspection-ct.specialty',
    }
SAMPLE = 5


class IsolationSweepTestCase(_TestCase):
    "Institution users cannot reach another institution's records"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(ct_modules())

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def load(self):
        pool = Pool()
        User = pool.get('res.user')
        with Transaction().set_context(active_test=False):
            demo.generate(0.05, 11)
        user, = User.search([('login', '=', 'inst1')])
        return user

    def reachable(self, user):
        "Models the institution user may read"
        ModelAccess = Pool().get('ir.model.access')
        result = []
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            for name, Model in Pool().iterobject():
                if (not name.startswith('ct.')
                        or not issubclass(Model, ModelSQL)
                        or callable(getattr(Model, 'table_query', None))):
                    continue
                if ModelAccess.check(name, 'read', raise_exception=False):
                    result.append((name, Model))
        return result

    def foreign(self, Model, institution_id):
        "Up to SAMPLE records of another institution"
        field = 'id' if Model.__name__ == 'ct.institution' else 'institution'
        with without_check_access(), Transaction().set_context(
                active_test=False):
            return Model.search([
                    (field, '!=', institution_id),
                    (field, '!=', None),
                    ], limit=SAMPLE, order=[('id', 'DESC')])

    @with_transaction()
    def test_sweep(self):
        "read, search, write, delete, copy and export are refused"
        user = self.load()
        own = user.ct_institution.id
        swept, unscoped = [], []
        for name, Model in self.reachable(user):
            if not holds_institution_data(Model):
                if name not in SHARED:
                    unscoped.append(name)
                continue
            records = self.foreign(Model, own)
            if not records:
                continue
            swept.append(name)
            ids = [r.id for r in records]
            with self.subTest(model=name), \
                    Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                self.assertEqual(Model.search([('id', 'in', ids)]), [])
                self.assertEqual(
                    Model.search_count([('id', 'in', ids)]), 0)
                records = Model.browse(ids)
                for operation, args in [
                        (Model.read, (ids, ['id'])),
                        (Model.export_data, (records, ['id'])),
                        (Model.write, (records, {})),
                        (Model.delete, (records,)),
                        (Model.copy, (records,)),
                        ]:
                    with self.assertRaises(AccessError,
                            msg=f'{name}.{operation.__name__}'):
                        operation(*args)
        self.assertFalse(unscoped,
            "readable by institution users without institution data: "
            "scope them or declare them in SHARED")
        # The sweep covered the business models of every module
        for name in ['ct.institution', 'ct.trial', 'ct.investigator',
                'ct.inspection', 'ct.inspection.defect', 'ct.rectification',
                'ct.evaluation']:
            self.assertIn(name, swept)

    @with_transaction()
    def test_attachments_of_foreign_records(self):
        "Attachments of another institution's records are refused"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        Rectification = pool.get('ct.rectification')
        user = self.load()
        foreign = self.foreign(Rectification, user.ct_institution.id)[0]
        attachment, = Attachment.create([{
                    'resource': str(foreign), 'name': '整改证明.pdf',
                    'data': b'%PDF-1.4'}])
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            self.assertEqual(Attachment.search(
                    [('resource', '=', str(foreign))]), [])
            with self.assertRaises(AccessError):
                Attachment.read([attachment.id], ['data'])
            with self.assertRaises(AccessError):
                Attachment.create([{
                            'resource': str(foreign), 'name': 'x.pdf',
                            'data': b'x'}])

    @with_transaction()
    def test_reports_and_chart_data(self):
        "Reports of foreign records are refused; charts count own data"
        pool = Pool()
        Evaluation = pool.get('ct.evaluation')
        Defect = pool.get('ct.inspection.defect')
        Report = pool.get('ct.evaluation.report', type='report')
        from trytond.modules.ct_inspection.stats import defect_chart
        user = self.load()
        own = user.ct_institution.id
        foreign = self.foreign(Evaluation, own)
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            if foreign:
                with self.assertRaises(AccessError):
                    Report.execute([foreign[0].id], {})
            data = defect_chart(pool)
        with without_check_access():
            own_count = Defect.search_count([('institution', '=', own)])
            all_count = Defect.search_count([])
        self.assertEqual(data['total'], own_count)
        self.assertLess(own_count, all_count)


del _TestCase
