import datetime as dt
import json
from base64 import b64encode
from unittest import mock

from trytond import backend, config
from trytond.model.modelview import AccessButtonError
from trytond.pool import Pool
from trytond.tests.test_tryton import DB_NAME, RouteTestCase, with_transaction
from trytond.transaction import Transaction

PASSWORD = 'Ct-Sec#2025-passw0rd!'


def make_user(login, *groups, password=None):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    ids = [ModelData.get_id(*g.split('.')) for g in groups]
    values = {'name': login, 'login': login}
    if ids:
        values['groups'] = [('add', ids)]
    if password:
        values['password'] = password
    user, = User.create([values])
    if password and 'password_must_change' in User._fields:
        # ct_security forces a change of an imposed password at login
        User.write([user], {'password_must_change': False})
    return user


def events(login=None, user=None):
    AuditLog = Pool().get('ct.audit.log')
    domain = []
    if login:
        domain.append(('login', '=', login))
    if user:
        domain.append(('user', '=', user))
    return [r.event for r in AuditLog.search(
            domain, order=[('sequence', 'ASC')])]


def set_session_time(session_id, **values):
    Session = Pool().get('ir.session')
    table = Session.__table__()
    cursor = Transaction().connection.cursor()
    cursor.execute(*table.update(
            [getattr(table, k) for k in values], list(values.values()),
            where=table.id == session_id))


# get_login sleeps up to 2**failures seconds at the end of the transaction
no_sleep = mock.patch('random.randint', return_value=0)


class SessionTestCase(RouteTestCase):
    "Test sessions, idle timeout, lockout and security headers"
    module = 'ct_security'

    @with_transaction()
    def test_lockout(self):
        "5 failures lock the account; right password refused; admin unlock"
        pool = Pool()
        User = pool.get('res.user')
        user = make_user('lock1', password=PASSWORD)
        sysadmin = make_user('sysadm1', 'ct_base.group_sysadmin')
        regulator = make_user('reg1', 'ct_base.group_regulator')
        with no_sleep:
            for _ in range(4):
                self.assertIsNone(
                    User.get_login('lock1', {'password': 'wrong'}))
            user = User(user.id)
            self.assertFalse(user.ct_locked)
            self.assertIsNone(User.get_login('lock1', {'password': 'bad'}))
            user = User(user.id)
            self.assertTrue(user.ct_locked)
            self.assertEqual(
                events('lock1'), ['login_failed'] * 5 + ['lock'])

            # right password while locked
            self.assertIsNone(User.get_login('lock1', {'password': PASSWORD}))
            self.assertEqual(events('lock1')[-1], 'login_locked')

            # only the system administrator may unlock
            with Transaction().set_user(regulator.id), \
                    Transaction().set_context(_check_access=True):
                with self.assertRaises(AccessButtonError):
                    User.ct_unlock([User(user.id)])
            with Transaction().set_user(sysadmin.id), \
                    Transaction().set_context(_check_access=True):
                User.ct_unlock([User(user.id)])
            self.assertFalse(User(user.id).ct_locked)
            self.assertEqual(events('lock1')[-1], 'unlock')
            unlock, = Pool().get('ct.audit.log').search(
                [('event', '=', 'unlock'), ('login', '=', 'lock1')])
            self.assertEqual(unlock.actor, sysadmin)

            self.assertEqual(
                User.get_login('lock1', {'password': PASSWORD}), user.id)
            self.assertEqual(events('lock1')[-1], 'login')
        self.assertIsNone(Pool().get('ct.audit.log').verify_chain())

    @with_transaction()
    def test_locked_no_password_oracle(self):
        "While locked, a password to change is not asked for (no oracle)"
        User = Pool().get('res.user')
        user = make_user('lock4', password=PASSWORD)
        User.write([user], {'ct_locked_until': dt.datetime(2100, 1, 1)})
        if 'password_must_change' in User._fields:
            User.write([user], {'password_must_change': True})
        with no_sleep:
            self.assertIsNone(User.get_login('lock4', {'password': PASSWORD}))
            self.assertIsNone(User.get_login('lock4', {
                        'password': PASSWORD, 'new_password': 'N3w#pass-ct!x',
                        'new_password_confirm': 'N3w#pass-ct!x'}))
        self.assertEqual(events('lock4'), ['login_locked'] * 2)

    @with_transaction()
    def test_lock_expires(self):
        "A lock in the past does not refuse the login"
        User = Pool().get('res.user')
        user = make_user('lock2', password=PASSWORD)
        User.write([user], {'ct_locked_until': dt.datetime(2000, 1, 1)})
        with no_sleep:
            self.assertEqual(
                User.get_login('lock2', {'password': PASSWORD}), user.id)

    @with_transaction()
    def test_success_resets_failures(self):
        "Failures before a successful login do not count"
        User = Pool().get('res.user')
        user = make_user('lock3', password=PASSWORD)
        with no_sleep:
            for _ in range(4):
                User.get_login('lock3', {'password': 'wrong'})
            User.get_login('lock3', {'password': PASSWORD})
            for _ in range(4):
                User.get_login('lock3', {'password': 'wrong'})
        self.assertFalse(User(user.id).ct_locked)

    @with_transaction()
    def test_idle_timeout(self):
        "A session idle longer than idle_timeout is refused and deleted"
        pool = Pool()
        Session = pool.get('ir.session')
        user = make_user('idle1')
        with Transaction().set_user(user.id):
            key = Session.new()
        session, = Session.search([('key', '=', key)])
        self.assertTrue(Session.check(user.id, key))

        now = dt.datetime.now()
        # recent activity: not rewritten (no write per read RPC)
        set_session_time(
            session.id, ct_last_activity=now - dt.timedelta(seconds=10))
        Session.check(user.id, key)
        stamp = Session(session.id).ct_last_activity
        self.assertLess(now - stamp, dt.timedelta(seconds=11))
        self.assertGreater(now - stamp, dt.timedelta(seconds=9))

        # older than the interval: refreshed
        set_session_time(
            session.id, ct_last_activity=now - dt.timedelta(minutes=5))
        Transaction().cache.clear()
        self.assertTrue(Session.check(user.id, key))
        Transaction().cache.clear()
        self.assertLess(
            dt.datetime.now() - Session(session.id).ct_last_activity,
            dt.timedelta(seconds=5))

        # idle 31 minutes: refused and deleted
        set_session_time(
            session.id, ct_last_activity=now - dt.timedelta(minutes=31))
        Transaction().cache.clear()
        self.assertFalse(Session.check(user.id, key))
        self.assertFalse(Session.search([('key', '=', key)]))
        self.assertEqual(events(user=user.id)[-1], 'idle_timeout')

    @with_transaction()
    def test_absolute_lifetime(self):
        "A session older than [session] max_age is refused however active"
        Session = Pool().get('ir.session')
        user = make_user('abs1')
        with Transaction().set_user(user.id):
            key = Session.new()
        session, = Session.search([('key', '=', key)])
        now = dt.datetime.now()
        max_age = dt.timedelta(seconds=config.getint('session', 'max_age'))
        set_session_time(session.id,
            create_date=now - max_age - dt.timedelta(minutes=1),
            ct_last_activity=now)
        Transaction().cache.clear()
        self.assertFalse(Session.check(user.id, key))
        self.assertFalse(Session.search([('key', '=', key)]))

    @with_transaction()
    def test_max_sessions(self):
        "At most max_sessions sessions per user: the oldest are dropped"
        Session = Pool().get('ir.session')
        user = make_user('cap1')
        keys = []
        with Transaction().set_user(user.id):
            for i in range(4):
                keys.append(Session.new())
                session, = Session.search([('key', '=', keys[-1])])
                set_session_time(session.id,
                    create_date=dt.datetime.now() - dt.timedelta(
                        minutes=10 - i))
        remaining = {s.key for s in Session.search(
                    [('create_uid', '=', user.id)])}
        self.assertEqual(remaining, set(keys[1:]))
        self.assertEqual(events(user=user.id), ['session_evicted'])

    @with_transaction()
    def test_logout(self):
        "Logout deletes the session and is audited"
        Session = Pool().get('ir.session')
        user = make_user('out1')
        with Transaction().set_user(user.id):
            key = Session.new()
        self.assertEqual(Session.remove(key), 'out1')
        self.assertFalse(Session.search([('key', '=', key)]))
        self.assertEqual(events(user=user.id), ['logout'])

    @classmethod
    def setUpDatabase(cls):
        make_user('http1', password=PASSWORD)

    def _rpc(self, client, method, params, auth=None):
        headers = {'Authorization': auth} if auth else {}
        return client.post(f'/{DB_NAME}/rpc/', headers=headers,
            data=json.dumps({'id': 1, 'method': method, 'params': params}),
            content_type='application/json')

    def test_http_idle_timeout_and_logout(self):
        "Over JSON-RPC: idle session → 401; logout → old key 401"
        client = self.client()
        with no_sleep:
            response = self._rpc(client, 'common.db.login',
                ['http1', {'password': PASSWORD}, 'en'])
        self.assertEqual(response.status_code, 200)
        uid, token, _ = json.loads(response.data)['result']
        auth = 'Session ' + b64encode(
            f'http1:{uid}:{token}'.encode()).decode()
        response = self._rpc(
            client, 'model.res.user.get_preferences', [True, {}], auth)
        self.assertEqual(response.status_code, 200)
        self.assertEqual(response.headers['Cache-Control'], 'no-store')

        with Transaction().start(DB_NAME, 0) as transaction:
            Session = Pool().get('ir.session')
            session, = Session.search([('key', '=', token)])
            set_session_time(session.id,
                ct_last_activity=dt.datetime.now() - dt.timedelta(hours=1))
            transaction.commit()
        response = self._rpc(
            client, 'model.res.user.get_preferences', [True, {}], auth)
        self.assertEqual(response.status_code, 401)

        with no_sleep:
            response = self._rpc(client, 'common.db.login',
                ['http1', {'password': PASSWORD}, 'en'])
        uid, token, _ = json.loads(response.data)['result']
        auth = 'Session ' + b64encode(
            f'http1:{uid}:{token}'.encode()).decode()
        self.assertEqual(self._rpc(
                client, 'common.db.logout', [], auth).status_code, 200)
        self.assertEqual(self._rpc(
                client, 'model.res.user.get_preferences', [True, {}],
                auth).status_code, 401)
        with Transaction().start(DB_NAME, 0):
            self.assertEqual(events('http1')[-2:], ['login', 'logout'])
            self.assertIn('idle_timeout', events(user=uid))

    def test_security_headers(self):
        "Every response carries the security headers"
        client = self.client()
        for response in [
                client.get('/'),
                client.get('/no/such/route'),
                self._rpc(client, 'common.server.version', []),
                self._rpc(client, 'common.db.login',
                    ['nobody', {'password': 'x'}, 'en']),
                ]:
            headers = response.headers
            csp = headers['Content-Security-Policy']
            self.assertIn("frame-ancestors 'none'", csp)
            self.assertIn("object-src 'none'", csp)
            self.assertNotIn("'unsafe-inline'", csp.split('script-src')[1]
                .split(';')[0])
            self.assertEqual(headers['X-Content-Type-Options'], 'nosniff')
            self.assertEqual(headers['X-Frame-Options'], 'DENY')
            self.assertEqual(headers['Referrer-Policy'], 'no-referrer')
        for response in [
                self._rpc(client, 'common.server.version', []),
                client.post(f'/{DB_NAME}/session/login', data='{}',
                    content_type='application/json'),
                ]:
            self.assertEqual(response.headers['Cache-Control'], 'no-store')
        self.assertNotIn('Strict-Transport-Security', client.get('/').headers)
        self.assertIn('Strict-Transport-Security', client.get(
                '/', base_url='https://localhost/').headers)

    def test_headers_installed_once(self):
        "Re-importing routes does not stack the middleware"
        from trytond.modules.ct_security import routes
        from trytond.wsgi import app
        before = app.wsgi_app
        routes.install()
        self.assertIs(app.wsgi_app, before)
        self.assertTrue(app.wsgi_app.ct_security_headers)


del RouteTestCase
assert backend
