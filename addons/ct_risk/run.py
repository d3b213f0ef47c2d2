"""Patrol runs (模型运行): one row per patrol of a rule, with its counts, its
log and the anomalies managers must look at."""
import datetime
import logging
import statistics
import time
import traceback
from contextlib import contextmanager

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction, without_check_access

logger = logging.getLogger(__name__)

ANOMALIES = [
    ('failed', "Monitor Failed"),
    ('data_error', "Data Error"),
    ('slow', "Unusually Slow"),
    ]
TRIGGERS = [
    ('manual', "On Demand"),
    ('job', "Background Job"),
    ('cron', "Schedule"),
    ]
# A run is slow when it takes more than SLOW_FACTOR times the median of the
# rule's previous runs (at least SLOW_MIN_RUNS of them) and SLOW_MIN_SECONDS.
SLOW_FACTOR = 3
SLOW_MIN_RUNS = 3
SLOW_HISTORY = 20
SLOW_MIN_SECONDS = 1.0


@contextmanager
def savepoint(name='ct_risk_patrol'):
    """Undo the block's writes when it raises, keeping the rest of the
    transaction (the run row written before it)."""
    transaction = Transaction()
    cursor = transaction.connection.cursor()
    cursor.execute(f'SAVEPOINT {name}')
    try:
        yield
    except Exception:
        cursor.execute(f'ROLLBACK TO SAVEPOINT {name}')
        # Records read or written inside the block may be cached.
        for cache in transaction.cache.values():
            cache.clear()
        raise
    else:
        cursor.execute(f'RELEASE SAVEPOINT {name}')


class Run(ModelSQL, ModelView):
    "A patrol of one risk rule"
    __name__ = 'ct.risk.run'
    __string__ = "Patrol Run"

    rule = fields.Many2One(
        'ct.risk.rule', "Rule", required=True, readonly=True,
        ondelete='CASCADE')
    monitor = fields.Char("Monitor", readonly=True)
    trigger = fields.Selection(TRIGGERS, "Trigger", readonly=True)
    user = fields.Many2One('res.user', "User", readonly=True)
    job = fields.Many2One('ct.job', "Background Job", readonly=True,
        ondelete='SET NULL')
    started = fields.DateTime("Started", readonly=True)
    finished = fields.DateTime("Finished", readonly=True)
    duration = fields.Float("Duration (s)", digits=(16, 3), readonly=True)
    state = fields.Selection([
            ('running', "Running"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", required=True, readonly=True, sort=False)
    scanned = fields.Integer("Records Scanned", readonly=True)
    found = fields.Integer("Conditions Found", readonly=True)
    raised = fields.Integer("Raised", readonly=True)
    refreshed = fields.Integer("Refreshed", readonly=True)
    reopened = fields.Integer("Reopened", readonly=True)
    closed = fields.Integer("Auto-closed", readonly=True)
    errors = fields.Integer("Errors", readonly=True)
    log = fields.Text("Log", readonly=True)
    anomaly = fields.Boolean("Anomaly", readonly=True)
    anomalies = fields.MultiSelection(ANOMALIES, "Anomalies", readonly=True,
        sort=False)
    actions = fields.One2Many('ct.risk.signal.action', 'run',
        "Signal Actions", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.rule, Index.Equality()), (t.id, Index.Range())),
                Index(t, (t.started, Index.Range())),
                Index(t, (t.anomaly, Index.Equality(cardinality='low')),
                    where=t.anomaly == True),  # noqa: E712
                })
        cls._order = [('started', 'DESC'), ('id', 'DESC')]
        for method in ['create', 'write', 'delete', 'copy']:
            cls.__rpc__.pop(method, None)

    @classmethod
    def default_state(cls):
        return 'running'

    @classmethod
    def default_anomaly(cls):
        return False

    def get_rec_name(self, name):
        started = self.started.strftime('%Y-%m-%d %H:%M:%S') if (
            self.started) else ''
        return f'{self.rule.rec_name} {started}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return [('rule.rec_name',) + tuple(clause[1:])]

    # -- the patrol --------------------------------------------------------

    @classmethod
    def execute(cls, rule, trigger='manual', job=None):
        """Patrol the rule once: compute its findings, make its signals
        match them and record the run. A failing monitor does not raise:
        the run is recorded as failed, flagged, and the signals are left
        untouched."""
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Rule = pool.get('ct.risk.rule')
        transaction = Transaction()
        started = datetime.datetime.now()
        clock = time.monotonic()
        run, = cls.create([{
                    'rule': rule.id,
                    'monitor': rule.monitor,
                    'trigger': trigger,
                    'user': transaction.user or None,
                    'job': job,
                    'started': started,
                    'state': 'running',
                    }])
        monitor = rule.monitor_class()
        log = [gettext('ct_risk.msg_log_start', rule=rule.rec_name,
                monitor=rule.monitor,
                parameters=rule.get_parameters_text(None).replace(
                    '\n', ' '),
                scope=rule.scope_text)]
        values = {'state': 'done'}
        anomalies = []
        try:
            with savepoint():
                findings = rule.compute_findings(monitor)
                log.append(gettext('ct_risk.msg_log_findings',
                        scanned=monitor.scanned, found=len(findings),
                        seconds='%.3f' % (time.monotonic() - clock)))
                counts = Signal.sync_findings(rule, findings, run=run)
            values.update(counts)
            values['found'] = len(findings)
            log.append(gettext('ct_risk.msg_log_signals', **counts))
        except Exception as exception:
            logger.exception("patrol of rule %s failed", rule.id)
            values['state'] = 'failed'
            anomalies.append('failed')
            log.append(gettext('ct_risk.msg_log_failed',
                    error=f'{type(exception).__name__}: {exception}'))
            log.append(traceback.format_exc(limit=5))
        for note in monitor.notes:
            log.append(note)
        for error in monitor.errors:
            log.append(gettext('ct_risk.msg_log_data_error', error=error))
        if monitor.errors:
            anomalies.append('data_error')
        duration = time.monotonic() - clock
        median = cls.median_duration(rule, exclude=run.id)
        if median is not None and cls.is_slow(duration, median):
            anomalies.append('slow')
            log.append(gettext('ct_risk.msg_log_slow',
                    seconds='%.3f' % duration, median='%.3f' % median,
                    factor=SLOW_FACTOR))
        finished = datetime.datetime.now()
        log.append(gettext('ct_risk.msg_log_end', state=values['state'],
                seconds='%.3f' % duration))
        values.update({
                'finished': finished,
                'duration': round(duration, 3),
                'scanned': monitor.scanned,
                'errors': len(monitor.errors) + (
                    1 if values['state'] == 'failed' else 0),
                'log': '\n'.join(log),
                'anomaly': bool(anomalies),
                'anomalies': anomalies,
                })
        with without_check_access():
            cls.write([run], values)
            Rule.write([rule], {
                    'next_patrol': rule.next_patrol_after(started),
                    })
        if anomalies:
            cls.notify_managers(run)
        return run

    @classmethod
    def median_duration(cls, rule, exclude=None):
        "The median duration of the rule's last successful runs, or None"
        run = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = (run.rule == rule.id) & (run.state == 'done') & (
            run.duration != None)  # noqa: E711
        if exclude:
            where &= run.id != exclude
        cursor.execute(*run.select(run.duration, where=where,
                order_by=[run.id.desc], limit=SLOW_HISTORY))
        durations = [d for d, in cursor]
        if len(durations) < SLOW_MIN_RUNS:
            return None
        return statistics.median(durations)

    @staticmethod
    def is_slow(duration, median):
        return (duration >= SLOW_MIN_SECONDS
            and duration > SLOW_FACTOR * median)

    @classmethod
    def notify_managers(cls, run):
        "Tell the risk managers (res.notification) about an anomalous run"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        labels = dict(cls.fields_get(['anomalies'])['anomalies']['selection'])
        group = ModelData.get_id('ct_risk', 'group_risk_manager')
        with without_check_access():
            users = User.search([('groups', '=', group)])
        description = '、'.join(labels.get(a, a) for a in run.anomalies)
        for user in users:
            cls.notify_user([run], 'tryton-warning',
                gettext('ct_risk.msg_run_anomaly', rule=run.rule.rec_name),
                description, user=user.id)


class Job(metaclass=PoolMeta):
    __name__ = 'ct.job'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('risk_patrol', "Risk Patrol"))
