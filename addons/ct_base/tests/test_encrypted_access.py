"""Sensitive fields decrypt only for the roles allowed to see them."""
import unittest

from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

ID_NUMBER = '310101198001011234'
PHONE = '13800138000'


class EncryptedAccessTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_base')

    def user(self, login, group):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        user, = User.create([{'login': login, 'name': login,
                    'groups': [('add', [
                                ModelData.get_id('ct_base', group)])]}])
        return user

    @with_transaction()
    def test_clear_or_masked_by_role(self):
        "Regulators read clear values; leaders and administrators masked"
        pool = Pool()
        Institution = pool.get('ct.institution')
        Investigator = pool.get('ct.investigator')
        institution, = Institution.create([{
                    'name': '掩码医院', 'code': 'ENC-1', 'kind': 'clinical'}])
        investigator, = Investigator.create([{
                    'name': '张三', 'institution': institution.id,
                    'id_number': ID_NUMBER, 'phone': PHONE}])
        expected = {
            'group_regulator': (ID_NUMBER, PHONE),
            'group_inspector': (ID_NUMBER, PHONE),
            'group_leader': ('310***********1234', '138****8000'),
            'group_sysadmin': ('310***********1234', '138****8000'),
            'group_auditor': ('310***********1234', '138****8000'),
            }
        checked = []
        for group, values in expected.items():
            user = self.user(group, group)
            # A record of its own: values read by the previous user are in
            # this transaction's cache (each RPC call has its own).
            investigator, = Investigator.copy([investigator])
            with self.subTest(group=group), \
                    Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                try:
                    record, = Investigator.read(
                        [investigator.id], ['id_number', 'phone'])
                except AccessError:
                    # no read access at all is fine too
                    continue
                checked.append(group)
                self.assertEqual(
                    (record['id_number'], record['phone']), values)
        self.assertIn('group_regulator', checked)
        self.assertIn('group_leader', checked)
        # Server code reads the clear value (root, or get_encrypted)
        self.assertEqual(Investigator.get_encrypted(
                [investigator], ['id_number'])['id_number'][investigator.id],
            ID_NUMBER)
        with Transaction().set_user(0):
            self.assertEqual(
                Investigator(investigator.id).id_number, ID_NUMBER)
