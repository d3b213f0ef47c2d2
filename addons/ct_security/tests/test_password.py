"""Password verifiers (PBKDF2-HMAC-SM3) and the password policy."""
import datetime as dt
import re
import unittest

import pwdlib.hashers.argon2
from trytond import config
from trytond.exceptions import LoginException
from trytond.modules.ct_security.password import (
    PASSWORD_HASH,
    PBKDF2SM3Hasher,
    character_classes,
)
from trytond.pool import Pool
from trytond.res.user import PasswordError
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_key import SecurityDBTestCase

STRONG = 'Shanghai-Trial-2025'
HASH_RE = re.compile(
    r'^\$pbkdf2-sm3\$(\d+)\$([A-Za-z0-9+/]{22})\$([A-Za-z0-9+/]{43})$')


class HasherTestCase(unittest.TestCase):

    def test_format(self):
        hash_ = PBKDF2SM3Hasher(iterations=1000).hash(STRONG)
        match = HASH_RE.match(hash_)
        self.assertTrue(match, hash_)
        self.assertEqual(match.group(1), '1000')

    def test_default_iterations(self):
        hash_ = PBKDF2SM3Hasher().hash(STRONG)
        self.assertEqual(HASH_RE.match(hash_).group(1), '100000')

    def test_verify(self):
        hasher = PBKDF2SM3Hasher(iterations=1000)
        hash_ = hasher.hash(STRONG)
        self.assertTrue(hasher.identify(hash_))
        self.assertTrue(hasher.verify(STRONG, hash_))
        self.assertFalse(hasher.verify(STRONG + 'x', hash_))
        self.assertFalse(hasher.verify(STRONG, hash_[:-2] + 'AA'))
        self.assertFalse(hasher.verify(STRONG, '$pbkdf2-sm3$x$y$z'))
        # Salted: the same password never gives the same verifier
        self.assertNotEqual(hash_, hasher.hash(STRONG))

    def test_known_value(self):
        "Matches PBKDF2-HMAC-SM3 of an independent implementation"
        from trytond.modules.ct_security.crypto.selftest import (
            _reference_pbkdf2_sm3,
        )
        salt = bytes(range(16))
        hash_ = PBKDF2SM3Hasher(iterations=7).hash('pw', salt=salt)
        digest = _reference_pbkdf2_sm3(b'pw', salt, 7, 32)
        import base64
        self.assertEqual(hash_.split('$')[-1],
            base64.b64encode(digest).decode().rstrip('='))

    def test_rehash(self):
        old = PBKDF2SM3Hasher(iterations=1000).hash(STRONG)
        self.assertTrue(PBKDF2SM3Hasher(iterations=2000)
            .check_needs_rehash(old))
        self.assertFalse(PBKDF2SM3Hasher(iterations=1000)
            .check_needs_rehash(old))

    def test_chain_upgrades_argon2(self):
        argon = pwdlib.hashers.argon2.Argon2Hasher().hash(STRONG)
        valid, new = PASSWORD_HASH.verify_and_update(STRONG, argon)
        self.assertTrue(valid)
        self.assertTrue(new.startswith('$pbkdf2-sm3$'))
        self.assertEqual(
            PASSWORD_HASH.verify_and_update('wrong', argon), (False, None))

    def test_classes(self):
        self.assertEqual(character_classes('abc'), 1)
        self.assertEqual(character_classes('abcD1'), 3)
        self.assertEqual(character_classes('aB1-'), 4)
        self.assertEqual(character_classes('密码Ab1'), 3)


def set_option(testcase, option, value):
    "Set [ct_security] option for the duration of testcase"
    if not config.has_section('ct_security'):
        config.add_section('ct_security')
    config.set('ct_security', option, value)

    def restore():
        config._config.remove_option('ct_security', option)
        config._cache_clear()
    testcase.addCleanup(restore)


class PasswordTestCase(SecurityDBTestCase):

    def setUp(self):
        super().setUp()
        # Fast verifiers in tests (the default is measured in the bench)
        set_option(self, 'password_iterations', '1000')

    def make_user(self, login=None, name='Zhang Wei', password=STRONG):
        """Create a user; logins are unique per test because the core hash
        upgrade commits through a new transaction (shared in-memory DB)"""
        User = Pool().get('res.user')
        if login is None:
            login = f'user_{self._testMethodName}'
        self.user_login = login
        user, = User.create([{
                    'login': login, 'name': name, 'password': password}])
        return user

    def stored_hash(self, user, committed=False):
        "The stored verifier (committed: as another session sees it)"
        User = Pool().get('res.user')
        table = User.__table__()
        if committed:
            with Transaction().new_transaction() as transaction:
                cursor = transaction.connection.cursor()
                cursor.execute(*table.select(table.password_hash,
                        where=table.id == user.id))
                return cursor.fetchone()[0]
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.password_hash,
                where=table.id == user.id))
        return cursor.fetchone()[0]

    def set_sql(self, user, **values):
        User = Pool().get('res.user')
        table = User.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update(
                [getattr(table, k) for k in values], list(values.values()),
                where=table.id == user.id))

    def login(self, **parameters):
        User = Pool().get('res.user')
        return User._login_password(self.user_login, parameters)

    @with_transaction()
    def test_user_hash_format(self):
        user = self.make_user()
        self.assertTrue(HASH_RE.match(self.stored_hash(user)))

    @with_transaction()
    def test_policy_matrix(self):
        pool = Pool()
        User = pool.get('res.user')
        user = self.make_user(login='liming', name='李明')
        cases = [
            ('Sh0rt-Pass', False),            # 10 characters
            ('alllowercaseletters', False),   # 1 class
            ('lowercase12345678', False),     # 2 classes
            ('UPPERCASE-12345', True),        # 3 classes
            ('Tryton-Strong-2025', True),
            ('x-LiMing-2025-abc', False),     # contains the login
            ('李明-Password-2025', False),     # contains the name
            ('liming', False),
            ]
        for password, valid in cases:
            with self.subTest(password=password):
                if valid:
                    User.validate_password(password, [user])
                else:
                    with self.assertRaises(PasswordError):
                        User.validate_password(password, [user])

    @with_transaction()
    def test_policy_on_write(self):
        pool = Pool()
        User = pool.get('res.user')
        with self.assertRaises(PasswordError):
            self.make_user(login='weak', password='weakpassword')
        user = self.make_user(login='strong')
        with self.assertRaises(PasswordError):
            User.write([user], {'password': 'Abc-123'})

    @with_transaction()
    def test_reuse(self):
        pool = Pool()
        User = pool.get('res.user')
        History = pool.get('res.user.password.history')
        user = self.make_user(password='First-Password-1')
        passwords = ['Second-Password-2', 'Third-Password-3',
            'Fourth-Password-4', 'Fifth-Password-5']
        with Transaction().set_user(user.id):
            for password in passwords:
                User.write([User(user.id)], {'password': password})
            for password in ['First-Password-1', 'Fifth-Password-5',
                    'Third-Password-3']:
                with self.subTest(password=password), \
                        self.assertRaises(PasswordError):
                    User.write([User(user.id)], {'password': password})
            User.write([User(user.id)], {'password': 'Sixth-Password-6'})
            # The first one is now 6 passwords ago
            User.write([User(user.id)], {'password': 'First-Password-1'})
        self.assertEqual(History.search([('user', '=', user.id)],
                count=True), 5)

    @with_transaction()
    def test_upgrade_from_argon2_on_login(self):
        user = self.make_user()
        argon = pwdlib.hashers.argon2.Argon2Hasher().hash(STRONG)
        self.set_sql(user, password_hash=argon, password_must_change=False)
        # The core rehashes in a new transaction: it must see the user
        Transaction().commit()
        self.assertEqual(self.login(password=STRONG), user.id)
        self.assertTrue(self.stored_hash(user, committed=True)
            .startswith('$pbkdf2-sm3$'))
        self.assertEqual(self.login(password=STRONG), user.id)
        self.assertIsNone(self.login(password='Wrong-Pass-999'))

    @with_transaction()
    def test_rehash_with_more_iterations(self):
        user = self.make_user()
        self.set_sql(user, password_must_change=False)
        Transaction().commit()
        set_option(self, 'password_iterations', '1500')
        self.assertEqual(self.login(password=STRONG), user.id)
        self.assertIn('$1500$', self.stored_hash(user, committed=True))

    @with_transaction()
    def test_forced_change_at_first_login(self):
        pool = Pool()
        User = pool.get('res.user')
        user = self.make_user()
        self.assertTrue(User(user.id).password_must_change)
        with self.assertRaises(LoginException) as cm:
            self.login(password=STRONG)
        self.assertEqual(cm.exception.name, 'new_password')
        # Same password again is a reuse
        with self.assertRaises(LoginException) as cm:
            self.login(password=STRONG, new_password=STRONG)
        self.assertEqual(cm.exception.name, 'new_password')
        with self.assertRaises(LoginException) as cm:
            self.login(password=STRONG, new_password='weak')
        self.assertEqual(cm.exception.name, 'new_password')
        new = 'Changed-At-Login-1'
        with self.assertRaises(LoginException) as cm:
            self.login(password=STRONG, new_password=new)
        self.assertEqual(cm.exception.name, 'new_password_confirm')
        with self.assertRaises(LoginException) as cm:
            self.login(password=STRONG, new_password=new,
                new_password_confirm=new + 'x')
        self.assertEqual(cm.exception.name, 'new_password_confirm')
        self.assertEqual(self.login(password=STRONG,
                new_password=new, new_password_confirm=new), user.id)
        user = User(user.id)
        self.assertFalse(user.password_must_change)
        self.assertIsNone(self.login(password=STRONG))
        self.assertEqual(self.login(password=new), user.id)

    @with_transaction()
    def test_expiry(self):
        pool = Pool()
        User = pool.get('res.user')
        user = self.make_user()
        self.set_sql(user, password_must_change=False,
            password_changed=dt.datetime.now() - dt.timedelta(days=89))
        self.assertEqual(self.login(password=STRONG), user.id)
        self.set_sql(user,
            password_changed=dt.datetime.now() - dt.timedelta(days=91))
        with self.assertRaises(LoginException) as cm:
            self.login(password=STRONG)
        self.assertEqual(cm.exception.name, 'new_password')
        self.assertIn('expired', cm.exception.message)
        # A wrong password never reveals the expiry
        self.assertIsNone(self.login(password='Wrong-Pass-99'))
        new = 'Renewed-Password-7'
        self.assertEqual(self.login(password=STRONG,
                new_password=new, new_password_confirm=new), user.id)
        changed = User(user.id).password_changed
        self.assertLess(dt.datetime.now() - changed, dt.timedelta(minutes=1))

    @with_transaction()
    def test_own_change_is_not_forced(self):
        pool = Pool()
        User = pool.get('res.user')
        user = self.make_user()
        with Transaction().set_user(user.id):
            User.set_preferences({'password': 'My-Own-Choice-42'})
        user = User(user.id)
        self.assertFalse(user.password_must_change)
        self.assertEqual(
            self.login(password='My-Own-Choice-42'), user.id)

    @with_transaction()
    def test_reset_password_forces_change(self):
        pool = Pool()
        User = pool.get('res.user')
        user = self.make_user()
        self.set_sql(user, password_must_change=False)
        self.set_sql(user, password_reset='Temp-Reset-123',
            password_reset_expire=dt.datetime.now() + dt.timedelta(hours=1))
        with self.assertRaises(LoginException) as cm:
            self.login(password='Temp-Reset-123')
        self.assertEqual(cm.exception.name, 'new_password')
        new = 'After-Reset-Pass-8'
        self.assertEqual(self.login(password='Temp-Reset-123',
                new_password=new, new_password_confirm=new), user.id)
        user = User(user.id)
        self.assertIsNone(user.password_reset)
        self.assertEqual(self.login(password=new), user.id)

    @with_transaction()
    def test_get_login_flow(self):
        "The full login entry point returns the LoginException"
        pool = Pool()
        User = pool.get('res.user')
        self.make_user()
        with self.assertRaises(LoginException):
            User.get_login(self.user_login, {'password': STRONG})
