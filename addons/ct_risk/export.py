"""Export of risk signals to Excel (.xlsx) and PDF.

Three ways in, one code path (``Signal.export_rows``):

* the Print menu of a signal list: the reports ``ct.risk.signal.xlsx`` and
  ``ct.risk.signal.pdf`` on the listed records (``records = listed``);
* the wizard 导出风险信号 (action menu): the listed signals or signals
  chosen by criteria (level, state, monitor, institution, district, dates);
  above ``BACKGROUND_THRESHOLD`` signals (``PDF_BACKGROUND_THRESHOLD`` for
  a PDF) it runs as a ct.job with a progress bar and the file lands on the
  job;
* RPC: ``report.ct.risk.signal.xlsx.execute(ids, {}, context)``.

sao hands an action the ids of the records it has *loaded* (the list's
limit, 1000 by default), not the search domain: the criteria scope of the
wizard covers larger sets.

The rows are read with one SQL query per 1,000 ids (no records are
instantiated) after the ids went through ``search`` with access checks, so
record rules apply. Headers are Chinese: the files are documents of the
Shanghai center, like its PDF reports.
"""
import datetime
import io
from itertools import islice

from trytond import backend
from trytond.exceptions import UserError
from trytond.i18n import gettext
from trytond.model import ModelView, fields
from trytond.pool import Pool, PoolMeta
from trytond.pyson import Eval
from trytond.report import Report
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import (
    Button,
    StateAction,
    StateReport,
    StateTransition,
    StateView,
    Wizard,
)

from .signal import LEVELS, STATES

# More signals than this are exported by a background job.
BACKGROUND_THRESHOLD = 2000
# WeasyPrint lays out some 30 rows a second: larger PDFs are made by a
# background job, and printed directly (Print menu) only up to a limit.
PDF_BACKGROUND_THRESHOLD = 200
PDF_DIRECT_LIMIT = 500
# A PDF table of more rows is unreadable anyway.
PDF_LIMIT = 2000
CHUNK = 1000
# The export is a Chinese document whatever the user's language.
EXPORT_LANGUAGE = 'zh_CN'

LEVEL_LABELS = {'high': '高', 'medium': '中', 'low': '低'}
LEVEL_COLORS = {
    'high': ('#D93025', '#FFFFFF'),
    'medium': ('#F5B800', '#000000'),
    'low': ('#1A73E8', '#FFFFFF'),
    }
STATE_LABELS = {
    'open': '待处置',
    'pushed': '已推送机构',
    'responded': '机构已处理',
    'closed': '已关闭',
    'auto_closed': '自动关闭',
    'hidden': '暂时隐藏',
    }
# (key, header, column width); 'rule' is left out for institution users
COLUMNS = [
    ('index', '序号', 7),
    ('level', '风险等级', 9),
    ('summary', '风险信号', 48),
    ('institution', '机构', 30),
    ('institution_code', '备案号', 18),
    ('district', '所在区', 10),
    ('monitor', '监测模型', 20),
    ('rule', '预警规则', 24),
    ('state', '状态', 12),
    ('trial', '试验项目登记号', 16),
    ('investigator', '研究者', 10),
    ('days_overdue', '逾期天数', 9),
    ('repeat_count', '重复出现', 9),
    ('urgency', '紧急度', 10),
    ('first_seen', '首次发现', 17),
    ('last_seen', '最近发现', 17),
    ('pushed_date', '推送时间', 17),
    ('hidden_until', '隐藏至', 11),
    ('closed_date', '关闭时间', 17),
    ('measures', '处置措施', 40),
    ]
DATETIME_COLUMNS = {'first_seen', 'last_seen', 'pushed_date', 'closed_date'}
DATE_COLUMNS = {'hidden_until'}


def _datetime(value):
    if isinstance(value, str):
        return datetime.datetime.fromisoformat(value)
    return value


def _date(value):
    if isinstance(value, str):
        return datetime.date.fromisoformat(value)
    return value


class Signal(metaclass=PoolMeta):
    __name__ = 'ct.risk.signal'

    @classmethod
    def export_columns(cls):
        "The columns of an export for the current user"
        User = Pool().get('res.user')
        if User.get_ct_institution() is not None:
            return [c for c in COLUMNS if c[0] != 'rule']
        return list(COLUMNS)

    @classmethod
    def export_allowed_ids(cls, ids):
        """The ids, in their order, that the user may read (record rules
        apply even when the caller runs without access checks)"""
        allowed = set()
        with Transaction().set_context(_check_access=True):
            for sub_ids in grouped_slice(
                    list(ids), backend.MAX_QUERY_PARAMS // 2):
                allowed.update(r.id for r in cls.search(
                        [('id', 'in', list(sub_ids))], order=[]))
        return [i for i in ids if i in allowed]

    @classmethod
    def _export_labels(cls):
        pool = Pool()
        Institution = pool.get('ct.institution')
        with Transaction().set_context(language=EXPORT_LANGUAGE):
            monitors = dict(cls.get_monitors())
            districts = dict(
                Institution.fields_get(['district'])['district']['selection'])
        return monitors, districts

    @classmethod
    def export_rows(cls, ids, progress=None):
        """Yield one dict per signal id, in the order of ids (no access
        check here: pass ids from export_allowed_ids)"""
        pool = Pool()
        Rule = pool.get('ct.risk.rule')
        Institution = pool.get('ct.institution')
        Party = pool.get('party.party')
        Trial = pool.get('ct.trial')
        Investigator = pool.get('ct.investigator')
        signal = cls.__table__()
        rule = Rule.__table__()
        institution = Institution.__table__()
        party = Party.__table__()
        trial = Trial.__table__()
        investigator = Investigator.__table__()
        cursor = Transaction().connection.cursor()
        monitors, districts = cls._export_labels()

        query = (signal
            .join(rule, condition=signal.rule == rule.id)
            .join(institution, 'LEFT',
                condition=signal.institution == institution.id)
            .join(party, 'LEFT', condition=institution.party == party.id)
            .join(trial, 'LEFT', condition=signal.trial == trial.id)
            .join(investigator, 'LEFT',
                condition=signal.investigator == investigator.id))
        columns = [
            signal.id, signal.level, signal.summary, party.name,
            institution.code, institution.district, signal.monitor,
            rule.name, signal.state, trial.registration_no,
            investigator.name, signal.days_overdue, signal.repeat_count,
            signal.urgency, signal.first_seen, signal.last_seen,
            signal.pushed_date, signal.hidden_until, signal.closed_date,
            signal.measures,
            ]
        keys = ['id', 'level', 'summary', 'institution', 'institution_code',
            'district', 'monitor', 'rule', 'state', 'trial', 'investigator',
            'days_overdue', 'repeat_count', 'urgency', 'first_seen',
            'last_seen', 'pushed_date', 'hidden_until', 'closed_date',
            'measures']
        ids = list(ids)
        total, done, index = len(ids), 0, 0
        iterator = iter(ids)
        while chunk := list(islice(iterator, CHUNK)):
            cursor.execute(*query.select(
                    *columns, where=signal.id.in_(chunk)))
            rows = {r[0]: r for r in cursor}
            for id_ in chunk:
                row = rows.get(id_)
                if row is None:
                    continue
                index += 1
                values = dict(zip(keys, row, strict=True))
                values['index'] = index
                values['level_key'] = values['level']
                values['level'] = LEVEL_LABELS.get(values['level'], '')
                values['state'] = STATE_LABELS.get(values['state'], '')
                values['monitor'] = monitors.get(
                    values['monitor'], values['monitor'] or '')
                values['district'] = districts.get(values['district']) or ''
                for key in DATETIME_COLUMNS:
                    values[key] = _datetime(values[key])
                for key in DATE_COLUMNS:
                    values[key] = _date(values[key])
                yield values
            done += len(chunk)
            if progress is not None:
                progress.update(done, total, gettext(
                        'ct_risk.msg_signal_export_progress',
                        done=done, total=total))

    @classmethod
    def export_xlsx(cls, ids, progress=None):
        """The signals as an .xlsx workbook (bytes): Chinese headers,
        coloured level cells, frozen header with filters"""
        import xlsxwriter

        columns = cls.export_columns()
        output = io.BytesIO()
        # constant_memory: each row is flushed once written, so memory
        # stays flat whatever the number of signals.
        workbook = xlsxwriter.Workbook(output, {
                'constant_memory': True,
                'strings_to_urls': False,
                'strings_to_formulas': False,
                })
        workbook.set_properties({
                'title': '风险信号',
                'company': '上海药品审评核查中心',
                })
        sheet = workbook.add_worksheet('风险信号')
        header = workbook.add_format({
                'bold': True, 'font_color': '#FFFFFF', 'bg_color': '#1F5F8B',
                'border': 1, 'align': 'center', 'valign': 'vcenter'})
        text = workbook.add_format({'valign': 'top'})
        wrap = workbook.add_format({'valign': 'top', 'text_wrap': True})
        stamp = workbook.add_format(
            {'num_format': 'yyyy-mm-dd hh:mm', 'valign': 'top'})
        day = workbook.add_format(
            {'num_format': 'yyyy-mm-dd', 'valign': 'top'})
        levels = {key: workbook.add_format({
                    'bg_color': bg, 'font_color': fg, 'bold': True,
                    'align': 'center', 'valign': 'top', 'border': 1})
            for key, (bg, fg) in LEVEL_COLORS.items()}
        for col, (_, _, width) in enumerate(columns):
            sheet.set_column(col, col, width)
        sheet.freeze_panes(1, 0)
        sheet.write_row(0, 0, [c[1] for c in columns], header)

        row = 0
        for values in cls.export_rows(ids, progress=progress):
            row += 1
            for col, (key, _, _) in enumerate(columns):
                value = values.get(key)
                if value is None or value == '':
                    continue
                if key == 'level':
                    sheet.write_string(
                        row, col, value, levels.get(values['level_key']))
                elif key in DATETIME_COLUMNS:
                    sheet.write_datetime(row, col, value, stamp)
                elif key in DATE_COLUMNS:
                    sheet.write_datetime(row, col, value, day)
                elif isinstance(value, (int, float)):
                    sheet.write_number(row, col, value, text)
                elif key in {'summary', 'measures'}:
                    sheet.write_string(row, col, value, wrap)
                else:
                    sheet.write_string(row, col, str(value), text)
        sheet.autofilter(0, 0, max(row, 1), len(columns) - 1)
        workbook.close()
        return output.getvalue()

    @classmethod
    def export_filename(cls, extension):
        now = datetime.datetime.now()
        return f"风险信号-{now:%Y%m%d-%H%M}.{extension}"

    @classmethod
    def export_job(cls, ids, format='xlsx', progress=None):
        """The body of the background export (ct.job): return the file as
        (name, data)"""
        ids = cls.export_allowed_ids(ids)
        if format == 'pdf':
            PdfReport = Pool().get('ct.risk.signal.pdf', type='report')
            with Transaction().set_context(ct_risk_background=True):
                _, data, _, _ = PdfReport.execute(ids, {
                        'model': cls.__name__,
                        })
            if progress is not None:
                progress.update(len(ids), len(ids))
        else:
            data = cls.export_xlsx(ids, progress=progress)
        return (cls.export_filename(format), data)


class Job(metaclass=PoolMeta):
    __name__ = 'ct.job'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('risk_signal_export', "Risk Signal Export"))


class _SignalReport(Report):

    @classmethod
    def execute(cls, ids, data):
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        # The file is named below: the record names would make Report
        # browse every record several times (minutes for 10,000 signals).
        with Transaction().set_context(with_rec_name=False):
            ext, content, direct_print, _ = super().execute(ids, data)
        return ext, content, direct_print, Signal.export_filename(ext)[:-(
                len(ext) + 1)]


class SignalXlsx(_SignalReport):
    "The signals as an Excel workbook"
    __name__ = 'ct.risk.signal.xlsx'

    @classmethod
    def render(cls, report, report_context):
        Signal = Pool().get('ct.risk.signal')
        return Signal.export_xlsx([r.id for r in report_context['records']])

    @classmethod
    def convert(cls, report, data, **kwargs):
        return 'xlsx', data


class SignalPdf(_SignalReport):
    "The signals as a PDF table"
    __name__ = 'ct.risk.signal.pdf'

    @classmethod
    def get_context(cls, records, header, data):
        pool = Pool()
        Signal = pool.get('ct.risk.signal')
        User = pool.get('res.user')
        context = super().get_context(records, header, data)
        ids = [r.id for r in records]
        if len(ids) > PDF_LIMIT:
            raise UserError(gettext('ct_risk.msg_signal_export_pdf_limit',
                    count=len(ids), limit=PDF_LIMIT))
        if (len(ids) > PDF_DIRECT_LIMIT
                and not Transaction().context.get('ct_risk_background')):
            raise UserError(gettext(
                    'ct_risk.msg_signal_export_pdf_direct_limit',
                    count=len(ids), limit=PDF_DIRECT_LIMIT))
        context['columns'] = [c for c in Signal.export_columns()
            if c[0] not in {'institution_code', 'investigator', 'urgency',
                'last_seen', 'hidden_until', 'closed_date', 'measures',
                'repeat_count'}]
        context['rows'] = list(Signal.export_rows(ids))
        context['level_colors'] = LEVEL_COLORS
        context['generated'] = datetime.datetime.now()
        context['printed_by'] = User(Transaction().user).rec_name \
            if Transaction().user else ''
        context['cell'] = cls.cell
        return context

    @staticmethod
    def cell(values, key):
        value = values.get(key)
        if value is None:
            return ''
        if isinstance(value, datetime.datetime):
            return value.strftime('%Y-%m-%d %H:%M')
        if isinstance(value, datetime.date):
            return value.strftime('%Y-%m-%d')
        return str(value)


class SignalExportStart(ModelView):
    "Export risk signals"
    __name__ = 'ct.risk.signal.export.start'
    __string__ = "Export Risk Signals"

    format = fields.Selection([
            ('xlsx', "Excel (.xlsx)"),
            ('pdf', "PDF"),
            ], "Format", required=True)
    scope = fields.Selection([
            ('listed', "The Listed Signals"),
            ('criteria', "Signals Matching the Criteria"),
            ], "Signals", required=True)
    listed_count = fields.Integer("Listed Signals", readonly=True)
    _criteria = {'invisible': Eval('scope') != 'criteria'}
    active_only = fields.Boolean("Active Warnings Only", states=_criteria)
    levels = fields.MultiSelection(LEVELS, "Levels", states=_criteria,
        help="Leave empty for all.")
    states = fields.MultiSelection(STATES, "States", states=_criteria,
        help="Leave empty for all.")
    monitor = fields.Selection('get_monitors', "Monitor", states=_criteria)
    institution = fields.Many2One(
        'ct.institution', "Institution", states=_criteria)
    district = fields.Selection('get_districts', "District",
        states=_criteria)
    date_from = fields.Date("First Seen From", states=_criteria)
    date_to = fields.Date("First Seen To", states=_criteria)
    del _criteria

    @classmethod
    def get_monitors(cls):
        return Pool().get('ct.risk.signal').get_monitors()

    @classmethod
    def get_districts(cls):
        Institution = Pool().get('ct.institution')
        return Institution.fields_get(['district'])['district']['selection']

    @classmethod
    def default_format(cls):
        return 'xlsx'

    def domain(self):
        domain = []
        if self.active_only:
            domain.append(('is_active_warning', '=', True))
        if self.levels:
            domain.append(('level', 'in', list(self.levels)))
        if self.states:
            domain.append(('state', 'in', list(self.states)))
        if self.monitor:
            domain.append(('monitor', '=', self.monitor))
        if self.institution:
            domain.append(('institution', '=', self.institution.id))
        if self.district:
            domain.append(('institution.district', '=', self.district))
        if self.date_from:
            domain.append(('first_seen', '>=', datetime.datetime.combine(
                        self.date_from, datetime.time.min)))
        if self.date_to:
            domain.append(('first_seen', '<', datetime.datetime.combine(
                        self.date_to + datetime.timedelta(days=1),
                        datetime.time.min)))
        return domain


class SignalExport(Wizard):
    """Export the listed signals, or those matching criteria, to Excel or
    PDF; large exports run in the background"""
    __name__ = 'ct.risk.signal.export'
    start = StateView('ct.risk.signal.export.start',
        'ct_risk.signal_export_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Export", 'export', 'tryton-ok', default=True),
            ])
    export = StateTransition()
    xlsx = StateReport('ct.risk.signal.xlsx')
    pdf = StateReport('ct.risk.signal.pdf')
    open_job = StateAction('ct_base.act_job_form')

    def _listed_ids(self):
        if self.model and self.model.__name__ == 'ct.risk.signal':
            return [r.id for r in self.records]
        return []

    def default_start(self, fields):
        listed = self._listed_ids()
        return {
            'scope': 'listed' if listed else 'criteria',
            'listed_count': len(listed),
            'active_only': not listed,
            }

    def _ids(self):
        Signal = Pool().get('ct.risk.signal')
        if self.start.scope == 'listed':
            return Signal.export_allowed_ids(self._listed_ids())
        with Transaction().set_context(_check_access=True):
            return [s.id for s in Signal.search(self.start.domain())]

    def transition_export(self):
        pool = Pool()
        Job = pool.get('ct.job')
        ids = self._ids()
        if not ids:
            raise UserError(gettext('ct_risk.msg_signal_export_nothing'))
        format_ = self.start.format
        if format_ == 'pdf' and len(ids) > PDF_LIMIT:
            raise UserError(gettext('ct_risk.msg_signal_export_pdf_limit',
                    count=len(ids), limit=PDF_LIMIT))
        threshold = (PDF_BACKGROUND_THRESHOLD if format_ == 'pdf'
            else BACKGROUND_THRESHOLD)
        if len(ids) > threshold:
            job = Job.launch('risk_signal_export',
                gettext('ct_risk.msg_signal_export_job_name',
                    count=len(ids)),
                'ct.risk.signal|export_job',
                {'ids': ids, 'format': format_})
            self._job_id = job.id
            return 'open_job'
        self._export_ids = ids
        return format_

    def _report_data(self, action):
        return action, {
            'ids': self._export_ids,
            'id': self._export_ids[0],
            'model': 'ct.risk.signal',
            }

    def do_xlsx(self, action):
        return self._report_data(action)

    def do_pdf(self, action):
        return self._report_data(action)

    def do_open_job(self, action):
        action['res_id'] = [self._job_id]
        action['views'].reverse()
        return action, {}

