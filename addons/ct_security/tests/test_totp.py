"""Second factor: TOTP with HMAC-SM3, enforced per group at login."""
import struct
import unittest
from pathlib import Path
from unittest import mock

import polib
from cryptography.hazmat.primitives import hashes
from trytond import config
from trytond.exceptions import LoginException
from trytond.model.exceptions import AccessError
from trytond.model.modelview import AccessButtonError
from trytond.modules.ct_security import totp
from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_key import SecurityDBTestCase
from .test_password import set_option
from .test_session import PASSWORD, make_user, no_sleep
from .test_session import events as all_events

# A fixed instant, in the middle of a 30-second step
NOW = 1_767_225_615.0
STEP = int(NOW // 30)


# -- an independent reference: RFC 2104 HMAC over gmalglib's SM3 and the
#    RFC 4226 truncation, written again here on purpose

def _sm3(data):
    from gmalglib.sm3 import SM3
    h = SM3()
    h.update(data)
    return h.digest()


def _hmac_sm3(key, message):
    if len(key) > 64:
        key = _sm3(key)
    key = key.ljust(64, b'\0')
    inner = _sm3(bytes(b ^ 0x36 for b in key) + message)
    return _sm3(bytes(b ^ 0x5C for b in key) + inner)


def reference_totp(key, timestamp, digits=6):
    digest = _hmac_sm3(key, struct.pack('>Q', int(timestamp // 30)))
    offset = digest[-1] & 0x0F
    value = int.from_bytes(digest[offset:offset + 4], 'big') & 0x7FFFFFFF
    return str(value % 10 ** digits).zfill(digits)


RFC_SHA1_KEY = b'12345678901234567890'
RFC_SHA256_KEY = b'12345678901234567890123456789012'
# RFC 6238 Appendix B (8 digits)
RFC_VECTORS = [
    (59, '94287082', '46119246'),
    (1111111109, '07081804', '68084774'),
    (1111111111, '14050471', '67062674'),
    (1234567890, '89005924', '91819424'),
    (2000000000, '69279037', '90698825'),
    (20000000000, '65353130', '77737706'),
    ]
# The same instants with HMAC-SM3 and the 32-byte key (computed with the
# reference above; kept literal to catch any regression)
SM3_VECTORS = [
    (59, '70252643'),
    (1111111109, '03087309'),
    (1111111111, '68947295'),
    (1234567890, '39678463'),
    (2000000000, '78318009'),
    (20000000000, '53139997'),
    ]


class AlgorithmTestCase(unittest.TestCase):

    def test_rfc6238_shape(self):
        "With SHA-1/SHA-256 the implementation gives RFC 6238's vectors"
        for time_, sha1, sha256 in RFC_VECTORS:
            with self.subTest(time=time_):
                self.assertEqual(totp.totp(RFC_SHA1_KEY, time_, digits=8,
                        algorithm=hashes.SHA1()), sha1)  # noqa: S303
                self.assertEqual(totp.totp(RFC_SHA256_KEY, time_, digits=8,
                        algorithm=hashes.SHA256()), sha256)

    def test_hmac_sm3_known_values(self):
        for time_, value in SM3_VECTORS:
            with self.subTest(time=time_):
                self.assertEqual(reference_totp(RFC_SHA256_KEY, time_, 8),
                    value)
                self.assertEqual(
                    totp.totp(RFC_SHA256_KEY, time_, digits=8), value)
                self.assertEqual(
                    totp.totp(RFC_SHA256_KEY, time_), value[-6:])

    def test_random_keys_match_reference(self):
        import os
        for _ in range(20):
            key = os.urandom(32)
            self.assertEqual(totp.totp(key, NOW), reference_totp(key, NOW))

    def test_window(self):
        "Codes of the previous, current and next step; not two away"
        key = RFC_SHA256_KEY
        for delta in [-30, 0, 30]:
            with self.subTest(delta=delta):
                self.assertEqual(
                    totp.verify(key, totp.totp(key, NOW + delta), NOW),
                    (STEP + delta // 30, None))
        near = {totp.totp(key, NOW + d) for d in (-30, 0, 30)}
        for delta in [-90, -60, 60, 90]:
            code = totp.totp(key, NOW + delta)
            if code in near:
                continue  # 1 in 10^6 collision with an accepted step
            with self.subTest(delta=delta):
                self.assertEqual(totp.verify(key, code, NOW),
                    (None, 'wrong'))

    def test_replay(self):
        "A step is accepted once: not again, nor an earlier one"
        key = RFC_SHA256_KEY
        code = totp.totp(key, NOW)
        self.assertEqual(totp.verify(key, code, NOW, last_counter=STEP - 1),
            (STEP, None))
        self.assertEqual(totp.verify(key, code, NOW, last_counter=STEP),
            (None, 'replayed'))
        self.assertEqual(totp.verify(key, totp.totp(key, NOW - 30), NOW,
                last_counter=STEP), (None, 'replayed'))
        self.assertEqual(totp.verify(key, totp.totp(key, NOW + 30), NOW,
                last_counter=STEP), (STEP + 1, None))

    def test_malformed(self):
        key = RFC_SHA256_KEY
        code = totp.totp(key, NOW)
        self.assertEqual(totp.verify(key, f' {code[:3]} {code[3:]} ', NOW),
            (STEP, None))
        for value in [None, '', '12345', '1234567', 'abcdef', '12345x', 42]:
            with self.subTest(value=value):
                self.assertEqual(totp.verify(key, value, NOW),
                    (None, 'malformed'))

    def test_secret_encoding_and_uri(self):
        secret = bytes(range(32))
        text = totp.encode_secret(secret)
        self.assertNotIn('=', text)
        self.assertEqual(totp.decode_secret(text), secret)
        self.assertEqual(
            totp.decode_secret(totp.group_secret(text).lower()), secret)
        uri = totp.provisioning_uri(text, 'regulator', 'CT')
        self.assertTrue(uri.startswith('otpauth://totp/CT:regulator?'))
        for part in [f'secret={text}', 'issuer=CT', 'algorithm=SM3',
                'digits=6', 'period=30']:
            self.assertIn(part, uri)

    def test_configured(self):
        cases = [
            ('password', False),
            ('password+totp', True),
            ('totp+password', False),
            ('password+totp?ip_address', True),
            ('password+sms,password+totp', True),
            ]
        for value, expected in cases:
            with self.subTest(value=value), \
                    mock.patch.object(config, 'get', return_value=value):
                self.assertEqual(totp.totp_configured(), expected)

    def test_login_prompt_translated(self):
        po = polib.pofile(str(Path(totp.__file__).parent
                / 'locale' / 'zh_CN.po'))
        entry, = [e for e in po
            if e.msgctxt == 'model:ir.message,text:msg_totp_code']
        self.assertEqual(entry.msgstr, '请输入动态口令（6 位）')


def events(login):
    "Audit events of login, without the group changes of its creation"
    return [e for e in all_events(login) if e != 'group_added']


def set_authentications(testcase, value):
    "Set [session] authentications for the duration of testcase"
    missing = object()
    if not config.has_section('session'):
        config.add_section('session')
    old = config._config.get('session', 'authentications', fallback=missing)
    config.set('session', 'authentications', value)

    def restore():
        if old is missing:
            config._config.remove_option('session', 'authentications')
        else:
            config.set('session', 'authentications', old)
        config._cache_clear()
    testcase.addCleanup(restore)


def at(timestamp):
    "Freeze the clock of the TOTP check"
    return mock.patch.object(totp, '_now', return_value=timestamp)


class TOTPLoginTestCase(SecurityDBTestCase):

    def setUp(self):
        super().setUp()
        set_option(self, 'password_iterations', '1000')
        set_authentications(self, 'password+totp')

    def user(self, login, *groups):
        return make_user(login, *groups, password=PASSWORD)

    def enrol(self, user):
        User = Pool().get('res.user')
        secret = User.totp_enrol_users([User(user.id)])[user.id]
        return totp.decode_secret(secret)

    def login(self, login, **parameters):
        User = Pool().get('res.user')
        with no_sleep:
            return User.get_login(login, {'password': PASSWORD, **parameters})

    def details(self, login, event):
        AuditLog = Pool().get('ct.audit.log')
        return [r.detail for r in AuditLog.search([
                    ('login', '=', login), ('event', '=', event)],
                order=[('sequence', 'ASC')])]

    @with_transaction()
    def test_institution_user_without_code(self):
        "A user outside the enforced groups logs in with the password"
        user = self.user('t_inst', 'ct_base.group_institution')
        self.assertFalse(user.totp_required)
        self.assertEqual(self.login('t_inst'), user.id)
        self.assertEqual(events('t_inst'), ['login'])

    @with_transaction()
    def test_code_required(self):
        "A regulator gets the code prompt, then logs in with the code"
        user = self.user('t_reg', 'ct_base.group_regulator')
        self.assertTrue(user.totp_required)
        key = self.enrol(user)
        with at(NOW), self.assertRaises(LoginException) as cm:
            self.login('t_reg')
        self.assertEqual(cm.exception.name, 'totp_code')
        self.assertEqual(cm.exception.type, 'char')
        self.assertIn('6', cm.exception.message)
        # A wrong password never reaches the second factor
        with at(NOW):
            self.assertIsNone(self.login('t_reg', password='Wrong-Pass#99',
                    totp_code=totp.totp(key, NOW)))
        with at(NOW):
            self.assertEqual(
                self.login('t_reg', totp_code=totp.totp(key, NOW)), user.id)
        self.assertEqual(events('t_reg'), [
                'totp_enrolled', 'login_failed', 'totp_verified', 'login'])

    @with_transaction()
    def test_window_and_replay(self):
        User = Pool().get('res.user')
        user = self.user('t_replay', 'ct_base.group_inspector')
        key = self.enrol(user)
        code = totp.totp(key, NOW)
        with at(NOW + 25):
            # Clock of the token 25 s behind: still the accepted window
            self.assertEqual(self.login('t_replay', totp_code=code), user.id)
        self.assertEqual(User(user.id).totp_last_counter, STEP)
        with at(NOW + 5):
            # The same code again within its validity: refused
            self.assertIsNone(self.login('t_replay', totp_code=code))
        self.assertEqual(self.details('t_replay', 'totp_failed'),
            ['replayed'])
        with at(NOW + 30):
            self.assertEqual(self.login('t_replay',
                    totp_code=totp.totp(key, NOW + 30)), user.id)
        with at(NOW + 120):
            # Two steps late
            self.assertIsNone(self.login('t_replay',
                    totp_code=totp.totp(key, NOW + 60)))
        self.assertEqual(self.details('t_replay', 'totp_failed'),
            ['replayed', 'wrong'])
        self.assertEqual(events('t_replay'), [
                'totp_enrolled',
                'totp_verified', 'login',
                'totp_failed', 'login_failed',
                'totp_verified', 'login',
                'totp_failed', 'login_failed',
                ])

    @with_transaction()
    def test_wrong_code_counts_for_lockout(self):
        User = Pool().get('res.user')
        user = self.user('t_lock', 'ct_base.group_reviewer')
        key = self.enrol(user)
        good = {totp.totp(key, NOW + d) for d in (-30, 0, 30)}
        wrong = next(c for c in ('000000', '111111', '222222', '333333')
            if c not in good)
        with at(NOW):
            for _ in range(5):
                self.assertIsNone(self.login('t_lock', totp_code=wrong))
        self.assertTrue(User(user.id).ct_locked)
        self.assertEqual(events('t_lock').count('login_failed'), 5)
        self.assertIn('lock', events('t_lock'))
        # Locked: the right code does not help (and gives no prompt)
        with at(NOW):
            self.assertIsNone(
                self.login('t_lock', totp_code=totp.totp(key, NOW)))
            self.assertIsNone(self.login('t_lock'))
        self.assertEqual(events('t_lock')[-2:],
            ['login_locked', 'login_locked'])

    @with_transaction()
    def test_required_not_enrolled(self):
        "A required user without a token cannot log in"
        self.user('t_noenrol', 'ct_base.group_sysadmin')
        with at(NOW), self.assertRaises(LoginException) as cm:
            self.login('t_noenrol')
        self.assertEqual(cm.exception.name, 'totp_code')
        self.assertIn('administrator', cm.exception.message)
        with at(NOW):
            self.assertIsNone(self.login('t_noenrol', totp_code='123456'))
        self.assertEqual(self.details('t_noenrol', 'totp_failed'),
            ['not enrolled', 'not enrolled'])
        self.assertIn('login_failed', events('t_noenrol'))

    @with_transaction()
    def test_enrolled_optional_user(self):
        "An institution user who was issued a token must use it"
        user = self.user('t_optional', 'ct_base.group_institution')
        key = self.enrol(user)
        with at(NOW), self.assertRaises(LoginException):
            self.login('t_optional')
        with at(NOW):
            self.assertEqual(self.login('t_optional',
                    totp_code=totp.totp(key, NOW)), user.id)

    @with_transaction()
    def test_not_configured(self):
        "Without totp in [session] authentications the password suffices"
        set_authentications(self, 'password')
        user = self.user('t_off', 'ct_base.group_regulator')
        self.enrol(user)
        self.assertEqual(self.login('t_off'), user.id)

    @with_transaction()
    def test_password_change_waits_for_code(self):
        "An imposed password is changed only once the code is proven"
        pool = Pool()
        User = pool.get('res.user')
        user = self.user('t_change', 'ct_base.group_leader')
        key = self.enrol(user)
        User.write([User(user.id)], {'password_must_change': True})
        new = 'Brand-New#Pass-2026'
        steps = [
            ({}, 'new_password'),
            ({'new_password': new}, 'new_password_confirm'),
            ({'new_password': new, 'new_password_confirm': new},
                'totp_code'),
            ]
        for parameters, name in steps:
            with at(NOW), self.assertRaises(LoginException) as cm:
                self.login('t_change', **parameters)
            self.assertEqual(cm.exception.name, name)
        # Wrong code: login refused, password unchanged
        good = {totp.totp(key, NOW + d) for d in (-30, 0, 30)}
        wrong = next(c for c in ('000000', '999999') if c not in good)
        with at(NOW):
            self.assertIsNone(self.login('t_change', new_password=new,
                    new_password_confirm=new, totp_code=wrong))
        self.assertTrue(User(user.id).password_must_change)
        with at(NOW):
            self.assertEqual(self.login('t_change', new_password=new,
                    new_password_confirm=new,
                    totp_code=totp.totp(key, NOW)), user.id)
        self.assertFalse(User(user.id).password_must_change)
        with no_sleep, at(NOW + 30):
            self.assertEqual(User.get_login('t_change', {
                        'password': new,
                        'totp_code': totp.totp(key, NOW + 30)}), user.id)

    @with_transaction()
    def test_secret_encrypted_and_unreadable(self):
        pool = Pool()
        User = pool.get('res.user')
        user = self.user('t_secret', 'ct_base.group_regulator')
        sysadmin = self.user('t_secret_sys', 'ct_base.group_sysadmin')
        secadmin = self.user('t_secret_sec', 'ct_base.group_secadmin')
        key = self.enrol(user)
        table = User.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.totp_secret_cipher,
                where=table.id == user.id))
        stored, = cursor.fetchone()
        self.assertTrue(stored.startswith('v2|field.res_user.totp_secret:'))
        self.assertNotIn(totp.encode_secret(key), stored)
        # Bound to the row: copied to another user, it does not decrypt
        cursor.execute(*table.update([table.totp_secret_cipher], [stored],
                where=table.id == sysadmin.id))
        with self.assertRaises(ValueError):
            User.get_encrypted([User(sysadmin.id)], ['totp_secret'])
        cursor.execute(*table.update([table.totp_secret_cipher], [None],
                where=table.id == sysadmin.id))

        for reader in [user.id, sysadmin.id, secadmin.id, 1]:
            with self.subTest(reader=reader), \
                    Transaction().set_user(reader), \
                    Transaction().set_context(_check_access=True):
                for name in ['totp_secret', 'totp_secret_cipher']:
                    with self.assertRaises(AccessError):
                        User.read([user.id], [name])
                    with self.assertRaises(AccessError):
                        User.search_read(
                            [('id', '=', user.id)], fields_names=[name])
                with self.assertRaises(AccessError):
                    User.search([('totp_secret_cipher', '!=', None)])
                # What the form shows is readable
                values, = User.read([user.id], ['totp_enrolled',
                        'totp_required', 'totp_enabled'])
                self.assertTrue(values['totp_required'])
                self.assertTrue(values['totp_enabled'])
        # Nor writable over RPC, even by the account administrator
        with Transaction().set_user(sysadmin.id), \
                Transaction().set_context(_check_access=True):
            for values in [{'totp_secret': 'AAAAAAAA'},
                    {'totp_enrolled': None}, {'totp_last_counter': 0}]:
                with self.subTest(values=values), \
                        self.assertRaises(AccessError):
                    User.write([User(user.id)], values)
        # Server code still reads it
        self.assertEqual(totp.decode_secret(
                User(user.id).totp_secret), key)

    @with_transaction()
    def test_reset(self):
        pool = Pool()
        User = pool.get('res.user')
        Session = pool.get('ir.session')
        user = self.user('t_reset', 'ct_base.group_auditor')
        regulator = self.user('t_reset_reg', 'ct_base.group_regulator')
        sysadmin = self.user('t_reset_sys', 'ct_base.group_sysadmin')
        secadmin = self.user('t_reset_sec', 'ct_base.group_secadmin')
        self.enrol(user)
        with Transaction().set_user(user.id):
            Session.new()
        for other in [regulator, sysadmin]:
            with self.subTest(user=other.login), \
                    Transaction().set_user(other.id), \
                    Transaction().set_context(_check_access=True), \
                    self.assertRaises(AccessButtonError):
                User.totp_reset([User(user.id)])
        with Transaction().set_user(secadmin.id), \
                Transaction().set_context(_check_access=True):
            User.totp_reset([User(user.id)])
        user = User(user.id)
        self.assertIsNone(user.totp_enrolled)
        self.assertIsNone(user.totp_secret)
        self.assertFalse(Session.search([('create_uid', '=', user.id)]))
        log, = Pool().get('ct.audit.log').search([
                ('event', '=', 'totp_reset'), ('user', '=', user.id)])
        self.assertEqual(log.actor.id, secadmin.id)
        with at(NOW), self.assertRaises(LoginException) as cm:
            self.login('t_reset')
        self.assertIn('administrator', cm.exception.message)

    @with_transaction()
    def test_enrol_wizard(self):
        pool = Pool()
        User = pool.get('res.user')
        WizardSession = pool.get('ir.session.wizard')
        Enrol = pool.get('ct.security.totp.enrol', type='wizard')
        user = self.user('t_wizard', 'ct_base.group_regulator')
        sysadmin = self.user('t_wizard_sys', 'ct_base.group_sysadmin')
        secadmin = self.user('t_wizard_sec', 'ct_base.group_secadmin')
        context = {
            'active_model': 'res.user', 'active_id': user.id,
            'active_ids': [user.id], '_check_access': True,
            }
        with Transaction().set_user(sysadmin.id), \
                Transaction().set_context(**context), \
                self.assertRaises(AccessError):
            Enrol.create()
        with Transaction().set_user(1), \
                Transaction().set_context(**context):
            # Administration may open the action, not issue a token
            session_id, _, _ = Enrol.create()
            with self.assertRaises(AccessError):
                Enrol.execute(session_id, {}, 'start')
        with Transaction().set_user(secadmin.id), \
                Transaction().set_context(**context):
            session_id, start, _ = Enrol.create()
            result = Enrol.execute(session_id, {}, start)
            self.assertEqual(result['view']['defaults']['user'], user.id)
            self.assertFalse(result['view']['defaults']['enrolled'])
            result = Enrol.execute(
                session_id, {start: {'user': user.id}}, 'enrol')
            shown = result['view']['defaults']
            self.assertEqual(result['view']['state'], 'show')
            self.assertEqual(shown['login'], 't_wizard')
            secret = shown['secret'].replace(' ', '')
            self.assertIn(f'secret={secret}', shown['uri'])
            self.assertIn('algorithm=SM3', shown['uri'])
            # The client sends the form back on Close: never stored
            Enrol.execute(session_id, {'show': shown}, 'end')
        data = WizardSession(session_id).data
        self.assertNotIn(secret[:16], data)
        self.assertNotIn(shown['secret'][:16], data)
        with Transaction().set_user(secadmin.id), \
                Transaction().set_context(**context):
            Enrol.delete(session_id)
        self.assertIsNotNone(User(user.id).totp_enrolled)
        log, = Pool().get('ct.audit.log').search([
                ('event', '=', 'totp_enrolled'), ('user', '=', user.id)])
        self.assertEqual(log.actor.id, secadmin.id)
        key = totp.decode_secret(secret)
        with at(NOW):
            self.assertEqual(self.login('t_wizard',
                    totp_code=totp.totp(key, NOW)), user.id)

    @with_transaction()
    def test_policy(self):
        "The security administrator chooses the enforced groups"
        pool = Pool()
        User = pool.get('res.user')
        Configuration = pool.get('ct.security.configuration')
        ModelData = pool.get('ir.model.data')
        institution = self.user('t_pol_inst', 'ct_base.group_institution')
        regulator = self.user('t_pol_reg', 'ct_base.group_regulator')
        sysadmin = self.user('t_pol_sys', 'ct_base.group_sysadmin')
        secadmin = self.user('t_pol_sec', 'ct_base.group_secadmin')
        configuration = Configuration(1)
        self.assertEqual(
            {(g.id) for g in configuration.totp_groups},
            {ModelData.get_id('ct_base', g) for g in totp.DEFAULT_GROUPS})
        required = User.search([
                ('totp_required', '=', True),
                ('login', 'like', 't_pol_%')])
        self.assertEqual({u.login for u in required},
            {'t_pol_reg', 't_pol_sys', 't_pol_sec'})
        group_institution = ModelData.get_id('ct_base', 'group_institution')
        with Transaction().set_user(sysadmin.id), \
                Transaction().set_context(_check_access=True), \
                self.assertRaises(AccessError):
            Configuration.write([Configuration(1)], {
                    'totp_groups': [('add', [group_institution])]})
        with Transaction().set_user(secadmin.id), \
                Transaction().set_context(_check_access=True):
            Configuration.write([Configuration(1)], {
                    'totp_groups': [
                        ('add', [group_institution]),
                        ('remove', [ModelData.get_id(
                                    'ct_base', 'group_regulator')])]})
        self.assertTrue(User(institution.id).totp_required)
        self.assertFalse(User(regulator.id).totp_required)
        AuditLog = pool.get('ct.audit.log')
        logs = AuditLog.search([('event', '=', 'totp_policy'),
                ('actor', '=', secadmin.id)], order=[('sequence', 'ASC')])
        self.assertEqual(sorted(log.detail[0] for log in logs), ['+', '-'])
        # Now the institution user needs a token, the regulator does not
        with at(NOW), self.assertRaises(LoginException):
            self.login('t_pol_inst')
        self.assertEqual(self.login('t_pol_reg'), regulator.id)

    @with_transaction()
    def test_copy_is_not_enrolled(self):
        User = Pool().get('res.user')
        user = self.user('t_copy', 'ct_base.group_regulator')
        self.enrol(user)
        copy, = User.copy([User(user.id)], {'login': 't_copy2'})
        self.assertIsNone(copy.totp_enrolled)
        self.assertIsNone(copy.totp_secret)
        self.assertIsNotNone(User(user.id).totp_secret)
