"""Inspection rules: proposed conclusions, grading, locking, deadlines,
overdue search, checklist import, evaluation report and statistics."""
import datetime as dt
import io
import unittest
from unittest.mock import patch

import xlsxwriter
from trytond.model.exceptions import ValidationError
from trytond.modules.ct_inspection.common import propose_conclusion
from trytond.modules.ct_inspection.exceptions import (
    ClauseImportError,
    DefectError,
    EvaluationError,
    InspectionLockedError,
    RectificationError,
)
from trytond.modules.ct_inspection.stats import (
    conclusions_over_time,
    defects_by_clause,
    defects_by_severity,
    rectification_timeliness,
)
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction


class Thresholds:
    compliant_max_major = 0
    compliant_minor_limit = 5
    non_compliant_max_critical = 0


def workbook(rows):
    data = io.BytesIO()
    book = xlsxwriter.Workbook(data, {'in_memory': True})
    sheet = book.add_worksheet()
    for r, row in enumerate(rows):
        for c, value in enumerate(row):
            sheet.write(r, c, value)
    book.close()
    return data.getvalue()


class InspectionTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_inspection')

    def test_propose_conclusion(self):
        "符合 only without critical/major and under 5 minor; critical → 不符合"
        config = Thresholds()
        self.assertEqual(propose_conclusion(0, 0, 4, config), 'compliant')
        self.assertEqual(propose_conclusion(0, 0, 5, config), 'rectify')
        self.assertEqual(propose_conclusion(0, 1, 0, config), 'rectify')
        self.assertEqual(propose_conclusion(1, 0, 0, config),
            'non_compliant')
        config.compliant_max_major = 2
        self.assertEqual(propose_conclusion(0, 2, 0, config), 'compliant')

    def setup_inspection(self, state='in_progress', date_end=None):
        pool = Pool()
        Institution = pool.get('ct.institution')
        Specialty = pool.get('ct.specialty')
        Inspection = pool.get('ct.inspection')
        institution, = Institution.create([{
                    'name': '测试医院', 'code': 'T-1', 'kind': 'clinical'}])
        specialty, = Specialty.create([{
                    'institution': institution.id, 'name': '肿瘤科'}])
        end = date_end or dt.date(2025, 9, 26)
        inspection, = Inspection.create([{
                    'institution': institution.id,
                    'date_start': end - dt.timedelta(days=2),
                    'date_end': end,
                    'specialties': [('add', [specialty.id])],
                    }])
        if state != 'draft':
            Inspection.start([inspection])
        return inspection

    def clause(self, code):
        Clause = Pool().get('ct.inspection.clause')
        clause, = Clause.search([('code', '=', code)])
        return clause

    @with_transaction()
    def test_sample_catalogue_structure(self):
        "The sample catalogue: 16 sections, 109 items, 9 ★★, 51 ★, 49"
        Clause = Pool().get('ct.inspection.clause')
        clauses = Clause.search([('catalogue.version', '=', '2023-sample')])
        self.assertEqual(len(clauses), 109)
        self.assertEqual(len({c.section for c in clauses}), 16)
        classes = [c.item_class for c in clauses]
        self.assertEqual((classes.count('key'), classes.count('major'),
                classes.count('general')), (9, 51, 49))

    @with_transaction()
    def test_defect_grade_follows_clause(self):
        "Default severity from the clause; a regrade needs a reason"
        Defect = Pool().get('ct.inspection.defect')
        inspection = self.setup_inspection()
        defect, = Defect.create([{
                    'inspection': inspection.id,
                    'clause': self.clause('10.1').id,
                    'description': '知情同意书未签署'}])
        self.assertEqual(
            (defect.default_severity, defect.severity),
            ('critical', 'critical'))
        self.assertEqual(defect.institution, inspection.institution)
        with self.assertRaises(DefectError):
            Defect.write([defect], {'severity': 'major',
                    'regrade_reason': ' '})
        Defect.write([defect], {'severity': 'major',
                'regrade_reason': '已及时纠正'})
        self.assertEqual(
            (defect.default_severity, defect.severity), ('critical', 'major'))

    @with_transaction()
    def test_defect_specialty_of_other_institution(self):
        "A defect cannot name a specialty of another institution"
        pool = Pool()
        Defect = pool.get('ct.inspection.defect')
        Institution = pool.get('ct.institution')
        Specialty = pool.get('ct.specialty')
        inspection = self.setup_inspection()
        other, = Institution.create([{'name': '他院', 'code': 'T-2'}])
        foreign, = Specialty.create([{
                    'institution': other.id, 'name': '心内科'}])
        with self.assertRaises(ValidationError):
            Defect.create([{
                        'inspection': inspection.id,
                        'specialty': foreign.id,
                        'description': 'x', 'severity': 'minor'}])

    @with_transaction()
    def test_proposed_conclusion_per_specialty(self):
        "Institution and specialty proposals follow their own defects"
        pool = Pool()
        Defect = pool.get('ct.inspection.defect')
        Inspection = pool.get('ct.inspection')
        inspection = self.setup_inspection()
        specialty, = inspection.specialties
        Defect.create([{
                    'inspection': inspection.id, 'description': f'一般{i}',
                    'severity': 'minor'} for i in range(4)] + [{
                    'inspection': inspection.id, 'specialty': specialty.id,
                    'description': '主要', 'severity': 'major'}])
        inspection = Inspection(inspection.id)
        self.assertEqual(inspection.proposed_conclusion, 'rectify')
        Inspection.apply_proposal([inspection])
        line, = Inspection(inspection.id).specialty_conclusions
        self.assertEqual(line.conclusion, 'rectify')
        Config = pool.get('ct.inspection.configuration')
        Config.write([Config(1)], {'compliant_max_major': 1})
        self.assertEqual(
            Inspection(inspection.id).proposed_conclusion, 'compliant')

    @with_transaction()
    def test_concluded_locked_even_for_root(self):
        "Concluded inspections refuse writes and deletes, root included"
        Inspection = Pool().get('ct.inspection')
        inspection = self.setup_inspection()
        Inspection.write([inspection], {
                'conclusion': 'compliant', 'judgement': '无缺陷'})
        Inspection.apply_proposal([inspection])
        for line in inspection.specialty_conclusions:
            line.judgement = '符合'
            line.save()
        Inspection.conclude([inspection])
        self.assertEqual(inspection.state, 'concluded')
        # No defect and compliant: nothing to rectify
        self.assertEqual(inspection.rectifications, ())
        with self.assertRaises(InspectionLockedError):
            Inspection.write([inspection], {'judgement': '改'})
        with self.assertRaises(InspectionLockedError):
            Inspection.delete([inspection])

    @with_transaction()
    def test_rectification_overdue_search(self):
        "is_overdue is searchable and follows the due date and the state"
        pool = Pool()
        Rectification = pool.get('ct.rectification')
        Date = pool.get('ir.date')
        inspection = self.setup_inspection()
        rectification, = Rectification.open_for([inspection]) or [None]
        self.assertIsNotNone(rectification)
        today = dt.date(2025, 11, 20)
        with patch.object(Date, 'today', return_value=today):
            self.assertTrue(rectification.report_due < today)
            self.assertEqual(Rectification.search(
                    [('is_overdue', '=', True)]), [rectification])
            self.assertEqual(Rectification.search(
                    [('is_overdue', '=', False)]), [])
            self.assertEqual(
                Rectification(rectification.id).days_overdue,
                (today - rectification.report_due).days)
        with patch.object(Date, 'today', return_value=dt.date(2025, 10, 1)):
            self.assertEqual(Rectification.search(
                    [('is_overdue', '=', True)]), [])

    @with_transaction()
    def test_rectification_wrong_transition(self):
        "Submitting a report before the plan is refused with a message"
        pool = Pool()
        Rectification = pool.get('ct.rectification')
        inspection = self.setup_inspection()
        rectification, = Rectification.open_for([inspection])
        Rectification.write([rectification], {'report': 'r'})
        with self.assertRaises(RectificationError) as cm:
            Rectification.submit_report([rectification])
        self.assertIn(rectification.state_string, cm.exception.message)
        self.assertEqual(rectification.state, 'waiting_plan')
        with self.assertRaises(RectificationError):
            Rectification.accept([rectification])

    @with_transaction()
    def test_catalogue_import(self):
        "A catalogue workbook with a title row imports with its classes"
        Clause = Pool().get('ct.inspection.clause')
        data = workbook([
                ['药物临床试验机构监督检查要点'],
                [],
                ['部分', '章节', '编号', '检查要点', '类别'],
                ['机构', '一、资质', '1.1', '具有执业许可证', '★'],
                ['', '', '1.2', '配备专职人员', ''],
                ['专业', '二、受试者', '2.1', '签署知情同意书', '★★'],
                ])
        vlist = Clause.read_workbook('c.xlsx', data)
        self.assertEqual(
            [(v['part'], v['code'], v['item_class']) for v in vlist], [
                ('institution', '1.1', 'major'),
                ('institution', '1.2', 'general'),
                ('specialty', '2.1', 'key'),
                ])
        self.assertEqual(vlist[1]['section'], '一、资质')

    @with_transaction()
    def test_catalogue_import_bad_input(self):
        "Bad catalogue files name the row and column; nothing is returned"
        from trytond.modules.ct_inspection import clause as clause_module
        Clause = Pool().get('ct.inspection.clause')
        bad_class = workbook([
                ['编号', '检查要点', '类别'],
                ['1.1', '甲', '★'],
                ['1.2', '乙', '特级'],
                ])
        with self.assertRaises(ClauseImportError) as cm:
            Clause.read_workbook('c.xlsx', bad_class)
        self.assertIn('3', cm.exception.message)
        self.assertIn('类别', cm.exception.message)
        duplicate = workbook([['编号', '检查要点'], ['1', '甲'], ['1', '乙']])
        with self.assertRaises(ClauseImportError):
            Clause.read_workbook('c.xlsx', duplicate)
        with self.assertRaises(ClauseImportError):
            Clause.read_workbook('c.xlsx', b'\x89PNG\r\n\x1a\nxxxx')
        with self.assertRaises(ClauseImportError):
            Clause.read_workbook('c.xlsx', workbook([['甲', '乙']]))
        with patch.object(clause_module, 'MAX_CATALOGUE_BYTES', 10):
            with self.assertRaises(ClauseImportError):
                Clause.read_workbook('c.xlsx', bad_class)

    def as_regulator(self):
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        user, = User.create([{'name': '监管员', 'login': 'reg',
                    'groups': [('add', [ModelData.get_id(
                                    'ct_base', 'group_regulator')])]}])
        return Transaction().set_user(user.id)

    @with_transaction()
    def test_evaluation_report_and_lock(self):
        "The evaluation prints as a Chinese PDF and locks once approved"
        pool = Pool()
        Evaluation = pool.get('ct.evaluation')
        Report = pool.get('ct.evaluation.report', type='report')
        inspection = self.setup_inspection()
        evaluation, = Evaluation.create([{
                    'institution': inspection.institution.id,
                    'inspection': inspection.id,
                    'evaluators': '张三、李四',
                    'conclusion': 'rectify',
                    'summary': '<script>alert(1)</script>整改后复评',
                    }])
        with self.as_regulator():
            ext, content, _, name = Report.execute([evaluation.id], {})
        self.assertEqual(ext, 'pdf')
        self.assertTrue(bytes(content).startswith(b'%PDF'))
        Evaluation.approve([evaluation])
        with self.assertRaises(EvaluationError):
            Evaluation.write([evaluation], {'summary': '改'})

    @with_transaction()
    def test_evaluation_report_escapes_markup(self):
        "Text fields are escaped in the report (no script injection)"
        pool = Pool()
        Evaluation = pool.get('ct.evaluation')
        Report = pool.get('ct.evaluation.report', type='report')
        inspection = self.setup_inspection()
        evaluation, = Evaluation.create([{
                    'institution': inspection.institution.id,
                    'evaluators': '<b>张三</b>',
                    'conclusion': 'compliant',
                    'summary': '<script>alert(1)</script>',
                    }])
        with patch.object(Report, 'convert',
                side_effect=lambda report, data, **kw: ('html', data)), \
                self.as_regulator():
            _, content, _, _ = Report.execute([evaluation.id], {})
        html = content if isinstance(content, str) else content.decode()
        self.assertNotIn('<script>alert', html)
        self.assertIn('&lt;script&gt;', html)

    @with_transaction()
    def test_statistics(self):
        "SQL statistics count by severity, clause, period and timeliness"
        pool = Pool()
        Defect = pool.get('ct.inspection.defect')
        Inspection = pool.get('ct.inspection')
        Rectification = pool.get('ct.rectification')
        inspection = self.setup_inspection()
        Defect.create([
                {'inspection': inspection.id,
                    'clause': self.clause('10.1').id, 'description': 'a'},
                {'inspection': inspection.id,
                    'clause': self.clause('10.1').id, 'description': 'b'},
                {'inspection': inspection.id, 'description': 'c',
                    'severity': 'minor'},
                ])
        self.assertEqual(defects_by_severity(),
            {'critical': 2, 'minor': 1})
        code, _, total, critical, major, minor = defects_by_clause()[0]
        self.assertEqual((code, total, critical, major, minor),
            ('10.1', 2, 2, 0, 0))
        Inspection.write([inspection], {'conclusion': 'non_compliant'})
        self.assertEqual(conclusions_over_time(by='month'),
            [('2025-09', 'non_compliant', 1)])
        rectification, = Rectification.open_for([inspection])
        Rectification.write([rectification], {
                'report_date': rectification.report_due
                + dt.timedelta(days=3)})
        (institution, total, on_time, late, overdue, days), = (
            rectification_timeliness(today=dt.date(2025, 9, 30)))
        self.assertEqual((institution, total, on_time, late, days),
            (inspection.institution.id, 1, 0, 1, 3.0))
