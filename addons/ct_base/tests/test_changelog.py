"""ct.change.log: every create, write and delete of a business record is
logged with who, when and the field-by-field change; the log is immutable."""
import json
import unittest

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction


class ChangeLogTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_base')

    def logs(self, record):
        ChangeLog = Pool().get('ct.change.log')
        return ChangeLog.search([
                ('model', '=', record.__name__),
                ('record', '=', record.id),
                ], order=[('id', 'ASC')])

    @with_transaction()
    def test_create_write_delete_logged(self):
        "Create, write and delete each leave a row with before/after values"
        pool = Pool()
        Institution = pool.get('ct.institution')
        Trial = pool.get('ct.trial')
        institution, = Institution.create([{
                    'name': '日志医院', 'code': 'LOG-1', 'kind': 'clinical'}])
        trial, = Trial.create([{
                    'title': '日志试验', 'registration_no': 'CTR20240001',
                    'institution': institution.id, 'phase': 'i'}])
        Trial.write([trial], {'phase': 'ii', 'title': '日志试验'})
        created, written = self.logs(trial)
        self.assertEqual(created.event, 'create')
        self.assertEqual(created.user.id, Transaction().user)
        new_values = {c['field']: c['new'] for c in json.loads(created.changes)}
        self.assertEqual(new_values['phase'], 'i')
        self.assertEqual(new_values['institution'], [institution.id, '日志医院'])
        self.assertEqual(written.event, 'write')
        # The unchanged title is not reported as a change
        self.assertEqual(json.loads(written.changes), [
                {'field': 'phase', 'old': 'i', 'new': 'ii'}])
        self.assertIn('→', written.changes_text)
        self.assertEqual([g.id for g in trial.change_logs],
            [written.id, created.id])

        trial_id = trial.id
        Trial.delete([trial])
        deleted = self.logs(Trial(trial_id))[-1]
        self.assertEqual(deleted.event, 'delete')
        self.assertEqual(deleted.record_name, '[CTR20240001] 日志试验')

    @with_transaction()
    def test_encrypted_values_masked(self):
        "Personal data changes are logged without their values"
        pool = Pool()
        Institution = pool.get('ct.institution')
        Investigator = pool.get('ct.investigator')
        institution, = Institution.create([{
                    'name': '掩码医院', 'code': 'LOG-2', 'kind': 'clinical'}])
        investigator, = Investigator.create([{
                    'name': '张三', 'institution': institution.id,
                    'phone': '13800138000'}])
        Investigator.write([investigator], {'phone': '13900139000'})
        for log in self.logs(investigator):
            self.assertNotIn('1380013', log.changes)
            self.assertNotIn('1390013', log.changes)
        change, = json.loads(self.logs(investigator)[-1].changes)
        self.assertEqual(change, {'field': 'phone', 'old': '***', 'new': '***'})

    @with_transaction()
    def test_log_immutable(self):
        "Nobody, not even root, can change or delete a log row"
        pool = Pool()
        ChangeLog = pool.get('ct.change.log')
        Institution = pool.get('ct.institution')
        institution, = Institution.create([{
                    'name': '不可改医院', 'code': 'LOG-3', 'kind': 'clinical'}])
        log, = self.logs(institution)
        with self.assertRaises(AccessError):
            ChangeLog.write([log], {'record_name': 'x'})
        with self.assertRaises(AccessError):
            ChangeLog.delete([log])
        self.assertNotIn('write', ChangeLog.__rpc__)
        self.assertNotIn('delete', ChangeLog.__rpc__)
