"""Browser test helpers: a throw-away trytond server with sao, and Chromium.

The server runs on its own SQLite database (database language zh_CN) in a
temporary folder, in a separate process, so that it never shares
configuration with the module tests running in the pytest process.
"""
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import polib
import pytest

REPO = Path(__file__).resolve().parents[2]
SAO = REPO / 'var' / 'sao' / 'node_modules' / 'tryton-sao'
WEB_ASSETS = REPO / 'var' / 'web' / 'node_modules'
OUT = REPO / 'out' / 'browser'
CHROMIUM = os.environ.get('CT_CHROMIUM', '/usr/bin/chromium')
CHROMIUM_ARGS = [
    '--no-sandbox', '--disable-gpu', '--disable-background-networking',
    '--disable-component-update', '--no-first-run', '--disable-sync',
    ]
DATABASE = 'ctdb'
# Every module, so that what ct_security adds (headers, session checks)
# is exercised by the real web client.
MODULES = sorted(p.name for p in (REPO / 'addons').glob('ct_*')
    if (p / 'tryton.cfg').exists())
PASSWORD = 'Ct#Browser-2026'
BIN = Path(sys.executable).parent

SEED = '''
import sys

import trytond.config as config

config.update_etc(sys.argv[2])

from trytond.pool import Pool  # noqa: E402
from trytond.transaction import Transaction  # noqa: E402

database = sys.argv[1]
Pool.start()
pool = Pool(database)
pool.init()
with Transaction().start(database, 0) as transaction:
    Institution = pool.get('ct.institution')
    Lang = pool.get('ir.lang')
    ModelData = pool.get('ir.model.data')
    User = pool.get('res.user')
    zh_cn, = Lang.search([('code', '=', 'zh_CN')])
    institutions = Institution.create([
            {'name': n, 'code': c, 'kind': k, 'district': d}
            for n, c, k, d in [
                ('瑞金医院', 'JG-001', 'clinical', 'huangpu'),
                ('中山医院', 'JG-002', 'clinical', 'xuhui'),
                ('徐汇药物安全评价中心', 'GLP-001', 'nonclinical', 'xuhui'),
                ]])
    User.create([{
                'login': 'regulator', 'name': '监管员',
                'password': sys.argv[3], 'language': zh_cn.id,
                'groups': [('add', [
                            ModelData.get_id('ct_base', 'group_regulator')])],
                }, {
                'login': 'ruijin', 'name': '瑞金医院机构用户',
                'password': sys.argv[3], 'language': zh_cn.id,
                'groups': [('add', [
                            ModelData.get_id('ct_base', 'group_institution')])],
                'ct_institution': institutions[0].id,
                }])
    if 'ct.inspection' in dict(pool.iterobject()):
        import datetime as dt
        Inspection = pool.get('ct.inspection')
        Defect = pool.get('ct.inspection.defect')
        for institution, day in [(institutions[0], 3), (institutions[1], 10)]:
            inspection, = Inspection.create([{
                        'institution': institution.id,
                        'date_start': dt.date(2025, 9, day),
                        'date_end': dt.date(2025, 9, day + 2),
                        'conclusion': 'rectify', 'judgement': '整改后评定',
                        }])
            Inspection.start([inspection])
            # Markup in a text field must show as text, never run
            Defect.create([{'inspection': inspection.id,
                        'severity': 'critical', 'description': '原始记录修改未留痕'
                        '<img src=x onerror=alert(1)><script>alert(2)'
                        '</script>'}])
            Inspection.conclude([inspection])
    if 'ct.risk.rule' in dict(pool.iterobject()):
        Rule = pool.get('ct.risk.rule')
        Signal = pool.get('ct.risk.signal')
        Rule.patrol(Rule.search([('monitor', '=', 'inspection_conclusion')]))
        Signal.apply_action(Signal.search(
                [('institution', '=', institutions[0].id)]), 'push', {})
    transaction.commit()
'''


@dataclass
class Server:
    url: str
    database: str
    directory: Path
    log: Path


def free_port():
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def _env():
    "The environment without the caller's trytond settings"
    env = {k: v for k, v in os.environ.items()
        if not k.startswith('TRYTOND_') and k != 'DB_CACHE'}
    env['PYTHONUNBUFFERED'] = '1'
    return env


def _run(args, log, **kwargs):
    with open(log, 'a') as out:
        result = subprocess.run(
            args, stdout=out, stderr=subprocess.STDOUT, env=_env(),
            cwd=REPO, **kwargs)
    if result.returncode:
        pytest.fail(
            f"{' '.join(map(str, args))} failed:\n{log.read_text()[-3000:]}")


def _wait_http(url, process, log, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"trytond stopped:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.3)
    pytest.fail(f"trytond did not answer {url}:\n{log.read_text()[-3000:]}")


@pytest.fixture(scope='session')
def server(tmp_path_factory):
    "trytond with sao on a fresh zh_CN database holding two users"
    if not (SAO / 'index.html').is_file() or not (
            SAO / 'node_modules' / 'jquery').is_dir():
        pytest.skip(f"sao is not installed in {SAO}: run tools/install-web")
    directory = tmp_path_factory.mktemp('trytond')
    port = free_port()
    conf = directory / 'trytond.conf'
    conf.write_text(f'''[database]
uri = sqlite://
path = {directory}
language = zh_CN

[web]
listen = 127.0.0.1:{port}
root = {SAO}

[ct]
web_assets = {WEB_ASSETS}

[password]
length = 8

[ct_security]
# The forced change at first login is covered by ct_security's tests.
password_force_change = False
''')
    log = directory / 'trytond.log'
    (directory / f'{DATABASE}.sqlite').touch()
    (directory / 'password').write_text('admin-browser-2025')
    env = {'TRYTONPASSFILE': str(directory / 'password')}
    with open(log, 'a') as out:
        result = subprocess.run([
                BIN / 'trytond-admin', '-c', conf, '-d', DATABASE,
                '-u', *MODULES, '--activate-dependencies',
                '--email', 'admin@example.com'],
            stdout=out, stderr=subprocess.STDOUT, cwd=REPO,
            env={**_env(), **env})
    if result.returncode:
        pytest.fail(f"trytond-admin failed:\n{log.read_text()[-3000:]}")
    _run([sys.executable, '-c', SEED, DATABASE, conf, PASSWORD], log)

    with open(log, 'a') as out:
        process = subprocess.Popen(
            [BIN / 'trytond', '-c', conf, '-d', DATABASE],
            stdout=out, stderr=subprocess.STDOUT, env=_env(), cwd=REPO)
    try:
        url = f'http://127.0.0.1:{port}/'
        _wait_http(url, process, log)
        yield Server(url=url, database=DATABASE, directory=directory,
            log=log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope='session')
def browser():
    playwright_api = pytest.importorskip('playwright.sync_api')
    if not shutil.which(CHROMIUM) and not Path(CHROMIUM).is_file():
        pytest.skip(f"no Chromium at {CHROMIUM}")
    with playwright_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture
def context(browser):
    context = browser.new_context(
        locale='zh-CN', viewport={'width': 1440, 'height': 900})
    context.set_default_timeout(30_000)
    yield context
    context.close()


@pytest.fixture(scope='session')
def out_dir():
    OUT.mkdir(parents=True, exist_ok=True)
    return OUT


@pytest.fixture(scope='session')
def zh_cn():
    """The zh_CN translations of the modules by (msgctxt, msgid), ct_base's
    winning where xml ids repeat across modules.

    An untranslated or fuzzy entry gives its source text: it is what
    Tryton shows (fuzzy translations are not used).
    """
    result = {}
    for module in sorted(MODULES, key=lambda m: m == 'ct_base'):
        po = polib.pofile(
            str(REPO / 'addons' / module / 'locale' / 'zh_CN.po'))
        result.update({(e.msgctxt, e.msgid): e.msgid
                if not e.msgstr or 'fuzzy' in e.flags else e.msgstr
                for e in po if not e.obsolete})
    return result


class Sao:
    "Drive sao in a page: login, menu, list"

    def __init__(self, page, server):
        self.page = page
        self.server = server

    def login(self, login, password=PASSWORD):
        page = self.page
        page.goto(f'{self.server.url}#{self.server.database}')
        page.locator('.login-dialog #login').fill(login)
        page.locator('.login-dialog button[type=submit]').click()
        page.locator('.ask-dialog #ask-dialog-entry').fill(password)
        page.locator('.ask-dialog .btn-primary').click()
        page.locator('#menu .column-char').first.wait_for()

    def menu_row(self, name):
        return self.page.locator('#menu tbody tr').filter(
            has=self.page.locator(f'.column-char[title="{name}"]'))

    def open_menu(self, *names):
        "Expand the menu path and activate its last entry"
        for parent, child in zip(names, names[1:], strict=False):
            child_row = self.menu_row(child).first
            if not child_row.is_visible():
                self.menu_row(parent).first.locator('.expander').click()
                child_row.wait_for()
        self.menu_row(names[-1]).first.locator('.column-char').click()

    def list_view(self):
        "The tree of the current tab once loaded"
        table = self.page.locator('#tabcontent .tab-pane.active table.tree')
        table.first.wait_for()
        return table.first

    def column_labels(self):
        return [t.strip() for t in self.list_view().locator(
                'thead th:visible .header label').all_inner_texts()]

    def rows(self):
        "The text of each record row of the current list"
        rows = self.list_view().locator('tbody tr:visible')
        return [t for t in rows.all_inner_texts() if t.strip()]


@pytest.fixture
def sao(context, server):
    "A fresh page in a fresh browser context, driven through sao"
    return Sao(context.new_page(), server)
