"""Chart pages: a registry of Apache ECharts charts served by custom routes.

A module adds a chart with one call (in a file its ``__init__.py``
imports, as routes are process-global)::

    from trytond.modules.ct_base.chart import register_chart

    def risk_levels(pool):
        # Runs as the requesting user with _check_access: aggregate in SQL
        # over Model.search(domain, query=True) so that record rules apply.
        return {'categories': [...], 'series': [...]}

    register_chart(
        'risk_levels', module='ct_risk',
        title='ct_risk.msg_chart_risk_levels',
        data=risk_levels, script='chart_risk_levels.js')

ships ``static/chart_risk_levels.js`` that turns the data into an ECharts
option::

    CtChart.register('risk_levels', function(data, text) {
        return {xAxis: {...}, yAxis: {...}, series: [...]};
    });

and opens it from a menu with an ``ir.action.url`` whose url is
``/{database}/ct/chart/risk_levels``.
"""
import html
import importlib
import json
from dataclasses import dataclass
from pathlib import Path
from string import Template
from typing import Callable
from urllib.parse import quote

import trytond.config as config
from sql.aggregate import Count
from trytond.i18n import gettext
from trytond.protocols.jsonrpc import JSONEncoder
from trytond.transaction import Transaction

ECHARTS = 'echarts/dist/echarts.min.js'
# The repository root when the module runs from the work tree.
_REPO = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Chart:
    "A chart page: title, data function and the script building its option"
    name: str
    module: str
    title: str
    data: Callable
    script: str

    @property
    def static_dir(self):
        return static_dir(self.module)


if __name__ == 'trytond.modules.ct_base.chart':
    CHARTS = {}
else:
    # The same file imported a second time under another name (pytest
    # imports the tests' packages from addons/ as ct_base...): one registry,
    # or the routes registered by the second copy would not know the charts
    # of the other modules.
    from trytond.modules.ct_base.chart import CHARTS  # noqa: E402


def register_chart(name, *, module, title, data, script):
    """Register the chart `name`.

    title: an ir.message id ('module.msg_x') translated for the user;
    data: function(pool) returning JSON-serialisable data for the script;
    script: a file in the module's static/ folder that calls
    CtChart.register(name, function(data, text) {return option;}).
    """
    CHARTS[name] = Chart(name, module, title, data, script)
    return CHARTS[name]


def static_dir(module):
    "The static/ folder of the module"
    package = importlib.import_module(f'trytond.modules.{module}')
    return Path(package.__file__).parent / 'static'


def echarts_candidates():
    """The places where echarts.min.js is looked for, in order

    [ct] web_assets names the node_modules folder holding echarts; when it
    is set it is the only place (a wrong setting must not go unnoticed).
    Otherwise var/web/node_modules of the work tree, as tools/install-web
    lays it, then of the current directory.
    """
    configured = config.get('ct', 'web_assets')
    if configured:
        return [Path(configured) / ECHARTS]
    return [
        _REPO / 'var' / 'web' / 'node_modules' / ECHARTS,
        Path.cwd() / 'var' / 'web' / 'node_modules' / ECHARTS,
        ]


def echarts_path():
    "The installed echarts.min.js or None"
    for path in echarts_candidates():
        if path.is_file():
            return path


def _script_json(value):
    "JSON that is safe inside a <script> element"
    return (json.dumps(value, cls=JSONEncoder, ensure_ascii=False)
        .replace('<', '\\u003c').replace('>', '\\u003e')
        .replace('&', '\\u0026'))


def render_page(chart, database_name):
    "The HTML page of the chart, in the transaction's language"
    template = Template(
        (static_dir('ct_base') / 'chart.html').read_text(encoding='utf-8'))
    base = '/' + quote(database_name, safe='')
    static = f'{base}/ct/static'
    text = {
        'platform': gettext('ct_base.msg_chart_platform'),
        'loading': gettext('ct_base.msg_chart_loading'),
        'empty': gettext('ct_base.msg_chart_empty'),
        'error': gettext('ct_base.msg_chart_error'),
        'total': gettext('ct_base.msg_chart_total'),
        }
    title = gettext(chart.title)
    settings = {
        'name': chart.name,
        'data_url': f'{base}/ct/chart/{quote(chart.name, safe="")}/data',
        'text': text,
        }
    language = Transaction().language or 'en'
    return template.substitute(
        lang=html.escape(language.replace('_', '-')),
        title=html.escape(title),
        platform=html.escape(text['platform']),
        loading=html.escape(text['loading']),
        settings=_script_json(settings),
        echarts=html.escape(f'{static}/echarts.min.js'),
        chart_css=html.escape(f'{static}/ct_base/chart.css'),
        chart_js=html.escape(f'{static}/ct_base/chart.js'),
        script=html.escape(
            f'{static}/{quote(chart.module)}/{quote(chart.script)}'),
        )


def selection_labels(Model, field_name):
    "The selection of the field as {key: label} in the user's language"
    field = Model.fields_get([field_name])[field_name]
    return dict(field['selection'])


def institution_district(pool):
    "Active institutions by district and kind, as seen by the user"
    Institution = pool.get('ct.institution')
    institution = Institution.__table__()
    cursor = Transaction().connection.cursor()

    allowed = Institution.search([], query=True, order=[])
    cursor.execute(*institution.select(
            institution.district, institution.kind, Count(),
            where=institution.id.in_(allowed),
            group_by=[institution.district, institution.kind]))
    counts = {(d, k): c for d, k, c in cursor}

    districts = selection_labels(Institution, 'district')
    kinds = selection_labels(Institution, 'kind')
    used = {d for d, _ in counts}
    # Keep the selection order (a geographic one), not the label order.
    keys = [d for d in districts if d in used and d is not None]
    if None in used:
        keys.append(None)
    categories = [districts[d] or gettext('ct_base.msg_chart_no_district')
        for d in keys]
    series = [{
            'key': kind,
            'name': label,
            'data': [counts.get((d, kind), 0) for d in keys],
            } for kind, label in kinds.items()]
    return {
        'categories': categories,
        'district_keys': keys,
        'series': series,
        'total': sum(counts.values()),
        }


register_chart(
    'institution_district', module='ct_base',
    title='ct_base.msg_chart_institution_district',
    data=institution_district, script='chart_institution_district.js')

