"""The funnel plot of KRI rules (chart page ``kri_funnel``).

The chart pages of ct_base pass no query string to the data function, so
the data holds every KRI rule the user may read (there are few) and the
page script shows the one named by ``?rule=<id>`` in its own URL (the
rule form links to it), or the first one, with a selector.
"""
from trytond.i18n import gettext
from trytond.modules.ct_base.chart import register_chart
from trytond.transaction import without_check_access

from .monitor import get_monitor


def kri_funnel(pool):
    Rule = pool.get('ct.risk.rule')
    # Searched as the user (access rights apply: institutions get 403)
    rules = Rule.search([('monitor', '=', 'kri_outlier')],
        order=[('code', 'ASC'), ('id', 'ASC')])
    result = []
    with without_check_access():
        for rule in Rule.browse([r.id for r in rules]):
            monitor = get_monitor('kri_outlier')()
            data = monitor.funnel(rule)
            data.update({
                    'id': rule.id,
                    'name': rule.rec_name,
                    'state': rule.state,
                    })
            result.append(data)
    return {
        'rules': result,
        'text': {
            'rule': gettext('ct_risk.msg_funnel_rule'),
            'overall': gettext('ct_risk.msg_funnel_overall'),
            'limit2': gettext('ct_risk.msg_funnel_limit2'),
            'limit3': gettext('ct_risk.msg_funnel_limit3'),
            'institutions': gettext('ct_risk.msg_funnel_institutions'),
            'denominator': gettext('ct_risk.msg_funnel_denominator'),
            'value': gettext('ct_risk.msg_funnel_value'),
            'none': gettext('ct_risk.msg_funnel_none'),
            },
        }


register_chart(
    'kri_funnel', module='ct_risk', title='ct_risk.msg_chart_kri_funnel',
    data=kri_funnel, script='chart_kri_funnel.js')
