"""Transactional outbox for messages to external systems (外部系统消息).

A business change calls ``Outbox.enqueue(system, operation, payload, key)``
in its own transaction: the message is committed (or rolled back) with the
change. Delivery happens later, out of the user's request, by the cron
(every minute) and, when a worker runs, by an ir.queue task enqueued with
the message. Each message is delivered in a short transaction of its own,
with ``FOR UPDATE SKIP LOCKED`` on PostgreSQL (a time lease elsewhere), to
the adapter registered for its system; failures back off exponentially and
end ``dead`` after ``[ct_outbox] max_attempts``. The contract the HTTP
adapter follows is docs/integrations/outbox.md.
"""
import datetime
import json
import logging

import trytond.config as config
from sql import Null
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.pool import PoolMeta
from trytond.pyson import Eval
from trytond.transaction import Transaction, without_check_access

from .exceptions import OutboxError

logger = logging.getLogger(__name__)

_adapters = {}


def register_adapter(system, adapter):
    """Register the callable delivering the messages of a system

    ``adapter(message)`` receives the ``ct.outbox`` record and returns the
    response to store (text or JSON-serialisable). It raises
    ``DeliveryError`` (``permanent=True`` for a refusal that no retry can
    fix) or any exception for a temporary failure.
    """
    _adapters[system] = adapter


def unregister_adapter(system):
    _adapters.pop(system, None)


def get_adapter(system):
    "Return the adapter of the system, an HttpAdapter if a URL is set"
    adapter = _adapters.get(system)
    if adapter is None and config.get('ct_outbox', f'{system}_url'):
        adapter = HttpAdapter(system)
    return adapter


class DeliveryError(Exception):
    "A failed delivery; permanent ones are not retried"

    def __init__(self, message, permanent=False, response=None):
        super().__init__(message)
        self.permanent = permanent
        self.response = response


class HttpAdapter:
    """POST the payload as JSON to ``[ct_outbox] <system>_url``/<operation>

    The idempotency key goes in the ``Idempotency-Key`` header: the
    receiver answers a repeated key with the response of the first call,
    so a retry after a lost answer does not apply the message twice.
    """

    def __init__(self, system, url=None, timeout=None, session=None):
        self.system = system
        self.url = url or config.get('ct_outbox', f'{system}_url')
        if timeout is None:
            timeout = config.getfloat('ct_outbox', 'timeout', default=10)
        self.timeout = timeout
        self.session = session

    def __call__(self, message):
        import requests
        if not self.url:
            raise DeliveryError(f"no URL configured for {self.system}")
        url = self.url.rstrip('/') + '/' + message.operation
        headers = {
            'Idempotency-Key': message.idempotency_key,
            'X-CT-System': message.system,
            'X-CT-Operation': message.operation,
            }
        session = self.session or requests
        try:
            response = session.post(
                url, data=(message.payload or '{}').encode('utf-8'),
                headers={**headers,
                    'Content-Type': 'application/json; charset=utf-8'},
                timeout=self.timeout)
        except requests.RequestException as exception:
            raise DeliveryError(
                f'{type(exception).__name__}: {exception}') from exception
        body = response.text[:10000]
        if 200 <= response.status_code < 300:
            return body
        # 4xx other than 408/409/425/429 means the receiver refuses the
        # message: retrying the same payload cannot succeed.
        permanent = (400 <= response.status_code < 500
            and response.status_code not in {408, 409, 425, 429})
        raise DeliveryError(
            f'HTTP {response.status_code}: {body[:500]}',
            permanent=permanent, response=body)


class Outbox(ModelSQL, ModelView):
    "A message to an external system, delivered with retries"
    __name__ = 'ct.outbox'
    __string__ = "External System Message"
    _rec_name = 'idempotency_key'

    system = fields.Char("System", required=True, readonly=True)
    operation = fields.Char("Operation", required=True, readonly=True)
    payload = fields.Text("Payload", readonly=True, help="JSON")
    idempotency_key = fields.Char(
        "Idempotency Key", required=True, readonly=True)
    state = fields.Selection([
            ('pending', "Pending"),
            ('sent', "Sent"),
            ('failed', "Failed"),
            ('dead', "Dead"),
            ], "State", required=True, readonly=True, sort=False)
    attempts = fields.Integer("Attempts", required=True, readonly=True)
    next_attempt = fields.Timestamp("Next Attempt", readonly=True)
    last_error = fields.Text("Last Error", readonly=True)
    sent_at = fields.Timestamp("Sent at", readonly=True)
    response = fields.Text("Response", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._order = [('id', 'DESC')]
        cls._sql_constraints += [
            ('idempotency_key_unique', Unique(t, t.idempotency_key),
                'ct_base.msg_outbox_key_unique'),
            ]
        cls._sql_indexes.update({
                Index(t, (t.next_attempt, Index.Range()),
                    where=t.state.in_(['pending', 'failed'])),
                Index(t, (t.system, Index.Equality()),
                    (t.state, Index.Equality(cardinality='low'))),
                })
        cls._buttons.update({
                'retry': {
                    'invisible': ~Eval('state').in_(['failed', 'dead']),
                    'depends': ['state'],
                    },
                })

    @classmethod
    def default_state(cls):
        return 'pending'

    @classmethod
    def default_attempts(cls):
        return 0

    @classmethod
    def default_next_attempt(cls):
        return datetime.datetime.now()

    @property
    def payload_data(self):
        return json.loads(self.payload) if self.payload else None

    @staticmethod
    def _config():
        return {
            'max_attempts': config.getint(
                'ct_outbox', 'max_attempts', default=8),
            'backoff_base': config.getfloat(
                'ct_outbox', 'backoff_base', default=60),
            'backoff_max': config.getfloat(
                'ct_outbox', 'backoff_max', default=6 * 3600),
            'timeout': config.getfloat('ct_outbox', 'timeout', default=10),
            'batch_size': config.getint(
                'ct_outbox', 'batch_size', default=100),
            }

    @classmethod
    def backoff(cls, attempts):
        "Delay before the next try after the attempts-th failure"
        conf = cls._config()
        seconds = conf['backoff_base'] * 2 ** max(attempts - 1, 0)
        return datetime.timedelta(seconds=min(seconds, conf['backoff_max']))

    @classmethod
    def enqueue(cls, system, operation, payload, key):
        """Store a message in the current transaction; return it

        A message with the same key is returned unchanged (a no-op), so
        retried business code never sends twice.
        """
        if not isinstance(payload, str):
            payload = json.dumps(
                payload, ensure_ascii=False, sort_keys=True, default=str)
        with without_check_access():
            messages = cls.search(
                [('idempotency_key', '=', key)], limit=1)
            if messages:
                return messages[0]
            message, = cls.create([{
                        'system': system,
                        'operation': operation,
                        'payload': payload,
                        'idempotency_key': key,
                        }])
        if config.getboolean('queue', 'worker', default=False):
            # Without a worker the task would run at the end of the user's
            # request, which would make the user wait for the external
            # system: the cron delivers instead.
            with Transaction().set_context(queue_name='ct_outbox'):
                cls.__queue__.deliver([message])
        return message

    @classmethod
    def _due_ids(cls, messages=None):
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        where = (table.state.in_(['pending', 'failed'])
            & ((table.next_attempt == Null)
                | (table.next_attempt <= datetime.datetime.now())))
        if messages is not None:
            ids = [m.id for m in messages]
            if not ids:
                return []
            where &= table.id.in_(ids)
        cursor.execute(*table.select(
                table.id, where=where,
                order_by=[table.next_attempt.asc.nulls_first, table.id.asc],
                limit=cls._config()['batch_size']))
        return [i for i, in cursor]

    @classmethod
    def deliver(cls, messages=None):
        """Deliver the due messages (all of them, or those given)

        Returns the number of messages sent. Never raises for a delivery
        failure: it is recorded on the message.
        """
        sent = 0
        for message_id in cls._due_ids(messages):
            try:
                if cls._deliver_one(message_id):
                    sent += 1
            except Exception:
                # e.g. the database: leave the message for the next run
                logger.exception("outbox message %s not processed",
                    message_id)
        return sent

    @classmethod
    def _claim(cls, message_id):
        "Claim the message in the current transaction; return it or None"
        transaction = Transaction()
        database = transaction.database
        table = cls.__table__()
        cursor = transaction.connection.cursor()
        now = datetime.datetime.now()
        due = (table.state.in_(['pending', 'failed'])
            & ((table.next_attempt == Null) | (table.next_attempt <= now)))
        if database.has_select_for():
            # The row stays locked while the adapter runs; concurrent
            # deliveries (cron, workers) skip it.
            For = database.get_select_for_skip_locked()
            query = table.select(
                table.id, where=(table.id == message_id) & due)
            query.for_ = For('UPDATE')
            cursor.execute(*query)
            if not cursor.fetchone():
                return None
        else:
            # SQLite: take a lease by moving next_attempt past the timeout,
            # committed before the call, so another process skips it and a
            # crash only delays the message.
            lease = now + datetime.timedelta(
                seconds=cls._config()['timeout'] + 60)
            cursor.execute(*table.update(
                    [table.next_attempt], [lease],
                    where=(table.id == message_id) & due))
            if cursor.rowcount != 1:
                return None
            transaction.commit()
        return cls(message_id)

    @classmethod
    def _deliver_one(cls, message_id):
        with Transaction().new_transaction() as transaction:
            message = cls._claim(message_id)
            if message is None:
                return False
            adapter = get_adapter(message.system)
            values = {'attempts': message.attempts + 1}
            try:
                if adapter is None:
                    raise DeliveryError(gettext(
                            'ct_base.msg_outbox_no_adapter',
                            system=message.system))
                response = adapter(message)
            except Exception as exception:
                permanent = getattr(exception, 'permanent', False)
                error = str(exception) or type(exception).__name__
                values['last_error'] = error[:10000]
                response = getattr(exception, 'response', None)
                if response is not None:
                    values['response'] = response
                conf = cls._config()
                if permanent or values['attempts'] >= conf['max_attempts']:
                    values['state'] = 'dead'
                    values['next_attempt'] = None
                    logger.warning("outbox message %s (%s) is dead: %s",
                        message_id, message.system, error)
                else:
                    values['state'] = 'failed'
                    values['next_attempt'] = (datetime.datetime.now()
                        + cls.backoff(values['attempts']))
                    logger.info("outbox message %s (%s) failed: %s",
                        message_id, message.system, error)
            else:
                if response is not None and not isinstance(response, str):
                    response = json.dumps(
                        response, ensure_ascii=False, default=str)
                values.update({
                        'state': 'sent',
                        'sent_at': datetime.datetime.now(),
                        'next_attempt': None,
                        'last_error': None,
                        'response': response,
                        })
            with without_check_access():
                cls.write([message], values)
            transaction.commit()
            return values['state'] == 'sent'

    @classmethod
    @ModelView.button
    def retry(cls, messages):
        "Send failed or dead messages again now"
        cls.write([m for m in messages if m.state in {'failed', 'dead'}], {
                'state': 'pending',
                'attempts': 0,
                'next_attempt': datetime.datetime.now(),
                })

    @classmethod
    def check_modification(cls, mode, messages, values=None, external=False):
        super().check_modification(
            mode, messages, values=values, external=external)
        if external and mode in {'create', 'write'}:
            raise OutboxError(gettext('ct_base.msg_outbox_readonly'))


class Cron(metaclass=PoolMeta):
    __name__ = 'ir.cron'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.method.selection.append(
            ('ct.outbox|deliver', "Deliver External System Messages"))
