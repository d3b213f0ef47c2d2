"""The NMPA inspection-result parser (nmpa_parse.py): no database.

The module is loaded from its file so that these tests run whether or not
ct_inspection is an activated Tryton module.
"""
import csv
import datetime as dt
import importlib.util
import io
import json
import os
import random
import sys
import tempfile
import unittest
from collections import Counter

import xlsxwriter

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(os.path.dirname(HERE)))
SAMPLES = os.path.join(ROOT, 'data', 'samples')


def _load(name, path):
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


nmpa = _load('ct_inspection_nmpa_parse',
    os.path.join(os.path.dirname(HERE), 'nmpa_parse.py'))
samples = _load('nmpa_make_samples', os.path.join(SAMPLES, 'make_samples.py'))

D = dt.date
HEADER = ["机构名称", "统一社会信用代码", "检查编号", "检查类型", "检查开始日期",
    "检查结束日期", "专业", "条款号", "缺陷描述", "缺陷等级", "检查结论"]
NAME, CODE = samples.SAMPLE_INSTITUTIONS[0]
NAME2, CODE2 = samples.SAMPLE_INSTITUTIONS[1]


def xlsx(rows, merges=(), sheets=None):
    """Return the bytes of a workbook: rows are lists of cell values
    (None = no cell) written from A1; datetimes get a date format"""
    buffer = io.BytesIO()
    workbook = xlsxwriter.Workbook(buffer, {'in_memory': True})
    date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    for name, content in (sheets or [("Sheet1", rows)]):
        sheet = workbook.add_worksheet(name)
        for (r0, c0, r1, c1, value) in (merges if content is rows else ()):
            sheet.merge_range(r0, c0, r1, c1, value)
        for r, row in enumerate(content):
            for c, value in enumerate(row):
                if value is None:
                    continue
                if isinstance(value, dt.date):
                    if not isinstance(value, dt.datetime):
                        value = dt.datetime.combine(value, dt.time())
                    sheet.write_datetime(r, c, value, date)
                elif isinstance(value, (int, float)):
                    sheet.write_number(r, c, value)
                else:
                    sheet.write_string(r, c, value)
    workbook.close()
    return buffer.getvalue()


def csv_bytes(rows, encoding='utf-8', delimiter=','):
    buffer = io.StringIO(newline='')
    csv.writer(buffer, delimiter=delimiter, lineterminator='\r\n').writerows(
        rows)
    return buffer.getvalue().encode(encoding)


def data_row(**values):
    row = {"机构名称": NAME, "统一社会信用代码": CODE,
        "检查编号": 'NMPA-2024-001', "检查类型": "日常检查",
        "检查开始日期": D(2024, 3, 5), "检查结束日期": D(2024, 3, 7),
        "专业": "肿瘤科", "条款号": '3.2.1',
        "缺陷描述": "知情同意书签署日期早于伦理批准日期", "缺陷等级": "严重",
        "检查结论": "待整改后评定"}
    row.update(values)
    return [row[h] for h in HEADER]


def read_sample(name):
    with open(os.path.join(SAMPLES, name), 'rb') as file:
        return file.read()


class SamplesTestCase(unittest.TestCase):
    "The committed samples parse to the counts of expected.json"

    @classmethod
    def setUpClass(cls):
        with open(os.path.join(SAMPLES, 'expected.json'),
                encoding='utf-8') as file:
            cls.expected = json.load(file)
        cls.matcher = nmpa.InstitutionMatcher(
            (i, n, c) for i, (n, c) in enumerate(samples.SAMPLE_INSTITUTIONS))

    def test_expected_in_sync_with_generator(self):
        "expected.json and the README are what the generator writes"
        with tempfile.TemporaryDirectory() as tmp:
            expected = samples.build(tmp)
            with open(os.path.join(tmp, 'expected.json'),
                    encoding='utf-8') as file:
                self.assertEqual(json.load(file), self.expected)
            with open(os.path.join(tmp, 'README.md'),
                    encoding='utf-8') as new, open(os.path.join(
                        SAMPLES, 'README.md'), encoding='utf-8') as old:
                self.assertEqual(new.read(), old.read())
            for key in 'ABCM':
                name = expected[key]['file']
                with open(os.path.join(tmp, name), 'rb') as file:
                    regenerated = nmpa.parse_file(name, file.read())
                committed = nmpa.parse_file(name, read_sample(name))
                self.assertEqual(
                    [r.row_key() for r in regenerated.rows],
                    [r.row_key() for r in committed.rows], name)

    def check_counts(self, key):
        expected = self.expected[key]
        result = nmpa.parse_file(expected['file'],
            read_sample(expected['file']))
        self.assertEqual(result.header_row, expected['header_row'])
        self.assertEqual(result.rows_read, expected['rows_read'])
        self.assertEqual(len(result.rows), expected['rows_accepted'])
        self.assertEqual(len(result.rejected_rows), expected['rows_rejected'])
        self.assertEqual(
            len({r.inspection_key() for r in result.rows}),
            expected['inspections'])
        self.assertEqual(sum(r.has_defect() for r in result.rows),
            expected['defects'])
        severities = Counter(r.severity for r in result.rows if r.severity)
        self.assertEqual(
            {s: severities.get(s, 0) for s in nmpa.SEVERITIES},
            expected['by_severity'])
        return result, expected

    def check_inspections(self, result, expected):
        by_start = {}
        for row in result.rows:
            by_start.setdefault(row.date_start, []).append(row)
        for inspection in expected['inspection_list']:
            rows = by_start[D.fromisoformat(inspection['date_start'])]
            self.assertEqual({r.inspection_key() for r in rows}.__len__(), 1)
            row = rows[0]
            self.assertEqual(row.date_end,
                D.fromisoformat(inspection['date_end']))
            self.assertEqual(row.inspection_type,
                inspection['inspection_type'])
            self.assertEqual(row.conclusion, inspection['conclusion'])
            self.assertEqual(row.inspection_no, inspection['inspection_no'])
            self.assertEqual(sum(r.has_defect() for r in rows),
                inspection['defects'])
            id_, score, how = self.matcher.match(
                row.institution_name, row.credit_code)
            self.assertEqual(how, inspection['match'], inspection)
            self.assertEqual(samples.SAMPLE_INSTITUTIONS[id_][0],
                inspection['institution'])
            self.assertGreaterEqual(score, self.matcher.threshold)

    def test_a_summary(self):
        "Title and blank rows, header on row 3, merged cells, Excel dates"
        result, expected = self.check_counts('A')
        self.assertEqual(result.file_type, 'xlsx')
        self.assertEqual(result.columns['institution_name'], "机构名称")
        self.assertEqual(result.columns['date_start'], "检查开始日期")
        self.assertEqual(result.rows[0].row, expected['first_row'])
        self.assertEqual(result.rows[-1].row, expected['last_row'])
        # merged institution cells are filled down
        self.assertTrue(all(r.institution_name and r.credit_code
                for r in result.rows))
        empty = [r for r in result.rows if not r.has_defect()]
        self.assertEqual(len(empty), expected['rows_without_defect'])
        self.assertEqual(empty[0].conclusion, 'compliant')
        self.check_inspections(result, expected)

    def test_b_q1(self):
        "Synonyms, date ranges, serial dates, stars, full-width, blank rows"
        result, expected = self.check_counts('B')
        self.assertEqual(result.header_row, 1)
        self.assertEqual(result.columns['institution_name'], "被检查单位")
        self.assertEqual(result.columns['date'], "检查时间")
        self.assertEqual(result.columns['clause_code'], "检查要点编号")
        self.assertEqual(result.columns['severity'], "缺陷级别")
        code = samples.SAMPLE_INSTITUTIONS[samples.CANCER][1]
        self.assertEqual(result.rows[0].credit_code, code)  # was full-width
        longhua = [r for r in result.rows
            if r.date_start == D(2025, 3, 25)]
        self.assertEqual(longhua[0].institution_name,
            "上海中医药大学附属龙华医院")  # zero-width space dropped
        self.assertIn('3.5.4', {r.clause_code for r in longhua})
        # blank rows are not counted but keep the numbering of the sheet
        self.assertEqual(result.rows[-1].row, expected['last_row'])
        self.assertEqual(expected['last_row'] - expected['first_row'] + 1,
            expected['rows_read'] + 2)
        self.check_inspections(result, expected)

    def test_c_special_csv(self):
        "GB18030 CSV, note lines, slash dates, multi-line cell, total row"
        result, expected = self.check_counts('C')
        self.assertEqual(result.file_type, 'csv')
        self.assertEqual(result.encoding, 'gb18030')
        self.assertEqual([r.row for r in result.rows],
            expected['row_numbers'])
        self.assertTrue(any('\n' not in (r.defect or '') and '处置 且' in (
                        r.defect or '') for r in result.rows))
        self.check_inspections(result, expected)

    def test_malformed(self):
        "Each row error has the row number and the column of the file"
        result, expected = self.check_counts('M')
        self.assertEqual(len(result.errors), len(expected['errors']))
        found = {(e.row, e.column): e.message for e in result.errors}
        for error in expected['errors']:
            key = (error['row'], error['column'])
            self.assertIn(key, found)
            self.assertIn(error['message'], found[key])
        self.assertEqual(found[5, "检查开始日期"], "日期无法识别：“2024年13月5日”")
        self.assertEqual([r.row for r in result.rows], [3, 4, 15])
        self.assertNotIn(9, result.rejected_rows)  # blank row
        self.assertNotIn(17, result.rejected_rows)  # note row
        text = str(result.errors[0])
        self.assertIn("第 5 行", text)
        self.assertIn("检查开始日期", text)

    def test_sample_institutions(self):
        for name, code in samples.SAMPLE_INSTITUTIONS:
            self.assertTrue(nmpa.is_valid_credit_code(code), name)
        values = samples.SAMPLE_INSTITUTION_VALUES
        self.assertEqual(len({v['code'] for v in values}), len(values))
        self.assertEqual([(v['name'], v['credit_code']) for v in values],
            samples.SAMPLE_INSTITUTIONS)


class HeaderTestCase(unittest.TestCase):
    "Header row detection and column synonyms"

    def test_title_rows(self):
        rows = [
            ["2024年上海市药物临床试验机构检查结果汇总表"] + [None] * 10,
            [None] * 11,
            ["说明：本表由国家药监局核查中心提供"] + [None] * 10,
            ["填表单位：", "上海市药品审评核查中心"] + [None] * 9,
            HEADER,
            data_row(),
            ]
        result = nmpa.parse_file('t.xlsx', xlsx(
                rows, merges=[(0, 0, 0, 10, rows[0][0])]))
        self.assertEqual(result.header_row, 5)
        self.assertEqual(result.rows_read, 1)
        self.assertEqual(result.rows[0].row, 6)
        self.assertEqual(len(result.columns), 11)

    def test_header_beyond_scan(self):
        rows = [["注释"]] * 20 + [HEADER, data_row()]
        with self.assertRaises(nmpa.ParseError) as cm:
            nmpa.parse_file('t.xlsx', xlsx(rows))
        self.assertEqual(cm.exception.message,
            "无法识别表头：未找到“机构名称”列（已检查前 20 行）")

    def test_header_decorations(self):
        "Line breaks, * marks, parenthesised notes, full-width"
        header = ["* 机构\n名称", "统一社会信用代码（18位）",
            "检查开始日期(yyyy-mm-dd)", "缺陷等级：", "ｃｏｎｃｌｕｓｉｏｎ"]
        result = nmpa.parse_file('t.csv', csv_bytes(
                [header, [NAME, CODE, '2024-03-05', "主要", ""]]))
        self.assertEqual(set(result.columns), {'institution_name',
                'credit_code', 'date_start', 'severity'})
        self.assertEqual(result.columns['institution_name'], "* 机构名称")
        self.assertEqual(result.rows[0].severity, 'major')

    def test_synonyms(self):
        for fname, synonyms in nmpa.HEADER_SYNONYMS.items():
            for synonym in synonyms:
                with self.subTest(synonym=synonym):
                    if fname in {'institution_name', 'credit_code'}:
                        header = [synonym, "检查日期"]
                        row = [NAME if fname == 'institution_name' else CODE,
                            '2024/3/5']
                    else:
                        header = ["机构名称", synonym]
                        row = [NAME, '2024/3/5']
                        if fname not in {'date_start', 'date'}:
                            header.append("检查开始日期")
                            row.append('2024/3/5')
                    values = {'inspection_type': "专项", 'severity': "一般",
                        'conclusion': "符合要求", 'date_end': '2024/3/6'}
                    if fname in values:
                        row[1] = values[fname]
                    result = nmpa.parse_file('s.csv', csv_bytes([header,
                                row]))
                    self.assertEqual(result.columns[fname], synonym)
                    self.assertFalse(result.errors, result.errors)

    def test_required_columns(self):
        with self.assertRaises(nmpa.ParseError) as cm:
            nmpa.parse_file('t.csv', csv_bytes(
                    [["序号", "检查日期", "缺陷描述"], ['1', '2024/3/5', "x"]]))
        self.assertIn("未找到“机构名称”列", cm.exception.message)
        with self.assertRaises(nmpa.ParseError) as cm:
            nmpa.parse_file('t.csv', csv_bytes(
                    [["机构名称", "缺陷描述"], [NAME, "x"]]))
        self.assertIn("未找到“检查开始日期”", cm.exception.message)
        # credit code without name is enough
        result = nmpa.parse_file('t.csv', csv_bytes(
                [["信用代码", "开始日期"], [CODE, '2024/3/5']]))
        self.assertEqual(result.rows[0].credit_code, CODE)
        self.assertIsNone(result.rows[0].institution_name)

    def test_best_sheet(self):
        "The sheet with the best header is read"
        data = xlsx(None, sheets=[
                ("说明", [["填表说明"], ["1. 每行一条缺陷"]]),
                ("数据", [HEADER, data_row()]),
                ])
        result = nmpa.parse_file('t.xlsx', data)
        self.assertEqual(result.sheet_name, "数据")
        self.assertEqual(len(result.rows), 1)

    def test_skipped_rows(self):
        "Blank, pre-numbered, repeated header and note rows are skipped"
        header = ["序号"] + HEADER
        rows = [header, [1] + data_row(), [None] * 12, [2] + [None] * 11,
            header, [3] + data_row(**{"缺陷描述": "另一缺陷"}),
            ["注：缺陷等级分为严重、主要、一般"], [None, "合计：2 条"]]
        result = nmpa.parse_file('t.xlsx', xlsx(rows))
        self.assertEqual(result.rows_read, 2)
        self.assertEqual([r.row for r in result.rows], [2, 6])
        self.assertFalse(result.errors)

    def test_max_rows(self):
        rows = [HEADER] + [data_row(**{"缺陷描述": f"缺陷{i}"})
            for i in range(10)]
        result = nmpa.parse_file('t.xlsx', xlsx(rows), max_rows=4)
        self.assertEqual(result.rows_read, 4)
        self.assertTrue(result.truncated)
        result = nmpa.parse_file('t.xlsx', xlsx(rows), max_rows=10)
        self.assertFalse(result.truncated)


class FileTestCase(unittest.TestCase):
    "Whole-file problems and encodings"

    def assertChinese(self, message):
        self.assertTrue(any('\u4e00' <= c <= '\u9fff' for c in message),
            message)

    def test_not_excel(self):
        for name, data in [
                ('bad.xlsx', b'PK\x03\x04garbage'),
                ('image.xlsx', b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR' + bytes(
                        20)),
                ('image.png', b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR'),
                ('old.xls', b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + bytes(600)),
                ('report.pdf', b'%PDF-1.7\n%\xe2\xe3\xcf\xd3\n'),
                ('binary.csv', b'\x00\x01\x02\x03' * 10),
                ('text.xlsx', "机构名称,检查日期\n".encode()),
                ]:
            with self.subTest(name=name):
                with self.assertRaises(nmpa.ParseError) as cm:
                    nmpa.parse_file(name, data)
                self.assertChinese(cm.exception.message)
                self.assertEqual(str(cm.exception), cm.exception.message)
        with self.assertRaises(nmpa.ParseError) as cm:
            nmpa.parse_file('bad.xlsx', b'PK\x03\x04garbage')
        self.assertIn("无法读取 Excel 文件", cm.exception.message)
        with self.assertRaises(nmpa.ParseError) as cm:
            nmpa.parse_file('a.png', b'\x89PNG\r\n\x1a\n\x00\x00')
        self.assertIn("不支持的文件类型", cm.exception.message)

    def test_empty(self):
        for name, data in [
                ('empty.xlsx', b''),
                ('empty.xlsx', xlsx([])),
                ('blank.xlsx', xlsx([[None, " "], [None, None, ""]])),
                ('empty.csv', b'\r\n,,\r\n'),
                ]:
            with self.subTest(name=name):
                with self.assertRaises(nmpa.ParseError) as cm:
                    nmpa.parse_file(name, data)
                self.assertChinese(cm.exception.message)
        with self.assertRaises(nmpa.ParseError) as cm:
            nmpa.parse_file('header.xlsx', xlsx([HEADER, [None] * 11]))
        self.assertIn("没有数据行", cm.exception.message)

    def test_csv_encodings(self):
        rows = [["说明：专项检查"], ["机构名称", "统一社会信用代码", "检查日期",
                "缺陷内容", "风险等级"],
            [NAME, CODE, '2025/3/5', "试验用药品温度记录缺失，未见评估", "主要"]]
        for encoding, expected in [('gbk', 'gb18030'),
                ('gb18030', 'gb18030'), ('utf-8', 'utf-8'),
                ('utf-8-sig', 'utf-8-sig'), ('utf-16', 'utf-16')]:
            with self.subTest(encoding=encoding):
                result = nmpa.parse_file('x.csv', csv_bytes(rows, encoding))
                self.assertEqual(result.encoding, expected)
                self.assertEqual(result.header_row, 2)
                row, = result.rows
                self.assertEqual(row.institution_name, NAME)
                self.assertEqual(row.defect, "试验用药品温度记录缺失，未见评估")
                self.assertEqual((row.date_start, row.date_end),
                    (D(2025, 3, 5), D(2025, 3, 5)))

    def test_tab_separated(self):
        "Excel's Unicode text export: UTF-16, tab separated"
        data = csv_bytes([HEADER, [str(v) for v in data_row()]], 'utf-16',
            delimiter='\t')
        result = nmpa.parse_file('export.txt', data)
        self.assertEqual(len(result.rows), 1)
        self.assertEqual(result.rows[0].date_start, D(2024, 3, 5))


class DateTestCase(unittest.TestCase):

    def test_formats(self):
        for value in [D(2024, 3, 5), dt.datetime(2024, 3, 5, 14, 30), 45356,
                45356.0, 45356.75, '45356', "2024年3月5日", "2024年03月05日",
                " 2024 年 3 月 5 日 ", "2024年3月5号", '2024-03-05',
                '2024-3-5', '2024/3/5', '2024/03/05', '2024.3.5',
                '20240305', 20240305, "２０２４年３月５日", "２０２４／３／５",
                '2024-03-05 09:30:00', '2024-03-05T09:30', "2024年3月5日 9:00",
                "二〇二四年三月五日", '\u200b2024-03-05']:
            with self.subTest(value=value):
                self.assertEqual(nmpa.parse_date(value), D(2024, 3, 5))
        self.assertEqual(nmpa.parse_date("二〇二四年十二月三十一日"),
            D(2024, 12, 31))
        self.assertEqual(nmpa.parse_date(1), D(1900, 1, 1))
        self.assertEqual(nmpa.parse_date(61), D(1900, 3, 1))

    def test_invalid(self):
        for value in ["2024年13月5日", '2024-02-30', 'abc', '', None, True,
                60, 0, -5, 1e9, float('nan'), "3月5日", '2024', dt.time(9),
                "2024年3月"]:
            with self.subTest(value=value):
                with self.assertRaises(ValueError):
                    nmpa.parse_date(value)

    def test_ranges(self):
        cases = {
            "2024年3月5日-3月7日": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024年3月5日—3月7日": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024年3月5日至7日": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024年3月5日～2024年3月7日": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024.3.5—2024.3.7": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024.3.5-3.7": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024-03-05至2024-03-07": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024-03-05-2024-03-07": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024-03-05 ~ 2024-03-07": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024/3/5--2024/3/7": (D(2024, 3, 5), D(2024, 3, 7)),
            "２０２４年３月５日－３月７日": (D(2024, 3, 5), D(2024, 3, 7)),
            "2024年12月30日-1月2日": (D(2024, 12, 30), D(2025, 1, 2)),
            "2024年3月30日-2日": (D(2024, 3, 30), D(2024, 4, 2)),
            "2024年3月5日": (D(2024, 3, 5), None),
            }
        for value, expected in cases.items():
            with self.subTest(value=value):
                self.assertEqual(nmpa.parse_date_range(value), expected)
        for value in ["2024年3月5日-", "3月5日-3月7日", "2024年3月5日-3月40日"]:
            with self.subTest(value=value):
                with self.assertRaises(ValueError):
                    nmpa.parse_date_range(value)

    def test_date_columns(self):
        "Single date → start = end; range; end column; row errors"
        header = ["机构名称", "检查时间", "检查结束日期"]
        rows = [header,
            [NAME, "2024年3月5日", None],
            [NAME, "2024年4月1日-4月3日", None],
            [NAME, 45356, 45358],
            [NAME, "2024年5月6日-5月8日", D(2024, 5, 9)],
            [NAME, "2024年3月5日", D(2024, 3, 1)],
            [NAME, None, D(2024, 3, 1)],
            [NAME, 3, None],
            [NAME, "2024年3月7日-3月5日", None],
            ]
        result = nmpa.parse_file('t.xlsx', xlsx(rows))
        dates = {r.row: (r.date_start, r.date_end) for r in result.rows}
        self.assertEqual(dates, {
                2: (D(2024, 3, 5), D(2024, 3, 5)),
                3: (D(2024, 4, 1), D(2024, 4, 3)),
                4: (D(2024, 3, 5), D(2024, 3, 7)),
                5: (D(2024, 5, 6), D(2024, 5, 9)),
                })
        errors = {(e.row, e.column): e.message for e in result.errors}
        self.assertIn("早于开始日期", errors[6, "检查结束日期"])
        self.assertEqual(errors[7, "检查时间"], "缺少检查日期")
        self.assertIn("不在合理范围", errors[8, "检查时间"])
        self.assertIn("早于开始日期", errors[9, "检查时间"])

    def test_start_column_only(self):
        result = nmpa.parse_file('t.csv', csv_bytes(
                [["机构名称", "开始日期"], [NAME, '2024/3/5']]))
        self.assertEqual(
            (result.rows[0].date_start, result.rows[0].date_end),
            (D(2024, 3, 5), None))


class ValueTestCase(unittest.TestCase):

    def test_normalize_text(self):
        self.assertEqual(nmpa.normalize_text(
                "  上海市\u200b第一\u3000 人民医院（北部院区）\n ＡＢ１２ "),
            "上海市第一 人民医院(北部院区) AB12")
        self.assertEqual(nmpa.normalize_text(None), '')
        self.assertEqual(nmpa.normalize_text(12.0), '12')
        self.assertEqual(nmpa.normalize_text('\ufeff\u200d'), '')
        # free text keeps its Chinese punctuation
        self.assertEqual(nmpa.clean_text(" ＣＲＦ记录，不一致（２例）\u200b "),
            "CRF记录，不一致（2例）")

    def test_mappings(self):
        header = ["机构名称", "检查日期", "检查类型", "缺陷等级", "检查结论"]
        cases = [
            ("首次检查", "严重", "符合要求", 'first', 'critical', 'compliant'),
            ("日常监督检查", "严重缺陷", "符合", 'routine', 'critical',
                'compliant'),
            ("常规", "关键", "待整改后评定", 'routine', 'critical', 'rectify'),
            ("飞行检查", "★★", "基本符合", 'for_cause', 'critical',
                'rectify'),
            ("有因", "★", "基本符合要求", 'for_cause', 'major', 'rectify'),
            ("专项检查", "主要", "不符合要求", 'special', 'major',
                'non_compliant'),
            ("其他", "一般", "不符合", 'other', 'minor', 'non_compliant'),
            ("举报", "一般缺陷", "限期整改", 'for_cause', 'minor', 'rectify'),
            ("专项", "严重（★★）", "不通过", 'special', 'critical',
                'non_compliant'),
            ("复查", "**", "通过", 'other', 'critical', 'compliant'),
            ]
        rows = [header] + [[NAME, '2024/3/5', t, s, c]
            for t, s, c, *_ in cases]
        result = nmpa.parse_file('m.csv', csv_bytes(rows))
        self.assertFalse(result.errors)
        self.assertEqual(
            [(r.inspection_type, r.severity, r.conclusion)
                for r in result.rows],
            [tuple(c[3:]) for c in cases])

    def test_unknown_values(self):
        header = ["机构名称", "检查日期", "检查类型", "缺陷等级", "检查结论"]
        rows = [header, [NAME, '2024/3/5', "年度考核", "特别", "待定"]]
        result = nmpa.parse_file('m.csv', csv_bytes(rows))
        self.assertFalse(result.rows)
        self.assertEqual({e.column for e in result.errors},
            {"检查类型", "缺陷等级", "检查结论"})
        self.assertEqual({e.row for e in result.errors}, {2})

    def test_text_fields(self):
        header = ["被检查单位", "编号", "检查日期", "条款", "缺陷描述"]
        rows = [header,
            ["  上海市\u200b胸科医院 ", 17, D(2024, 3, 5), "第３．２．１条",
                "原始记录\n无法溯源"],
            ["上海市胸科医院", "NMPA-001", D(2024, 3, 5), 3.2, None]]
        result = nmpa.parse_file('t.xlsx', xlsx(rows))
        first, second = result.rows
        self.assertEqual(first.institution_name, "上海市胸科医院")
        self.assertEqual(first.inspection_no, '17')
        self.assertEqual(first.clause_code, '3.2.1')
        self.assertEqual(first.defect, "原始记录 无法溯源")
        self.assertEqual(second.clause_code, '3.2')
        self.assertTrue(second.has_defect())

    def test_credit_code(self):
        self.assertTrue(nmpa.is_valid_credit_code('91350100M000100Y43'))
        self.assertEqual(nmpa.credit_check_digit('91350100M000100Y4'), '3')
        self.assertFalse(nmpa.is_valid_credit_code('91350100M000100Y44'))
        self.assertIn("校验位错误",
            nmpa.credit_code_error('91350100M000100Y44'))
        self.assertIn("18 位", nmpa.credit_code_error('91350100M000100Y4'))
        self.assertIn("非法字符", nmpa.credit_code_error('91350100M000100I43'))
        self.assertFalse(nmpa.is_valid_credit_code(None))
        # agrees with the demo-data generator on random bodies
        sys.path.insert(0, ROOT)
        from data.generate import credit_check_digit
        rng = random.Random(7)
        for _ in range(500):
            body = ''.join(rng.choice(nmpa.CREDIT_CHARS) for _ in range(17))
            self.assertEqual(nmpa.credit_check_digit(body),
                credit_check_digit(body))
            self.assertTrue(nmpa.is_valid_credit_code(
                    body + credit_check_digit(body)))

    def test_credit_code_cells(self):
        header = ["机构名称", "统一社会信用代码", "检查日期"]
        spaced = f'{CODE[:6]} {CODE[6:12]}-{CODE[12:]}'.lower()
        rows = [header, [NAME, spaced, '2024/3/5'],
            [NAME, CODE[:-1] + ('0' if CODE[-1] != '0' else '1'), '2024/3/5'],
            [NAME, 1.2310104e17, '2024/3/5'],
            [None, None, '2024/3/5']]
        result = nmpa.parse_file('c.xlsx', xlsx(rows))
        self.assertEqual([r.credit_code for r in result.rows], [CODE])
        errors = {e.row: (e.column, e.message) for e in result.errors}
        self.assertEqual(errors[3][0], "统一社会信用代码")
        self.assertIn("校验位错误", errors[3][1])
        self.assertIn("被存为数字", errors[4][1])
        self.assertEqual(errors[5], ("机构名称", "缺少机构名称和统一社会信用代码"))

    def test_keys(self):
        rows = [HEADER, data_row(),
            data_row(**{"缺陷描述": "另一缺陷", "缺陷等级": "一般"}),
            data_row(**{"统一社会信用代码": None, "检查编号": None})]
        first = nmpa.parse_file('k.xlsx', xlsx(rows))
        self.assertEqual(first.rows[0].inspection_key(),
            (CODE, D(2024, 3, 5), 'NMPA-2024-001'))
        self.assertEqual(first.rows[0].inspection_key(),
            first.rows[1].inspection_key())
        self.assertEqual(first.rows[2].inspection_key(),
            (NAME, D(2024, 3, 5), ''))
        keys = [r.row_key() for r in first.rows]
        self.assertEqual(len(set(keys)), 3)
        self.assertTrue(all(len(k) == 64 and int(k, 16) >= 0 for k in keys))
        # stable: same content elsewhere in another layout gives same keys
        moved = [["标题"], [], HEADER, [None] * 11, rows[2], rows[1],
            rows[3]]
        second = nmpa.parse_file('k2.xlsx', xlsx(moved))
        self.assertEqual(sorted(r.row_key() for r in second.rows),
            sorted(keys))
        as_csv = nmpa.parse_file('k.csv', csv_bytes(
                [HEADER] + [[v.strftime('%Y/%m/%d') if isinstance(v, D)
                            else v for v in r] for r in rows[1:]], 'gbk'))
        self.assertEqual([r.row_key() for r in as_csv.rows], keys)
        self.assertEqual(keys[0], nmpa.NmpaRow(
                row=99, institution_name=NAME, credit_code=CODE,
                inspection_no='NMPA-2024-001', inspection_type='routine',
                date_start=D(2024, 3, 5), date_end=D(2024, 3, 7),
                specialty="肿瘤科", clause_code='3.2.1',
                defect="知情同意书签署日期早于伦理批准日期",
                severity='critical', conclusion='rectify').row_key())


class MatcherTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        sys.path.insert(0, ROOT)
        from data import names
        cls.names = [h[0] for h in names.REAL_HOSPITALS]
        cls.institutions = [(i + 1, n, None) for i, n in enumerate(
                cls.names)]
        cls.ids = {n: i for i, n, _ in cls.institutions}

    def test_credit_code_wins(self):
        matcher = nmpa.InstitutionMatcher([(1, NAME, CODE), (2, NAME2, CODE2)])
        self.assertEqual(matcher.match(NAME2, CODE), (1, 100.0, 'credit_code'))
        self.assertEqual(matcher.match(None, CODE.lower()),
            (1, 100.0, 'credit_code'))
        # unknown code: falls back to the name
        self.assertEqual(matcher.match(NAME2, '91350100M000100Y43'),
            (2, 100.0, 'exact'))

    def test_exact(self):
        matcher = nmpa.InstitutionMatcher(self.institutions)
        self.assertEqual(matcher.match(" 复旦大学附属\u200b中山医院", None),
            (self.ids["复旦大学附属中山医院"], 100.0, 'exact'))
        changhai = "海军军医大学第一附属医院（上海长海医院）"
        self.assertEqual(matcher.match("海军军医大学第一附属医院(上海长海医院)",
                ''), (self.ids[changhai], 100.0, 'exact'))

    def test_fuzzy(self):
        matcher = nmpa.InstitutionMatcher(self.institutions)
        for query, name in [
                ("上海市第一人民医院（北部院区）", "上海市第一人民医院"),
                ("复旦大学中山医院", "复旦大学附属中山医院"),
                ("上海交通大学附属瑞金医院", "上海交通大学医学院附属瑞金医院"),
                ("上海长海医院", "海军军医大学第一附属医院（上海长海医院）"),
                ("上海胸科医院", "上海市胸科医院"),
                ]:
            with self.subTest(query=query):
                id_, score, how = matcher.match(query, None)
                self.assertEqual((id_, how), (self.ids[name], 'fuzzy'))
                self.assertGreaterEqual(score, matcher.threshold)
                self.assertLess(score, 100)

    def test_below_threshold(self):
        matcher = nmpa.InstitutionMatcher(self.institutions)
        for query in ["上海市第十一人民医院", "瑞金医院", "北京协和医院",
                "上海市第1人民医院", "中山医院"]:
            with self.subTest(query=query):
                id_, score, how = matcher.match(query, None)
                self.assertEqual((id_, how), (None, 'none'))
                self.assertLess(score, matcher.threshold)
        self.assertEqual(matcher.match(None, None), (None, 0.0, 'none'))
        self.assertEqual(matcher.match('', '91350100M000100Y43'),
            (None, 0.0, 'none'))

    def test_no_false_match(self):
        "Without its own record, no real hospital matches another one"
        for name in self.names:
            others = [i for i in self.institutions if i[1] != name]
            with self.subTest(name=name):
                id_, score, how = nmpa.InstitutionMatcher(others).match(
                    name, None)
                self.assertEqual(how, 'none', (score, id_))

    def test_ambiguous(self):
        "Two institutions with the same name: no exact nor fuzzy match"
        matcher = nmpa.InstitutionMatcher([(1, NAME, None), (2, NAME, None)])
        self.assertEqual(matcher.match(NAME, None)[::2], (None, 'none'))

    def test_similarity(self):
        self.assertEqual(nmpa.name_similarity(NAME, NAME), 100.0)
        self.assertLessEqual(nmpa.name_similarity(
                "上海市第一人民医院", "上海市第六人民医院"), 60)
        self.assertEqual(nmpa.name_similarity('', NAME), 0.0)


if __name__ == '__main__':
    unittest.main()
