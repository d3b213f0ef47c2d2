import datetime as dt

from trytond import backend
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase, with_transaction
from trytond.transaction import Transaction


def make_user(login, *groups):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    ids = [ModelData.get_id(*g.split('.')) for g in groups]
    user, = User.create([{
                'name': login, 'login': login,
                'groups': [('add', ids)] if ids else [],
                }])
    return user


def raw(query, params=()):
    cursor = Transaction().connection.cursor()
    cursor.execute(query, params)
    return cursor


def expect_db_error(test, query):
    "The statement must fail; keep the transaction usable on PostgreSQL."
    raw('SAVEPOINT ct_audit_test')
    try:
        with test.assertRaises(Exception) as cm:
            raw(query)
    finally:
        raw('ROLLBACK TO SAVEPOINT ct_audit_test')
    return cm.exception


def drop_triggers():
    "What a database superuser could do: remove the protection."
    Pool().get('ct.audit.log')._drop_triggers()


class AuditTestCase(RouteTestCase):
    "Test the security audit log"
    module = 'ct_security'

    def _log3(self):
        AuditLog = Pool().get('ct.audit.log')
        AuditLog.log('login', login='a', detail='一')
        AuditLog.log('login_failed', login='b', result='failure')
        AuditLog.log('logout', login='c', session='k' * 64)
        return AuditLog.search([], order=[('sequence', 'ASC')])

    @with_transaction()
    def test_chain_valid(self):
        "Rows are chained and verify"
        AuditLog = Pool().get('ct.audit.log')
        logs = self._log3()
        self.assertEqual([r.sequence for r in logs][-3:],
            list(range(logs[-1].sequence - 2, logs[-1].sequence + 1)))
        self.assertIsNone(AuditLog.verify_chain())
        bad, count, reason = AuditLog.verify_report()
        self.assertEqual((bad, reason), (None, None))
        self.assertEqual(count, len(logs))
        self.assertEqual(len(logs[-1].session_hash), 32)
        self.assertNotIn('k' * 8, logs[-1].session_hash)
        now = dt.datetime.now(dt.timezone.utc).replace(tzinfo=None)
        self.assertLess(abs(now - logs[-1].timestamp), dt.timedelta(minutes=1))

    @with_transaction()
    def test_code_refuses_write_delete(self):
        "Nobody can write, delete, copy or create rows through the ORM"
        AuditLog = Pool().get('ct.audit.log')
        logs = self._log3()
        attempts = [
            lambda: AuditLog.write(logs[:1], {'detail': 'x'}),
            lambda: AuditLog.delete(logs[:1]),
            lambda: AuditLog.copy(logs[:1]),
            lambda: AuditLog.create([{
                        'sequence': 999, 'event': 'login',
                        'result': 'success', 'mac': '00',
                        'timestamp': dt.datetime.now()}]),
            ]
        for user in [0, 1]:
            for attempt in attempts:
                raw('SAVEPOINT ct_audit_test')
                try:
                    with Transaction().set_user(user), \
                            self.assertRaises(AccessError):
                        attempt()
                finally:
                    raw('ROLLBACK TO SAVEPOINT ct_audit_test')
        self.assertIsNone(AuditLog.verify_chain())

    @with_transaction()
    def test_db_trigger_refuses_update_delete(self):
        "The database refuses UPDATE and DELETE even in raw SQL"
        self._log3()
        table = Pool().get('ct.audit.log')._table
        expect_db_error(self, f'UPDATE "{table}" SET detail = \'x\'')
        expect_db_error(self, f'DELETE FROM "{table}"')
        if backend.name == 'postgresql':
            expect_db_error(self, f'TRUNCATE "{table}"')
        count, = raw(f'SELECT COUNT(*) FROM "{table}"').fetchone()
        self.assertGreaterEqual(count, 3)

    @with_transaction()
    def test_tampered_row_detected(self):
        "An edited row is reported by verify_chain"
        AuditLog = Pool().get('ct.audit.log')
        logs = self._log3()
        target = logs[-2]
        drop_triggers()
        raw(f'UPDATE "{AuditLog._table}" SET detail = %s WHERE id = %s'
            if backend.name == 'postgresql' else
            f'UPDATE "{AuditLog._table}" SET detail = ? WHERE id = ?',
            ('edited', target.id))
        bad = AuditLog.verify_chain()
        self.assertEqual(bad, target)
        _, _, reason = AuditLog.verify_report()
        self.assertEqual(reason, 'mac')

    @with_transaction()
    def test_deleted_row_detected(self):
        "A deleted row makes the next one fail"
        AuditLog = Pool().get('ct.audit.log')
        logs = self._log3()
        drop_triggers()
        raw(f'DELETE FROM "{AuditLog._table}" WHERE id = %s'
            if backend.name == 'postgresql' else
            f'DELETE FROM "{AuditLog._table}" WHERE id = ?',
            (logs[-2].id,))
        self.assertEqual(AuditLog.verify_chain(), logs[-1])
        _, _, reason = AuditLog.verify_report()
        self.assertEqual(reason, 'sequence')

    @with_transaction()
    def test_key_changes_mac(self):
        "A chain recomputed with another key does not verify"
        from unittest import mock

        from trytond.modules.ct_security import audit
        AuditLog = Pool().get('ct.audit.log')
        self._log3()
        with mock.patch.object(audit, 'audit_key', return_value=b'k' * 32):
            self.assertIsNotNone(AuditLog.verify_chain())

    @with_transaction()
    def test_only_auditor_reads(self):
        "Only the audit administrator reads the log, and only reads"
        AuditLog = Pool().get('ct.audit.log')
        logs = self._log3()
        auditor = make_user('auditor1', 'ct_base.group_auditor')
        others = [
            make_user('sys1', 'ct_base.group_sysadmin'),
            make_user('sec1', 'ct_base.group_secadmin'),
            make_user('reg1', 'ct_base.group_regulator'),
            Pool().get('res.user')(1),
            ]
        ctx = {'_check_access': True}
        for user in others:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(ctx):
                with self.assertRaises(AccessError, msg=user.login):
                    AuditLog.search([])
                with self.assertRaises(AccessError, msg=user.login):
                    AuditLog.read([logs[0].id], ['detail'])
        with Transaction().set_user(auditor.id), \
                Transaction().set_context(ctx):
            self.assertTrue(AuditLog.search([]))
            with self.assertRaises(AccessError):
                AuditLog.write(AuditLog.browse(logs[:1]), {'detail': 'x'})
            with self.assertRaises(AccessError):
                AuditLog.delete(AuditLog.browse(logs[:1]))

    @with_transaction()
    def test_verify_wizard(self):
        "The verification wizard shows valid / tampered to the auditor only"
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        Wizard = pool.get('ct.audit.log.verify', type='wizard')
        logs = self._log3()
        auditor = make_user('auditor2', 'ct_base.group_auditor')
        regulator = make_user('reg2', 'ct_base.group_regulator')
        with Transaction().set_user(auditor.id):
            session_id, _, _ = Wizard.create()
            result = Wizard(session_id).default_start([])
        self.assertTrue(result['valid'])
        drop_triggers()
        raw(f'UPDATE "{AuditLog._table}" SET login = \'x\' WHERE id = '
            f'{logs[0].id}')
        with Transaction().set_user(auditor.id):
            result = Wizard(session_id).default_start([])
        self.assertFalse(result['valid'])
        self.assertEqual(result['first_bad'], logs[0].id)
        with Transaction().set_user(regulator.id):
            with self.assertRaises(AccessError):
                Wizard(session_id).default_start([])

    @with_transaction()
    def test_group_change_audited(self):
        "Adding and removing a group of a user writes audit rows"
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        group_id = ModelData.get_id('ct_base', 'group_regulator')
        user = make_user('grp1')
        User.write([user], {'groups': [('add', [group_id])]})
        User.write([user], {'groups': [('remove', [group_id])]})
        events = [(r.event, r.record) for r in AuditLog.search(
                [('user', '=', user.id)], order=[('sequence', 'ASC')])]
        self.assertEqual(events, [
                ('group_added', group_id), ('group_removed', group_id)])
        self.assertIsNone(AuditLog.verify_chain())


del RouteTestCase
