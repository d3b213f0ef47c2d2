"""Test helpers shared by the ct_* modules."""
import base64
import doctest
import glob
import io
import json
import os
import unittest

from trytond import backend
from trytond.tests.test_tryton import (
    DB_NAME,
    doctest_checker,
    doctest_setup,
    doctest_teardown,
)
from trytond.transaction import Transaction

OPTIONFLAGS = (doctest.REPORT_ONLY_FIRST_FAILURE | doctest.ELLIPSIS
    | doctest.IGNORE_EXCEPTION_DETAIL)


def release_test_database():
    """Close the connections left to the test database (PostgreSQL)

    A scenario starts by dropping the test database and creating it again
    from the cached template; an idle connection kept by an earlier test
    (a pooled one, a job's or a route's) makes the DROP fail with
    "database is being accessed by other users".
    """
    if backend.name != 'postgresql':
        return
    backend.Database(DB_NAME).close()
    with Transaction().start(
            None, 0, close=True, autocommit=True) as transaction:
        cursor = transaction.connection.cursor()
        cursor.execute(
            'SELECT pg_terminate_backend(pid) FROM pg_stat_activity '
            'WHERE datname = %s AND pid <> pg_backend_pid()', (DB_NAME,))


def scenario_test_case(package, path):
    """Return a TestCase with one test per ``scenario_*.rst`` beside path.

    pytest ignores the ``load_tests`` protocol that Tryton uses for its
    doctest scenarios and would silently skip them; these tests run each
    scenario as a doctest suite and fail on any failure, or when the
    scenario ran nothing.
    """
    directory = os.path.dirname(path)
    scenarios = sorted(
        os.path.basename(p)
        for p in glob.glob(os.path.join(directory, 'scenario_*.rst')))
    if not scenarios:
        raise RuntimeError(f"no scenario_*.rst in {directory}")

    def make_test(scenario):
        def test(self):
            release_test_database()
            suite = doctest.DocFileSuite(
                scenario, package=package,
                setUp=doctest_setup, tearDown=doctest_teardown,
                encoding='utf-8', checker=doctest_checker,
                optionflags=OPTIONFLAGS)
            stream = io.StringIO()
            result = unittest.TextTestRunner(
                stream=stream, verbosity=0).run(suite)
            if not result.testsRun:
                self.fail(f"{scenario} ran no test")
            if not result.wasSuccessful():
                self.fail(stream.getvalue())
        test.__name__ = 'test_' + scenario[:-len('.rst')]
        test.__doc__ = f"Scenario {scenario}"
        return test

    attrs = {make_test(s).__name__: make_test(s) for s in scenarios}
    return type('ScenarioTestCase', (unittest.TestCase,), attrs)


class JSONRPCMixin:
    """JSON-RPC calls through the WSGI application for RouteTestCase
    subclasses; ``PASSWORD`` is the password of their test users."""
    PASSWORD = None

    def rpc(self, client, method, params, session=None, status=200):
        headers = {'Content-Type': 'application/json'}
        if session:
            login, user_id, key = session
            token = base64.b64encode(
                f'{login}:{user_id}:{key}'.encode()).decode()
            headers['Authorization'] = f'Session {token}'
        response = client.post(
            f'/{self.db_name}/rpc/', headers=headers,
            data=json.dumps({'id': 1, 'method': method, 'params': params}))
        self.assertEqual(response.status_code, status, response.data)
        if status == 200:
            return json.loads(response.data)

    def login(self, client, login):
        "Return the session (login, user id, key) of login"
        result = self.rpc(client, 'common.db.login',
            [login, {'password': self.PASSWORD}, 'en'])
        self.assertNotIn('error', result, result)
        user_id, key = result['result'][:2]
        return (login, user_id, key)
