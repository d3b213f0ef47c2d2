"""Chart pages (see chart.py), authenticated by the sao session.

The page and its data run as the requesting user with _check_access, so
access rights and record rules apply. The static assets hold no data and
are served without a session.
"""
import mimetypes
import os

from trytond.model.exceptions import AccessError
from trytond.protocols.jsonrpc import JSONEncoder, json
from trytond.protocols.wrappers import (
    HTTPStatus,
    Response,
    abort,
    with_pool,
    with_transaction,
)
from trytond.transaction import Transaction
from trytond.wsgi import app
from werkzeug.security import safe_join
from werkzeug.utils import send_file

from .chart import CHARTS, echarts_candidates, echarts_path, render_page

CHECK_ACCESS = dict(_check_access=True)


def _chart(pool, name):
    "The chart if it exists and its module is activated, else 404"
    chart = CHARTS.get(name)
    if chart is None:
        abort(HTTPStatus.NOT_FOUND)
    Module = pool.get('ir.module')
    with Transaction().set_context(_check_access=False):
        activated = Module.search_count([
                ('name', '=', chart.module),
                ('state', '=', 'activated'),
                ])
    if not activated:
        abort(HTTPStatus.NOT_FOUND)
    return chart


def _user_context(pool):
    "The user's preferences (language, ...) as sao would send them"
    return pool.get('res.user').get_preferences(context_only=True)


@app.route('/<database_name>/ct/chart/<name>', methods={'GET'})
@app.auth_required
@with_pool
@with_transaction(user='request', context=CHECK_ACCESS)
def chart_page(request, pool, name):
    chart = _chart(pool, name)
    with Transaction().set_context(_user_context(pool)):
        page = render_page(chart, pool.database_name)
    return Response(page, content_type='text/html; charset=utf-8')


@app.route('/<database_name>/ct/chart/<name>/data', methods={'GET'})
@app.auth_required
@with_pool
@with_transaction(user='request', context=CHECK_ACCESS)
def chart_data(request, pool, name):
    chart = _chart(pool, name)
    try:
        with Transaction().set_context(_user_context(pool)):
            data = chart.data(pool)
    except AccessError as e:
        abort(HTTPStatus.FORBIDDEN, e)
    return Response(
        json.dumps(data, cls=JSONEncoder, ensure_ascii=False),
        content_type='application/json; charset=utf-8')


@app.route('/<database_name>/ct/static/<path:path>', methods={'GET'})
def chart_static(request, database_name, path):
    """echarts.min.js (installed by tools/install-web) or a file of the
    static/ folder of a module that registered a chart"""
    if path == 'echarts.min.js':
        filename = echarts_path()
        if filename is None:
            looked = ', '.join(str(p) for p in echarts_candidates())
            return Response(
                "ECharts is not installed: run tools/install-web or set "
                f"[ct] web_assets (looked for {looked}).\n",
                status=HTTPStatus.SERVICE_UNAVAILABLE,
                content_type='text/plain; charset=utf-8')
    else:
        module, _, rest = path.partition('/')
        directories = {c.module: c.static_dir for c in CHARTS.values()}
        directory = directories.get(module)
        filename = safe_join(str(directory), rest) if directory else None
        if filename is None or not rest:
            abort(HTTPStatus.NOT_FOUND)
    if not os.path.isfile(filename):
        abort(HTTPStatus.NOT_FOUND)
    mimetype, _ = mimetypes.guess_type(str(filename))
    return send_file(
        filename, request.environ,
        mimetype=mimetype or 'application/octet-stream', max_age=3600)
