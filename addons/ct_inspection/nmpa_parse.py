"""Parsing layer of the NMPA inspection-result import (pure Python).

The center receives the results of the NMPA (国家药监局) inspections of the
Shanghai institutions as Excel workbooks (.xlsx, sometimes .xls) or CSV
files.  Each data row is one defect found in one inspection; an inspection
without defect may appear as one row whose defect columns are empty.

This module turns such a file into ``NmpaRow`` objects and ``RowError``
messages; it must not import trytond (the Tryton wizard in ``nmpa.py``
calls it).  Entry points: ``parse_file``, ``InstitutionMatcher``.

Decisions (also in the report of the module):

* File type is detected from the content, not from the extension: a ZIP
  (xlsx/ods) or OLE2 (xls) container is read with python-calamine; any
  other content without NUL byte is read as CSV (encoding detected: BOM,
  strict UTF-8, then charset-normalizer among UTF-8/GB18030/Big5/UTF-16;
  GBK and GB2312 are decoded as their superset GB18030; delimiter among
  ``,`` TAB ``;`` ``|``).
* Of a workbook, the visible worksheet whose header row (searched in its
  first 20 rows) recognises the most columns is read; ties go to the
  first sheet.
* The header row is the row with the most recognised columns (at least
  2).  Header texts are compared after ``normalize_text``, removal of all
  whitespace, of ``*``/``※`` marks, of trailing colons and of
  parenthesised notes (``检查日期（yyyy-mm-dd）`` → ``检查日期``).
* Vertically merged cells below the header (institution name spanning the
  defect rows of its inspection) are filled down from their top cell; no
  other blank cell is ever filled from the row above.
* A row whose recognised columns are all blank is skipped and not counted
  (so are rows with content only in unrecognised columns such as a
  pre-numbered 序号), and so are footer/notes rows (a single non-blank cell
  starting with 注/备注/说明/填表说明/制表/审核/填报 followed by a colon,
  or with 合计/总计/小计) and repetitions of the header row.
* A date column named 检查日期/检查时间 holds one date (start = end) or a
  range (``2024年3月5日-3月7日``, ``2024.3.5—2024.3.7``, ``…至…``); the end
  may omit the year (and the month).  A non-empty end-date column wins
  over the end of such a range.  With a start-date column and no end
  column, ``date_end`` is None.
* Dates before 1990 or after 2100 are rejected (numbers that are not
  dates).  Pure-digit strings are accepted as Excel serial numbers (5
  digits, optional decimals) or as ``YYYYMMDD`` (8 digits).  A range end
  without year (month) earlier than the start wraps into the next year
  (month) only when the range stays within 31 days.
* Conclusion: 符合要求/符合/通过 → compliant; 待整改后评定/待整改/
  限期整改/基本符合(要求) → rectify (a "basically compliant" verdict asks
  for a rectification before the final assessment, like 待整改后评定 in
  the current rules); 不符合要求/不符合/不通过 → non_compliant.
* Severity: 严重/关键/★★(★) → critical, 主要/重要/★ → major,
  一般/轻微/次要 → minor (also ``*``/``**`` and the English words).
* Type: 首次 → first; 日常/常规/例行/监督 → routine; 有因/飞行/飞检/举报/
  投诉 → for_cause; 专项 → special; 其他/复查/跟踪/延续 → other (a suffix
  检查/监督检查 is ignored).
* An 18-digit credit code stored as an Excel number has lost digits: it is
  rejected with a message asking to format the column as text.
* ``max_rows`` stops reading after that many data rows and sets
  ``ParseResult.truncated``; it never raises.
"""
from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from charset_normalizer import from_bytes
from python_calamine import CalamineWorkbook
from rapidfuzz.fuzz import ratio

__all__ = [
    'HEADER_SCAN_ROWS', 'FIELD_LABELS', 'ParseError', 'RowError', 'NmpaRow',
    'ParseResult', 'parse_file', 'normalize_text', 'parse_date',
    'parse_date_range', 'clean_text', 'credit_check_digit', 'credit_code_error',
    'is_valid_credit_code', 'name_key', 'name_similarity',
    'InstitutionMatcher', 'INSPECTION_TYPES', 'SEVERITIES', 'CONCLUSIONS',
    ]

HEADER_SCAN_ROWS = 20
MIN_YEAR, MAX_YEAR = 1990, 2100

INSPECTION_TYPES = ['first', 'routine', 'for_cause', 'special', 'other']
SEVERITIES = ['critical', 'major', 'minor']
CONCLUSIONS = ['compliant', 'rectify', 'non_compliant']

# Canonical field -> Chinese label (used in messages when the file has no
# such column).
FIELD_LABELS = {
    'institution_name': "机构名称",
    'credit_code': "统一社会信用代码",
    'inspection_no': "检查编号",
    'inspection_type': "检查类型",
    'date_start': "检查开始日期",
    'date': "检查日期",
    'date_end': "检查结束日期",
    'specialty': "专业",
    'clause_code': "条款号",
    'defect': "缺陷描述",
    'severity': "缺陷等级",
    'conclusion': "检查结论",
    }

# Header synonyms, compared with _header_key().  'date' is a single date
# or a date range.
HEADER_SYNONYMS = {
    'institution_name': [
        "机构名称", "检查机构", "被检查机构", "被检查机构名称", "被检查单位",
        "被检查单位名称", "单位名称", "医疗机构名称", "医疗机构", "机构",
        "试验机构名称", "临床试验机构名称", "药物临床试验机构名称",
        "药物临床试验机构", "被检查方"],
    'credit_code': [
        "统一社会信用代码", "社会信用代码", "信用代码", "统一信用代码",
        "机构统一社会信用代码", "单位统一社会信用代码"],
    'inspection_no': [
        "检查编号", "报告编号", "编号", "检查报告编号", "检查任务编号",
        "任务编号"],
    'inspection_type': [
        "检查类型", "检查类别", "检查性质", "检查种类"],
    'date_start': [
        "检查开始日期", "开始日期", "检查起始日期", "起始日期",
        "检查开始时间", "开始时间", "现场检查开始日期"],
    'date': [
        "检查日期", "检查时间", "现场检查日期", "现场检查时间",
        "检查起止日期", "检查起止时间", "起止日期", "检查期间"],
    'date_end': [
        "检查结束日期", "结束日期", "检查截止日期", "截止日期",
        "检查结束时间", "结束时间", "现场检查结束日期"],
    'specialty': [
        "专业", "检查专业", "专业名称", "被检查专业", "专业科室"],
    'clause_code': [
        "条款", "条款号", "条款编号", "检查要点编号", "缺陷条款",
        "要点编号", "检查要点", "检查条款", "对应条款"],
    'defect': [
        "缺陷描述", "缺陷内容", "主要缺陷", "存在问题", "缺陷",
        "发现问题", "问题描述", "缺陷项目", "缺陷情况", "主要问题"],
    'severity': [
        "缺陷等级", "缺陷级别", "风险等级", "缺陷分类", "缺陷严重程度",
        "严重程度", "缺陷类别", "缺陷性质"],
    'conclusion': [
        "检查结论", "结论", "综合评定结论", "综合结论", "评定结论",
        "检查结果", "综合评定"],
    }

# --- text -----------------------------------------------------------------

_ZERO_WIDTH = dict.fromkeys(map(ord, '\u200b\u200c\u200d\u200e\u200f'
        '\u2060\u2061\u2062\u2063\u2064\ufeff\u00ad'))


def normalize_text(s) -> str:
    """Return s as clean text: NFKC (full-width → half-width), zero-width
    characters dropped, inner whitespace collapsed to one space, stripped.
    None gives ''."""
    if s is None:
        return ''
    if s.__class__ is not str:
        s = _cell_text(s)
    if not s.isascii():
        s = unicodedata.normalize('NFKC', s)
        if _RE_ZERO_WIDTH.search(s):
            s = _RE_ZERO_WIDTH.sub('', s)
    return ' '.join(s.split())


_RE_ZERO_WIDTH = re.compile('[%s]' % ''.join(map(chr, _ZERO_WIDTH)))
_RE_WIDE = re.compile('[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a%s]' % ''.join(
        map(chr, _ZERO_WIDTH)))
_HALF_WIDTH = {0xff10 + i: 0x30 + i for i in range(10)}
_HALF_WIDTH.update({0xff21 + i: 0x41 + i for i in range(26)})
_HALF_WIDTH.update({0xff41 + i: 0x61 + i for i in range(26)})
_HALF_WIDTH.update(_ZERO_WIDTH)


def clean_text(s) -> str:
    """Return free text (names, defect descriptions) tidied without
    changing its Chinese punctuation: full-width digits and Latin letters
    made half-width, zero-width characters dropped, whitespace (also the
    ideographic space) collapsed, stripped.  None gives ''."""
    if s is None:
        return ''
    if s.__class__ is not str:
        s = _cell_text(s)
    if not s.isascii() and _RE_WIDE.search(s):
        s = s.translate(_HALF_WIDTH)
    return ' '.join(s.split())


def _cell_text(value) -> str:
    "Text of a non-str cell value"
    if value is None:
        return ''
    if isinstance(value, bool):
        return 'TRUE' if value else 'FALSE'
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, dt.datetime):
        if value.time() == dt.time():
            return value.date().isoformat()
        return value.isoformat(sep=' ')
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


_RE_PAREN = re.compile(r'\([^()]*\)|\[[^\[\]]*\]|【[^【】]*】|〔[^〔〕]*〕')
_RE_HEADER_JUNK = re.compile(r'[\s*※★:]+')


_RE_CJK_SPACE = re.compile(r'(?<=[^\x00-\x7f]) (?=[^\x00-\x7f])')


def _header_label(value) -> str:
    "Header text as written, a line break inside Chinese words removed"
    return _RE_CJK_SPACE.sub('', normalize_text(value))


def _header_key(value) -> str:
    text = normalize_text(value)
    if not text:
        return ''
    text = _RE_PAREN.sub('', text)
    return _RE_HEADER_JUNK.sub('', text).lower()


_HEADER_INDEX = {_header_key(s): f
    for f, synonyms in HEADER_SYNONYMS.items() for s in synonyms}


def name_key(name) -> str:
    "Normalized institution name used for comparisons and keys"
    return normalize_text(name).replace(' ', '').lower()


# --- dates ----------------------------------------------------------------

_EXCEL_EPOCH = dt.date(1899, 12, 30)
_CN_DIGITS = str.maketrans('〇零一二三四五六七八九', '00123456789')
_RE_TIME = re.compile(
    r'(?:[ T]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)$|(?:\s*\d{1,2}时(?:\d{1,2}分)?)$')
_RE_YMD = re.compile(
    r'(\d{4})\s*(?:年\s*(\d{1,2})\s*月\s*(\d{1,2})\s*[日号]?'
    r'|[-/.]\s*(\d{1,2})\s*[-/.]\s*(\d{1,2}))')
_RE_YMD8 = re.compile(r'(\d{4})(\d{2})(\d{2})')
_RE_SERIAL = re.compile(r'\d{5}\.\d+')
_RE_CN_DATE = re.compile(
    r'([〇零一二三四五六七八九]{4})年([一二三四五六七八九十]{1,3})月'
    r'([一二三四五六七八九十]{1,3})[日号]?')
_RE_MD = re.compile(r'(\d{1,2})\s*(?:月\s*(\d{1,2})\s*[日号]?|[-/.]\s*(\d{1,2}))')
_RE_D = re.compile(r'(\d{1,2})\s*[日号]?')
_RE_YEAR = re.compile(r'\d{4}|[〇零一二三四五六七八九]{4}年')
_RE_RANGE_SEP = re.compile(r'\s*(?:至|到|~|—+|–|―|-{1,2}|_)\s*')


def _cn_number(text):
    "一 → 1, 十 → 10, 十二 → 12, 二十 → 20, 三十一 → 31"
    if '十' not in text:
        return int(text.translate(_CN_DIGITS))
    tens, _, units = text.partition('十')
    return (int(tens.translate(_CN_DIGITS)) if tens else 1) * 10 + (
        int(units.translate(_CN_DIGITS)) if units else 0)


def _from_serial(number):
    if number != number or number < 1 or number >= 2958466:  # NaN too
        raise ValueError(f"not an Excel serial date: {number!r}")
    days = int(number)
    if days == 60:  # 1900-02-29 of the Lotus bug
        raise ValueError("1900-02-29 does not exist")
    if days < 60:
        days += 1
    return _EXCEL_EPOCH + dt.timedelta(days=days)


def _date_from_text(text):
    match = _RE_YMD.fullmatch(text)
    if match:
        y, m1, d1, m2, d2 = match.groups()
        return dt.date(int(y), int(m1 or m2), int(d1 or d2))
    if text.isdigit():
        if len(text) == 8:
            y, m, d = _RE_YMD8.fullmatch(text).groups()
            return dt.date(int(y), int(m), int(d))
        if len(text) == 5:
            return _from_serial(int(text))
    elif _RE_SERIAL.fullmatch(text):
        return _from_serial(float(text))
    match = _RE_CN_DATE.fullmatch(text)
    if match:
        y, m, d = match.groups()
        return dt.date(int(y.translate(_CN_DIGITS)), _cn_number(m),
            _cn_number(d))
    raise ValueError(f"unrecognised date: {text!r}")


def parse_date(value) -> dt.date:
    """Return the date of a cell value or raise ValueError.

    Accepts date/datetime, Excel serial numbers (1900 date system, as int
    or float, or as a 5-digit string), 2024年3月5日, 2024-03-05, 2024/3/5, 2024.3.5,
    20240305 (also as a number), 二〇二四年三月五日, full-width digits and a
    trailing time of day."""
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, bool) or value is None:
        raise ValueError(f"not a date: {value!r}")
    if isinstance(value, (int, float)):
        if 19000101 <= value <= 21001231 and float(value).is_integer():
            return _date_from_text(str(int(value)))
        return _from_serial(value)
    if not isinstance(value, str):
        raise ValueError(f"not a date: {value!r}")
    text = normalize_text(value)
    if not text:
        raise ValueError("empty date")
    text = _RE_TIME.sub('', text).strip()
    return _date_from_text(text)


# An end without year (month) before the start is taken in the next year
# (month) only if the range stays this short; otherwise it is an error.
_MAX_WRAP_DAYS = 31


def _partial_end(text, start):
    "The end of a range whose year (and month) may be those of start"
    text = normalize_text(text)
    if _RE_YEAR.search(text):
        return parse_date(text)
    match = _RE_MD.fullmatch(text)
    if match:
        m, d1, d2 = match.groups()
        end = dt.date(start.year, int(m), int(d1 or d2))
        if end < start:
            wrapped = dt.date(start.year + 1, end.month, end.day)
            if (wrapped - start).days <= _MAX_WRAP_DAYS:  # 12月30日-1月2日
                end = wrapped
        return end
    match = _RE_D.fullmatch(text)
    if match:
        day = int(match.group(1))
        end = dt.date(start.year, start.month, day)
        if end < start:
            year, month = divmod(start.month, 12)
            wrapped = dt.date(start.year + year, month + 1, day)
            if (wrapped - start).days <= _MAX_WRAP_DAYS:  # 3月30日-2日
                end = wrapped
        return end
    raise ValueError(f"unrecognised date: {text!r}")


def parse_date_range(value) -> tuple[dt.date, dt.date | None]:
    """Return (start, end) of a single date (end is None) or of a range
    like 2024年3月5日-3月7日, 2024.3.5—2024.3.7, 2024-03-05至2024-03-07.
    Raise ValueError."""
    try:
        return parse_date(value), None
    except ValueError:
        if not isinstance(value, str):
            raise
    text = normalize_text(value)
    for match in _RE_RANGE_SEP.finditer(text):
        left, right = text[:match.start()], text[match.end():]
        if not left or not right:
            continue
        try:
            start = parse_date(left)
            return start, _partial_end(right, start)
        except ValueError:
            continue
    raise ValueError(f"unrecognised date range: {text!r}")


# --- credit code (GB 32100-2015) --------------------------------------------

CREDIT_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY'
_CREDIT_VALUES = {c: i for i, c in enumerate(CREDIT_CHARS)}
_CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
_RE_CREDIT_JUNK = re.compile(r'[\s\-]+')


def credit_check_digit(body: str) -> str:
    "GB 32100-2015 check character of the first 17 characters"
    total = sum(_CREDIT_VALUES[c] * w for c, w in zip(
            body, _CREDIT_WEIGHTS, strict=True))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def credit_code_error(code: str) -> str | None:
    "The Chinese reason why code is not a valid credit code, or None"
    if len(code) != 18:
        return f"统一社会信用代码应为 18 位（实际 {len(code)} 位）：“{code}”"
    bad = sorted({c for c in code if c not in _CREDIT_VALUES})
    if bad:
        return (f"统一社会信用代码含非法字符“{''.join(bad)}”"
            f"（不使用 I、O、S、V、Z）：“{code}”")
    expected = credit_check_digit(code[:17])
    if code[17] != expected:
        return (f"统一社会信用代码校验位错误：“{code}”"
            f"（第 18 位应为“{expected}”）")
    return None


def is_valid_credit_code(code) -> bool:
    return isinstance(code, str) and credit_code_error(code) is None


def _clean_credit_code(value) -> str:
    return _RE_CREDIT_JUNK.sub('', normalize_text(value)).upper()


# --- value tables -----------------------------------------------------------

def _table(spec):
    return {_value_key(k): v for v, keys in spec.items() for k in keys}


def _value_key(text):
    return normalize_text(text).replace(' ', '').lower()


_TYPE_VALUES = _table({
        'first': ["首次", "备案后首次", "首次备案", "新备案", "新增专业"],
        'routine': ["日常", "常规", "例行", "监督", "日常监督", "routine"],
        'for_cause': ["有因", "飞行", "飞检", "举报", "投诉", "for cause",
            "for-cause"],
        'special': ["专项", "special"],
        'other': ["其他", "其它", "复查", "跟踪", "延续", "整改复查",
            "other"],
        })
_TYPE_SUFFIXES = ('监督检查', '检查')
_SEVERITY_VALUES = _table({
        'critical': ["严重", "关键", "critical", "★★", "★★★", "**", "***"],
        'major': ["主要", "重要", "major", "★", "*"],
        'minor': ["一般", "轻微", "次要", "minor"],
        })
_SEVERITY_SUFFIXES = ('缺陷项', '缺陷', '项')
_CONCLUSION_VALUES = _table({
        'compliant': ["符合要求", "符合", "通过", "compliant"],
        'rectify': ["待整改后评定", "整改后评定", "待整改", "需整改",
            "限期整改", "基本符合", "基本符合要求", "整改后符合",
            "rectify"],
        'non_compliant': ["不符合要求", "不符合", "不通过", "non compliant",
            "non-compliant", "non_compliant"],
        })
_RE_INNER_PAREN = re.compile(r'\(([^()]*)\)')


def _lookup(text, table, suffixes=()):
    "Value of text in table: whole, suffix dropped, outside/inside ()"
    key = _value_key(text)
    candidates = [key]
    outside = _RE_PAREN.sub('', key)
    if outside != key:
        candidates.append(outside)
        candidates.extend(_RE_INNER_PAREN.findall(key))
    for candidate in candidates:
        if candidate in table:
            return table[candidate]
        for suffix in suffixes:
            if candidate.endswith(suffix) and candidate[:-len(suffix)] in table:
                return table[candidate[:-len(suffix)]]
    return None


# --- results ----------------------------------------------------------------

class ParseError(Exception):
    "The whole file cannot be read (message in Chinese)"

    def __init__(self, message, detail=None):
        super().__init__(message)
        self.message = message
        self.detail = detail  # technical detail (library message), if any

    def __str__(self):
        return self.message


@dataclass
class RowError:
    row: int  # 1-based row (line) number as the user sees it
    column: str  # header text as written in the file, or the Chinese label
    message: str  # Chinese
    value: str | None = None

    def __str__(self):
        return f"第 {self.row} 行“{self.column}”：{self.message}"


@dataclass(slots=True)
class NmpaRow:
    row: int
    institution_name: str | None = None
    credit_code: str | None = None
    inspection_no: str | None = None
    inspection_type: str | None = None
    date_start: dt.date | None = None
    date_end: dt.date | None = None
    specialty: str | None = None
    clause_code: str | None = None
    defect: str | None = None
    severity: str | None = None
    conclusion: str | None = None

    def has_defect(self) -> bool:
        "False for the row of an inspection without defect"
        return bool(self.defect or self.clause_code or self.severity)

    def inspection_key(self) -> tuple:
        "(credit code or normalized name, start date, inspection no or '')"
        return (self.credit_code or name_key(self.institution_name),
            self.date_start, self.inspection_no or '')

    def row_key(self) -> str:
        """SHA-256 hex of the normalized content (not of the row number):
        the same defect of the same inspection gives the same key when the
        file is imported again"""
        who, start, number = self.inspection_key()
        parts = [who, start.isoformat() if start else '',
            self.date_end.isoformat() if self.date_end else '', number,
            self.inspection_type or '', self.specialty or '',
            self.clause_code or '', self.defect or '', self.severity or '',
            self.conclusion or '']
        return hashlib.sha256(
            '\x1f'.join(parts).encode('utf-8')).hexdigest()


@dataclass
class ParseResult:
    rows: list[NmpaRow]
    errors: list[RowError]
    rows_read: int  # non-blank data rows (accepted + rejected)
    header_row: int  # 1-based
    columns: dict  # canonical field -> header text found
    sheet_name: str | None = None  # None for CSV
    encoding: str | None = None  # CSV only
    truncated: bool = False  # max_rows reached
    file_type: str = ''  # 'xlsx', 'xls', 'ods' or 'csv'

    @property
    def rejected_rows(self) -> list[int]:
        return sorted({e.row for e in self.errors})


# --- reading ----------------------------------------------------------------

_MAGIC_UNSUPPORTED = [
    (b'\x89PNG\r\n\x1a\n', "PNG 图片"), (b'\xff\xd8\xff', "JPEG 图片"),
    (b'GIF8', "GIF 图片"), (b'%PDF', "PDF 文档"), (b'BM', None),
    (b'Rar!', "RAR 压缩包"), (b'7z\xbc\xaf\x27\x1c', "7z 压缩包"),
    (b'\x1f\x8b', "gzip 压缩包"), (b'{\\rtf', "RTF 文档"),
    ]
_SUPPORTED = "请上传 .xlsx、.xls 或 .csv 格式的检查结果文件"


def _unsupported(filename, what=None):
    name = f"“{filename}”" if filename else ""
    what = f"（{what}）" if what else ""
    return ParseError(f"不支持的文件类型{what}：无法读取文件{name}，"
        f"{_SUPPORTED}")


def _read_workbook(filename, data, kind):
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    except Exception as exception:
        name = type(exception).__name__
        if name == 'PasswordError':
            raise ParseError(f"文件“{filename}”已加密，请取消密码保护后重新"
                "导入", str(exception))
        raise ParseError(f"无法读取 Excel 文件“{filename}”：文件已损坏或不是"
            f"有效的 {'.xls' if kind == 'xls' else '.xlsx'} 文件",
            f"{name}: {exception}")
    sheets = []
    try:
        metadata = workbook.sheets_metadata
        for index, meta in enumerate(metadata):
            if (str(meta.visible).endswith('Visible')
                    and str(meta.typ).endswith('WorkSheet')):
                sheets.append(index)
        if not sheets:
            sheets = list(range(len(metadata)))
        best = None
        for index in sheets:
            sheet = workbook.get_sheet_by_index(index)
            top = sheet.to_python(
                skip_empty_area=False, nrows=HEADER_SCAN_ROWS)
            found = _find_header(top)
            if found and (best is None or found[1] > best[2]):
                best = (index, sheet, found[1])
        if best is None:
            if all(not any(_not_blank(v) for r in workbook.get_sheet_by_index(
                            i).to_python(skip_empty_area=False,
                            nrows=HEADER_SCAN_ROWS) for v in r)
                    for i in sheets):
                raise ParseError(f"文件“{filename}”中没有数据：所有工作表"
                    "均为空")
            return workbook.get_sheet_by_index(sheets[0]).to_python(
                skip_empty_area=False, nrows=HEADER_SCAN_ROWS), None, None
        sheet = best[1]
        rows = sheet.to_python(skip_empty_area=False)
        merged = None
        try:
            merged = sheet.merged_cell_ranges
        except Exception:  # noqa: S110 (not available for this format)
            pass
        return rows, sheet.name, merged
    except ParseError:
        raise
    except Exception as exception:
        raise ParseError(f"无法读取 Excel 文件“{filename}”：文件已损坏",
            f"{type(exception).__name__}: {exception}")
    finally:
        try:
            workbook.close()
        except Exception:  # noqa: S110
            pass


def _decode(data):
    "Return (text, encoding) of CSV bytes"
    try:
        if data.startswith(b'\xef\xbb\xbf'):
            return data[3:].decode('utf-8'), 'utf-8-sig'
        if data.startswith((b'\xff\xfe', b'\xfe\xff')):
            return data.decode('utf-16'), 'utf-16'
    except UnicodeDecodeError:
        raise ParseError("CSV 文件的字符编码与其字节顺序标记（BOM）不符："
            "请重新另存为 UTF-8 编码的 CSV 文件")
    try:
        return data.decode('utf-8'), 'utf-8'
    except UnicodeDecodeError:
        pass
    sample = data[:65536]
    best = from_bytes(sample, cp_isolation=[
            'utf_8', 'gb18030', 'big5', 'utf_16']).best()
    encoding = best.encoding if best is not None else 'gb18030'
    if encoding in {'gbk', 'gb2312', 'cp936', 'hz', 'gb18030'}:
        encoding = 'gb18030'
    try:
        return data.decode(encoding), encoding
    except (UnicodeDecodeError, LookupError):
        pass
    try:
        return data.decode('gb18030'), 'gb18030'
    except UnicodeDecodeError:
        raise ParseError("无法识别 CSV 文件的字符编码：请另存为 UTF-8 或 GBK"
            "编码的 CSV 文件")


def _read_csv(data):
    text, encoding = _decode(data)
    head = text[:8192]
    delimiter = max([',', '\t', ';', '|'], key=head.count)
    if not head.count(delimiter):
        delimiter = ','
    reader = csv.reader(io.StringIO(text, newline=''), delimiter=delimiter)
    rows, numbers, last = [], [], 0
    try:
        for record in reader:
            rows.append(record)
            numbers.append(last + 1)
            last = reader.line_num
    except csv.Error as exception:
        raise ParseError(f"CSV 文件格式错误（第 {last + 1} 行附近）",
            str(exception))
    return rows, numbers, encoding


def _not_blank(value):
    if value is None:
        return False
    if value.__class__ is str:
        return bool(value) and not value.isspace()
    return True


def _find_header(rows):
    """Return (index, score, {field: column}) of the header row among the
    first rows, or None"""
    best = None
    for index, row in enumerate(rows[:HEADER_SCAN_ROWS]):
        columns = {}
        for col, value in enumerate(row):
            if value.__class__ is not str or not value:
                continue
            key = _header_key(value)
            fname = _HEADER_INDEX.get(key)
            if fname is not None and fname not in columns:
                columns[fname] = col
        score = len(columns)
        if score >= 2 and (best is None or score > best[1]):
            best = (index, score, columns)
    return best


def _fill_merged(rows, merged, header_index):
    "Fill vertically merged cells below the header from their top cell"
    for (r0, c0), (r1, _c1) in merged or ():
        if r0 <= header_index or r1 <= r0 or r0 >= len(rows):
            continue
        value = rows[r0][c0] if c0 < len(rows[r0]) else ''
        for r in range(r0 + 1, min(r1, len(rows) - 1) + 1):
            row = rows[r]
            if c0 < len(row) and not _not_blank(row[c0]):
                row[c0] = value


_RE_NOTE = re.compile(
    r'(?:注|备注|说明|填表说明|制表(?:人|单位)?|审核(?:人)?|填报(?:人|单位)?'
    r'|数据来源)\s*\d*\s*:|(?:合计|总计|小计)')


def _detect_kind(filename, data):
    if data.startswith(b'PK\x03\x04') or data.startswith(b'PK\x05\x06'):
        lower = filename.lower()
        return 'ods' if lower.endswith('.ods') else 'xlsx'
    if data.startswith(b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1'):
        return 'xls'
    for magic, what in _MAGIC_UNSUPPORTED:
        if data.startswith(magic) and (what or b'\0' in data[:64]):
            raise _unsupported(filename, what)
    if data.startswith((b'\xff\xfe', b'\xfe\xff')):
        return 'csv'
    if b'\0' in data[:4096]:
        raise _unsupported(filename)
    lower = filename.lower()
    if lower.endswith(('.xlsx', '.xlsm', '.xls', '.ods')):
        raise ParseError(f"文件“{filename}”的扩展名是 Excel，但内容不是有效"
            f"的 Excel 文件（可能已损坏或是网页另存的文件），{_SUPPORTED}")
    return 'csv'


def parse_file(filename: str, data: bytes,
        max_rows: int | None = None) -> ParseResult:
    """Parse an NMPA inspection-result file (xlsx/xls/ods/csv content).

    Raise ParseError for whole-file problems; row problems are returned as
    RowError and the row is left out of ``rows``."""
    filename = filename or ''
    if not data:
        raise ParseError(f"文件“{filename}”为空（0 字节）")
    kind = _detect_kind(filename, data)
    sheet_name = encoding = merged = None
    numbers = None
    if kind == 'csv':
        rows, numbers, encoding = _read_csv(data)
    else:
        rows, sheet_name, merged = _read_workbook(filename, data, kind)
    if not any(_not_blank(v) for r in rows for v in r):
        raise ParseError(f"文件“{filename}”中没有数据：文件为空")
    found = _find_header(rows)
    scanned = min(len(rows), HEADER_SCAN_ROWS)
    if found is None or not (
            'institution_name' in found[2] or 'credit_code' in found[2]):
        raise ParseError(f"无法识别表头：未找到“{FIELD_LABELS['institution_name']}”"
            f"列（已检查前 {scanned} 行）")
    header_index, _, cols = found
    header = rows[header_index]
    number_of = (lambda i: numbers[i]) if numbers else (lambda i: i + 1)
    if 'date_start' not in cols and 'date' not in cols:
        raise ParseError(f"无法识别表头：未找到“{FIELD_LABELS['date_start']}”"
            f"列（或“检查日期”“检查时间”列，表头在第 "
            f"{number_of(header_index)} 行）")
    columns = {f: _header_label(header[c]) for f, c in cols.items()}
    if merged:
        _fill_merged(rows, merged, header_index)
    result = ParseResult(rows=[], errors=[], rows_read=0,
        header_row=number_of(header_index), columns=columns,
        sheet_name=sheet_name, encoding=encoding, file_type=kind)
    fields = sorted(cols.items(), key=lambda item: item[1])
    # a repeated header row has the header text in its first column
    first_field, first_col = fields[0]
    first_text = header[first_col]
    parse = _RowParser(cols, columns).parse
    rows_append, errors_extend = result.rows.append, result.errors.extend
    for index in range(header_index + 1, len(rows)):
        cells = rows[index]
        width = len(cells)
        values = {}
        for fname, col in fields:
            if col < width:
                value = cells[col]
                if value.__class__ is str:
                    if not value or value.isspace():
                        continue
                elif value is None:
                    continue
                values[fname] = value
        if not values:
            continue
        if len(values) == 1:
            others = [v for v in cells if _not_blank(v)]
            if (len(others) == 1 and others[0].__class__ is str
                    and _RE_NOTE.match(normalize_text(others[0]))):
                continue
        if values.get(first_field) == first_text and sum(
                1 for f, c in fields if values.get(f) == header[c]) * 2 > len(
                fields):
            continue  # repeated header
        if max_rows is not None and result.rows_read >= max_rows:
            result.truncated = True
            break
        result.rows_read += 1
        row, errors = parse(number_of(index), values)
        if errors:
            errors_extend(errors)
        else:
            rows_append(row)
    if not result.rows_read:
        raise ParseError(f"文件“{filename}”中没有数据行：表头（第 "
            f"{result.header_row} 行）以下为空")
    return result


# --- cell converters: value -> (result, Chinese error message or None) -----

def _convert_text(value):
    return clean_text(value) or None, None


def _convert_code(value):
    return normalize_text(value) or None, None


def _convert_credit_code(value):
    if (isinstance(value, (int, float)) and not isinstance(value, bool)
            and value >= 1e15):
        return None, ("统一社会信用代码被存为数字，已丢失精度：请将该列设为"
            "文本格式后重新填写")
    code = _clean_credit_code(value)
    message = credit_code_error(code)
    return (None, message) if message else (code, None)


def _convert_type(value):
    text = normalize_text(value)
    result = _lookup(text, _TYPE_VALUES, _TYPE_SUFFIXES)
    if result is None:
        return None, (f"检查类型无法识别：“{text}”（应为首次、日常、有因、"
            "专项或其他）")
    return result, None


def _convert_severity(value):
    text = normalize_text(value)
    result = _lookup(text, _SEVERITY_VALUES, _SEVERITY_SUFFIXES)
    if result is None:
        return None, f"缺陷等级无法识别：“{text}”（应为严重、主要或一般）"
    return result, None


def _convert_conclusion(value):
    text = normalize_text(value)
    result = _lookup(text, _CONCLUSION_VALUES)
    if result is None:
        return None, (f"检查结论无法识别：“{text}”（应为符合要求、待整改后"
            "评定或不符合要求）")
    return result, None


def _convert_range(value):
    try:
        start, end = parse_date_range(value)
    except (ValueError, OverflowError):
        return None, f"日期无法识别：“{normalize_text(value)}”"
    return (start, end), _date_range_error(start, end)


def _convert_date(value):
    try:
        day = parse_date(value)
    except (ValueError, OverflowError):
        return None, f"日期无法识别：“{normalize_text(value)}”"
    return day, _date_range_error(day)


def _date_range_error(*days):
    for day in days:
        if day is not None and not MIN_YEAR <= day.year <= MAX_YEAR:
            return (f"日期不在合理范围（{MIN_YEAR}—{MAX_YEAR} 年）："
                f"“{day.isoformat()}”")
    return None


_RE_CLAUSE = re.compile(r'第\s*(.+?)\s*条')


def _convert_clause(value):
    text = normalize_text(value)
    match = _RE_CLAUSE.fullmatch(text)
    if match:
        text = match.group(1)
    return text or None, None


_CONVERTERS = {
    'institution_name': _convert_text,
    'credit_code': _convert_credit_code,
    'inspection_no': _convert_code,
    'inspection_type': _convert_type,
    'date_start': _convert_range,
    'date': _convert_range,
    'date_end': _convert_date,
    'specialty': _convert_text,
    'clause_code': _convert_clause,
    'defect': _convert_text,
    'severity': _convert_severity,
    'conclusion': _convert_conclusion,
    }
_SIMPLE_FIELDS = ['institution_name', 'credit_code', 'inspection_no',
    'inspection_type', 'specialty', 'clause_code', 'defect', 'severity',
    'conclusion']


class _RowParser:
    "Parse the non-blank values of one data row (memoizes conversions)"

    def __init__(self, cols, columns):
        self.cols = cols
        self.labels = {f: columns.get(f) or FIELD_LABELS[f]
            for f in FIELD_LABELS}
        self.caches = {f: {} for f in _CONVERTERS}
        self.simple = [(f, self.caches[f], _CONVERTERS[f])
            for f in _SIMPLE_FIELDS if f in cols]
        self.start_field = 'date_start' if 'date_start' in cols else 'date'
        self.has_date = 'date' in cols

    def convert(self, fname, value):
        cache = self.caches[fname]
        key = value if value.__class__ is str else (value.__class__, value)
        try:
            return cache[key]
        except KeyError:
            result = cache[key] = _CONVERTERS[fname](value)
            return result

    def parse(self, number, values):
        errors = []
        row = NmpaRow(number)
        labels = self.labels
        for fname, cache, converter in self.simple:
            value = values.get(fname)
            if value is None:
                continue
            key = value if value.__class__ is str else (
                value.__class__, value)
            try:
                result, message = cache[key]
            except KeyError:
                result, message = cache[key] = converter(value)
            if message is None:
                setattr(row, fname, result)
            else:
                errors.append(RowError(number, labels[fname], message,
                        normalize_text(value)))
        if not row.institution_name and 'credit_code' not in values:
            fname = ('institution_name' if 'institution_name' in self.cols
                else 'credit_code')
            errors.append(RowError(number, labels[fname],
                    "缺少机构名称和统一社会信用代码"))
        self.parse_dates(number, values, row, errors)
        return row, errors

    def parse_dates(self, number, values, row, errors):
        labels = self.labels
        start_field = self.start_field
        value = values.get(start_field)
        if value is None and self.has_date and start_field != 'date':
            start_field = 'date'
            value = values.get('date')
        start = end = None
        bad = False
        if value is None:
            bad = True
            errors.append(RowError(number, labels[start_field],
                    "缺少检查日期"))
        else:
            dates, message = self.convert(start_field, value)
            if message is None:
                start, end = dates
                if end is None and start_field == 'date':
                    end = start
            else:
                bad = True
                errors.append(RowError(number, labels[start_field], message,
                        normalize_text(value)))
        end_field = start_field
        value = values.get('date_end')
        if value is not None:
            end_field = 'date_end'
            day, message = self.convert('date_end', value)
            if message is None:
                end = day
            else:
                bad = True
                errors.append(RowError(number, labels['date_end'], message,
                        normalize_text(value)))
        if not bad and end is not None and end < start:
            bad = True
            errors.append(RowError(number, labels[end_field],
                    f"结束日期（{end.isoformat()}）早于开始日期"
                    f"（{start.isoformat()}）"))
        if not bad:
            row.date_start, row.date_end = start, end


# --- institution matching ---------------------------------------------------

_GENERIC_WORDS = re.compile(
    r'上海市|上海|附属|医学院|大学|医院|有限公司|股份|中心|[()\s·\-]')
_RE_ORDINAL = re.compile(r'第[〇零一二三四五六七八九十百\d]+')
_ALIAS_ENDINGS = ('医院', '中心', '研究所', '研究院', '公司', '卫生院')


def _variants(name):
    "[(text, weight)]: full name, name without (…), hospital alias in (…)"
    full = name_key(name)
    result = [(full, 1.0)]
    core = _RE_PAREN.sub('', full)
    if core and core != full:
        result.append((core, 0.95))
        for alias in _RE_INNER_PAREN.findall(full):
            if alias.endswith(_ALIAS_ENDINGS) and len(alias) >= 4:
                result.append((alias, 0.95))
    return [(text, weight, _GENERIC_WORDS.sub('', text) or text,
            frozenset(_RE_ORDINAL.findall(text))) for text, weight in result]


def _pair_score(a, b):
    text_a, weight_a, core_a, ord_a = a
    text_b, weight_b, core_b, ord_b = b
    if text_a == text_b:
        score = 100.0
    else:
        score = 0.7 * ratio(core_a, core_b) + 0.3 * ratio(text_a, text_b)
    if ord_a and ord_b and ord_a != ord_b:
        score = min(score, 60.0)  # 第一人民医院 is not 第六人民医院
    return score * min(weight_a, weight_b)


def _similarity(variants_a, variants_b):
    return max(_pair_score(a, b) for a in variants_a for b in variants_b)


def name_similarity(a, b) -> float:
    """Similarity 0-100 of two institution names: 70 % on the names without
    generic words (上海市, 附属, 大学, 医院 …) + 30 % on the whole names;
    parenthesised parts count as alternatives at 95 %; different ordinals
    (第一/第六) cap the score at 60."""
    if not name_key(a) or not name_key(b):
        return 0.0
    return round(_similarity(_variants(a), _variants(b)), 1)


class InstitutionMatcher:
    """Find the institution of a row: by credit code, by exact
    (normalized) name, then by fuzzy name (best score ≥ threshold and
    ahead of the next institution by more than margin)."""

    def __init__(self, institutions: Iterable[tuple[int, str, str | None]],
            threshold: float = 85.0, margin: float = 3.0):
        self.threshold = threshold
        self.margin = margin
        self._by_code = {}
        self._by_name = {}
        self._candidates = []
        for id_, name, code in institutions:
            if code:
                self._by_code.setdefault(_clean_credit_code(code), set()).add(
                    id_)
            if name and name_key(name):
                self._by_name.setdefault(name_key(name), set()).add(id_)
                self._candidates.append((id_, _variants(name)))
        self._cache = {}

    def match(self, name, credit_code) -> tuple[int | None, float, str]:
        "Return (id, score 0-100, 'credit_code'/'exact'/'fuzzy'/'none')"
        code = _clean_credit_code(credit_code) if credit_code else ''
        key = name_key(name) if name else ''
        try:
            return self._cache[key, code]
        except KeyError:
            pass
        result = self._match(key, code)
        self._cache[key, code] = result
        return result

    def _match(self, key, code):
        if code:
            ids = self._by_code.get(code)
            if ids and len(ids) == 1:
                return next(iter(ids)), 100.0, 'credit_code'
        if not key:
            return None, 0.0, 'none'
        ids = self._by_name.get(key)
        if ids and len(ids) == 1:
            return next(iter(ids)), 100.0, 'exact'
        variants = _variants(key)
        best_id, best, second = None, 0.0, 0.0
        for id_, candidate in self._candidates:
            score = _similarity(variants, candidate)
            if score > best:
                if best_id != id_:
                    second = best
                best_id, best = id_, score
            elif score > second and id_ != best_id:
                second = score
        best = round(best, 1)
        if best >= self.threshold and best - second > self.margin:
            return best_id, best, 'fuzzy'
        return None, best, 'none'
