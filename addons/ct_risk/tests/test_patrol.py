"""Patrols: idempotent signal sync, auto-disposal, run records and their
anomalies, the schedule and the background job."""
import datetime as dt
import time
import unittest
from contextlib import contextmanager
from unittest.mock import patch

from trytond.pool import Pool
from trytond.tests.test_tryton import with_transaction
from trytond.transaction import Transaction

from .test_monitors import RiskDataMixin
from .test_rule import make_user


class FakeProgress:
    "Stands for ct.job's JobProgress without committing"

    def __init__(self):
        self.job_id = None
        self.updates = []

    def update(self, done, total=None, message=None, force=False):
        self.updates.append((done, total))

    @contextmanager
    def chunk(self, done, total=None, message=None):
        yield Transaction()
        self.updates.append((done, total))


class PatrolTestCase(RiskDataMixin, unittest.TestCase):
    "Patrols and their runs"

    def overdue(self, institution, days=10):
        inspection = self.inspection(institution, defects=[('major', None)])
        self.set_rectification(inspection, state='plan_submitted',
            report_due=self.days_ago(days))
        return inspection

    @with_transaction()
    def test_idempotent(self):
        "A patrol that finds the same conditions raises no duplicate"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        a = self.institution("甲医院")
        self.overdue(a, 10)
        self.overdue(a, 40)
        rule = self.rule('rectification_overdue')

        first = self.patrol(rule)
        second = self.patrol(rule)
        third = self.patrol(rule)

        self.assertEqual((first.raised, first.refreshed), (2, 0))
        self.assertEqual((second.raised, second.refreshed), (0, 2))
        self.assertEqual((third.raised, third.refreshed), (0, 2))
        signals = Signal.search([('rule', '=', rule.id)])
        self.assertEqual(len(signals), 2)
        self.assertEqual({s.seen_count for s in signals}, {3})
        self.assertTrue(all(s.last_seen >= s.first_seen for s in signals))

    @with_transaction()
    def test_auto_dispose_and_reopen(self):
        "Fixed data closes the signal; a relapse reopens it"
        a = self.institution("甲医院")
        inspection = self.overdue(a)
        rule = self.rule('rectification_overdue')
        self.patrol(rule)
        signal, = self.signals(rule)

        self.set_rectification(inspection, state='report_submitted')
        run = self.patrol(rule)
        self.assertEqual(run.closed, 1)
        self.assertEqual(self.signals(rule, states=['auto_closed']),
            [signal])
        actions = [a.action for a in signal.actions]
        self.assertEqual(actions, ['raise', 'auto_close'])
        self.assertEqual(signal.actions[-1].run, run)

        # the report is returned: the same signal comes back
        self.set_rectification(inspection, state='returned')
        run = self.patrol(rule)
        self.assertEqual((run.raised, run.reopened), (0, 1))
        self.assertEqual(self.signals(rule), [signal])

    @with_transaction()
    def test_no_auto_dispose(self):
        "Without auto-dispose the signals stay open for a person to close"
        a = self.institution("甲医院")
        inspection = self.overdue(a)
        rule = self.rule('rectification_overdue', auto_dispose=False)
        self.patrol(rule)
        self.set_rectification(inspection, state='report_submitted')
        run = self.patrol(rule)
        self.assertEqual(run.closed, 0)
        self.assertEqual(len(self.signals(rule)), 1)

    @with_transaction()
    def test_closed_by_a_person_stays_closed(self):
        "A signal disposed of by a regulator is not raised again"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Rule = pool.get('ct.risk.rule')
        a = self.institution("甲医院")
        self.overdue(a)
        rule = self.rule('rectification_overdue')
        self.patrol(rule)
        signal, = self.signals(rule)
        regulator = make_user('regulator', 'ct_base.group_regulator')
        with Transaction().set_user(regulator.id):
            Signal.apply_action([signal], 'dispose', {'reason': "已处理"})
        run = self.patrol(rule)
        self.assertEqual((run.raised, run.refreshed), (0, 0))
        self.assertEqual(Signal(signal.id).state, 'closed')
        row, = Rule.preview([rule])
        self.assertEqual(row['status'], 'closed')

    @with_transaction()
    def test_run_record(self):
        "A run records its counts, times and a searchable log"
        pool = Pool()
        Run = pool.get('ct.risk.run')
        a = self.institution("甲医院")
        self.overdue(a)
        rule = self.rule('rectification_overdue')
        before = dt.datetime.now()

        run = self.patrol(rule)

        self.assertEqual(run.state, 'done')
        self.assertEqual(run.trigger, 'manual')
        self.assertEqual(run.monitor, 'rectification_overdue')
        self.assertTrue(
            before.replace(microsecond=0) <= run.started <= run.finished)
        self.assertGreaterEqual(run.duration, 0)
        self.assertEqual((run.scanned, run.found, run.raised, run.errors),
            (1, 1, 1, 0))
        self.assertFalse(run.anomaly)
        self.assertIn(rule.code, run.log)
        self.assertEqual(Run.search([('log', 'ilike', f'%{rule.code}%')]),
            [run])
        self.assertEqual(rule.last_run, run)
        self.assertFalse(rule.anomaly)
        # the next patrol is one interval later
        self.assertEqual(rule.next_patrol,
            run.started + dt.timedelta(days=1))

    @with_transaction()
    def test_failing_monitor(self):
        """A failing monitor fails its run, flags it, notifies the managers
        and changes no signal"""
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Rule = pool.get('ct.risk.rule')
        make_user('manager', 'ct_risk.group_risk_manager')
        a = self.institution("甲医院")
        self.overdue(a)
        rule = self.rule('rectification_overdue')
        from trytond.modules.ct_risk.monitor.rectification_overdue import (
            RectificationOverdueMonitor,
        )

        def broken(self, rule):
            raise ZeroDivisionError("boom")
        with patch.object(RectificationOverdueMonitor, 'findings', broken):
            run = self.patrol(rule)
        self.assertEqual(run.state, 'failed')
        self.assertTrue(run.anomaly)
        self.assertEqual(list(run.anomalies), ['failed'])
        self.assertEqual(run.errors, 1)
        self.assertIn('boom', run.log)
        self.assertTrue(Rule(rule.id).anomaly)
        notifications = Transaction().user_notifications
        self.assertTrue(any(rule.code in str(n.label)
                for n in notifications))

        # a failure while writing signals rolls their changes back
        original = Signal.sync_findings.__func__

        def half_done(cls, rule, findings, run=None, close_missing=None):
            original(cls, rule, findings, run=run,
                close_missing=close_missing)
            raise ValueError("disk full")
        with patch.object(Signal, 'sync_findings', classmethod(half_done)):
            run = self.patrol(rule)
        self.assertEqual(run.state, 'failed')
        self.assertFalse(Signal.search([('rule', '=', rule.id)]))
        # and the next patrol works
        run = self.patrol(rule)
        self.assertEqual((run.state, run.raised), ('done', 1))
        self.assertFalse(run.anomaly)

    @with_transaction()
    def test_data_error(self):
        "Data errors met by the monitor are counted and flagged"
        a = self.institution("甲医院")
        b = self.institution("乙医院")
        pi = self.investigator(a, "张三", id_number='310101198001011234')
        self.investigator(b, "张三", id_number='310101198001011234')
        self.trials(pi, 3)
        # a tampered envelope (copied from another record) cannot decrypt
        Investigator = Pool().get('ct.investigator')
        table = Investigator.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(table.id_number_cipher,
                where=table.id == pi.id))
        envelope, = cursor.fetchone()
        other = self.investigator(b, "张三")
        cursor.execute(*table.update([table.id_number_cipher], [envelope],
                where=table.id == other.id))
        rule = self.rule('pi_overload', {'max_trials': 2})

        run = self.patrol(rule)

        self.assertEqual(run.state, 'done')
        self.assertTrue(run.anomaly)
        self.assertEqual(list(run.anomalies), ['data_error'])
        self.assertEqual(run.errors, 1)
        self.assertIn(str(other.id), run.log)
        # the findings are still raised
        self.assertIn(f'overload:{pi.id}', self.fingerprints(rule))

    @with_transaction()
    def test_slow_run(self):
        "A run far longer than the rule's usual ones is flagged"
        pool = Pool()
        Run = pool.get('ct.risk.run')
        rule = self.rule('evaluation')
        for _ in range(3):
            self.patrol(rule)
        Run.write(Run.search([('rule', '=', rule.id)]), {'duration': 0.01})
        from trytond.modules.ct_risk import run as run_module
        from trytond.modules.ct_risk.monitor.evaluation import (
            EvaluationMonitor,
        )
        original = EvaluationMonitor.findings

        def slow(self, rule):
            time.sleep(0.1)
            return original(self, rule)
        with patch.object(run_module, 'SLOW_MIN_SECONDS', 0.05), \
                patch.object(EvaluationMonitor, 'findings', slow):
            run = self.patrol(rule)
        self.assertEqual(run.state, 'done')
        self.assertEqual(list(run.anomalies), ['slow'])
        self.assertIn('0.010', run.log)

        # not with too few previous runs
        other = self.rule('evaluation')
        with patch.object(run_module, 'SLOW_MIN_SECONDS', 0.05), \
                patch.object(EvaluationMonitor, 'findings', slow):
            run = self.patrol(other)
        self.assertFalse(run.anomaly)

    @with_transaction()
    def test_schedule(self):
        "The cron patrols the running rules that are due, then waits"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Cron = pool.get('ir.cron')
        a = self.institution("甲医院")
        self.overdue(a)
        hourly = self.rule('rectification_overdue', interval_type='hours')
        draft = self.rule('rectification_overdue', start=False)
        self.assertIn(('ct.risk.rule|patrol_due', 'Patrol Due Risk Rules'),
            Cron.fields_get(['method'])['method']['selection'])

        runs = Rule.patrol_due()
        patrolled = {r.rule for r in runs}
        self.assertIn(hourly, patrolled)
        self.assertNotIn(draft, patrolled)
        self.assertEqual({r.trigger for r in runs}, {'cron'})
        run, = [r for r in runs if r.rule == hourly]
        self.assertEqual(Rule(hourly.id).next_patrol,
            run.started + dt.timedelta(hours=1))
        # nothing is due a second time
        self.assertEqual(Rule.patrol_due(), [])
        # once due again, it is patrolled again
        Rule.write([hourly], {
                'next_patrol': dt.datetime.now() - dt.timedelta(minutes=1)})
        self.assertEqual([r.rule for r in Rule.patrol_due()], [hourly])

    @with_transaction()
    def test_job(self):
        "The button launches a background job that patrols with progress"
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Job = pool.get('ct.job')
        a = self.institution("甲医院")
        self.overdue(a)
        rule = self.rule('rectification_overdue')
        stopped = self.rule('evaluation')
        manager = make_user('manager', 'ct_risk.group_risk_manager',
            'ct_base.group_regulator')

        with Transaction().set_user(manager.id), \
                Transaction().set_context(_check_access=True):
            action = Rule.launch_patrol([Rule(rule.id)])
        job, = Job.browse(action['res_id'])
        self.assertEqual(job.kind, 'risk_patrol')
        self.assertEqual(job.method, 'ct.risk.rule|run_job')
        self.assertEqual(action['res_model'], 'ct.job')

        # what the job runs (its transactions are the job's business)
        Rule.stop([stopped])
        progress = FakeProgress()
        run = Rule.run_job(Rule.browse([rule.id, stopped.id]),
            progress=progress)
        self.assertIsNone(run)
        self.assertEqual(progress.updates[-1], (2, 2))
        self.assertEqual(len(self.signals(rule)), 1)
        self.assertFalse(stopped.runs)
        run = Rule.run_job([rule], progress=FakeProgress())
        self.assertEqual(run.trigger, 'job')
        self.assertEqual(run.refreshed, 1)
