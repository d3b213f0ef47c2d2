"""ct.job: progress, completion, failure, cancel, access (SQLite and PostgreSQL)

Job code commits in transactions of its own (on PostgreSQL: other
connections), so each test commits its set-up and reads results in a new
transaction.
"""
import csv
import io
import json
import unittest
from unittest.mock import patch

from trytond.i18n import gettext
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.exceptions import JobError
from trytond.modules.ct_base.job import JobProgress
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction


def fetch(model, ids, names):
    "Read committed values, as another session would"
    with Transaction().new_transaction():
        return Pool().get(model).read(ids, names)


def make_institutions(count, prefix):
    Institution = Pool().get('ct.institution')
    return Institution.create([{
                'name': f'{prefix} {i}', 'code': f'{prefix}-{i}',
                'kind': 'clinical'} for i in range(count)])


def make_user(login, group_xml_id=None):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    values = {'name': login, 'login': login}
    if group_xml_id:
        values['groups'] = [('add', [ModelData.get_id(*group_xml_id)])]
    user, = User.create([values])
    return user


class JobTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_base')

    @with_transaction()
    def test_progress_visible_and_done(self):
        "Progress is committed while the job runs and the job completes"
        pool = Pool()
        Job = pool.get('ct.job')
        institutions = make_institutions(4, 'PRG')
        seen = []

        def probe(cls, records, progress):
            for i, _ in enumerate(records, 1):
                progress.update(i, len(records), f'step {i}', force=True)
                # another session reads the job meanwhile
                seen.append(fetch(
                        'ct.job', [progress.job_id],
                        ['state', 'progress', 'message', 'progress_bar'])[0])
            return ('probe.txt', b'ok')

        with patch.object(Job, 'probe', classmethod(probe), create=True):
            job = Job.launch(
                'recount_institutions', "Probe", 'ct.job|probe',
                institutions)
            Transaction().commit()
            self.assertEqual(fetch('ct.job', [job.id], ['state'])[0]['state'],
                'queued')
            Job.run([job])

        self.assertEqual([s['state'] for s in seen], ['running'] * 4)
        self.assertEqual([s['progress'] for s in seen],
            [25.0, 50.0, 75.0, 100.0])
        self.assertEqual(seen[1]['message'], 'step 2')
        self.assertAlmostEqual(seen[1]['progress_bar'], 0.5)
        values, = fetch('ct.job', [job.id], [
                'state', 'progress', 'result', 'result_name', 'started',
                'finished', 'attempts', 'error', 'user'])
        self.assertEqual(values['state'], 'done')
        self.assertEqual(values['progress'], 100.0)
        self.assertEqual(values['result_name'], 'probe.txt')
        self.assertEqual(bytes(values['result']), b'ok')
        self.assertTrue(values['started'] and values['finished'])
        self.assertEqual(values['attempts'], 1)
        self.assertIsNone(values['error'])
        self.assertEqual(values['user'], Transaction().user)

        Notification = pool.get('res.notification')
        with Transaction().new_transaction():
            notifications = Notification.search([
                    ('model', '=', 'ct.job'),
                    ('records', '=', json.dumps([job.id])),
                    ])
            self.assertEqual(len(notifications), 1)
            self.assertEqual(notifications[0].icon, 'tryton-info')
            self.assertEqual(notifications[0].user.id, Transaction().user)

    @with_transaction()
    def test_failure(self):
        "A failing job is marked failed with the message, notified, not rerun"
        pool = Pool()
        Job = pool.get('ct.job')
        Notification = pool.get('res.notification')
        calls = []

        def boom(cls, progress):
            calls.append(1)
            progress.update(1, 4, force=True)
            raise JobError(gettext('ct_base.msg_job_readonly'))

        with patch.object(Job, 'boom', classmethod(boom), create=True):
            job = Job.launch(
                'recount_institutions', "Boom", 'ct.job|boom', [])
            Transaction().commit()
            Job.run([job])  # must not raise: the worker would retry
            Job.run([job])  # a second run of the task does nothing

        self.assertEqual(len(calls), 1)
        values, = fetch('ct.job', [job.id],
            ['state', 'error', 'progress', 'attempts', 'finished'])
        self.assertEqual(values['state'], 'failed')
        self.assertEqual(values['error'], gettext('ct_base.msg_job_readonly'))
        self.assertEqual(values['progress'], 25.0)
        self.assertEqual(values['attempts'], 1)
        self.assertTrue(values['finished'])
        with Transaction().new_transaction():
            notification, = Notification.search([
                    ('model', '=', 'ct.job'),
                    ('records', '=', json.dumps([job.id])),
                    ])
            self.assertEqual(notification.icon, 'tryton-warning')
            self.assertIn('Boom', notification.label)

    @with_transaction()
    def test_unexpected_error(self):
        "A programming error fails the job with its type and text"
        Job = Pool().get('ct.job')

        def crash(cls, value, progress):
            raise ValueError(f'bad {value}')

        with patch.object(Job, 'crash', classmethod(crash), create=True):
            job = Job.launch(
                'recount_institutions', "Crash", 'ct.job|crash', [42])
            Transaction().commit()
            Job.run([job])
        values, = fetch('ct.job', [job.id], ['state', 'error'])
        self.assertEqual(values['state'], 'failed')
        self.assertIn('ValueError: bad 42', values['error'])

    @with_transaction()
    def test_demo_wizard_through_queue(self):
        "The recount wizard enqueues the demo job; the queue task runs it"
        pool = Pool()
        Job = pool.get('ct.job')
        Queue = pool.get('ir.queue')
        Recount = pool.get('ct.job.recount', type='wizard')
        make_institutions(5, 'WIZ')
        regulator = make_user('regulator_job', ('ct_base', 'group_regulator'))
        transaction = Transaction()
        transaction.tasks.clear()

        with transaction.set_user(regulator.id), \
                transaction.set_context(_check_access=True):
            session_id, _, _ = Recount.create()
            action = Recount.execute(session_id, {
                    'start': {'chunk_size': 2, 'delay': 0},
                    }, 'launch')
            Recount.delete(session_id)
        job_id = action['actions'][0][0]['res_id'][0]
        task_ids = list(transaction.tasks)
        self.assertEqual(len(task_ids), 1)
        transaction.commit()

        with patch.object(JobProgress, 'update',
                autospec=True, side_effect=JobProgress.update) as update:
            Queue(task_ids[0]).run()
        # 0, then after each chunk of 2: 2, 4, 5 (at least)
        dones = [c.args[1] for c in update.call_args_list]
        self.assertEqual(dones[0], 0)
        self.assertEqual(dones[-1], dones[-2] + 1)

        values, = fetch('ct.job', [job_id],
            ['state', 'result', 'result_name', 'message', 'kind'])
        self.assertEqual(values['state'], 'done')
        self.assertEqual(values['kind'], 'recount_institutions')
        self.assertEqual(values['result_name'], 'institution_statistics.csv')
        rows = list(csv.reader(io.StringIO(
                    bytes(values['result']).decode('utf-8-sig'))))
        self.assertEqual(rows[0][0], 'code')
        self.assertTrue({'WIZ-0', 'WIZ-4'} <= {r[0] for r in rows[1:]})
        total = len(rows) - 1
        self.assertIn(f'{total}', values['message'])
        self.assertEqual(Job(job_id).user, regulator)

    @with_transaction()
    def test_cancel_queued(self):
        "A queued job can be cancelled and is then not run"
        Job = Pool().get('ct.job')
        calls = []

        def work(cls, progress):
            calls.append(1)

        with patch.object(Job, 'work', classmethod(work), create=True):
            job = Job.launch(
                'recount_institutions', "Work", 'ct.job|work', [])
            with Transaction().set_context(_check_access=True):
                Job.cancel([job])
            Transaction().commit()
            Job.run([job])
            self.assertEqual(calls, [])
            values, = fetch('ct.job', [job.id], ['state'])
            self.assertEqual(values['state'], 'cancelled')
            with self.assertRaises(JobError):
                Job.cancel([Job(job.id)])

    @with_transaction()
    def test_own_jobs_only(self):
        "A user reads only their own jobs; nobody else, admin included"
        pool = Pool()
        Job = pool.get('ct.job')
        institutions = make_institutions(2, 'ACL')
        alice = make_user('alice_job', ('ct_base', 'group_institution'))
        bob = make_user('bob_job', ('ct_base', 'group_institution'))
        transaction = Transaction()

        def noop(cls, records, progress):
            pass

        with patch.object(Job, 'noop', classmethod(noop), create=True):
            with transaction.set_user(alice.id):
                job = Job.launch(
                    'recount_institutions', "Alice's", 'ct.job|noop',
                    institutions[:1])
        self.assertEqual(job.user, alice)

        with transaction.set_user(alice.id), \
                transaction.set_context(_check_access=True):
            self.assertEqual(Job.search([('id', '=', job.id)]), [job])
            self.assertEqual(Job.read([job.id], ['name'])[0]['name'],
                "Alice's")
            # users cannot forge a job
            with self.assertRaises(AccessError):
                Job.create([{'name': 'x', 'kind': 'recount_institutions',
                            'method': 'ct.job|noop'}])
            with self.assertRaises(AccessError):
                Job.write([job], {'name': 'changed'})

        for other in [bob.id, 1]:
            with transaction.set_user(other), \
                    transaction.set_context(_check_access=True):
                self.assertEqual(Job.search([('id', '=', job.id)]), [])
                if other == bob.id:
                    self.assertEqual(Job.search_count([]), 0)
                with self.assertRaises(AccessError):
                    Job.read([job.id], ['name'])
                with self.assertRaises(AccessError):
                    Job.cancel([Job(job.id)])

    @with_transaction()
    def test_launch_unknown_method(self):
        Job = Pool().get('ct.job')
        with self.assertRaises(ValueError):
            Job.launch('recount_institutions', "x", 'ct.job|nope', [])

