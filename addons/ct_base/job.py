"""Background jobs (后台任务) run on ir.queue with a visible progress bar.

Other modules launch work with::

    Job = Pool().get('ct.job')
    job = Job.launch('nmpa_import', "Import 2024.xlsx",
        'ct.nmpa.batch|process', batches)

The task calls ``Model.method(records, progress=progress)`` (or
``Model.method(*args, progress=progress)`` / ``**kwargs`` when plain values
are given) where ``progress`` is a :class:`JobProgress`.

Transactions (see the cookbook, §6 and §9, pitfall 7): the job row is only
ever written in short transactions of its own, never in the transaction of
the queue task nor in the one running the work. On PostgreSQL (REPEATABLE
READ) a row written both inside and outside ``new_transaction()`` makes the
task fail with a serialization error and the worker retries it forever.
"""
import csv
import datetime
import io
import json
import logging
import time
from contextlib import contextmanager

from trytond import backend
from trytond.exceptions import UserError, UserWarning
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelStorage, ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button,
    StateAction,
    StateTransition,
    StateView,
    Wizard,
)

from .exceptions import JobError

logger = logging.getLogger(__name__)

# A task hitting DatabaseOperationalError this many times is marked failed
# instead of being handed back to the worker for another retry.
MAX_ATTEMPTS = 3
# Plain progress updates are written at most this often (seconds).
PROGRESS_INTERVAL = 0.5


class JobCancelled(Exception):
    "Raised inside a running job when its owner cancelled it"


class JobProgress:
    """Progress reporter handed to the code a job runs.

    ``update(done, total, message)`` commits the progress in its own short
    transaction, so other sessions see it while the job runs. To commit a
    chunk of business data *together with* its progress, use ``chunk``::

        for start in range(0, len(ids), 100):
            with progress.chunk(start + 100, len(ids), "..."):
                ...  # writes committed with the progress
    """

    def __init__(self, job_id, interval=PROGRESS_INTERVAL):
        self.job_id = job_id
        self.interval = interval
        self.done = 0
        self.total = None
        self.message = None
        self._last = 0

    def _values(self, done, total, message):
        self.done, self.total = done, total
        if message is not None:
            self.message = message
        if total:
            percent = max(0.0, min(100.0, 100.0 * done / total))
        else:
            percent = 0.0
        values = {'progress': round(percent, 1)}
        if message is not None:
            values['message'] = message
        elif total:
            values['message'] = f"{done}/{total}"
        return values

    def _write(self, values):
        "Write progress in the current transaction; raise if cancelled"
        Job = Pool().get('ct.job')
        table = Job.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.select(
                table.state, where=table.id == self.job_id))
        row = cursor.fetchone()
        if not row or row[0] == 'cancelled':
            raise JobCancelled()
        with without_check_access():
            Job.write([Job(self.job_id)], values)
        self._last = time.monotonic()

    def update(self, done, total=None, message=None, force=False):
        "Record that done of total items are processed"
        values = self._values(done, total, message)
        if (backend.name == 'sqlite'
                and Transaction().connection.in_transaction):
            # SQLite has one writer: the job's own uncommitted writes hold
            # the lock the progress transaction would wait for (and time
            # out on). Progress is best effort; the result is not.
            return
        if (not force and (total is None or done < total)
                and time.monotonic() - self._last < self.interval):
            return
        try:
            with Transaction().new_transaction():
                self._write(values)
        except backend.DatabaseOperationalError:
            # Progress is best effort: a concurrent write of the row (the
            # owner cancelling) must not fail the job.
            logger.debug("progress of job %s not written", self.job_id)

    @contextmanager
    def chunk(self, done, total=None, message=None):
        """Run the block in a new transaction committed with the progress

        Use it for long jobs whose work can be committed piecewise: when
        the job fails later the chunks already reported stay committed.
        """
        values = self._values(done, total, message)
        with Transaction().new_transaction() as transaction:
            yield transaction
            self._write(values)


class Job(ModelSQL, ModelView):
    "A long operation run in the background with visible progress"
    __name__ = 'ct.job'
    __string__ = "Background Job"

    name = fields.Char("Name", required=True, readonly=True)
    kind = fields.Selection([
            ('recount_institutions', "Recount Institution Statistics"),
            ], "Kind", required=True, readonly=True, sort=False,
        help="Modules add their kinds in __setup__.")
    state = fields.Selection([
            ('queued', "Queued"),
            ('running', "Running"),
            ('done', "Done"),
            ('failed', "Failed"),
            ('cancelled', "Cancelled"),
            ], "State", required=True, readonly=True, sort=False)
    progress = fields.Float(
        "Progress (%)", digits=(5, 1), readonly=True,
        help="From 0 to 100.")
    progress_bar = fields.Function(
        fields.Float("Progress"), 'get_progress_bar')
    message = fields.Char("Message", readonly=True)
    user = fields.Many2One(
        'res.user', "User", required=True, readonly=True,
        ondelete='CASCADE')
    method = fields.Char(
        "Method", required=True, readonly=True,
        help="The code run, as 'model|method'.")
    parameters = fields.Text("Parameters", readonly=True)
    result = fields.Binary(
        "Result", filename='result_name', readonly=True)
    result_name = fields.Char("Result Name", readonly=True)
    result_record = fields.Reference(
        "Result Record", selection='get_models', readonly=True)
    queued_at = fields.Timestamp("Queued at", readonly=True)
    started = fields.Timestamp("Started", readonly=True)
    finished = fields.Timestamp("Finished", readonly=True)
    attempts = fields.Integer("Attempts", readonly=True)
    error = fields.Text("Error", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('id', 'DESC')]
        cls._sql_indexes.update({
                Index(t, (t.user, Index.Equality()),
                    (t.state, Index.Equality(cardinality='low'))),
                })
        cls._buttons.update({
                'cancel': {
                    'invisible': Eval('state') != 'queued',
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'queued'

    @classmethod
    def default_progress(cls):
        return 0.0

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def default_user(cls):
        return Transaction().user or None

    @classmethod
    def default_queued_at(cls):
        return datetime.datetime.now()

    def get_progress_bar(self, name):
        # sao's progressbar widget expects a ratio from 0 to 1
        return (self.progress or 0.0) / 100.0

    @classmethod
    def get_models(cls):
        return [(None, '')] + Pool().get('ir.model').get_name_items()

    @classmethod
    def check_modification(cls, mode, jobs, values=None, external=False):
        super().check_modification(
            mode, jobs, values=values, external=external)
        # Jobs are written by the server only: the record rule keeps users
        # to their own jobs, this keeps them from forging their content.
        if external and mode in {'create', 'write'}:
            raise JobError(gettext('ct_base.msg_job_readonly'))

    # -- API ---------------------------------------------------------------

    @classmethod
    def launch(cls, kind, name, method, records_or_args=None):
        """Create a job and enqueue it on ir.queue; return the job

        ``method`` is 'model|method'. ``records_or_args`` is a list of
        records of that model, a list of positional arguments or a dict of
        keyword arguments (JSON-serialisable).
        """
        model_name, method_name = method.split('|', 1)
        Model = Pool().get(model_name)
        if not callable(getattr(Model, method_name, None)):
            raise ValueError(f"unknown job method {method}")
        records_or_args = records_or_args or []
        if isinstance(records_or_args, dict):
            parameters = {'kwargs': records_or_args}
        elif records_or_args and all(
                isinstance(r, ModelStorage) for r in records_or_args):
            parameters = {'ids': [r.id for r in records_or_args]}
        else:
            parameters = {'args': list(records_or_args)}
        with without_check_access():
            job, = cls.create([{
                        'kind': kind,
                        'name': name,
                        'method': method,
                        'parameters': json.dumps(parameters),
                        'user': Transaction().user or None,
                        }])
        # The task runs after the commit of this transaction: by the worker,
        # or at the end of the request when there is none.
        with Transaction().set_context(queue_name='ct_job'):
            cls.__queue__.run([job])
        return job

    @classmethod
    def run(cls, jobs):
        "Run the jobs (the queue task)"
        for job in jobs:
            cls._run(job.id)

    @classmethod
    def _run(cls, job_id):
        pool = Pool()
        transaction = Transaction()

        with transaction.new_transaction() as t:
            job = cls._lock(job_id)
            if job is None or job.state not in {'queued', 'running'}:
                return
            method, parameters = job.method, json.loads(job.parameters)
            attempts = (job.attempts or 0) + 1
            user = job.user
            language = user.language.code if user.language else None
            with without_check_access():
                cls.write([job], {
                        'state': 'running',
                        'started': datetime.datetime.now(),
                        'attempts': attempts,
                        'error': None,
                        })
            t.commit()

        progress = JobProgress(job_id)
        model_name, method_name = method.split('|', 1)
        Model = pool.get(model_name)
        func = getattr(Model, method_name)
        try:
            with transaction.set_user(user.id), \
                    transaction.set_context(language=language), \
                    transaction.new_transaction():
                if 'ids' in parameters:
                    result = func(
                        Model.browse(parameters['ids']), progress=progress)
                elif 'kwargs' in parameters:
                    result = func(progress=progress, **parameters['kwargs'])
                else:
                    result = func(*parameters['args'], progress=progress)
        except JobCancelled:
            logger.info("job %s cancelled", job_id)
            return
        except backend.DatabaseOperationalError:
            if attempts < MAX_ATTEMPTS:
                # let the worker retry the task
                raise
            logger.exception("job %s failed", job_id)
            with transaction.set_context(language=language):
                cls._finish(job_id, 'failed', error=gettext(
                        'ct_base.msg_job_database_busy'))
        except (UserError, UserWarning) as exception:
            error = exception.message
            if exception.description:
                error += '\n' + exception.description
            logger.info("job %s failed: %s", job_id, error)
            with transaction.set_context(language=language):
                cls._finish(job_id, 'failed', error=error)
        except Exception as exception:
            logger.exception("job %s failed", job_id)
            with transaction.set_context(language=language):
                cls._finish(job_id, 'failed', error=gettext(
                        'ct_base.msg_job_unexpected_error',
                        error=f'{type(exception).__name__}: {exception}'))
        else:
            with transaction.set_context(language=language):
                cls._finish(job_id, 'done', result=result,
                    message=progress.message)

    @classmethod
    def _lock(cls, job_id):
        "Return the job locked for update (PostgreSQL), or None"
        transaction = Transaction()
        table = cls.__table__()
        query = table.select(table.id, where=table.id == job_id)
        if transaction.database.has_select_for():
            For = transaction.database.get_select_for_skip_locked()
            query.for_ = For('UPDATE')
        cursor = transaction.connection.cursor()
        cursor.execute(*query)
        if cursor.fetchone():
            return cls(job_id)

    @classmethod
    def _finish(cls, job_id, state, result=None, message=None, error=None):
        values = {
            'state': state,
            'finished': datetime.datetime.now(),
            'error': error,
            }
        if state == 'done':
            values['progress'] = 100.0
            if message:
                values['message'] = message
            if isinstance(result, ModelStorage):
                values['result_record'] = str(result)
            elif isinstance(result, tuple) and len(result) == 2:
                values['result_name'], values['result'] = result
        with Transaction().new_transaction():
            job = cls(job_id)
            with without_check_access():
                cls.write([job], values)
            if state == 'done':
                cls.notify_user([job], 'tryton-info',
                    gettext('ct_base.msg_job_done', job=job.name),
                    job.message or '', user=job.user.id)
            else:
                cls.notify_user([job], 'tryton-warning',
                    gettext('ct_base.msg_job_failed', job=job.name),
                    error or '', user=job.user.id)

    @classmethod
    @ModelView.button
    def cancel(cls, jobs):
        for job in jobs:
            if job.state != 'queued':
                raise JobError(gettext(
                        'ct_base.msg_job_cancel_not_queued', job=job.rec_name))
        cls.write(jobs, {
                'state': 'cancelled',
                'finished': datetime.datetime.now(),
                })

    # -- Demo job ----------------------------------------------------------

    @classmethod
    def recount_institutions(cls, institutions, progress):
        """Count specialties, investigators and trials of the institutions

        A demo of the progress bar: the context key ``ct_job_sleep`` adds a
        pause (seconds) after each chunk of ``ct_job_chunk`` institutions.
        The result is a CSV file.
        """
        Institution = Pool().get('ct.institution')
        context = Transaction().context
        delay = float(context.get('ct_job_sleep') or 0)
        size = int(context.get('ct_job_chunk') or 20)
        ids = [i.id for i in institutions]
        total = len(ids)
        progress.update(0, total, force=True)
        output = io.StringIO()
        writer = csv.writer(output)
        writer.writerow([
                'code', 'name', 'specialties', 'investigators', 'trials',
                'ongoing_trials'])
        done = 0
        for sub_ids in grouped_slice(ids, count=size):
            sub_ids = list(sub_ids)
            for row in Institution.read(sub_ids, [
                        'code', 'name', 'specialty_count',
                        'investigator_count', 'trial_count',
                        'ongoing_trial_count']):
                writer.writerow([row['code'], row['name'],
                        row['specialty_count'], row['investigator_count'],
                        row['trial_count'], row['ongoing_trial_count']])
            done += len(sub_ids)
            if delay:
                time.sleep(delay)
            progress.update(done, total, gettext(
                    'ct_base.msg_job_recount_progress',
                    done=done, total=total))
        data = ('\ufeff' + output.getvalue()).encode('utf-8')
        return ('institution_statistics.csv', data)


class Rule(metaclass=PoolMeta):
    "A user sees only their own jobs"
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        if model_name == 'ct.job':
            context['user_id'] = Transaction().user
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        key = super()._get_cache_key(model_names)
        if 'ct.job' in model_names:
            key = (*key, Transaction().user)
        return key


class RecountStart(ModelView):
    "Recount institution statistics"
    __name__ = 'ct.job.recount.start'
    __string__ = "Recount Institution Statistics"

    chunk_size = fields.Integer(
        "Chunk Size", required=True,
        domain=[('chunk_size', '>', 0)])
    delay = fields.Float(
        "Delay per Chunk (s)", digits=(3, 1),
        domain=[('delay', '>=', 0), ('delay', '<=', 10)],
        help="A pause after each chunk so the progress bar can be watched "
        "in a demo.")

    @classmethod
    def default_chunk_size(cls):
        return 20

    @classmethod
    def default_delay(cls):
        return 0.0


class Recount(Wizard):
    "Launch the institution recount job and open it"
    __name__ = 'ct.job.recount'
    start = StateView('ct.job.recount.start',
        'ct_base.job_recount_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Launch", 'launch', 'tryton-launch', default=True),
            ])
    launch = StateTransition()
    open_ = StateAction('ct_base.act_job_form')

    def transition_launch(self):
        pool = Pool()
        Institution = pool.get('ct.institution')
        Job = pool.get('ct.job')
        # the job processes the institutions the user may read
        with Transaction().set_context(_check_access=True):
            institutions = Institution.search([], order=[('id', 'ASC')])
        with Transaction().set_context(
                ct_job_sleep=self.start.delay or 0,
                ct_job_chunk=self.start.chunk_size):
            job = Job.launch('recount_institutions',
                gettext('ct_base.msg_job_recount_name'),
                'ct.job|recount_institutions', institutions)
        # the transition and the action run in the same call
        self._job_id = job.id
        return 'open_'

    def do_open_(self, action):
        action['res_id'] = [self._job_id]
        action['views'].reverse()
        return action, {}
