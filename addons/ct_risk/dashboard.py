"""The risk dashboard (风险预警看板): an ECharts page of the active
warnings by level and by monitor, raised and closed signals by week and
the institutions with most warnings.

It is a chart page of ct_base (``register_chart``): the data runs as the
requesting user with access checks, so record rules apply. Every element
carries the domain it counts and a click opens that filtered list in sao
through its URL scheme ``/#<database>/model/ct.risk.signal;domain=<JSON>
&name=<JSON>`` (``Sao.open_url`` in sao 8.0), in a browser tab named
``ct-sao``: the sao session is kept in localStorage, so the tab is logged
in already.
"""
import datetime
from collections import Counter
from urllib.parse import quote

from sql.aggregate import Count
from trytond.i18n import gettext
from trytond.modules.ct_base.chart import register_chart
from trytond.transaction import Transaction

from .signal import CLOSED_STATES, LEVELS

LEVEL_COLORS = {'high': '#d93025', 'medium': '#f5b800', 'low': '#1a73e8'}
WEEKS = 12
TOP_INSTITUTIONS = 10
ACTIVE = ('is_active_warning', '=', True)


def _to_datetime(value):
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


def _drill(domain, title):
    return {'domain': domain, 'title': gettext(
            'ct_risk.msg_chart_signals_of', filter=title)}


def risk_dashboard(pool, today=None):
    "The data of the dashboard, as seen by the user"
    Signal = pool.get('ct.risk.signal')
    Institution = pool.get('ct.institution')
    Party = pool.get('party.party')
    signal = Signal.__table__()
    institution = Institution.__table__()
    party = Party.__table__()
    cursor = Transaction().connection.cursor()
    if today is None:
        today = pool.get('ir.date').today()

    allowed = Signal.search([], query=True, order=[])
    visible = signal.id.in_(allowed)
    active = visible & signal.id.in_(Signal._active_warning_query())
    levels = dict(Signal.fields_get(['level'])['level']['selection'])
    monitors = dict(Signal.get_monitors())

    cursor.execute(*signal.select(signal.level, Count(),
            where=active, group_by=[signal.level]))
    by_level = dict(cursor)
    level_items = [{
            'key': key,
            'name': levels.get(key, key),
            'value': by_level.get(key, 0),
            'color': LEVEL_COLORS[key],
            'drill': _drill([ACTIVE, ('level', '=', key)],
                levels.get(key, key)),
            } for key, _ in LEVELS]

    cursor.execute(*signal.select(signal.monitor, Count(),
            where=active, group_by=[signal.monitor],
            order_by=[Count().desc, signal.monitor]))
    monitor_items = [{
            'key': key,
            'name': monitors.get(key) or key or '',
            'value': count,
            'drill': _drill([ACTIVE, ('monitor', '=', key)],
                monitors.get(key) or key or ''),
            } for key, count in cursor]

    # Weeks start on Monday; the last one is the current week.
    start = today - datetime.timedelta(days=today.weekday() + 7 * (WEEKS - 1))
    weeks = [start + datetime.timedelta(days=7 * i) for i in range(WEEKS)]
    since = datetime.datetime.combine(start, datetime.time.min)

    def week_index(value):
        value = _to_datetime(value)
        return (value.date() - start).days // 7 if value else None
    cursor.execute(*signal.select(signal.first_seen,
            where=visible & (signal.first_seen >= since)))
    raised = Counter(week_index(v) for v, in cursor)
    cursor.execute(*signal.select(signal.closed_date,
            where=visible & (signal.closed_date >= since)
            & signal.state.in_(CLOSED_STATES)))
    closed = Counter(week_index(v) for v, in cursor)
    raised_name = gettext('ct_risk.msg_chart_raised')
    closed_name = gettext('ct_risk.msg_chart_closed')
    trend = {'categories': [w.strftime('%m-%d') for w in weeks],
        'raised': [], 'closed': [],
        'names': {'raised': raised_name, 'closed': closed_name}}
    for i, week in enumerate(weeks):
        begin = datetime.datetime.combine(week, datetime.time.min)
        end = begin + datetime.timedelta(days=7)
        label = gettext('ct_risk.msg_chart_week_of',
            date=week.strftime('%Y-%m-%d'))
        trend['raised'].append({'value': raised.get(i, 0),
                'drill': _drill([('first_seen', '>=', begin),
                        ('first_seen', '<', end)],
                    f'{raised_name} {label}')})
        trend['closed'].append({'value': closed.get(i, 0),
                'drill': _drill([('state', 'in', CLOSED_STATES),
                        ('closed_date', '>=', begin),
                        ('closed_date', '<', end)],
                    f'{closed_name} {label}')})

    cursor.execute(*signal.join(institution,
            condition=signal.institution == institution.id).select(
            signal.institution, Count(),
            where=active, group_by=[signal.institution],
            order_by=[Count().desc, signal.institution],
            limit=TOP_INSTITUTIONS))
    top = [i for i, _ in cursor]
    names, per_level = {}, Counter()
    if top:
        cursor.execute(*signal.join(institution,
                condition=signal.institution == institution.id).join(party,
                condition=institution.party == party.id).select(
                signal.institution, party.name, signal.level, Count(),
                where=active & signal.institution.in_(top),
                group_by=[signal.institution, party.name, signal.level]))
        for institution_id, name, level, count in cursor:
            names[institution_id] = name
            per_level[institution_id, level] = count
    institutions = {
        'categories': [names.get(i, '') for i in top],
        'series': [{
                'key': key,
                'name': levels.get(key, key),
                'color': LEVEL_COLORS[key],
                'data': [{
                        'value': per_level.get((i, key), 0),
                        'drill': _drill([ACTIVE, ('institution', '=', i),
                                ('level', '=', key)],
                            f'{names.get(i, "")} {levels.get(key, key)}'),
                        } for i in top],
                } for key, _ in LEVELS],
        }

    database = Transaction().database.name
    return {
        'total': sum(by_level.values()),
        'sao_url': f'/#{quote(database, safe="")}/model/ct.risk.signal',
        'levels': level_items,
        'monitors': monitor_items,
        'trend': trend,
        'institutions': institutions,
        'text': {
            'levels': gettext('ct_risk.msg_chart_by_level'),
            'monitors': gettext('ct_risk.msg_chart_by_monitor'),
            'trend': gettext('ct_risk.msg_chart_trend'),
            'institutions': gettext('ct_risk.msg_chart_top_institutions'),
            'hint': gettext('ct_risk.msg_chart_click_hint'),
            },
        }


register_chart(
    'risk_dashboard', module='ct_risk',
    title='ct_risk.msg_chart_risk_dashboard',
    data=risk_dashboard, script='chart_risk_dashboard.js')
