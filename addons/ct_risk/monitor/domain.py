"""A user-defined condition: the records of a whitelisted model matching a
Tryton domain, each mapped to its institution (for rules nobody coded)."""
from collections import defaultdict

from sql.aggregate import Count
from trytond import backend
from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import without_check_access

from ..exceptions import RuleError
from .base import Monitor, Param, register

# The models a domain may search, with the field giving the institution
# (None: the record is the institution) and the one giving the specialty.
MODELS = {
    'ct.trial': ('institution', 'specialty'),
    'ct.investigator': ('institution', 'specialty'),
    'ct.inspection': ('institution', None),
    'ct.inspection.defect': ('institution', 'specialty'),
    'ct.rectification': ('institution', None),
    'ct.evaluation': ('institution', 'specialty'),
    'ct.institution': (None, None),
    'ct.specialty': ('institution', 'id'),
    }


@register
class DomainMonitor(Monitor):
    "Records matching a domain, one finding per record or per institution"
    key = 'domain'
    parameter_specs = {
        'model': Param('choice', 'ct.trial',
            selection=[(m, m) for m in MODELS]),
        'domain': Param('domain', []),
        'group_by_institution': Param('bool', False),
        }
    placeholders = {
        'institution': "某医院", 'record': "某记录", 'model': "试验项目",
        'count': 3,
        }
    template = 'ct_risk.msg_template_domain'

    @classmethod
    def check_parameters(cls, parameters, rule):
        model, domain = parameters['model'], parameters['domain']
        if not isinstance(domain, list):
            raise RuleError(gettext('ct_risk.msg_rule_domain_invalid',
                    rule=rule, error=gettext('ct_risk.msg_domain_not_list')))
        try:
            fields.domain_validate(domain)
        except Exception:
            raise RuleError(gettext('ct_risk.msg_rule_domain_invalid',
                    rule=rule, error=gettext('ct_risk.msg_domain_syntax')))
        Model = Pool().get(model)
        # Building the query resolves every field and operator.
        try:
            with without_check_access():
                Model.search(domain, order=[], query=True)
        except Exception as exception:
            raise RuleError(gettext('ct_risk.msg_rule_domain_invalid',
                    rule=rule, error=str(exception) or type(
                        exception).__name__))

    def findings(self, rule):
        pool = Pool()
        params = self.parameters(rule)
        model = params['model']
        Model = pool.get(model)
        table = Model.__table__()
        institution_field, specialty_field = MODELS[model]
        cursor = self.cursor()
        institution_column = (table.id if institution_field is None
            else getattr(table, institution_field))
        specialty_column = (getattr(table, specialty_field)
            if specialty_field else None)
        with without_check_access():
            matching = Model.search(
                _tuples(params['domain']), order=[], query=True)
        where = institution_column.in_(self.institution_scope(rule))
        if specialty_column is not None:
            where = self._and(where, self.specialty_condition(
                    rule, specialty_column,
                    none_ok=specialty_field != 'id'))
        if model == 'ct.trial':
            where = self._and(where, self.phase_condition(rule, table.phase))
        cursor.execute(*table.select(Count(table.id), where=where))
        self.scanned, = cursor.fetchone()
        columns = [table.id, institution_column]
        if specialty_column is not None:
            columns.append(specialty_column)
        cursor.execute(*table.select(*columns,
                where=where & table.id.in_(matching)))
        rows = [tuple(r) + (None,) * (3 - len(r)) for r in cursor]
        if not rows:
            return []
        label = Model.__string__ or model
        names = self.institution_names(r[1] for r in rows)
        if params['group_by_institution']:
            grouped = defaultdict(list)
            for record_id, institution_id, _ in rows:
                grouped[institution_id].append(record_id)
            result = []
            for institution_id, ids in grouped.items():
                values = {
                    'institution': names.get(institution_id, ''),
                    'record': gettext('ct_risk.msg_domain_records',
                        count=len(ids)),
                    'model': label, 'count': len(ids),
                    }
                result.append(self.finding(
                        f'institution:{institution_id}', values,
                        institution=institution_id,
                        origin=f'ct.institution,{institution_id}'))
            return result
        rec_names = {}
        with without_check_access():
            for sub_ids in grouped_slice(
                    [r[0] for r in rows], backend.MAX_QUERY_PARAMS):
                for row in Model.read(list(sub_ids), ['rec_name']):
                    rec_names[row['id']] = row['rec_name']
        result = []
        for record_id, institution_id, specialty_id in rows:
            values = {
                'institution': names.get(institution_id, ''),
                'record': rec_names.get(record_id, str(record_id)),
                'model': label, 'count': 1,
                }
            extra = {}
            if model == 'ct.trial':
                extra['trial'] = record_id
            elif model == 'ct.investigator':
                extra['investigator'] = record_id
            result.append(self.finding(
                    f'{model},{record_id}', values,
                    institution=institution_id,
                    specialty=(specialty_id if specialty_field else None),
                    origin=f'{model},{record_id}', **extra))
        return result


def _tuples(domain):
    "The domain with its leaves as tuples (JSON gives lists)"
    result = []
    for item in domain:
        if isinstance(item, (list, tuple)) and item and isinstance(
                item[0], str) and len(item) >= 3 and item[0] not in {
                    'AND', 'OR'}:
            result.append(tuple(item))
        elif isinstance(item, (list, tuple)):
            result.append(_tuples(item))
        else:
            result.append(item)
    return result
