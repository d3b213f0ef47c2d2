"""NMPA import through the model: the three sample workbooks give the
expected counts, re-imports create no duplicates, a malformed file writes
nothing but a failed batch naming row and column."""
import importlib.util
import json
import unittest
from pathlib import Path
from unittest.mock import patch

from trytond.i18n import gettext
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction

SAMPLES = Path(__file__).resolve().parents[3] / 'data' / 'samples'


def _load_samples():
    spec = importlib.util.spec_from_file_location(
        'ct_nmpa_make_samples', SAMPLES / 'make_samples.py')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


EXPECTED = json.loads((SAMPLES / 'expected.json').read_text('utf-8'))


class NmpaImportTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_inspection')

    def setUp(self):
        super().setUp()
        self.samples = _load_samples()

    def make_institutions(self):
        Institution = Pool().get('ct.institution')
        return Institution.create(
            [v.copy() for v in self.samples.SAMPLE_INSTITUTION_VALUES])

    def import_sample(self, key, **kwargs):
        Batch = Pool().get('ct.nmpa.batch')
        filename = EXPECTED[key]['file']
        data = (SAMPLES / filename).read_bytes()
        return Batch(Batch.import_file(filename, data, **kwargs))

    def severity_counts(self, batch):
        Defect = Pool().get('ct.inspection.defect')
        counts = {}
        for defect in Defect.search(
                [('inspection.nmpa_batch', '=', batch.id)]):
            counts[defect.severity] = counts.get(defect.severity, 0) + 1
        return counts

    @with_transaction()
    def test_samples_expected_counts(self):
        "Each sample imports its rows, inspections and defects"
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        self.make_institutions()
        for key in ['A', 'B', 'C']:
            with self.subTest(sample=key):
                expected = EXPECTED[key]
                batch = self.import_sample(key)
                self.assertEqual(batch.state, 'done', batch.message)
                self.assertEqual(batch.rows_read, expected['rows_read'])
                self.assertEqual(
                    batch.rows_imported, expected['rows_accepted'])
                self.assertEqual(batch.rows_rejected, 0)
                self.assertEqual(
                    batch.inspections_created, expected['inspections'])
                self.assertEqual(
                    self.severity_counts(batch), expected['by_severity'])
                inspections = Inspection.search(
                    [('nmpa_batch', '=', batch.id)])
                self.assertTrue(all(
                        i.state == 'concluded' and i.source == 'nmpa'
                        for i in inspections))
                # Every inspection with defects has its rectification
                self.assertTrue(all(
                        i.rectifications for i in inspections if i.defects))

    @with_transaction()
    def test_reimport_creates_no_duplicates(self):
        "The same file imported twice adds nothing the second time"
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        Defect = pool.get('ct.inspection.defect')
        self.make_institutions()
        self.import_sample('A')
        counts = (Inspection.search_count([]), Defect.search_count([]))
        again = self.import_sample('A')
        self.assertEqual(again.state, 'done')
        self.assertEqual(again.rows_imported, 0)
        self.assertEqual(again.rows_duplicate, EXPECTED['A']['rows_read'])
        self.assertEqual(again.inspections_created, 0)
        self.assertEqual(
            (Inspection.search_count([]), Defect.search_count([])), counts)

    @with_transaction()
    def test_malformed_writes_nothing(self):
        "A malformed file fails, names row and column, writes no record"
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        Defect = pool.get('ct.inspection.defect')
        self.make_institutions()
        batch = self.import_sample('M')
        self.assertEqual(batch.state, 'failed')
        self.assertEqual(Inspection.search_count([]), 0)
        self.assertEqual(Defect.search_count([]), 0)
        self.assertEqual(batch.rows_rejected, EXPECTED['M']['rows_rejected'])
        found = {(e.row, e.column) for e in batch.errors}
        for error in EXPECTED['M']['errors']:
            self.assertIn((error['row'], error['column']), found)
        bad_date, = [e for e in batch.errors
            if (e.row, e.column) == (5, '检查开始日期')]
        self.assertIn('2024年13月5日', bad_date.message)
        self.assertEqual(batch.message, gettext(
                'ct_inspection.msg_nmpa_rejected',
                count=EXPECTED['M']['rows_rejected']))

    @with_transaction()
    def test_malformed_skip_rejected(self):
        "Skipping rejected rows imports the valid ones and keeps the errors"
        self.make_institutions()
        batch = self.import_sample('M', skip_rejected=True)
        self.assertEqual(batch.state, 'done')
        self.assertEqual(batch.rows_imported, EXPECTED['M']['rows_accepted'])
        self.assertEqual(batch.rows_rejected, EXPECTED['M']['rows_rejected'])
        self.assertEqual(
            self.severity_counts(batch),
            {k: v for k, v in EXPECTED['M']['by_severity'].items() if v})

    @with_transaction()
    def test_unknown_institution_rejected(self):
        "Rows of institutions not on file are rejected with their name"
        batch = self.import_sample('A')
        self.assertEqual(batch.state, 'failed')
        self.assertEqual(batch.rows_rejected, EXPECTED['A']['rows_read'])
        names = {n for n, _ in self.samples.SAMPLE_INSTITUTIONS}
        for error in batch.errors:
            self.assertTrue(any(error.message == gettext(
                            'ct_inspection.msg_nmpa_institution_unknown',
                            name=name) for name in names), error.message)

    @with_transaction()
    def test_not_a_workbook(self):
        "Garbage bytes give a failed batch with a Chinese message"
        Batch = Pool().get('ct.nmpa.batch')
        batch = Batch(Batch.import_file('x.xlsx', b'PK\x03\x04garbage'))
        self.assertEqual(batch.state, 'failed')
        error, = batch.errors
        self.assertRegex(error.message, '[\u4e00-\u9fff]')

    @with_transaction()
    def test_oversized_refused(self):
        "A file above the limit is refused before parsing"
        from trytond.modules.ct_inspection import nmpa
        from trytond.modules.ct_inspection.exceptions import NmpaImportError
        Batch = Pool().get('ct.nmpa.batch')
        with patch.object(nmpa, 'MAX_FILE_BYTES', 10):
            with self.assertRaises(NmpaImportError) as cm:
                Batch.import_file('big.xlsx', b'x' * 11)
        self.assertIn('big.xlsx', cm.exception.message)
        self.assertEqual(Batch.search_count([]), 0)

    @with_transaction()
    def test_background_import_reports_progress(self):
        "A queued batch is imported by the job and reports its progress"
        Batch = Pool().get('ct.nmpa.batch')
        self.make_institutions()
        data = (SAMPLES / EXPECTED['B']['file']).read_bytes()
        batch = Batch._new(EXPECTED['B']['file'], data, False, {})
        self.assertEqual(batch.state, 'queued')

        class Progress:
            updates = []

            def update(self, done, total=None, message=None, force=False):
                self.updates.append((done, total))
        progress = Progress()
        Batch.run_import([batch], progress=progress)
        batch = Batch(batch.id)
        self.assertEqual(batch.state, 'done')
        self.assertTrue(progress.updates)
        done, total = progress.updates[-1]
        self.assertEqual(done, total)
        self.assertEqual(total, EXPECTED['B']['inspections']
            + EXPECTED['B']['defects'])

    @with_transaction()
    def test_wizard_preview_then_import(self):
        "The wizard previews counts and uncertain matches, then imports"
        pool = Pool()
        Wizard = pool.get('ct.nmpa.import', type='wizard')
        Batch = pool.get('ct.nmpa.batch')
        Inspection = pool.get('ct.inspection')
        Institution = pool.get('ct.institution')
        institutions = self.make_institutions()
        # The file names 上海中医药大学附属龙华医院 (no credit code): a record
        # named differently only resembles it, a person must confirm
        longhua, = [i for i in institutions
            if i.name == '上海中医药大学附属龙华医院']
        Institution.write([longhua], {'name': '上海中医药大学龙华分院'})
        expected = EXPECTED['B']
        data = (SAMPLES / expected['file']).read_bytes()
        start = {'file_': data, 'filename': expected['file']}

        session_id, _, _ = Wizard.create()
        result = Wizard.execute(session_id, {'start': start}, 'parse')
        preview = result['view']['defaults']
        self.assertEqual(preview['rows_read'], expected['rows_read'])
        self.assertEqual(preview['inspections'], expected['inspections'])
        self.assertFalse(preview['background'])
        match, = preview['matches']
        self.assertEqual(match['name'], '上海中医药大学附属龙华医院')
        self.assertEqual(match['institution'], longhua.id)
        self.assertTrue(75 <= match['score'] < 90)

        # Not confirmed: its rows are rejected and nothing is imported
        Wizard.execute(session_id, {'start': start,
                'preview': dict(preview, matches=[])}, 'import_')
        Wizard.delete(session_id)
        failed, = Batch.search([])
        self.assertEqual(failed.state, 'failed')
        self.assertEqual(Inspection.search_count([]), 0)

        # Confirmed: everything is imported, those rows to that institution
        session_id, _, _ = Wizard.create()
        result = Wizard.execute(session_id, {'start': start}, 'parse')
        preview = result['view']['defaults']
        Wizard.execute(session_id, {'start': start, 'preview': preview},
            'import_')
        Wizard.delete(session_id)
        done, = Batch.search([('id', '!=', failed.id)])
        self.assertEqual(done.state, 'done', done.message)
        self.assertEqual(done.inspections_created, expected['inspections'])
        self.assertEqual(Inspection.search_count(
                [('institution', '=', longhua.id)]), 1)
