#!/usr/bin/env python3
"""Write a large NMPA inspection-result workbook and time its parsing.

    .venv/bin/python tests/perf/make_nmpa_workbook.py /tmp/nmpa_50k.xlsx \\
        [--rows 50000] [--no-parse]

The workbook has the layout of ``data/samples/nmpa_2024_summary.xlsx``
without merged cells (title row, blank row, header on row 3, real Excel
dates, every defect text different); about 1 % of the rows carry an error
(bad date, unknown severity).
Unless ``--no-parse``, the file is then parsed with
``addons/ct_inspection/nmpa_parse.py`` and the time is printed (not
asserted).
"""
import argparse
import datetime as dt
import importlib.util
import os
import random
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
if ROOT not in sys.path:
    sys.path.insert(0, ROOT)

HEADER = ["序号", "机构名称", "统一社会信用代码", "检查编号", "检查类型",
    "检查开始日期", "检查结束日期", "专业", "条款号", "缺陷描述", "缺陷等级",
    "检查结论"]
TYPES = ["日常检查", "有因检查", "首次检查", "专项检查"]
SEVERITIES = ["严重", "主要", "一般", "一般", "主要", "一般"]
CONCLUSIONS = ["符合要求", "待整改后评定", "不符合要求"]


def load_module(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def write(path, rows, seed=0):
    import xlsxwriter
    samples = load_module('nmpa_make_samples',
        os.path.join(ROOT, 'data', 'samples', 'make_samples.py'))
    institutions = samples.SAMPLE_INSTITUTIONS
    defects = list(samples.DEFECTS.values())
    rng = random.Random(f'nmpa-perf|{seed}')
    workbook = xlsxwriter.Workbook(path, {'constant_memory': True})
    sheet = workbook.add_worksheet("检查结果汇总")
    date = workbook.add_format({'num_format': 'yyyy-mm-dd'})
    sheet.write_string(0, 0, "2024年上海市药物临床试验机构检查结果汇总表（性能测试）")
    sheet.write_row(2, 0, HEADER)
    r, serial, errors = 3, 1, 0
    base = dt.datetime(2020, 1, 6)
    while serial <= rows:
        name, code = rng.choice(institutions)
        start = base + dt.timedelta(days=rng.randrange(0, 5 * 365))
        end = start + dt.timedelta(days=rng.randrange(0, 4))
        number = f'NMPA-JC-{start.year}-{rng.randrange(1, 10000):04d}'
        kind = rng.choice(TYPES)
        conclusion = rng.choice(CONCLUSIONS)
        for _ in range(rng.randrange(1, 12)):
            if serial > rows:
                break
            specialty, clause, text, _ = rng.choice(defects)
            severity = rng.choice(SEVERITIES)
            sheet.write_number(r, 0, serial)
            sheet.write_string(r, 1, name)
            sheet.write_string(r, 2, code)
            sheet.write_string(r, 3, number)
            sheet.write_string(r, 4, kind)
            roll = rng.random()
            if roll < 0.005:
                sheet.write_string(r, 5, f"{start.year}年13月{start.day}日")
                errors += 1
            else:
                sheet.write_datetime(r, 5, start, date)
            sheet.write_datetime(r, 6, end, date)
            if specialty:
                sheet.write_string(r, 7, specialty)
            sheet.write_string(r, 8, clause)
            # unique texts: the parser's per-column caches do not help
            sheet.write_string(r, 9, f"{text}（受试者 S{serial:05d}）")
            if 0.005 <= roll < 0.01:
                sheet.write_string(r, 10, "特别严重")
                errors += 1
            else:
                sheet.write_string(r, 10, severity)
            sheet.write_string(r, 11, conclusion)
            r += 1
            serial += 1
    workbook.close()
    return errors


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('path', help="the .xlsx file to write")
    parser.add_argument('--rows', type=int, default=50000)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--no-parse', action='store_true',
        help="only write the workbook")
    args = parser.parse_args()
    start = time.perf_counter()
    errors = write(args.path, args.rows, args.seed)
    print(f"wrote {args.rows} rows ({errors} with an error) to {args.path} "
        f"({os.path.getsize(args.path) / 1e6:.1f} MB) in "
        f"{time.perf_counter() - start:.2f} s")
    if args.no_parse:
        return
    nmpa = load_module('nmpa_parse', os.path.join(
            ROOT, 'addons', 'ct_inspection', 'nmpa_parse.py'))
    with open(args.path, 'rb') as file:
        data = file.read()
    start = time.perf_counter()
    result = nmpa.parse_file(os.path.basename(args.path), data)
    elapsed = time.perf_counter() - start
    keys = {row.inspection_key() for row in result.rows}
    start_keys = time.perf_counter()
    row_keys = {row.row_key() for row in result.rows}
    elapsed_keys = time.perf_counter() - start_keys
    print(f"parse_file: {result.rows_read} rows read, {len(result.rows)} "
        f"accepted, {len(result.errors)} errors, {len(keys)} inspections "
        f"in {elapsed:.2f} s ({result.rows_read / elapsed:,.0f} rows/s)")
    print(f"row_key() for {len(row_keys)} rows: {elapsed_keys:.2f} s")


if __name__ == '__main__':
    main()
