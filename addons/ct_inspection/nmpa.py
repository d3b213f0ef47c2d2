"""NMPA (国家局) inspection results import: batches, the wizard and the RPC.

Parsing lives in :mod:`nmpa_parse` (no database); this module matches the
rows to institutions, clauses and specialties and writes inspections and
defects in one transaction: all accepted rows or nothing.
"""
import hashlib
import json

from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, fields
from trytond.modules.ct_base.bulk import allocate_ids, bulk_create, bulk_insert
from trytond.modules.ct_base.changelog import ChangeLogMixin
from trytond.pool import Pool
from trytond.rpc import RPC
from trytond.transaction import Transaction, without_check_access
from trytond.wizard import (
    Button,
    StateAction,
    StateTransition,
    StateView,
    Wizard,
)

from . import nmpa_parse
from .common import CLASS_SEVERITY
from .exceptions import NmpaImportError

# Files above this size are refused before parsing.
MAX_FILE_BYTES = 50 * 1024 * 1024
# Workbooks with more rows than this are imported by a background job.
BACKGROUND_ROWS = 2000
# Institution name match scores (0-100): at or above SURE the match is
# taken; between UNSURE and SURE a person must confirm it.
SURE, UNSURE = 90, 75
# Rows written per ORM call (and per progress update).
CHUNK = 2000


class Batch(ChangeLogMixin, ModelSQL, ModelView):
    "An import of one NMPA results workbook"
    __name__ = 'ct.nmpa.batch'
    __string__ = "NMPA Import Batch"

    filename = fields.Char("File Name", readonly=True, required=True)
    file_hash = fields.Char("File Hash", readonly=True)
    file_size = fields.Integer("File Size", readonly=True)
    data = fields.Binary(
        "File", filename='filename', readonly=True,
        file_id='data_id')
    data_id = fields.Char("File ID", readonly=True)
    user = fields.Many2One('res.user', "Imported By", readonly=True)
    date = fields.Timestamp("Imported At", readonly=True)
    state = fields.Selection([
            ('queued', "Queued"),
            ('done', "Done"),
            ('failed', "Failed"),
            ], "State", readonly=True, required=True, sort=False)
    rows_read = fields.Integer("Rows Read", readonly=True)
    rows_imported = fields.Integer("Rows Imported", readonly=True)
    rows_rejected = fields.Integer("Rows Rejected", readonly=True)
    rows_duplicate = fields.Integer(
        "Rows Already Imported", readonly=True,
        help="Rows found in an earlier import and skipped.")
    inspections_created = fields.Integer(
        "Inspections Created", readonly=True)
    skip_rejected = fields.Boolean(
        "Skip Rejected Rows", readonly=True,
        help="Import the accepted rows even when others are rejected.")
    confirmed_matches = fields.Text("Confirmed Matches", readonly=True)
    errors = fields.One2Many(
        'ct.nmpa.batch.error', 'batch', "Errors", readonly=True)
    inspections = fields.One2Many(
        'ct.inspection', 'nmpa_batch', "Inspections", readonly=True)
    job = fields.Many2One('ct.job', "Job", readonly=True)
    message = fields.Char("Message", readonly=True)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.date, Index.Range())),
                Index(t, (t.file_hash, Index.Equality())),
                })
        cls._order = [('date', 'DESC'), ('id', 'DESC')]
        cls.__rpc__.update({
                'import_file': RPC(readonly=False, result=int),
                })
        cls.__rpc__.pop('create', None)
        cls.__rpc__.pop('write', None)
        cls.__rpc__.pop('copy', None)

    @classmethod
    def default_state(cls):
        return 'queued'

    def get_rec_name(self, name):
        return f'{self.filename} ({self.date:%Y-%m-%d %H:%M})' \
            if self.date else self.filename

    # -- API ---------------------------------------------------------------

    @classmethod
    def import_file(cls, filename, data, skip_rejected=False,
            confirmed_matches=None):
        """Parse and import one workbook now; return the batch id.

        A batch that cannot be imported is still recorded, with state
        ``failed`` and its errors; it writes no inspection nor defect.
        """
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        # The RPC runs as the user: importing is creating inspections.
        ModelAccess.check('ct.inspection', 'create')
        if isinstance(data, str):
            data = data.encode('latin-1')
        batch = cls._new(filename, bytes(data), skip_rejected,
            confirmed_matches)
        batch.process()
        return batch.id

    @classmethod
    def _new(cls, filename, data, skip_rejected, confirmed_matches):
        import datetime
        if len(data) > MAX_FILE_BYTES:
            raise NmpaImportError(gettext(
                    'ct_inspection.msg_nmpa_file_too_large',
                    filename=filename,
                    limit=MAX_FILE_BYTES // (1024 * 1024)))
        with without_check_access():
            batch, = cls.create([{
                        'filename': filename or 'upload',
                        'file_hash': hashlib.sha256(data).hexdigest(),
                        'file_size': len(data),
                        'data': data,
                        'user': Transaction().user or None,
                        'date': datetime.datetime.now(),
                        'skip_rejected': bool(skip_rejected),
                        'confirmed_matches': json.dumps(
                            confirmed_matches or {}),
                        }])
        return batch

    @classmethod
    def run_import(cls, batches, progress=None):
        "The background job: process queued batches"
        for batch in batches:
            if batch.state == 'queued':
                batch.process(progress=progress)
        return None

    def process(self, progress=None):
        """Import the batch file: everything accepted or nothing"""
        filename, data = self.filename, bytes(self.data)
        try:
            result = nmpa_parse.parse_file(filename, data)
        except nmpa_parse.ParseError as exception:
            self._finish('failed', message=str(exception.message),
                errors=[(None, '', str(exception.message))])
            return
        plan = self.plan(result, json.loads(self.confirmed_matches or '{}'))
        errors = plan['errors']
        counts = {
            'rows_read': result.rows_read,
            'rows_rejected': len({e[0] for e in errors}),
            }
        if errors and not self.skip_rejected:
            self._finish('failed', errors=errors,
                message=gettext('ct_inspection.msg_nmpa_rejected',
                    count=counts['rows_rejected']),
                **counts)
            return
        written = self.write_plan(plan, progress=progress)
        counts.update(written)
        self._finish('done', errors=errors,
            message=gettext('ct_inspection.msg_nmpa_done', **{
                    k: counts[k] for k in [
                        'rows_imported', 'inspections_created',
                        'rows_duplicate', 'rows_rejected']}),
            **counts)

    def _finish(self, state, errors=(), message=None, **counts):
        pool = Pool()
        Error = pool.get('ct.nmpa.batch.error')
        values = {'state': state, 'message': (message or '')[:250]}
        values.update(counts)
        with without_check_access():
            Error.create([{
                        'batch': self.id, 'row': row, 'column': column,
                        'message': text,
                        } for row, column, text in errors])
            self.__class__.write([self], values)

    # -- matching ----------------------------------------------------------

    @classmethod
    def matcher(cls):
        Institution = Pool().get('ct.institution')
        with without_check_access():
            institutions = Institution.search_read(
                [], fields_names=['name', 'credit_code'])
        return nmpa_parse.InstitutionMatcher(
            ((r['id'], r['name'], r['credit_code']) for r in institutions),
            threshold=UNSURE)

    @classmethod
    def match_rows(cls, rows, confirmed=None):
        """Return {row number: (institution id, score, how)} and the
        uncertain matches {name: (institution id, score)}."""
        matcher = cls.matcher()
        confirmed = {k: int(v) for k, v in (confirmed or {}).items() if v}
        cache, matches, uncertain = {}, {}, {}
        for row in rows:
            key = (row.institution_name or '', row.credit_code or '')
            if key not in cache:
                if row.institution_name in confirmed:
                    cache[key] = (confirmed[row.institution_name], 100.0,
                        'confirmed')
                else:
                    cache[key] = matcher.match(
                        row.institution_name, row.credit_code)
            matches[row.row] = cache[key]
            institution_id, score, how = cache[key]
            if how == 'fuzzy' and UNSURE <= score < SURE:
                uncertain[row.institution_name] = (institution_id, score)
        return matches, uncertain

    def plan(self, result, confirmed=None):
        """Decide what to write; return a dict with 'errors' (row, column,
        message), 'inspections' {key: values} and 'defects' [values]."""
        pool = Pool()
        Clause = pool.get('ct.inspection.clause')
        Specialty = pool.get('ct.specialty')
        errors = [(e.row, e.column, e.message) for e in result.errors]
        matches, _ = self.match_rows(result.rows, confirmed)
        column = result.columns.get('institution_name') or result.columns.get(
            'credit_code') or ''
        accepted = []
        for row in result.rows:
            institution_id, score, how = matches[row.row]
            if institution_id is None or how == 'none':
                errors.append((row.row, column, gettext(
                            'ct_inspection.msg_nmpa_institution_unknown',
                            name=row.institution_name or row.credit_code)))
            elif how == 'fuzzy' and score < SURE:
                errors.append((row.row, column, gettext(
                            'ct_inspection.msg_nmpa_institution_unsure',
                            name=row.institution_name, score=int(score))))
            else:
                accepted.append((row, institution_id))
        with without_check_access():
            clauses = {}
            for clause in Clause.search([
                        ('catalogue.active', '=', True),
                        ], order=[('catalogue.version', 'ASC')]):
                clauses[clause.code] = clause
            specialties = {}
            institution_ids = list({i for _, i in accepted})
            for specialty in Specialty.search([
                        ('institution', 'in', institution_ids)]):
                specialties[(specialty.institution.id,
                        nmpa_parse.normalize_text(specialty.name))] = (
                    specialty.id)
        inspections, defects = {}, []
        for row, institution_id in accepted:
            key = self.external_key(row, institution_id)
            values = inspections.setdefault(key, {
                    'institution': institution_id,
                    'source': 'nmpa',
                    'inspection_type': row.inspection_type or 'other',
                    'date_start': row.date_start,
                    'date_end': row.date_end or row.date_start,
                    'conclusion': None,
                    'specialties': set(),
                    'external_key': key,
                    'rows': [],
                    })
            values['rows'].append(row.row)
            if row.conclusion and not values['conclusion']:
                values['conclusion'] = row.conclusion
            specialty_id = specialties.get((institution_id,
                    nmpa_parse.normalize_text(row.specialty or '')))
            if specialty_id:
                values['specialties'].add(specialty_id)
            if not row.has_defect():
                continue
            clause = clauses.get(row.clause_code or '')
            severity = row.severity or (
                CLASS_SEVERITY[clause.item_class] if clause else 'minor')
            default = CLASS_SEVERITY[clause.item_class] if clause else (
                severity)
            defects.append({
                    'external_key': key,
                    'row': row.row,
                    'specialty': specialty_id,
                    'clause': clause.id if clause else None,
                    'clause_code': row.clause_code,
                    'clause_text': clause.title if clause else None,
                    'item_class': clause.item_class if clause else None,
                    'description': row.defect or row.clause_code,
                    'severity': severity,
                    'default_severity': default,
                    'regrade_reason': (gettext(
                            'ct_inspection.msg_nmpa_regrade_reason')
                        if severity != default else None),
                    'import_key': row.row_key(),
                    })
        return {'errors': errors, 'inspections': inspections,
            'defects': defects}

    @staticmethod
    def external_key(row, institution_id):
        _, date_start, number = row.inspection_key()
        return f'nmpa:{institution_id}:{date_start.isoformat()}:{number}'

    def write_plan(self, plan, progress=None):
        """Insert what is new in this transaction; skip what exists.

        The rows were validated by the parser and by plan(): they are
        inserted in bulk (ct_base.bulk), the import itself being recorded
        by the batch.
        """
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        InspectionSpecialty = pool.get('ct.inspection-ct.specialty')
        SpecialtyConclusion = pool.get('ct.inspection.specialty_conclusion')
        Defect = pool.get('ct.inspection.defect')
        Rectification = pool.get('ct.rectification')
        Calendar = pool.get('ct.calendar.day')
        config = pool.get('ct.inspection.configuration')(1)
        inspections, defects = plan['inspections'], plan['defects']
        total = len(defects) + len(inspections)
        cursor = Transaction().connection.cursor()
        inspection_t = Inspection.__table__()
        defect_t = Defect.__table__()

        existing = {}
        keys = list(inspections)
        for i in range(0, len(keys), CHUNK):
            cursor.execute(*inspection_t.select(
                    inspection_t.external_key, inspection_t.id,
                    where=inspection_t.external_key.in_(keys[i:i + CHUNK])))
            existing.update(cursor)
        new_keys = [k for k in keys if k not in existing]
        judgement = gettext(
            'ct_inspection.msg_nmpa_judgement', filename=self.filename)
        rows = [{
                'institution': inspections[k]['institution'],
                'source': 'nmpa',
                'inspection_type': inspections[k]['inspection_type'],
                'date_start': inspections[k]['date_start'],
                'date_end': max(inspections[k]['date_end'],
                    inspections[k]['date_start']),
                'conclusion': inspections[k]['conclusion'],
                'judgement': judgement,
                'external_key': k,
                'nmpa_batch': self.id,
                'state': 'concluded',
                'number': None,
                } for k in new_keys]
        ids = allocate_ids(Inspection, len(rows))
        for id_, row in zip(ids, rows, strict=True):
            row['id'] = id_
            row['number'] = f"JC{row['date_start'].year}-{id_:06d}"
            existing[row['external_key']] = id_
        done = 0
        for i in range(0, len(rows), CHUNK):
            bulk_insert(Inspection, rows[i:i + CHUNK])
            done += len(rows[i:i + CHUNK])
            if progress:
                progress.update(done, total)

        links, conclusions = [], []
        for key in new_keys:
            values = inspections[key]
            for specialty_id in sorted(values['specialties']):
                links.append({
                        'inspection': existing[key],
                        'specialty': specialty_id})
                conclusions.append({
                        'inspection': existing[key],
                        'institution': values['institution'],
                        'specialty': specialty_id,
                        'conclusion': values['conclusion'],
                        'judgement': judgement,
                        })
        bulk_create(InspectionSpecialty, links)
        bulk_create(SpecialtyConclusion, conclusions)

        import_keys = [d['import_key'] for d in defects]
        known = set()
        for i in range(0, len(import_keys), CHUNK):
            cursor.execute(*defect_t.select(defect_t.import_key,
                    where=defect_t.import_key.in_(import_keys[i:i + CHUNK])))
            known.update(k for k, in cursor)
        new_defects, duplicate_rows, with_defects = [], set(), set()
        for values in defects:
            if values['import_key'] in known:
                duplicate_rows.add(values['row'])
                continue
            known.add(values['import_key'])
            values = values.copy()
            key = values.pop('external_key')
            values['inspection'] = existing[key]
            values['institution'] = inspections[key]['institution']
            values.pop('row')
            with_defects.add(values['inspection'])
            new_defects.append(values)
        for i in range(0, len(new_defects), CHUNK):
            bulk_create(Defect, new_defects[i:i + CHUNK])
            done += len(new_defects[i:i + CHUNK])
            if progress:
                progress.update(done, total)

        rectifications = []
        for key in new_keys:
            values = inspections[key]
            inspection_id = existing[key]
            if (inspection_id not in with_defects
                    and values['conclusion'] in {None, 'compliant'}):
                continue
            end = max(values['date_end'], values['date_start'])
            rectifications.append({
                    'inspection': inspection_id,
                    'institution': values['institution'],
                    'plan_due': Calendar.add_working_days(
                        end, config.plan_days),
                    'report_due': Calendar.add_working_days(
                        end, config.rectification_days),
                    'state': 'waiting_plan',
                    'return_count': 0,
                    })
        bulk_create(Rectification, rectifications)
        if progress:
            progress.update(total, total, force=True)

        rows_total = sum(len(v['rows']) for v in inspections.values())
        # Rows of inspections that existed and brought no new defect are
        # duplicates too (an inspection without defects has one row).
        new_defect_rows = {d['row'] for d in defects
            if d['row'] not in duplicate_rows}
        for key, values in inspections.items():
            if key not in new_keys:
                duplicate_rows.update(
                    r for r in values['rows'] if r not in new_defect_rows)
        duplicates = len(duplicate_rows)
        return {
            'rows_imported': rows_total - duplicates,
            'rows_duplicate': duplicates,
            'inspections_created': len(new_keys),
            }


class BatchError(ModelSQL, ModelView):
    "A rejected row of an NMPA import"
    __name__ = 'ct.nmpa.batch.error'
    __string__ = "NMPA Import Error"

    batch = fields.Many2One(
        'ct.nmpa.batch', "Batch", required=True, ondelete='CASCADE')
    row = fields.Integer("Row")
    column = fields.Char("Column")
    message = fields.Text("Message")

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.add(Index(t, (t.batch, Index.Equality())))
        cls._order = [('batch', 'DESC'), ('row', 'ASC'), ('id', 'ASC')]
        cls.__rpc__.pop('create', None)
        cls.__rpc__.pop('write', None)
        cls.__rpc__.pop('delete', None)


class ImportStart(ModelView):
    "Choose the NMPA workbook"
    __name__ = 'ct.nmpa.import.start'
    __string__ = "NMPA Import"

    file_ = fields.Binary("File", required=True, filename='filename')
    filename = fields.Char("File Name")


class ImportPreview(ModelView):
    "Check what the workbook contains before importing"
    __name__ = 'ct.nmpa.import.preview'
    __string__ = "NMPA Import Preview"

    filename = fields.Char("File Name", readonly=True)
    rows_read = fields.Integer("Rows Read", readonly=True)
    rows_accepted = fields.Integer("Rows Accepted", readonly=True)
    rows_rejected = fields.Integer("Rows Rejected", readonly=True)
    inspections = fields.Integer("Inspections", readonly=True)
    defects = fields.Integer("Defects", readonly=True)
    errors = fields.Text("Rejected Rows", readonly=True)
    matches = fields.One2Many(
        'ct.nmpa.import.match', None, "Uncertain Institution Matches",
        help="Confirm or correct each institution the name resembles.")
    skip_rejected = fields.Boolean(
        "Skip Rejected Rows",
        help="Import the accepted rows and record the rejected ones. "
        "Otherwise any rejected row stops the import.")
    background = fields.Boolean("Background Job", readonly=True)
    batch = fields.Many2One('ct.nmpa.batch', "Batch", readonly=True)


class ImportMatch(ModelView):
    "An uncertain institution match to confirm"
    __name__ = 'ct.nmpa.import.match'
    __string__ = "Institution Match"

    name = fields.Char("Name in File", readonly=True)
    score = fields.Integer("Similarity", readonly=True)
    institution = fields.Many2One('ct.institution', "Institution")


class Import(Wizard):
    "Import NMPA inspection results"
    __name__ = 'ct.nmpa.import'
    start = StateView('ct.nmpa.import.start',
        'ct_inspection.nmpa_import_start_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Preview", 'parse', 'tryton-forward', default=True),
            ])
    parse = StateTransition()
    preview = StateView('ct.nmpa.import.preview',
        'ct_inspection.nmpa_import_preview_view_form', [
            Button("Cancel", 'end', 'tryton-cancel'),
            Button("Import", 'import_', 'tryton-ok', default=True),
            ])
    import_ = StateTransition()
    open_ = StateAction('ct_inspection.act_nmpa_batch_form')

    def transition_parse(self):
        pool = Pool()
        Batch = pool.get('ct.nmpa.batch')
        ModelAccess = pool.get('ir.model.access')
        ModelAccess.check('ct.inspection', 'create')
        data = bytes(self.start.file_)
        if len(data) > MAX_FILE_BYTES:
            raise NmpaImportError(gettext(
                    'ct_inspection.msg_nmpa_file_too_large',
                    filename=self.start.filename,
                    limit=MAX_FILE_BYTES // (1024 * 1024)))
        try:
            result = nmpa_parse.parse_file(self.start.filename or '', data)
        except nmpa_parse.ParseError as exception:
            raise NmpaImportError(exception.message)
        matches, uncertain = Batch.match_rows(result.rows)
        plan = Batch(filename=self.start.filename).plan(
            result, {name: i for name, (i, _) in uncertain.items()})
        errors = plan['errors']
        lines = [gettext('ct_inspection.msg_nmpa_error_line',
                row=row or '-', column=column or '-', message=message)
            for row, column, message in sorted(
                errors, key=lambda e: (e[0] or 0))[:200]]
        self.preview.filename = self.start.filename
        self.preview.rows_read = result.rows_read
        self.preview.rows_rejected = len({e[0] for e in errors})
        self.preview.rows_accepted = (
            result.rows_read - self.preview.rows_rejected)
        self.preview.inspections = len(plan['inspections'])
        self.preview.defects = len(plan['defects'])
        self.preview.errors = '\n'.join(lines)
        self.preview.matches = [{
                'name': name, 'score': int(score), 'institution': i,
                } for name, (i, score) in sorted(uncertain.items())]
        self.preview.skip_rejected = False
        self.preview.background = result.rows_read > BACKGROUND_ROWS
        return 'preview'

    def default_preview(self, fields):
        return self.preview._default_values

    def transition_import_(self):
        pool = Pool()
        Batch = pool.get('ct.nmpa.batch')
        Job = pool.get('ct.job')
        ModelAccess = pool.get('ir.model.access')
        ModelAccess.check('ct.inspection', 'create')
        confirmed = {m.name: m.institution.id
            for m in self.preview.matches if m.institution}
        batch = Batch._new(self.start.filename or '',
            bytes(self.start.file_), self.preview.skip_rejected, confirmed)
        if self.preview.background:
            job = Job.launch('nmpa_import', gettext(
                    'ct_inspection.msg_nmpa_job_name',
                    filename=batch.filename),
                'ct.nmpa.batch|run_import', [batch])
            with without_check_access():
                Batch.write([batch], {'job': job.id})
        else:
            batch.process()
        self.preview.batch = batch
        return 'open_'

    def do_open_(self, action):
        action['res_id'] = [self.preview.batch.id]
        action['views'].reverse()
        return action, {}

