"""The checklist catalogue (检查要点): versioned, importable from Excel."""
import io

from sql.aggregate import Count
from trytond import backend
from trytond.i18n import gettext
from trytond.model import (
    DeactivableMixin,
    Index,
    ModelSQL,
    ModelView,
    Unique,
    fields,
)
from trytond.modules.ct_base.common import rec_name_domain
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction
from trytond.wizard import Button, StateTransition, StateView, Wizard

from .common import ITEM_CLASSES
from .exceptions import ClauseImportError

PARTS = [
    ('institution', "Institution"),
    ('specialty', "Specialty"),
    ]
# Header synonyms of the catalogue workbook, normalised (no spaces).
_HEADERS = {
    'part': {'部分', '类别部分', '检查部分'},
    'section': {'章节', '检查环节', '部分章节', '节'},
    'code': {'编号', '序号', '条款号', '要点编号'},
    'title': {'检查要点', '内容', '检查内容', '要点'},
    'item_class': {'类别', '分类', '项目类别', '等级'},
    }
_PART_VALUES = {'机构': 'institution', '机构部分': 'institution',
    '专业': 'specialty', '专业部分': 'specialty'}
_CLASS_VALUES = {'★★': 'key', '关键项': 'key', '关键': 'key',
    '★': 'major', '主要项': 'major', '主要': 'major',
    '': 'general', '一般项': 'general', '一般': 'general'}
MAX_CATALOGUE_BYTES = 5 * 1024 * 1024


class Catalogue(DeactivableMixin, ModelSQL, ModelView):
    "A version of the inspection checklist"
    __name__ = 'ct.inspection.catalogue'
    __string__ = "Checklist Catalogue"

    name = fields.Char("Name", required=True)
    version = fields.Char("Version", required=True)
    is_sample = fields.Boolean(
        "Sample", readonly=True,
        help="A demonstration catalogue: replace it by importing the "
        "official checklist.")
    clauses = fields.One2Many(
        'ct.inspection.clause', 'catalogue', "Clauses")
    clause_count = fields.Function(
        fields.Integer("Clauses"), 'get_clause_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('version_unique', Unique(t, t.version),
                'ct_inspection.msg_catalogue_version_unique'),
            ]
        cls._order = [('version', 'DESC'), ('id', 'DESC')]

    @classmethod
    def default_is_sample(cls):
        return False

    def get_rec_name(self, name):
        return f'{self.name} ({self.version})'

    @classmethod
    def get_clause_count(cls, catalogues, name):
        Clause = Pool().get('ct.inspection.clause')
        clause = Clause.__table__()
        cursor = Transaction().connection.cursor()
        counts = {c.id: 0 for c in catalogues}
        for sub_ids in grouped_slice(
                list(counts), backend.MAX_QUERY_PARAMS):
            cursor.execute(*clause.select(
                    clause.catalogue, Count(clause.id),
                    where=clause.catalogue.in_(list(sub_ids)),
                    group_by=[clause.catalogue]))
            counts.update(cursor)
        return counts


class Clause(ModelSQL, ModelView):
    "An item of the inspection checklist"
    __name__ = 'ct.inspection.clause'
    __string__ = "Checklist Clause"

    catalogue = fields.Many2One(
        'ct.inspection.catalogue', "Catalogue", required=True,
        ondelete='CASCADE')
    part = fields.Selection(PARTS, "Part", required=True, sort=False)
    section = fields.Char("Section", required=True)
    code = fields.Char("Code", required=True, strip=True)
    title = fields.Char("Title", required=True)
    item_class = fields.Selection(
        ITEM_CLASSES, "Class", required=True, sort=False)
    sequence = fields.Integer("Sequence")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('catalogue_code_unique', Unique(t, t.catalogue, t.code),
                'ct_inspection.msg_clause_code_unique'),
            ]
        cls._sql_indexes.add(
            Index(t, (t.catalogue, Index.Equality()),
                (t.code, Index.Equality())))
        cls._order = [
            ('catalogue', 'DESC'), ('sequence', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_item_class(cls):
        return 'general'

    def get_rec_name(self, name):
        stars = {'key': ' ★★', 'major': ' ★'}.get(self.item_class, '')
        return f'{self.code}{stars} {self.title}'

    @classmethod
    def search_rec_name(cls, name, clause):
        return rec_name_domain(clause, ['code', 'title'])

    @classmethod
    def read_workbook(cls, filename, data):
        """Return clause values read from a catalogue workbook

        Raise ClauseImportError naming the row and column of the first
        problem; nothing is written by this method.
        """
        from python_calamine import CalamineWorkbook

        from .nmpa_parse import normalize_text
        if len(data) > MAX_CATALOGUE_BYTES:
            raise ClauseImportError(gettext(
                    'ct_inspection.msg_clause_file_too_large',
                    filename=filename,
                    limit=MAX_CATALOGUE_BYTES // (1024 * 1024)))
        try:
            workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
            rows = workbook.get_sheet_by_index(0).to_python()
        except Exception:
            raise ClauseImportError(gettext(
                    'ct_inspection.msg_clause_file_unreadable',
                    filename=filename))
        header_index, columns = None, {}
        for index, row in enumerate(rows[:20]):
            found = {}
            for col, value in enumerate(row):
                text = normalize_text(value).replace(' ', '')
                for key, names in _HEADERS.items():
                    if text in names and key not in found:
                        found[key] = col
            if {'code', 'title'} <= found.keys():
                header_index, columns = index, found
                break
        if header_index is None:
            raise ClauseImportError(gettext(
                    'ct_inspection.msg_clause_no_header', filename=filename))
        headers = rows[header_index]
        vlist, seen = [], set()
        part, section = 'institution', ''
        for index, row in enumerate(rows[header_index + 1:],
                start=header_index + 2):
            def cell(key, row=row):
                col = columns.get(key)
                if col is None or col >= len(row):
                    return ''
                return normalize_text(row[col])

            def error(key, message_id, index=index, **kwargs):
                return ClauseImportError(gettext(
                        'ct_inspection.' + message_id, row=index,
                        column=normalize_text(headers[columns[key]]),
                        **kwargs))
            if not any(normalize_text(v) for v in row):
                continue
            if cell('part'):
                part = _PART_VALUES.get(cell('part'))
                if part is None:
                    raise error('part', 'msg_clause_bad_value',
                        value=cell('part'))
            section = cell('section') or section
            code, title = cell('code'), cell('title')
            if not code:
                raise error('code', 'msg_clause_missing_value')
            if not title:
                raise error('title', 'msg_clause_missing_value')
            if code in seen:
                raise error('code', 'msg_clause_duplicate_code', value=code)
            seen.add(code)
            item_class = _CLASS_VALUES.get(cell('item_class'))
            if item_class is None:
                raise error('item_class', 'msg_clause_bad_value',
                    value=cell('item_class'))
            vlist.append({
                    'part': part, 'section': section or part, 'code': code,
                    'title': title, 'item_class': item_class,
                    'sequence': len(vlist) + 1,
                    })
        if not vlist:
            raise ClauseImportError(gettext(
                    'ct_inspection.msg_clause_empty', filename=filename))
        return vlist


class CatalogueImportStart(ModelView):
    "Import a checklist catalogue"
    __name__ = 'ct.inspection.catalogue.import.start'
    __string__ = "Import Checklist Catalogue"

    name = fields.Char("Name", required=True)
    version = fields.Char("Version", required=True)
    file_ = fields.Binary("File", required=True, filename='filename')
    filename = fields.Char("File Name")


class CatalogueImport(Wizard):
    "Import a checklist catalogue from an Excel workbook"
    __name__ = 'ct.inspection.catalogue.import'
    start = StateView(
        'ct.inspection.catalogue.import.start',
        'ct_inspection.catalogue_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    import_ = StateTransition()

    def transition_import_(self):
        pool = Pool()
        Catalogue = pool.get('ct.inspection.catalogue')
        Clause = pool.get('ct.inspection.clause')
        ModelAccess = pool.get('ir.model.access')
        ModelAccess.check('ct.inspection.catalogue', 'create')
        vlist = Clause.read_workbook(
            self.start.filename or '', bytes(self.start.file_))
        Catalogue.create([{
                    'name': self.start.name,
                    'version': self.start.version,
                    'clauses': [('create', vlist)],
                    }])
        return 'end'
