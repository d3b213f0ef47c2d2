"""Key model: wrapped data keys, field encryption, rotation without loss."""
import unittest

from sql import Column
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.encrypted import (
    SM4GCMCipher,
    get_cipher,
    set_cipher,
)
from trytond.modules.ct_security.key import ProviderFieldCipher
from trytond.modules.ct_security.tests.test_crypto import flip
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module,
    drop_db,
    with_transaction,
)
from trytond.transaction import Transaction

ID_NUMBER = '310101199001011234'
PHONE = '13800138000'


class SecurityDBTestCase(unittest.TestCase):
    "Activates ct_security once for the class (no generic module checks)"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['ct_security'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()


def make_investigators(count, **values):
    pool = Pool()
    Institution = pool.get('ct.institution')
    Investigator = pool.get('ct.investigator')
    institution, = Institution.create([{
                'name': 'Ruijin', 'code': f'RJ-{count}-{len(values)}',
                'kind': 'clinical'}])
    return Investigator.create([{
                'name': f'Investigator {i}', 'institution': institution.id,
                'id_number': values.get('id_number', ID_NUMBER)[:-2]
                + f'{i:02d}',
                'phone': values.get('phone', PHONE),
                } for i in range(count)])


def stored(Model, records, name, history=False):
    table = Model.__table_history__() if history else Model.__table__()
    cursor = Transaction().connection.cursor()
    column = getattr(table, f'{name}_cipher')
    cursor.execute(*table.select(column,
            where=table.id.in_([r.id for r in records]),
            order_by=[Column(table, '__id' if history else 'id').asc]))
    return [e for e, in cursor]


class KeyTestCase(SecurityDBTestCase):

    def make_user(self, login, group=None):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        values = {'name': login, 'login': login}
        if group:
            values['groups'] = [('add', [ModelData.get_id(*group)])]
        user, = User.create([values])
        return user

    @with_transaction()
    def test_cipher_installed(self):
        "ct_security plugs its provider into ct_base"
        self.assertIsInstance(get_cipher(), ProviderFieldCipher)

    @with_transaction()
    def test_fields_encrypted_with_wrapped_keys(self):
        pool = Pool()
        Investigator = pool.get('ct.investigator')
        Key = pool.get('ct.security.key')
        investigator, = make_investigators(1)
        envelope, = stored(Investigator, [investigator], 'id_number')
        self.assertTrue(envelope.startswith(
                'v2|field.ct_investigator.id_number:1|'))
        self.assertNotIn(ID_NUMBER[:6], envelope)
        with Transaction().set_user(0):
            investigator = Investigator(investigator.id)
            self.assertEqual(investigator.id_number, ID_NUMBER[:-2] + '00')
            self.assertEqual(investigator.phone, PHONE)
        self.assertEqual(investigator.phone_masked, '138****8000')
        keys = Key.search([('purpose', 'like', 'field.ct_investigator.%')])
        self.assertEqual(
            sorted((k.purpose, k.version, k.state, k.algorithm)
                for k in keys),
            [('field.ct_investigator.id_number', 1, 'active', 'sm4'),
                ('field.ct_investigator.phone', 1, 'active', 'sm4')])
        for key in keys:
            # 12-byte nonce + 16-byte key + 16-byte tag, base64
            self.assertEqual(len(key.wrapped_key), 60)

    @with_transaction()
    def test_envelope_bound_to_record(self):
        pool = Pool()
        Investigator = pool.get('ct.investigator')
        first, second = make_investigators(2)
        table = Investigator.__table__()
        cursor = Transaction().connection.cursor()
        envelope, = stored(Investigator, [first], 'id_number')
        cursor.execute(*table.update([table.id_number_cipher], [envelope],
                where=table.id == second.id))
        with self.assertRaises(ValueError):
            Investigator.get_encrypted([Investigator(second.id)],
                ['id_number'])
        # A bit flipped in the database does not decrypt either
        tampered = flip(envelope, 3)
        cursor.execute(*table.update([table.id_number_cipher], [tampered],
                where=table.id == first.id))
        with self.assertRaises(ValueError):
            Investigator.get_encrypted([Investigator(first.id)],
                ['id_number'])

    @with_transaction()
    def test_rotation_reencryption_without_loss(self):
        pool = Pool()
        Investigator = pool.get('ct.investigator')
        Key = pool.get('ct.security.key')
        investigators = make_investigators(7)
        Investigator.write(investigators[:2], {'phone': '13900139000'})
        # One legacy v1 envelope of ct_base's default cipher
        table = Investigator.__table__()
        cursor = Transaction().connection.cursor()
        legacy = SM4GCMCipher().encrypt('13700137000',
            Investigator._encryption_aad('phone', investigators[-1].id))
        cursor.execute(*table.update([table.phone_cipher], [legacy],
                where=table.id == investigators[-1].id))
        expected = Investigator.get_encrypted(
            investigators, ['id_number', 'phone'])
        self.assertEqual(expected['phone'][investigators[-1].id],
            '13700137000')

        purposes = ['field.ct_investigator.id_number',
            'field.ct_investigator.phone']
        new_keys = Key.create_version(purposes)
        self.assertEqual({k.version for k in new_keys}, {2})
        old_keys = Key.search([('version', '=', 1),
                ('purpose', 'in', purposes)])
        self.assertEqual({k.state for k in old_keys}, {'decrypt_only'})
        # Old envelopes still decrypt, new writes use version 2
        self.assertEqual(Investigator.get_encrypted(
                investigators, ['id_number', 'phone']), expected)
        Investigator.write(investigators[:1], {'phone': '13900139000'})
        self.assertTrue(stored(Investigator, investigators[:1], 'phone')[0]
            .startswith('v2|field.ct_investigator.phone:2|'))

        count = Key.reencrypt(batch_size=3)
        self.assertGreater(count, 0)

        self.assertEqual(Investigator.get_encrypted(
                investigators, ['id_number', 'phone']), expected)
        for name in ['id_number', 'phone']:
            for history in [False, True]:
                envelopes = stored(
                    Investigator, investigators, name, history=history)
                self.assertTrue(envelopes)
                self.assertTrue(all(e.startswith(
                            f'v2|field.ct_investigator.{name}:2|')
                        for e in envelopes if e), (name, history))
        old_keys = Key.browse(old_keys)
        self.assertEqual({k.state for k in old_keys}, {'retired'})
        self.assertTrue(all(k.retired for k in old_keys))
        # Nothing left to do
        self.assertEqual(Key.reencrypt(), 0)

    @with_transaction()
    def test_retired_key_refuses(self):
        pool = Pool()
        Investigator = pool.get('ct.investigator')
        Key = pool.get('ct.security.key')
        investigator, = make_investigators(1)
        key, = Key.search([('purpose', '=', 'field.ct_investigator.phone')])
        Key.create_version([key.purpose])
        Key.retire([key])  # without re-encryption: the data is unreadable
        with self.assertRaises(ValueError):
            Investigator.get_encrypted([investigator], ['phone'])

    @with_transaction()
    def test_keys_cannot_be_deleted(self):
        pool = Pool()
        Key = pool.get('ct.security.key')
        make_investigators(1)
        keys = Key.search([])
        with self.assertRaises(AccessError):
            Key.delete(keys)

    @with_transaction()
    def test_access(self):
        pool = Pool()
        Key = pool.get('ct.security.key')
        History = pool.get('res.user.password.history')
        make_investigators(1)
        key = Key.search([])[0]
        secadmin = self.make_user('secadmin', ('ct_base', 'group_secadmin'))
        regulator = self.make_user(
            'regulator', ('ct_base', 'group_regulator'))
        with Transaction().set_user(secadmin.id), \
                Transaction().set_context(_check_access=True):
            self.assertTrue(Key.search([]))
            Key.read([key.id], ['purpose', 'wrapped_key'])
            with self.assertRaises(AccessError):
                Key.write([Key(key.id)], {'state': 'retired'})
            with self.assertRaises(AccessError):
                Key.create([{'purpose': 'x', 'version': 1,
                            'algorithm': 'sm4', 'wrapped_key': 'x'}])
            with self.assertRaises(AccessError):
                History.search([])
        for user in [regulator]:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                with self.assertRaises(AccessError):
                    Key.search([])
                with self.assertRaises(AccessError):
                    History.search([])

    @with_transaction()
    def test_rotate_button(self):
        pool = Pool()
        Key = pool.get('ct.security.key')
        make_investigators(1)
        key, = Key.search([('purpose', '=', 'field.ct_investigator.phone')])
        secadmin = self.make_user('secadmin2', ('ct_base', 'group_secadmin'))
        with Transaction().set_user(secadmin.id), \
                Transaction().set_context(_check_access=True):
            Key.rotate([Key(key.id)])
        self.assertEqual(
            [(k.version, k.state) for k in Key.search(
                    [('purpose', '=', key.purpose)])],
            [(2, 'active'), (1, 'decrypt_only')])

    def test_cipher_outside_transaction_database(self):
        "The adapter reads v1 envelopes without any key"
        old = get_cipher()
        try:
            set_cipher(None)
            legacy = SM4GCMCipher().encrypt('x', b't|c|1')
            self.assertEqual(
                ProviderFieldCipher().decrypt(legacy, b't|c|1'), 'x')
        finally:
            set_cipher(old)
