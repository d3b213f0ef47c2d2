#!/usr/bin/env python3
"""Write the sample NMPA inspection-result files (deterministic).

    .venv/bin/python data/samples/make_samples.py [--out data/samples]

Writes three files with different layouts, one malformed file, and
``expected.json`` + ``README.md`` whose counts are computed here from the
specifications below (not from the parser), so that the tests of the
parser and of the import wizard check the parser against them.

The institutions of the samples are in ``SAMPLE_INSTITUTIONS`` (name,
credit code) and ``SAMPLE_INSTITUTION_VALUES`` (values for
``ct.institution``); tests create them before importing the samples.  Their
credit codes are synthetic (valid GB 32100 check digits) and differ from
those of the demo-data generator.

No .xls is written (no xlwt available): the three layouts are .xlsx,
.xlsx and a GB18030 CSV.
"""
import argparse
import csv
import datetime as dt
import hashlib
import io
import json
import os
import sys
from collections import Counter
from dataclasses import dataclass, field

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

from data.generate import (  # noqa: E402
    CLINICAL_PREFIX,
    credit_check_digit,
    is_valid_credit_code,
    org_check_digit,
)

FILES = {
    'A': 'nmpa_2024_summary.xlsx',
    'B': 'nmpa_2025_q1.xlsx',
    'C': 'nmpa_2025_special.csv',
    'M': 'nmpa_malformed.xlsx',
    }
FIXED_TIME = dt.datetime(2025, 7, 1, 9, 0, 0)

# (name, district, area code)
_INSTITUTIONS = [
    ("复旦大学附属中山医院", 'xuhui', '310104'),
    ("上海交通大学医学院附属瑞金医院", 'huangpu', '310101'),
    ("上海市第一人民医院", 'hongkou', '310109'),
    ("复旦大学附属华山医院", 'jingan', '310106'),
    ("上海交通大学医学院附属仁济医院", 'pudong', '310115'),
    ("上海市胸科医院", 'xuhui', '310104'),
    ("上海市精神卫生中心", 'xuhui', '310104'),
    ("复旦大学附属肿瘤医院", 'xuhui', '310104'),
    ("上海市第六人民医院", 'xuhui', '310104'),
    ("同济大学附属东方医院", 'pudong', '310115'),
    ("上海中医药大学附属龙华医院", 'xuhui', '310104'),
    ("上海市公共卫生临床中心", 'jinshan', '310116'),
    ("海军军医大学第一附属医院（上海长海医院）", 'yangpu', '310110'),
    ]


def _credit_code(name, area):
    "A synthetic, valid credit code derived from the name"
    digest = hashlib.sha256(f'nmpa-sample|{name}'.encode()).hexdigest()
    org = ''.join(str(int(c, 16) % 10) for c in digest[:8])
    body = f'12{area}{org}{org_check_digit(org)}'
    return body + credit_check_digit(body)


SAMPLE_INSTITUTIONS = [(n, _credit_code(n, a)) for n, _, a in _INSTITUTIONS]
SAMPLE_INSTITUTION_VALUES = [{
        'name': n,
        'code': f'{CLINICAL_PREFIX}2019S{i + 1:03d}',
        'credit_code': c,
        'kind': 'clinical',
        'district': d,
        'grade': '3a',
        } for i, ((n, c), (_, d, _)) in enumerate(
        zip(SAMPLE_INSTITUTIONS, _INSTITUTIONS, strict=True))]
assert all(is_valid_credit_code(c) for _, c in SAMPLE_INSTITUTIONS)
assert len({c for _, c in SAMPLE_INSTITUTIONS}) == len(SAMPLE_INSTITUTIONS)

(ZHONGSHAN, RUIJIN, FIRST, HUASHAN, RENJI, CHEST, MENTAL, CANCER, SIXTH,
    EAST, LONGHUA, PUBLIC_HEALTH, CHANGHAI) = range(len(_INSTITUTIONS))

C, M, N = 'critical', 'major', 'minor'
# key -> (specialty or None for the institution part, clause, text, severity)
DEFECTS = {
    'sop': (None, '2.1.3', "机构办公室部分标准操作规程（SOP）未根据《药物临床"
        "试验质量管理规范》（2020年版）及时修订", N),
    'pharmacy_temp': (None, '2.3.1', "试验用药品中心药房温湿度记录存在中断"
        "（2月10日—2月12日），未见超温评估记录", M),
    'qc_followup': (None, '2.4.2', "机构质量控制记录未体现对发现问题的跟踪"
        "及整改确认", N),
    'gcp_training': (None, '2.2.4', "部分研究人员GCP培训证书已过期仍参与临床"
        "试验", M),
    'emergency_drug': (None, '2.5.1', "急救药品及设备未定期核查，1支肾上腺素"
        "注射液已过有效期", M),
    'ec_minutes': (None, '2.6.2', "伦理委员会会议记录未体现投票结果及利益冲突"
        "声明", N),
    'ec_sae_review': (None, '2.6.5', "伦理委员会对严重不良事件的审查未在规定"
        "时限内完成", M),
    'archive': (None, '2.1.1', "机构未建立临床试验资料档案借阅登记制度", N),
    'icf_date': ("肿瘤科", '3.2.1', "2例受试者知情同意书签署日期早于伦理委员会"
        "批准方案修订版的日期，未重新获取知情同意", C),
    'sae_24h': ("肿瘤科", '3.4.3', "1例严重不良事件（SAE）获知后未在24小时内"
        "向申办者报告", C),
    'imaging_window': ("肿瘤科", '3.3.2', "部分受试者筛选期影像学评估超出方案"
        "规定的28天时间窗", M),
    'conmed': ("肿瘤科", '3.5.1', "病例报告表（CRF）中合并用药记录与原始病历"
        "不一致", M),
    'icf_contact': ("心血管内科", '3.2.4', "知情同意书中受试者联系方式填写"
        "不完整", N),
    'lab_judgement': ("心血管内科", '3.4.1', "实验室检查异常值未见研究者对临床"
        "意义的判断及签字", M),
    'drug_count': ("心血管内科", '3.6.2', "试验用药品回收数量与发放记录不一致"
        "（差异2盒），未见说明", M),
    'eligibility': ("呼吸内科", '3.3.4', "1例受试者不符合入选标准（FEV1占预计"
        "值百分比不在方案规定范围）仍被入组", C),
    'spirometry': ("呼吸内科", '3.5.3', "肺功能检查原始记录未保存仪器打印件，"
        "无法溯源", M),
    'hypoglycaemia': ("内分泌科", '3.4.2', "部分不良事件（低血糖）未记录于"
        "原始病历", M),
    'diary': ("内分泌科", '3.6.1', "受试者日记卡回收不完整，未见研究者核对"
        "记录", N),
    'sample_times': ("血液科", '3.7.2', "生物样本离心时间、冻存时间记录"
        "不完整", M),
    'delegation': ("血液科", '3.2.2', "授权分工表中1名研究护士签名日期晚于其"
        "开始参与试验的日期", N),
    'deviation': ("神经内科", '3.3.1', "方案违背未及时报告伦理委员会", M),
    'rater': ("神经内科", '3.5.2', "量表评估者未经方案要求的一致性培训", N),
    'guardian': ("精神科", '3.2.3', "无民事行为能力受试者的知情同意未由监护人"
        "签署", C),
    'transport': ("感染科", '3.7.1', "生物样本运输温度记录缺失", M),
    'ward_storage': ("风湿免疫科", '3.6.3', "试验用药品在病房储存期间无温度"
        "记录", M),
    'tcm_score': ("中医科", '3.5.4', "中医证候评分表部分条目缺失，未见更正"
        "说明", N),
    'calibration': ("眼科", '3.4.4', "眼压测量设备校准证书过期", N),
    'endoscopy': ("消化内科", '3.3.3', "内镜检查报告未按方案要求留存图像", N),
    'edc_audit': ("肿瘤科", '3.5.5', "电子数据采集系统（EDC）中数据修改无稽查"
        "轨迹，原始数据无法溯源", C),
    'compensation': ("肿瘤科", '3.8.1', "受试者补偿费发放记录缺失", N),
    'car_t_release': ("血液科", '3.6.4', "CAR-T细胞制剂回输前放行检验报告未"
        "经研究者确认,回输记录与制备批号对应关系不清", C),
    'car_t_crs': ("血液科", '3.4.5', "细胞因子释放综合征（CRS）分级记录与方案"
        "规定的分级标准不一致", M),
    'gene_biosafety': ("肿瘤科", '3.7.3', "基因治疗产品使用后医疗废弃物未按"
        "生物安全要求处置\n且无处置记录", M),
    'ltfu': ("肿瘤科", '3.3.5', "基因治疗受试者长期随访计划未告知受试者", N),
    'cell_storage': (None, '2.3.3', "细胞治疗产品液氮储存罐液位监测记录"
        "不连续", M),
    }


@dataclass
class Inspection:
    institution: int
    number: str | None
    type_label: str
    type: str
    start: dt.date
    end: dt.date
    conclusion_label: str
    conclusion: str
    defects: list = field(default_factory=list)  # keys of DEFECTS
    name: str | None = ''  # as written; '' = the institution's name
    with_code: bool = True
    match: str = 'credit_code'  # expected InstitutionMatcher.match how

    @property
    def name_written(self):
        if self.name == '':
            return SAMPLE_INSTITUTIONS[self.institution][0]
        return self.name

    @property
    def code(self):
        return SAMPLE_INSTITUTIONS[self.institution][1]

    @property
    def rows(self):
        "[(specialty, clause, text, severity)], one empty row if none"
        return [DEFECTS[k] for k in self.defects] or [
            (None, None, None, None)]


D = dt.date
INSPECTIONS = {
    'A': [
        Inspection(ZHONGSHAN, 'NMPA-JC-2024-003', "日常检查", 'routine',
            D(2024, 3, 5), D(2024, 3, 7), "待整改后评定", 'rectify',
            ['sop', 'icf_date', 'imaging_window', 'lab_judgement',
                'icf_contact']),
        Inspection(RUIJIN, 'NMPA-JC-2024-011', "有因检查", 'for_cause',
            D(2024, 4, 16), D(2024, 4, 18), "不符合要求", 'non_compliant',
            ['sae_24h', 'edc_audit', 'conmed', 'compensation']),
        Inspection(FIRST, 'NMPA-JC-2024-015', "首次检查", 'first',
            D(2024, 5, 21), D(2024, 5, 22), "待整改后评定", 'rectify',
            ['gcp_training', 'archive', 'diary']),
        Inspection(HUASHAN, 'NMPA-JC-2024-019', "日常检查", 'routine',
            D(2024, 6, 11), D(2024, 6, 13), "符合要求", 'compliant', []),
        Inspection(RENJI, 'NMPA-JC-2024-024', "专项检查", 'special',
            D(2024, 8, 20), D(2024, 8, 21), "待整改后评定", 'rectify',
            ['pharmacy_temp', 'sample_times', 'delegation', 'hypoglycaemia',
                'ec_minutes']),
        Inspection(CHEST, 'NMPA-JC-2024-027', "日常检查", 'routine',
            D(2024, 9, 10), D(2024, 9, 12), "待整改后评定", 'rectify',
            ['eligibility', 'spirometry', 'qc_followup', 'emergency_drug']),
        Inspection(ZHONGSHAN, None, "有因检查", 'for_cause',
            D(2024, 10, 15), D(2024, 10, 16), "不符合要求", 'non_compliant',
            ['icf_date', 'drug_count', 'ec_sae_review']),
        Inspection(MENTAL, 'NMPA-JC-2024-036', "日常检查", 'routine',
            D(2024, 11, 19), D(2024, 11, 21), "待整改后评定", 'rectify',
            ['guardian', 'deviation', 'rater', 'ec_minutes', 'archive',
                'gcp_training']),
        ],
    'B': [
        # credit code typed with full-width characters
        Inspection(CANCER, 'SH2025Q1-002', "常规", 'routine',
            D(2025, 1, 7), D(2025, 1, 9), "基本符合", 'rectify',
            ['imaging_window', 'conmed', 'compensation', 'ec_minutes']),
        # name differs (campus suffix), no credit code: fuzzy match
        Inspection(FIRST, 'SH2025Q1-005', "飞行检查", 'for_cause',
            D(2025, 2, 18), D(2025, 2, 20), "待整改后评定", 'rectify',
            ['sae_24h', 'transport', 'deviation', 'delegation'],
            name="上海市第一人民医院（北部院区）", with_code=False,
            match='fuzzy'),
        # credit code only, dates as Excel serial numbers
        Inspection(SIXTH, 'SH2025Q1-009', "日常监督检查", 'routine',
            D(2025, 3, 5), D(2025, 3, 7), "符合", 'compliant',
            ['diary', 'calibration', 'archive'], name=None),
        Inspection(EAST, 'SH2025Q1-012', "有因", 'for_cause',
            D(2025, 3, 19), D(2025, 3, 21), "不符合要求", 'non_compliant',
            ['eligibility', 'edc_audit', 'lab_judgement', 'drug_count',
                'qc_followup']),
        # name with a zero-width space, no credit code: exact match
        Inspection(LONGHUA, 'SH2025Q1-013', "常规检查", 'routine',
            D(2025, 3, 25), D(2025, 3, 26), "符合要求", 'compliant',
            ['tcm_score', 'endoscopy', 'ward_storage', 'rater'],
            name="上海中医药大学附属\u200b龙华医院", with_code=False,
            match='exact'),
        ],
    'C': [
        # 附属 missing, no credit code: fuzzy match
        Inspection(ZHONGSHAN, 'ZX-2025-01', "专项检查", 'special',
            D(2025, 4, 8), D(2025, 4, 9), "待整改后评定", 'rectify',
            ['car_t_release', 'car_t_crs', 'cell_storage', 'sample_times',
                'ltfu'],
            name="复旦大学中山医院", with_code=False, match='fuzzy'),
        Inspection(PUBLIC_HEALTH, 'ZX-2025-02', "专项", 'special',
            D(2025, 5, 13), D(2025, 5, 15), "不符合要求", 'non_compliant',
            ['gene_biosafety', 'edc_audit', 'transport', 'cell_storage',
                'gcp_training']),
        Inspection(CHANGHAI, 'ZX-2025-03', "其他", 'other',
            D(2025, 6, 3), D(2025, 6, 4), "待整改后评定", 'rectify',
            ['car_t_crs', 'icf_contact', 'archive', 'pharmacy_temp',
                'sop']),
        ],
    }

SEVERITY_LABELS = {
    'A': {C: "严重", M: "主要", N: "一般"},
    'B': {C: "★★", M: "★", N: "一般"},
    'C': {C: "严重缺陷", M: "主要缺陷", N: "一般缺陷"},
    }
FULL_WIDTH = str.maketrans('0123456789ABCDEFGHJKLMNPQRTUWXY.',
    '０１２３４５６７８９ＡＢＣＤＥＦＧＨＪＫＬＭＮＰＱＲＴＵＷＸＹ．')


def _excel_serial(day):
    return (day - dt.date(1899, 12, 30)).days


def _workbook(path):
    import xlsxwriter
    workbook = xlsxwriter.Workbook(path)
    workbook.set_properties({
            'title': "药物临床试验机构检查结果", 'author': "国家药监局（样例）",
            'created': FIXED_TIME,
            })
    workbook.set_calc_mode('auto')
    return workbook


# --- A: title + blank row, header on row 3, merged cells, real dates -------

def write_a(path):
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("检查结果汇总")
    title = workbook.add_format({'bold': True, 'font_size': 16,
            'align': 'center', 'valign': 'vcenter'})
    head = workbook.add_format({'bold': True, 'border': 1, 'bg_color':
            '#D9E1F2', 'align': 'center', 'valign': 'vcenter',
            'text_wrap': True})
    cell = workbook.add_format({'border': 1, 'valign': 'vcenter',
            'text_wrap': True})
    date = workbook.add_format({'border': 1, 'valign': 'vcenter',
            'num_format': 'yyyy"年"m"月"d"日"'})
    note = workbook.add_format({'italic': True, 'font_color': '#595959'})
    header = ["序号", "机构名称", "统一社会信用代码", "检查编号", "检查类型",
        "检查开始日期", "检查结束日期", "专业", "条款号", "缺陷描述",
        "缺陷等级", "检查结论"]
    sheet.merge_range(0, 0, 0, len(header) - 1,
        "2024年上海市药物临床试验机构检查结果汇总表", title)
    sheet.set_row(0, 30)
    sheet.write_row(2, 0, header, head)
    for col, width in enumerate([6, 30, 22, 18, 10, 14, 14, 12, 8, 60, 9,
                14]):
        sheet.set_column(col, col, width)
    labels = SEVERITY_LABELS['A']
    r, serial = 3, 1
    for insp in INSPECTIONS['A']:
        rows = insp.rows
        first, last = r, r + len(rows) - 1
        merged = [(1, insp.name_written, cell), (2, insp.code, cell),
            (3, insp.number, cell), (4, insp.type_label, cell),
            (5, insp.start, date), (6, insp.end, date),
            (11, insp.conclusion_label, cell)]
        for col, value, fmt in merged:
            if last > first:
                sheet.merge_range(first, col, last, col, '', fmt)
            if value is None:
                sheet.write_blank(first, col, None, fmt)
            elif isinstance(value, dt.date):
                sheet.write_datetime(first, col, dt.datetime.combine(
                        value, dt.time()), fmt)
            else:
                sheet.write_string(first, col, value, fmt)
        for specialty, clause, text, severity in rows:
            sheet.write_number(r, 0, serial, cell)
            for col, value in ((7, specialty), (8, clause), (9, text),
                    (10, labels[severity] if severity else None)):
                if value is None:
                    sheet.write_blank(r, col, None, cell)
                else:
                    sheet.write_string(r, col, value, cell)
            r += 1
            serial += 1
    sheet.merge_range(r + 1, 0, r + 1, len(header) - 1,
        "注：缺陷等级分为严重、主要、一般三级；检查结论分为符合要求、待整改后"
        "评定、不符合要求。", note)
    sheet.freeze_panes(3, 0)
    workbook.close()
    return {'header_row': 3, 'first_row': 4, 'last_row': r}


# --- B: header on row 1 with synonyms, ranges, stars, serials, blanks -------

def write_b(path):
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("2025年第一季度")
    head = workbook.add_format({'bold': True, 'text_wrap': True})
    header = ["序号", "被检查单位", "社会信用代码", "报告编号", "检查类别",
        "检查时间", "结束日期", "专业名称", "检查要点\n编号", "存在问题",
        "缺陷级别", "综合评定结论"]
    sheet.write_row(0, 0, header, head)
    labels = SEVERITY_LABELS['B']
    r, serial = 1, 1
    ranges = {0: "{s.year}年{s.month}月{s.day}日-{e.month}月{e.day}日",
        1: "{s.year}年{s.month}月{s.day}日-{e.month}月{e.day}日",
        3: "{s.year}.{s.month}.{s.day}—{e.year}.{e.month}.{e.day}",
        4: "{s.year}年{s.month}月{s.day}日至{e.day}日"}
    blank_after = {1, 2}  # a blank row after the 2nd and 3rd inspections
    rows_written = []
    for index, insp in enumerate(INSPECTIONS['B']):
        for specialty, clause, text, severity in insp.rows:
            sheet.write_number(r, 0, serial)
            if insp.name_written:
                sheet.write_string(r, 1, insp.name_written)
            if insp.with_code:
                code = insp.code
                if index == 0:
                    code = code.translate(FULL_WIDTH)
                sheet.write_string(r, 2, code)
            sheet.write_string(r, 3, insp.number)
            sheet.write_string(r, 4, insp.type_label)
            if index in ranges:
                sheet.write_string(r, 5, ranges[index].format(
                        s=insp.start, e=insp.end))
            else:
                sheet.write_number(r, 5, _excel_serial(insp.start))
            sheet.write_number(r, 6, _excel_serial(insp.end))
            if specialty:
                sheet.write_string(r, 7, specialty)
            if clause:
                sheet.write_string(r, 8, clause.translate(FULL_WIDTH)
                    if index == 4 else clause)
            if text:
                sheet.write_string(r, 9, text)
            if severity:
                sheet.write_string(r, 10, labels[severity])
            sheet.write_string(r, 11, insp.conclusion_label)
            rows_written.append(r + 1)
            r += 1
            serial += 1
        if index in blank_after:
            r += 1
    workbook.close()
    return {'header_row': 1, 'first_row': rows_written[0],
        'last_row': rows_written[-1]}


# --- C: GB18030 CSV, two note lines, 2025/3/5 dates -------------------------

def write_c(path):
    labels = SEVERITY_LABELS['C']
    buffer = io.StringIO(newline='')
    writer = csv.writer(buffer, lineterminator='\r\n')
    line = 1
    numbers = []

    def put(record):
        nonlocal line
        before = buffer.tell()
        writer.writerow(record)
        text = buffer.getvalue()[before:]
        number = line
        line += text.count('\n')
        return number

    put(["说明：2025年上海市药物临床试验机构专项检查（细胞治疗、基因治疗"
            "产品临床试验）结果"])
    put(["数据来源：国家药品监督管理局食品药品审核查验中心", "导出日期：2025/7/1"])
    header_row = put(["医疗机构名称", "统一社会信用代码", "检查编号",
            "检查类型", "开始日期", "结束日期", "专业", "缺陷条款",
            "缺陷内容", "风险等级", "检查结论"])

    def slash(day):
        return f'{day.year}/{day.month}/{day.day}'

    count = 0
    for insp in INSPECTIONS['C']:
        for specialty, clause, text, severity in insp.rows:
            numbers.append(put([insp.name_written or '',
                        insp.code if insp.with_code else '',
                        insp.number or '', insp.type_label,
                        slash(insp.start), slash(insp.end), specialty or '',
                        clause or '', text or '',
                        labels[severity] if severity else '',
                        insp.conclusion_label]))
            count += 1
    put([f"合计：{count}条缺陷"])
    with open(path, 'wb') as file:
        file.write(buffer.getvalue().encode('gb18030'))
    return {'header_row': header_row, 'first_row': numbers[0],
        'last_row': numbers[-1], 'row_numbers': numbers}


# --- M: malformed rows --------------------------------------------------------

def malformed_rows():
    """[(row number, cells by header, [(column, message part)])] of the
    malformed sample; no error = accepted row, None = blank/note row"""
    zs, zs_code = SAMPLE_INSTITUTIONS[ZHONGSHAN]
    rj, rj_code = SAMPLE_INSTITUTIONS[RUIJIN]
    bad_code = zs_code[:17] + next(
        c for c in '0123456789' if c != zs_code[17])
    day = dt.datetime(2024, 3, 5)
    end = dt.datetime(2024, 3, 7)

    def row(**values):
        base = {"机构名称": zs, "统一社会信用代码": zs_code,
            "检查类型": "日常检查", "检查开始日期": day, "检查结束日期": end,
            "专业": "肿瘤科", "条款号": '3.2.1',
            "缺陷描述": DEFECTS['icf_date'][2], "缺陷等级": "严重",
            "检查结论": "待整改后评定"}
        base.update(values)
        return base

    return [
        (3, row(), []),
        (4, row(**{"条款号": '3.3.2', "缺陷描述": DEFECTS['imaging_window'][2],
                    "缺陷等级": "主要"}), []),
        (5, row(**{"检查开始日期": "2024年13月5日"}),
            [("检查开始日期", "日期无法识别：“2024年13月5日”")]),
        (6, row(**{"检查结束日期": dt.datetime(2024, 3, 1)}),
            [("检查结束日期", "早于开始日期")]),
        (7, row(**{"缺陷等级": "特别严重"}),
            [("缺陷等级", "缺陷等级无法识别：“特别严重”")]),
        (8, row(**{"统一社会信用代码": bad_code}),
            [("统一社会信用代码", "校验位错误")]),
        (9, None, []),  # blank row
        (10, row(**{"机构名称": None, "统一社会信用代码": None}),
            [("机构名称", "缺少机构名称和统一社会信用代码")]),
        (11, row(**{"检查类型": "年度考核"}),
            [("检查类型", "检查类型无法识别：“年度考核”")]),
        (12, row(**{"检查结论": "待定"}),
            [("检查结论", "检查结论无法识别：“待定”")]),
        (13, row(**{"统一社会信用代码": 1.23101045012345e17}),
            [("统一社会信用代码", "被存为数字")]),
        (14, row(**{"检查结束日期": "2024-02-30", "缺陷等级": "X"}),
            [("检查结束日期", "日期无法识别：“2024-02-30”"),
                ("缺陷等级", "缺陷等级无法识别：“X”")]),
        (15, row(**{"机构名称": rj, "统一社会信用代码": rj_code,
                    "检查开始日期": dt.datetime(2024, 4, 16),
                    "检查结束日期": dt.datetime(2024, 4, 18),
                    "条款号": '3.4.3', "缺陷描述": DEFECTS['sae_24h'][2]}),
            []),
        (16, row(**{"检查开始日期": 3}),
            [("检查开始日期", "日期不在合理范围")]),
        (17, "注：本文件用于测试导入错误提示。", []),
        ]


MALFORMED_HEADER = ["机构名称", "统一社会信用代码", "检查类型", "检查开始日期",
    "检查结束日期", "专业", "条款号", "缺陷描述", "缺陷等级", "检查结论"]


def write_m(path):
    workbook = _workbook(path)
    sheet = workbook.add_worksheet("检查结果")
    date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    sheet.write_string(0, 0, "2024年检查结果（含错误数据，用于测试）")
    sheet.write_row(1, 0, MALFORMED_HEADER)
    for number, cells, _ in malformed_rows():
        r = number - 1
        if cells is None:
            continue
        if isinstance(cells, str):
            sheet.write_string(r, 0, cells)
            continue
        for col, name in enumerate(MALFORMED_HEADER):
            value = cells.get(name)
            if value is None:
                continue
            if isinstance(value, dt.datetime):
                sheet.write_datetime(r, col, value, date)
            elif isinstance(value, (int, float)):
                sheet.write_number(r, col, value)
            else:
                sheet.write_string(r, col, value)
    workbook.close()
    return {'header_row': 2}


# --- expected counts ----------------------------------------------------------

def expected_for(key, layout):
    inspections = INSPECTIONS[key]
    severities = Counter(s for i in inspections for (_, _, _, s) in i.rows
        if s)
    rows = sum(len(i.rows) for i in inspections)
    return {
        'file': FILES[key],
        'header_row': layout['header_row'],
        'first_row': layout['first_row'],
        'last_row': layout['last_row'],
        'rows_read': rows,
        'rows_accepted': rows,
        'rows_rejected': 0,
        'errors': [],
        'inspections': len(inspections),
        'defects': sum(len(i.defects) for i in inspections),
        'rows_without_defect': sum(1 for i in inspections if not i.defects),
        'by_severity': {s: severities.get(s, 0) for s in (C, M, N)},
        'by_match': dict(sorted(Counter(i.match for i in inspections).items())),
        'inspection_list': [{
                'institution': SAMPLE_INSTITUTIONS[i.institution][0],
                'name_in_file': (i.name_written or '').replace('\u200b', ''),
                'credit_code_in_file': i.with_code,
                'match': i.match,
                'inspection_no': i.number,
                'inspection_type': i.type,
                'date_start': i.start.isoformat(),
                'date_end': i.end.isoformat(),
                'conclusion': i.conclusion,
                'defects': len(i.defects),
                } for i in inspections],
        }


def expected_malformed(layout):
    rows = malformed_rows()
    data = [(n, c, e) for n, c, e in rows if isinstance(c, dict)]
    accepted = [(n, c) for n, c, e in data if not e]
    severities = Counter({"严重": C, "主要": M}[c["缺陷等级"]]
        for _, c in accepted)
    return {
        'file': FILES['M'],
        'header_row': layout['header_row'],
        'rows_read': len(data),
        'rows_accepted': len(accepted),
        'rows_rejected': len(data) - len(accepted),
        'errors': [{'row': n, 'column': col, 'message': msg}
            for n, _, errors in data for col, msg in errors],
        'inspections': len({(c["统一社会信用代码"], c["检查开始日期"])
                for _, c in accepted}),
        'defects': len(accepted),
        'rows_without_defect': 0,
        'by_severity': {s: severities.get(s, 0) for s in (C, M, N)},
        }


README = """\
# NMPA 检查结果导入样例 / NMPA inspection-result samples

由 `make_samples.py` 生成（确定性，勿手工修改；修改后重新运行）：
generated by `make_samples.py` (deterministic; edit the generator, then run
it again):

    .venv/bin/python data/samples/make_samples.py

样例机构（名称与统一社会信用代码）见 `make_samples.SAMPLE_INSTITUTIONS`，
`SAMPLE_INSTITUTION_VALUES` 给出创建 `ct.institution` 所需的值；导入测试须先
创建这些机构。信用代码为合成值（GB 32100 校验位正确）。
The institutions are `make_samples.SAMPLE_INSTITUTIONS` (name, credit code);
`SAMPLE_INSTITUTION_VALUES` has the values to create them as
`ct.institution` before importing.  No `.xls` sample: xlwt is not
available, so the layouts are .xlsx, .xlsx and a GB18030 CSV.
`expected.json` holds the same numbers (and the inspections) for tests.

| 文件 File | 版式 Layout |
|---|---|
{layouts}

预期结果 Expected (parser `nmpa_parse.parse_file`; inspections = distinct
`NmpaRow.inspection_key()` among the accepted rows):

| 文件 File | 表头行 header | 读取行 rows read | 接受 accepted | 拒绝 rejected | 检查 inspections | 缺陷 defects | 严重 critical | 主要 major | 一般 minor | 匹配 match |
|---|---|---|---|---|---|---|---|---|---|---|
{counts}

`nmpa_malformed.xlsx` 的行错误 / row errors (row, column, message contains):

| 行 row | 列 column | 提示包含 message contains |
|---|---|---|
{errors}
"""

LAYOUTS = {
    'A': "标题合并单元格 + 空行，第 3 行表头；机构名称、统一社会信用代码、"
        "检查编号、检查类型、检查开始/结束日期（Excel 日期）、检查结论按检查"
        "纵向合并；一次检查无缺陷（缺陷列为空的一行）；末尾注释行。Merged "
        "title + blank row, header on row 3, per-inspection vertically merged "
        "cells, real Excel dates, one inspection without defect, footer note.",
    'B': "第 1 行表头，使用同义词（被检查单位、社会信用代码、报告编号、检查"
        "类别、检查时间为区间文本如“2025年1月7日-1月9日”或 Excel 序列号、结束"
        "日期为序列号、缺陷级别 ★★/★/一般、综合评定结论）；全角信用代码与"
        "条款号、名称含零宽空格；中间 2 个空行；一家仅有信用代码，一家名称带"
        "“（北部院区）”无信用代码（模糊匹配）。Synonym headers, date ranges, "
        "serial dates, star grades, full-width text, 2 blank rows.",
    'C': "GB18030 编码 CSV（CRLF），前两行为说明，第 3 行表头；日期如 "
        "2025/4/8；一条缺陷描述内含换行（占两行）；末行“合计”；“复旦大学中山"
        "医院”缺“附属”且无信用代码（模糊匹配）。GB18030 CSV, two note lines, "
        "slash dates, a quoted multi-line cell, total line.",
    'M': "第 2 行表头；各类行错误、1 个空行、1 个注释行。Header on row 2, "
        "row errors, one blank row, one note row.",
    }


def build(out):
    os.makedirs(out, exist_ok=True)
    layouts = {
        'A': write_a(os.path.join(out, FILES['A'])),
        'B': write_b(os.path.join(out, FILES['B'])),
        'C': write_c(os.path.join(out, FILES['C'])),
        'M': write_m(os.path.join(out, FILES['M'])),
        }
    expected = {k: expected_for(k, layouts[k]) for k in 'ABC'}
    expected['C']['row_numbers'] = layouts['C']['row_numbers']
    expected['M'] = expected_malformed(layouts['M'])
    expected['institutions'] = [list(i) for i in SAMPLE_INSTITUTIONS]
    with open(os.path.join(out, 'expected.json'), 'w',
            encoding='utf-8') as file:
        json.dump(expected, file, ensure_ascii=False, indent=1)
        file.write('\n')
    counts = []
    for key in 'ABCM':
        e = expected[key]
        s = e['by_severity']
        match = ', '.join(f'{k} {v}' for k, v in e.get('by_match', {}
                ).items()) or '—'
        counts.append(f"| `{e['file']}` | {e['header_row']} | "
            f"{e['rows_read']} | {e['rows_accepted']} | "
            f"{e['rows_rejected']} | {e['inspections']} | {e['defects']} | "
            f"{s[C]} | {s[M]} | {s[N]} | {match} |")
    errors = [f"| {e['row']} | {e['column']} | {e['message']} |"
        for e in expected['M']['errors']]
    with open(os.path.join(out, 'README.md'), 'w', encoding='utf-8') as file:
        file.write(README.format(
                layouts='\n'.join(f"| `{FILES[k]}` | {LAYOUTS[k]} |"
                    for k in 'ABCM'),
                counts='\n'.join(counts), errors='\n'.join(errors)))
    return expected


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default=HERE,
        help="output directory (default: %(default)s)")
    args = parser.parse_args()
    expected = build(args.out)
    for key in 'ABCM':
        e = expected[key]
        print(f"{e['file']}: {e['rows_read']} rows read, "
            f"{e['rows_accepted']} accepted, {e['inspections']} inspections, "
            f"{e['by_severity']}")


if __name__ == '__main__':
    main()
