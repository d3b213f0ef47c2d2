"""Log into sao in Chromium as a regulator and as an institution user.

Run tools/install-web first (sao and ECharts from npm). Screenshots go to
out/browser/.
"""
import re

import pytest

CJK = re.compile(r'[\u4e00-\u9fff]')
PLATFORM = '药物临床试验大数据监管平台'
CENTER = '上海药品审评核查中心'


def menu(zh_cn, xml_id, source):
    return zh_cn[(f'model:ir.ui.menu,name:{xml_id}', source)]


def field(zh_cn, name, source):
    return zh_cn[(f'field:ct.institution,{name}:', source)]


@pytest.fixture
def names(zh_cn):
    "What sao must show, from ct_base's zh_CN translations"
    names = {
        'menu_ct': menu(zh_cn, 'menu_ct', "Clinical Trial Supervision"),
        'menu_master_data': menu(zh_cn, 'menu_master_data', "Master Data"),
        'menu_institution': menu(
            zh_cn, 'menu_institution_form', "Institutions"),
        'menu_charts': menu(zh_cn, 'menu_charts', "Charts"),
        'menu_chart': menu(
            zh_cn, 'menu_chart_institution_district',
            "Institutions by District"),
        'code': field(zh_cn, 'code', "Filing Number"),
        'name': field(zh_cn, 'name', "Name"),
        'district': field(zh_cn, 'district', "District"),
        'chart_title': zh_cn[(
                'model:ir.message,text:msg_chart_institution_district',
                "Institutions by District")],
        'huangpu': zh_cn[('selection:ct.institution,district:', "Huangpu")],
        }
    untranslated = sorted(k for k, v in names.items() if not CJK.search(v))
    assert not untranslated, (
        f"ct_base/locale/zh_CN.po lacks translations for {untranslated}")
    return names


def test_login_branding(sao, out_dir):
    "The login dialog and the window carry the platform's name"
    page = sao.page
    page.goto(f'{sao.server.url}#{sao.server.database}')
    dialog = page.locator('.login-dialog')
    dialog.locator('#login').wait_for()
    assert page.title() == PLATFORM
    assert page.locator('#title').inner_text() == PLATFORM
    assert dialog.locator('.ct-login-center').inner_text() == CENTER
    assert dialog.locator('.ct-login-platform').inner_text() == PLATFORM
    assert 'Tryton' not in page.locator('body').inner_text()
    page.screenshot(path=str(out_dir / 'login.png'))


def open_institutions(sao, names):
    sao.open_menu(
        names['menu_ct'], names['menu_master_data'], names['menu_institution'])
    sao.list_view().locator('tbody tr').first.wait_for()
    labels = sao.column_labels()
    # No kind column: sao hides a column that the tab's domain fixes.
    for key in ['code', 'name', 'district']:
        assert names[key] in labels, (names[key], labels)
    return sao.rows()


def open_chart(sao, names, out_path):
    "Open the chart from the menu; return its page once rendered"
    with sao.page.context.expect_page() as new_page:
        sao.open_menu(names['menu_ct'], names['menu_charts'],
            names['menu_chart'])
    chart = new_page.value
    chart.wait_for_selector('body[data-ct-chart]')
    assert chart.locator('body').get_attribute('data-ct-chart') == 'ready', (
        chart.locator('#ct-chart-status').inner_text())
    assert chart.locator('#ct-chart canvas').count() >= 1
    assert chart.locator('h1').inner_text() == names['chart_title']
    assert chart.title() == f"{names['chart_title']} - {PLATFORM}"
    chart.wait_for_timeout(800)  # let the bars' animation finish
    chart.screenshot(path=str(out_path))
    option = chart.evaluate(
        "() => echarts.getInstanceByDom("
        "document.getElementById('ct-chart')).getOption()")
    return chart, option


def test_regulator(sao, names, out_dir):
    "A regulator sees every institution, in the list and in the chart"
    sao.login('regulator')
    assert sao.page.title() == PLATFORM
    assert sao.page.locator('#title').inner_text() == PLATFORM
    rows = open_institutions(sao, names)
    # The first tab holds the clinical institutions.
    assert len(rows) == 2, rows
    assert any('瑞金医院' in r for r in rows)
    assert any('中山医院' in r for r in rows)
    assert any(names['huangpu'] in r for r in rows)
    sao.page.screenshot(path=str(out_dir / 'regulator-institutions.png'))

    chart, option = open_chart(
        sao, names, out_dir / 'regulator-chart.png')
    assert names['huangpu'] in option['xAxis'][0]['data']
    assert sum(sum(s['data']) for s in option['series']) == 3
    assert '3' in chart.locator('#ct-chart-status').inner_text()


def test_institution_user(sao, names, out_dir):
    "An institution user sees only its own institution"
    sao.login('ruijin')
    rows = open_institutions(sao, names)
    assert len(rows) == 1, rows
    assert '瑞金医院' in rows[0]
    assert not any('中山医院' in r for r in rows)
    sao.page.screenshot(path=str(out_dir / 'institution-institutions.png'))

    chart, option = open_chart(
        sao, names, out_dir / 'institution-chart.png')
    assert option['xAxis'][0]['data'] == [names['huangpu']]
    assert sum(sum(s['data']) for s in option['series']) == 1


def test_institution_rectification(sao, zh_cn, out_dir):
    "An institution user finds its own rectification, in Chinese"
    menu_inspection = zh_cn[('model:ir.ui.menu,name:menu_inspection',
            "Inspections")]
    menu_rectification = zh_cn[(
            'model:ir.ui.menu,name:menu_rectification_form',
            "Rectifications")]
    waiting = zh_cn[('selection:ct.rectification,state:',
            "Waiting for Plan")]
    report_due = zh_cn[('field:ct.rectification,report_due:', "Report Due")]
    for text in [menu_inspection, menu_rectification, waiting, report_due]:
        assert CJK.search(text), text
    sao.login('ruijin')
    sao.open_menu(zh_cn[('model:ir.ui.menu,name:menu_ct',
                "Clinical Trial Supervision")], menu_inspection,
        menu_rectification)
    sao.list_view().locator('tbody tr').first.wait_for()
    assert report_due in sao.column_labels()
    rows = sao.rows()
    assert len(rows) == 1, rows
    assert '瑞金医院' in rows[0] and waiting in rows[0], rows
    sao.page.screenshot(path=str(out_dir / 'institution-rectification.png'))


def menu_name(zh_cn, xml_id):
    names = [v for (ctx, _), v in zh_cn.items()
        if ctx == f'model:ir.ui.menu,name:{xml_id}']
    assert names and CJK.search(names[0]), xml_id
    return names[0]


@pytest.mark.parametrize('path', [
        ('menu_platform', 'menu_job_form'),
        ('menu_platform', 'menu_change_log_form'),
        ('menu_inspection', 'menu_defect_form'),
        ('menu_inspection', 'menu_nmpa_batch_form'),
        ('menu_risk', 'menu_signal_form'),
        ('menu_risk', 'menu_run_form'),
        ])
def test_regulator_lists(sao, zh_cn, out_dir, path):
    "The regulator's lists open without a script error"
    errors, dialogs = [], []
    sao.page.on('pageerror', lambda error: errors.append(str(error)))
    sao.page.on('dialog', lambda dialog: (
            dialogs.append(dialog.message), dialog.dismiss()))
    sao.login('regulator')
    sao.open_menu(menu_name(zh_cn, 'menu_ct'),
        *[menu_name(zh_cn, m) for m in path])
    sao.list_view()
    sao.page.wait_for_timeout(500)
    assert not errors, errors
    assert not dialogs, dialogs
    if path[-1] == 'menu_defect_form':
        # The markup of the description is shown as text, not run
        sao.list_view().locator('tbody tr').first.wait_for()
        assert any('<script>alert(2)</script>' in row
            for row in sao.rows()), sao.rows()
    labels = sao.column_labels()
    assert labels and all(CJK.search(label) for label in labels
        if label.strip() and label != 'ID'), labels
    sao.page.screenshot(path=str(out_dir / f'list-{path[-1]}.png'))


def test_institution_signal(sao, zh_cn, out_dir):
    "An institution user sees the signal pushed to it, and only that"
    sao.login('ruijin')
    sao.open_menu(menu_name(zh_cn, 'menu_ct'),
        menu_name(zh_cn, 'menu_risk'),
        menu_name(zh_cn, 'menu_signal_institution'))
    sao.list_view().locator('tbody tr').first.wait_for()
    rows = sao.rows()
    assert len(rows) == 1, rows
    assert '瑞金医院' in rows[0] and '中山医院' not in rows[0], rows
    sao.page.screenshot(path=str(out_dir / 'institution-signals.png'))
