"""ct.outbox: transactional enqueue, delivery, backoff, dead letters, simulator

Delivery commits in transactions of its own (on PostgreSQL: other
connections), so tests commit their set-up and read in a new transaction.
"""
import datetime
import json
import socket
import time
import unittest

import requests
import trytond.config as config
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.outbox import (
    DeliveryError,
    HttpAdapter,
    register_adapter,
    unregister_adapter,
)
from trytond.modules.ct_base.simulator import Simulator
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

SETTINGS = {
    'max_attempts': '3',
    'backoff_base': '60',
    'backoff_max': '600',
    'timeout': '1',
    }


def fetch(ids, names=('state', 'attempts', 'next_attempt', 'last_error',
            'sent_at', 'response')):
    "Read committed values, as another session would"
    with Transaction().new_transaction():
        return Pool().get('ct.outbox').read(ids, list(names))


def make_due(ids):
    with Transaction().new_transaction():
        Outbox = Pool().get('ct.outbox')
        Outbox.write(Outbox.browse(ids), {
                'next_attempt': datetime.datetime.now()
                - datetime.timedelta(seconds=1)})


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


class OutboxTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_base')
        if not config.has_section('ct_outbox'):
            config.add_section('ct_outbox')
        for option, value in SETTINGS.items():
            config.set('ct_outbox', option, value)

    @classmethod
    def tearDownClass(cls):
        config.remove_section('ct_outbox')
        config._cache_clear()
        super().tearDownClass()

    def setUp(self):
        self.sent = []

        def ok(message):
            self.sent.append(message.payload_data)
            return {'received': message.idempotency_key}

        def down(message):
            raise ConnectionError("system down")

        register_adapter('test_ok', ok)
        register_adapter('test_down', down)
        self.addCleanup(unregister_adapter, 'test_ok')
        self.addCleanup(unregister_adapter, 'test_down')

    @with_transaction()
    def test_enqueue_idempotent(self):
        "Enqueueing the same key twice returns the existing message"
        Outbox = Pool().get('ct.outbox')
        first = Outbox.enqueue('test_ok', 'plan.push', {'plan': 1, 'x': '检'},
            'idem-1')
        again = Outbox.enqueue('test_ok', 'plan.push', {'plan': 2}, 'idem-1')
        self.assertEqual(first, again)
        self.assertEqual(
            Outbox.search_count([('idempotency_key', '=', 'idem-1')]), 1)
        self.assertEqual(first.state, 'pending')
        self.assertEqual(first.attempts, 0)
        self.assertEqual(json.loads(first.payload), {'plan': 1, 'x': '检'})

    @with_transaction()
    def test_rollback_removes_message(self):
        "The message lives and dies with the business transaction"
        pool = Pool()
        Party = pool.get('party.party')
        Outbox = pool.get('ct.outbox')
        party, = Party.create([{'name': 'Rolled back'}])
        Outbox.enqueue('test_ok', 'party.created', {'party': party.id},
            'rollback-1')
        Transaction().rollback()
        self.assertEqual(
            Outbox.search([('idempotency_key', '=', 'rollback-1')]), [])
        self.assertEqual(Party.search([('name', '=', 'Rolled back')]), [])

    @with_transaction()
    def test_enqueue_as_restricted_user(self):
        "A user without outbox access still enqueues with the business change"
        pool = Pool()
        Outbox = pool.get('ct.outbox')
        User = pool.get('res.user')
        user, = User.create([{'name': 'plain', 'login': 'plain_outbox'}])
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            message = Outbox.enqueue('test_ok', 'x', {}, 'restricted-1')
            with self.assertRaises(AccessError):
                Outbox.read([message.id], ['payload'])
        self.assertEqual(message.state, 'pending')

    @with_transaction()
    def test_delivery_success(self):
        Outbox = Pool().get('ct.outbox')
        message = Outbox.enqueue('test_ok', 'plan.push', {'plan': 7}, 'ok-1')
        Transaction().commit()
        self.assertEqual(Outbox.deliver(), 1)
        values, = fetch([message.id])
        self.assertEqual(values['state'], 'sent')
        self.assertEqual(values['attempts'], 1)
        self.assertTrue(values['sent_at'])
        self.assertIsNone(values['next_attempt'])
        self.assertEqual(json.loads(values['response']), {'received': 'ok-1'})
        self.assertEqual(self.sent, [{'plan': 7}])
        # sent messages are not sent again
        self.assertEqual(Outbox.deliver(), 0)
        self.assertEqual(len(self.sent), 1)

    @with_transaction()
    def test_failure_backoff(self):
        "A failure records the error, counts the attempt and backs off"
        Outbox = Pool().get('ct.outbox')
        message = Outbox.enqueue('test_down', 'x', {}, 'backoff-1')
        Transaction().commit()
        before = datetime.datetime.now()
        Outbox.deliver([message])
        values, = fetch([message.id])
        self.assertEqual(values['state'], 'failed')
        self.assertEqual(values['attempts'], 1)
        self.assertIn('system down', values['last_error'])
        delay = values['next_attempt'] - before
        self.assertTrue(
            datetime.timedelta(seconds=59) < delay
            < datetime.timedelta(seconds=62), delay)

        # not due yet: nothing happens
        Outbox.deliver()
        self.assertEqual(fetch([message.id])[0]['attempts'], 1)

        make_due([message.id])
        before = datetime.datetime.now()
        Outbox.deliver([message])
        values, = fetch([message.id])
        self.assertEqual(values['attempts'], 2)
        delay = values['next_attempt'] - before
        self.assertTrue(
            datetime.timedelta(seconds=119) < delay
            < datetime.timedelta(seconds=122), delay)
        self.assertEqual(Outbox.backoff(10), datetime.timedelta(seconds=600))

    @with_transaction()
    def test_dead_after_max_attempts(self):
        Outbox = Pool().get('ct.outbox')
        message = Outbox.enqueue('test_down', 'x', {}, 'dead-1')
        Transaction().commit()
        for attempt in range(1, 4):
            make_due([message.id])
            Outbox.deliver([message])
            values, = fetch([message.id])
            self.assertEqual(values['attempts'], attempt)
        self.assertEqual(values['state'], 'dead')
        self.assertIsNone(values['next_attempt'])
        make_due([message.id])
        Outbox.deliver([message])
        self.assertEqual(fetch([message.id])[0]['attempts'], 3)

        # an administrator can send it again
        with Transaction().new_transaction():
            Outbox.retry([Outbox(message.id)])
        values, = fetch([message.id])
        self.assertEqual((values['state'], values['attempts']), ('pending', 0))

    @with_transaction()
    def test_no_adapter(self):
        "An unknown system is kept and retried, not lost"
        Outbox = Pool().get('ct.outbox')
        message = Outbox.enqueue('nowhere', 'x', {}, 'noadapter-1')
        Transaction().commit()
        Outbox.deliver([message])
        values, = fetch([message.id])
        self.assertEqual(values['state'], 'failed')
        self.assertIn('nowhere', values['last_error'])

    @with_transaction()
    def test_simulator_dedup(self):
        "The HTTP adapter sends the key; the simulator replays a repeated key"
        Outbox = Pool().get('ct.outbox')
        with Simulator() as sim:
            config.set('ct_outbox', 'sim_url', sim.url)
            self.addCleanup(config.set, 'ct_outbox', 'sim_url', '')
            message = Outbox.enqueue(
                'sim', 'report.push', {'report': 'R1'}, 'sim-dedup-1')
            Transaction().commit()
            self.assertEqual(Outbox.deliver([message]), 1)
            values, = fetch([message.id])
            self.assertEqual(values['state'], 'sent')
            first = json.loads(values['response'])
            self.assertEqual(first['status'], 'accepted')

            # a retry after a lost answer gets the same answer, once applied
            adapter = HttpAdapter('sim')
            self.assertEqual(json.loads(adapter(Outbox(message.id))), first)
            response = requests.post(sim.url + '/report.push', json={},
                headers={'Idempotency-Key': 'sim-dedup-1'}, timeout=5)
            self.assertEqual(response.json(), first)
            self.assertEqual(response.headers['Idempotent-Replayed'], 'true')
            self.assertEqual(len(sim.messages), 1)
            self.assertEqual(sim.messages[0]['payload'], {'report': 'R1'})
            self.assertEqual(sim.messages[0]['key'], 'sim-dedup-1')
            self.assertEqual(len(sim.calls), 3)

            # the simulator's HTTP contract
            listing = requests.get(sim.url + '/_messages', timeout=5).json()
            self.assertEqual(len(listing['messages']), 1)
            self.assertEqual(requests.post(sim.url + '/x', json={},
                    timeout=5).status_code, 400)

    @with_transaction()
    def test_simulator_fail_then_succeed(self):
        "Failures N times, then a timeout, then success: delivered once"
        Outbox = Pool().get('ct.outbox')
        with Simulator() as sim:
            config.set('ct_outbox', 'sim_url', sim.url)
            self.addCleanup(config.set, 'ct_outbox', 'sim_url', '')
            sim.timeout_next(1, seconds=2)
            message = Outbox.enqueue('sim', 'plan.push', {'n': 1}, 'sim-f-1')
            Transaction().commit()

            Outbox.deliver([message])  # stalled: client timeout (1 s)
            values, = fetch([message.id])
            self.assertEqual(values['state'], 'failed')
            self.assertIn('Timeout', values['last_error'])

            time.sleep(1.5)  # the stalled call ends, processed late
            make_due([message.id])
            Outbox.deliver([message])  # the retry gets the replay
            values, = fetch([message.id])
            self.assertEqual(values['state'], 'sent')
            self.assertEqual(values['attempts'], 2)
            self.assertEqual(len(sim.messages), 1)

            message2 = Outbox.enqueue('sim', 'plan.push', {'n': 2}, 'sim-f-2')
            Transaction().commit()
            requests.post(sim.url + '/_control/fail',
                json={'count': 2, 'status': 503}, timeout=5)
            Outbox.deliver([message2])
            values, = fetch([message2.id])
            self.assertEqual(values['state'], 'failed')
            self.assertIn('HTTP 503', values['last_error'])
            make_due([message2.id])
            Outbox.deliver([message2])
            values, = fetch([message2.id])
            self.assertEqual(values['state'], 'failed')
            make_due([message2.id])
            Outbox.deliver([message2])
            values, = fetch([message2.id])
            self.assertEqual(values['state'], 'sent')
            self.assertEqual(values['attempts'], 3)
            self.assertEqual(len(sim.messages), 2)

    @with_transaction()
    def test_simulator_refusal_is_dead(self):
        "A 4xx refusal is permanent: dead at once"
        Outbox = Pool().get('ct.outbox')
        with Simulator() as sim:
            config.set('ct_outbox', 'sim_url', sim.url)
            self.addCleanup(config.set, 'ct_outbox', 'sim_url', '')
            sim.fail_next(1, status=422)
            message = Outbox.enqueue('sim', 'plan.push', {}, 'sim-422')
            Transaction().commit()
            Outbox.deliver([message])
            values, = fetch([message.id])
            self.assertEqual(values['state'], 'dead')
            self.assertEqual(values['attempts'], 1)
            self.assertIn('HTTP 422', values['last_error'])

    @with_transaction()
    def test_simulator_down_not_lost(self):
        "Connection refused: failed, retried later, delivered once up"
        Outbox = Pool().get('ct.outbox')
        port = free_port()
        config.set('ct_outbox', 'sim_url', f'http://127.0.0.1:{port}')
        self.addCleanup(config.set, 'ct_outbox', 'sim_url', '')
        message = Outbox.enqueue('sim', 'plan.push', {'p': 1}, 'sim-down-1')
        Transaction().commit()

        Outbox.deliver()
        values, = fetch([message.id])
        self.assertEqual(values['state'], 'failed')
        self.assertEqual(values['attempts'], 1)
        self.assertIn('ConnectionError', values['last_error'])

        with Simulator(port=port) as sim:
            Outbox.deliver()  # not due yet
            self.assertEqual(sim.messages, [])
            make_due([message.id])
            Outbox.deliver()
            values, = fetch([message.id])
            self.assertEqual(values['state'], 'sent')
            self.assertEqual(values['attempts'], 2)
            self.assertEqual(
                [m['payload'] for m in sim.messages], [{'p': 1}])

    def test_delivery_error_flags(self):
        error = DeliveryError('x', permanent=True, response='r')
        self.assertTrue(error.permanent)
        self.assertEqual(error.response, 'r')
