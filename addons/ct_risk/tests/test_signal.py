"""Risk signals: the lifecycle through apply_action, refused transitions,
hiding with a frozen clock, rule stop, urgency, regrading, the
institutions' view, exports and the dashboard data."""
import datetime as dt
import io
import json
import unittest
from unittest.mock import patch

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.ct_risk import export as export_module
from trytond.modules.ct_risk.dashboard import risk_dashboard
from trytond.modules.ct_risk.exceptions import SignalActionError
from trytond.pool import Pool
from trytond.pyson import PYSONDecoder
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction


def group_id(name):
    return Pool().get('ir.model.data').get_id('ct_base', name)


def make_rule(code='R1', level='high', auto_dispose=False, running=True):
    Rule = Pool().get('ct.risk.rule')
    rule, = Rule.create([{
                'name': f"规则 {code}",
                'code': code,
                'monitor': 'rectification_overdue',
                'level': level,
                'measures': "约谈机构负责人",
                'auto_dispose': auto_dispose,
                }])
    if running:
        set_rule_state([rule], 'running')
    return rule


def set_rule_state(rules, state):
    Rule = Pool().get('ct.risk.rule')
    button = {'running': 'start', 'stopped': 'stop'}[state]
    try:
        getattr(Rule, button)(rules)
    except (AttributeError, UserError):
        Rule.write(rules, {'state': state})
    for rule in rules:
        if rule.state != state:
            Rule.write([rule], {'state': state})


class Fixture:
    "Two institutions, their users, a regulator and an inspector"

    def __init__(self):
        pool = Pool()
        Institution = pool.get('ct.institution')
        User = pool.get('res.user')
        self.a, self.b = Institution.create([
                {'name': "甲医院", 'code': 'SIG-A', 'district': 'xuhui'},
                {'name': "乙医院", 'code': 'SIG-B', 'district': 'pudong'},
                ])
        self.user_a, self.user_a2, self.user_b, self.regulator, \
            self.inspector = User.create([{
                        'login': 'sig_a', 'name': "甲机构用户",
                        'ct_institution': self.a.id,
                        'groups': [('add', [group_id('group_institution')])],
                        }, {
                        'login': 'sig_a2', 'name': "甲机构用户二",
                        'ct_institution': self.a.id,
                        'groups': [('add', [group_id('group_institution')])],
                        }, {
                        'login': 'sig_b', 'name': "乙机构用户",
                        'ct_institution': self.b.id,
                        'groups': [('add', [group_id('group_institution')])],
                        }, {
                        'login': 'sig_reg', 'name': "监管员",
                        'groups': [('add', [group_id('group_regulator')])],
                        }, {
                        'login': 'sig_insp', 'name': "检查员",
                        'groups': [('add', [group_id('group_inspector')])],
                        }])
        self.rule = make_rule()

    def raise_signals(self, rule=None, findings=None):
        Signal = Pool().get('ct.risk.signal')
        rule = rule or self.rule
        if findings is None:
            findings = [{
                    'fingerprint': 'a-1', 'summary': "甲医院整改逾期",
                    'institution': self.a.id, 'days_overdue': 12,
                    'origin': str(self.a),
                    }, {
                    'fingerprint': 'b-1', 'summary': "乙医院整改逾期",
                    'institution': self.b.id, 'days_overdue': 3,
                    }]
        Signal.sync_findings(rule, findings)
        return {s.fingerprint: s for s in Signal.search([
                    ('rule', '=', rule.id)])}

    def as_user(self, user):
        "Run as the user over 'RPC': access rights and record rules apply"
        return _AsUser(user)


class _AsUser:
    def __init__(self, user):
        self.user = user

    def __enter__(self):
        transaction = Transaction()
        self._user = transaction.set_user(self.user.id)
        self._user.__enter__()
        self._context = transaction.set_context(_check_access=True)
        self._context.__enter__()

    def __exit__(self, *args):
        self._context.__exit__(*args)
        self._user.__exit__(*args)


def timeline(signal):
    Signal = Pool().get('ct.risk.signal')
    signal = Signal(signal.id)
    return [(a.action, a.from_state or None, a.to_state)
        for a in signal.actions]


class SignalTestCase(unittest.TestCase):
    "Risk signal lifecycle"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_risk')

    @with_transaction()
    def test_closed_loop(self):
        "open → pushed → responded → rejected → responded → closed"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        f = Fixture()
        signal = f.raise_signals()['a-1']
        self.assertEqual(signal.state, 'open')
        self.assertEqual(signal.level, 'high')
        self.assertEqual(signal.measures, "约谈机构负责人")
        self.assertEqual(signal.level_icon, 'ct-risk-level-high')

        transaction = Transaction()
        transaction.user_notifications.clear()
        with f.as_user(f.regulator):
            Signal.apply_action([signal], 'push', {})
        signal = Signal(signal.id)
        self.assertEqual(signal.state, 'pushed')
        self.assertTrue(signal.pushed_date)
        notified = {n.user.id for n in transaction.user_notifications}
        self.assertEqual(notified, {f.user_a.id, f.user_a2.id})

        with f.as_user(f.user_a):
            with self.assertRaises(SignalActionError) as cm:
                Signal.apply_action([signal], 'respond',
                    {'reason': "已整改"})
            self.assertIn(signal.summary, cm.exception.message)
            Signal.apply_action([Signal(signal.id)], 'respond', {
                    'reason': "已完成整改，见附件",
                    'attachments': [
                        {'name': '整改报告.pdf', 'data': b'%PDF-1.4'}],
                    })
        signal = Signal(signal.id)
        self.assertEqual(signal.state, 'responded')
        self.assertEqual(signal.attachment_count, 1)
        self.assertEqual(signal.last_response, "已完成整改，见附件")

        transaction.user_notifications.clear()
        with f.as_user(f.regulator):
            Signal.apply_action([signal], 'reject',
                {'reason': "附件缺少签章"})
        signal = Signal(signal.id)
        self.assertEqual(signal.state, 'pushed')
        self.assertEqual(signal.last_reject_reason, "附件缺少签章")
        self.assertTrue(signal.is_active_warning)
        self.assertEqual({n.user.id for n in transaction.user_notifications},
            {f.user_a.id, f.user_a2.id})

        with f.as_user(f.user_a2):
            Signal.apply_action([Signal(signal.id)], 'respond', {
                    'reason': "补充签章版本",
                    'attachments': [
                        {'name': '整改报告-签章.pdf', 'data': b'%PDF-1.4'}],
                    })
        with f.as_user(f.regulator):
            Signal.apply_action([Signal(signal.id)], 'confirm', {})
        signal = Signal(signal.id)
        self.assertEqual(signal.state, 'closed')
        self.assertTrue(signal.closed_date)
        self.assertFalse(signal.is_active_warning)
        self.assertEqual(timeline(signal), [
                ('raise', None, 'open'),
                ('push', 'open', 'pushed'),
                ('respond', 'pushed', 'responded'),
                ('reject', 'responded', 'pushed'),
                ('respond', 'pushed', 'responded'),
                ('confirm', 'responded', 'closed'),
                ])
        users = [a.user.id if a.user else None for a in signal.actions]
        self.assertEqual(users, [None, f.regulator.id, f.user_a.id,
                f.regulator.id, f.user_a2.id, f.regulator.id])
        self.assertEqual(signal.actions[0].actor, "System")

    @with_transaction()
    def test_wrong_transitions_refused(self):
        "Refused actions raise a clear message and change nothing"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Action = pool.get('ct.risk.signal.action')
        Date = pool.get('ir.date')
        f = Fixture()
        signals = f.raise_signals()
        signal = signals['a-1']
        before = Action.search_count([])

        def refused(user, action, values, text):
            with f.as_user(user), \
                    self.assertRaises((SignalActionError, AccessError)) as cm:
                Signal.apply_action([Signal(signal.id)], action, values)
            self.assertIn(text, cm.exception.message)

        refused(f.regulator, 'confirm', {}, 'Open')
        refused(f.regulator, 'reject', {'reason': "x"}, signal.summary)
        refused(f.regulator, 'dispose', {}, 'reason')
        refused(f.regulator, 'dispose', {'reason': "  "}, 'reason')
        refused(f.regulator, 'hide', {'reason': "x",
                'hidden_until': Date.today()}, 'after today')
        refused(f.regulator, 'regrade', {'reason': "x", 'level': 'urgent'},
            'level')
        refused(f.regulator, 'close', {}, 'Unknown')
        refused(f.regulator, 'respond', {'reason': "x"}, 'not allowed')
        # a read-only group cannot act
        refused(f.inspector, 'dispose', {'reason': "x"}, 'Risk Signal')

        with f.as_user(f.regulator):
            Signal.apply_action([signal], 'push', {})
        # an institution cannot do the regulator's part
        with f.as_user(f.user_a), self.assertRaises(AccessError):
            Signal.apply_action([Signal(signal.id)], 'confirm', {})
        # a batch with one wrong signal changes none of them
        with f.as_user(f.regulator), \
                self.assertRaises(SignalActionError):
            Signal.apply_action(
                [signals['b-1'], Signal(signal.id)], 'push', {})
        self.assertEqual(Signal(signals['b-1'].id).state, 'open')
        self.assertEqual(Signal(signal.id).state, 'pushed')
        self.assertEqual(Action.search_count([]), before + 1)

    @with_transaction()
    def test_hide_and_reappear_frozen_clock(self):
        "Hidden one day, the signal comes back the next and notifies"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Date = pool.get('ir.date')
        f = Fixture()
        signal = f.raise_signals()['a-1']
        today = dt.date(2026, 3, 2)
        with patch.object(Date, 'today',
                classmethod(lambda cls, timezone=None: today)):
            with f.as_user(f.regulator):
                Signal.apply_action([signal], 'push', {})
                Signal.apply_action([Signal(signal.id)], 'hide', {
                        'reason': "等待现场检查",
                        'hidden_until': today + dt.timedelta(days=1),
                        })
            signal = Signal(signal.id)
            self.assertEqual(signal.state, 'hidden')
            self.assertEqual(signal.state_before_hide, 'pushed')
            self.assertFalse(signal.is_active_warning)
            self.assertFalse(Signal.unhide_expired())
            self.assertEqual(Signal(signal.id).state, 'hidden')

        tomorrow = today + dt.timedelta(days=1)
        transaction = Transaction()
        transaction.user_notifications.clear()
        with patch.object(Date, 'today',
                classmethod(lambda cls, timezone=None: tomorrow)):
            self.assertEqual(Signal.unhide_expired(), [signal])
        signal = Signal(signal.id)
        self.assertEqual(signal.state, 'pushed')
        self.assertIsNone(signal.hidden_until)
        self.assertTrue(signal.is_active_warning)
        self.assertEqual(timeline(signal)[-2:], [
                ('hide', 'pushed', 'hidden'),
                ('unhide', 'hidden', 'pushed'),
                ])
        self.assertEqual({n.user.id for n in transaction.user_notifications},
            {f.regulator.id, f.user_a.id, f.user_a2.id})

    @with_transaction()
    def test_stopped_rule_not_active_warning(self):
        "Stopping a rule keeps its signals in history, off the warnings"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        f = Fixture()
        signals = f.raise_signals()
        active = Signal.search([('is_active_warning', '=', True)])
        self.assertEqual(set(active), set(signals.values()))
        set_rule_state([f.rule], 'stopped')
        self.assertEqual(
            Signal.search([('is_active_warning', '=', True)]), [])
        self.assertEqual(set(Signal.search([
                        ('is_active_warning', '=', False),
                        ('state', '=', 'open')])), set(signals.values()))
        self.assertEqual({s.state for s in Signal.browse(
                    list(signals.values()))}, {'open'})
        data = risk_dashboard(pool)
        self.assertEqual(data['total'], 0)

    @with_transaction()
    def test_auto_close_recorded(self):
        "Signals of auto-dispose rules close themselves, recorded as such"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        f = Fixture()
        rule = make_rule('R-AUTO', level='medium', auto_dispose=True)
        signals = f.raise_signals(rule)
        counts = Signal.sync_findings(rule, [{
                    'fingerprint': 'a-1', 'summary': "甲医院整改逾期",
                    'institution': f.a.id}])
        self.assertEqual(counts['closed'], 1)
        closed = Signal(signals['b-1'].id)
        self.assertEqual(closed.state, 'auto_closed')
        self.assertEqual(timeline(closed)[-1],
            ('auto_close', 'open', 'auto_closed'))

    @with_transaction()
    def test_urgency_order_and_cron(self):
        "Level first, then overdue days; the cron adds the age"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        f = Fixture()
        low = make_rule('R-LOW', level='low')
        f.raise_signals()
        f.raise_signals(low, [{'fingerprint': 'x', 'summary': "低风险",
                    'institution': f.a.id, 'days_overdue': 300}])
        order = [s.fingerprint for s in Signal.search([])]
        self.assertEqual(order, ['a-1', 'b-1', 'x'])
        signal, = Signal.search([('fingerprint', '=', 'a-1')])
        urgency = signal.urgency
        Signal.write([signal], {
                'first_seen': signal.first_seen - dt.timedelta(days=5)})
        Signal.update_urgency()
        self.assertEqual(Signal(signal.id).urgency, urgency + 5)

    @with_transaction()
    def test_regrade_signal_and_rule(self):
        "Re-grade one signal, then all the signals of a rule (wizard)"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Regrade = pool.get('ct.risk.signal.regrade', type='wizard')
        f = Fixture()
        signals = f.raise_signals()
        with f.as_user(f.regulator):
            Signal.apply_action([signals['a-1']], 'regrade',
                {'reason': "多次复发", 'level': 'medium'})
        signal = Signal(signals['a-1'].id)
        self.assertEqual(signal.level, 'medium')
        self.assertEqual(signal.level_icon, 'ct-risk-level-medium')
        last = signal.actions[-1]
        self.assertEqual((last.from_level, last.to_level),
            ('high', 'medium'))

        with Transaction().set_user(f.regulator.id), \
                Transaction().set_context(
                    active_model='ct.risk.rule', active_id=f.rule.id,
                    active_ids=[f.rule.id]):
            session_id, _, _ = Regrade.create()
            result = Regrade.execute(session_id, {}, 'start')
            defaults = result['view']['defaults']
            self.assertEqual(defaults['signal_count'], 2)
            Regrade.execute(session_id, {'start': {
                        'reason': "专项整治期间降级", 'level': 'low',
                        'action': 'regrade', 'signal_count': 2,
                        }}, 'apply')
            Regrade.delete(session_id)
        self.assertEqual({s.level for s in Signal.browse(
                    [s.id for s in signals.values()])}, {'low'})

    @with_transaction()
    def test_institution_sees_own_pushed_without_rule(self):
        "Own institution, pushed only, no rule internals, shared steps"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Action = pool.get('ct.risk.signal.action')
        f = Fixture()
        signals = f.raise_signals()
        with f.as_user(f.user_a):
            self.assertEqual(Signal.search([]), [])
        with f.as_user(f.regulator):
            Signal.apply_action(list(signals.values()), 'push', {})
            Signal.apply_action([Signal(signals['a-1'].id)], 'regrade',
                {'reason': "内部研判", 'level': 'low'})
        with f.as_user(f.user_a):
            own, = Signal.search([])
            self.assertEqual(own, signals['a-1'])
            Signal.read([own.id], ['summary', 'state', 'measures'])
            with self.assertRaises(AccessError):
                Signal.read([own.id], ['rule'])
            with self.assertRaises(AccessError):
                Signal.read([signals['b-1'].id], ['summary'])
            steps = [a.action for a in Action.search([])]
            self.assertEqual(steps, ['push'])
            self.assertEqual(
                Signal.search([('is_active_warning', '=', True)]), [own])

    @with_transaction()
    def test_export_xlsx_and_pdf(self):
        "Chinese headers, coloured level cells; PDF; background job"
        import openpyxl
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        Xlsx = pool.get('ct.risk.signal.xlsx', type='report')
        Pdf = pool.get('ct.risk.signal.pdf', type='report')
        Export = pool.get('ct.risk.signal.export', type='wizard')
        Job = pool.get('ct.job')
        f = Fixture()
        signals = f.raise_signals()
        ids = [s.id for s in Signal.search([])]
        with f.as_user(f.regulator):
            ext, data, _, name = Xlsx.execute(ids, {})
        self.assertEqual(ext, 'xlsx')
        self.assertTrue(name.startswith('风险信号-'))
        sheet = openpyxl.load_workbook(io.BytesIO(data)).active
        header = [c.value for c in sheet[1]]
        self.assertEqual(header[:4], ['序号', '风险等级', '风险信号', '机构'])
        self.assertIn('预警规则', header)
        self.assertEqual(sheet.max_row, 3)
        self.assertEqual(sheet['B2'].value, '高')
        self.assertEqual(sheet['B2'].fill.fgColor.rgb, 'FFD93025')
        self.assertEqual(sheet['C2'].value, "甲医院整改逾期")
        self.assertEqual(sheet['D2'].value, "甲医院")

        with f.as_user(f.regulator):
            Signal.apply_action([signals['a-1']], 'push', {})
        with f.as_user(f.user_a):
            _, data, _, _ = Xlsx.execute([signals['a-1'].id], {})
            header = [c.value for c in openpyxl.load_workbook(
                    io.BytesIO(data)).active[1]]
            self.assertNotIn('预警规则', header)
            with self.assertRaises(AccessError):
                Xlsx.execute([signals['b-1'].id], {})

        with f.as_user(f.regulator):
            ext, data, _, _ = Pdf.execute(ids, {})
        self.assertEqual(ext, 'pdf')
        self.assertTrue(data.startswith(b'%PDF'))

        # by criteria, above the threshold: a background job
        with Transaction().set_user(f.regulator.id), \
                patch.object(export_module, 'BACKGROUND_THRESHOLD', 1), \
                Transaction().set_context(active_model="ir.ui.menu",
                    action_id=pool.get("ir.model.data").get_id(
                        "ct_risk", "wizard_signal_export_menu")):
            session_id, _, _ = Export.create()
            Export.execute(session_id, {}, 'start')
            result = Export.execute(session_id, {'start': {
                        'format': 'xlsx', 'scope': 'criteria',
                        'levels': ['high'], 'active_only': True,
                        'states': [], 'listed_count': 0,
                        }}, 'export')
            Export.delete(session_id)
        action, = result['actions']
        job, = Job.browse(action[0]['res_id'])
        self.assertEqual(job.kind, 'risk_signal_export')
        self.assertEqual(job.method, 'ct.risk.signal|export_job')
        with Transaction().set_user(f.regulator.id):
            name, data = Signal.export_job(
                **json.loads(job.parameters)['kwargs'])
        self.assertTrue(name.endswith('.xlsx'))
        self.assertEqual(openpyxl.load_workbook(
                io.BytesIO(data)).active.max_row, 3)

        # listed, under the threshold: the report directly
        with Transaction().set_user(f.regulator.id), \
                Transaction().set_context(active_model='ct.risk.signal',
                    active_id=ids[0], active_ids=ids):
            session_id, _, _ = Export.create()
            Export.execute(session_id, {}, 'start')
            result = Export.execute(session_id, {'start': {
                        'format': 'pdf', 'scope': 'listed',
                        'listed_count': 2, 'levels': [], 'states': [],
                        }}, 'export')
            Export.delete(session_id)
        (action, data), = result['actions']
        self.assertEqual(action['report_name'], 'ct.risk.signal.pdf')
        self.assertEqual(data['ids'], ids)

    @with_transaction()
    def test_dashboard_drill_down(self):
        "Each element's domain finds exactly the signals it counts"
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        f = Fixture()
        medium = make_rule('R-MED', level='medium')
        f.raise_signals()
        f.raise_signals(medium, [{'fingerprint': 'm', 'summary': "中风险",
                    'institution': f.a.id}])
        with f.as_user(f.regulator):
            data = risk_dashboard(pool)
        self.assertEqual(data['total'], 3)
        self.assertTrue(data['sao_url'].endswith('/model/ct.risk.signal'))
        elements = (data['levels'] + data['monitors']
            + data['trend']['raised'] + data['trend']['closed']
            + [d for s in data['institutions']['series'] for d in s['data']])
        for element in elements:
            with self.subTest(title=element['drill']['title']):
                self.assertEqual(Signal.search_count(
                        element['drill']['domain']), element['value'])
        self.assertEqual({x['key']: x['value'] for x in data['levels']},
            {'high': 2, 'medium': 1, 'low': 0})
        self.assertEqual(data['institutions']['categories'][0], "甲医院")
        self.assertEqual(sum(d['value'] for d in data['trend']['raised']), 3)

    @with_transaction()
    def test_open_related_from_institution_and_inspection(self):
        "One click from an institution (or inspection) opens its signals"
        pool = Pool()
        OpenRelated = pool.get('ct.risk.signal.open_related', type='wizard')
        Signal = pool.get('ct.risk.signal')
        Inspection = pool.get('ct.inspection')
        f = Fixture()
        f.raise_signals()
        inspection, = Inspection.create([{
                    'institution': f.a.id, 'source': 'center',
                    'inspection_type': 'routine',
                    'date_start': dt.date(2026, 3, 1),
                    'date_end': dt.date(2026, 3, 2),
                    }])
        for model, record in [('ct.institution', f.a),
                ('ct.inspection', inspection)]:
            with self.subTest(model=model), \
                    Transaction().set_user(f.inspector.id), \
                    Transaction().set_context(active_model=model,
                        active_id=record.id, active_ids=[record.id]):
                session_id, _, _ = OpenRelated.create()
                result = OpenRelated.execute(session_id, {}, 'start')
                OpenRelated.delete(session_id)
                (action, _), = result['actions']
                domain = PYSONDecoder().decode(action['pyson_domain'])
                found = Signal.search(domain)
                self.assertEqual([s.institution for s in found], [f.a])
                self.assertIn("甲医院", action['name'])
