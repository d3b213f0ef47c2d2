#!/usr/bin/env python3
"""Time the export of risk signals to .xlsx (and a 500-row PDF).

    TRYTOND_DATABASE_URI=sqlite:// DB_NAME=:memory: \\
        .venv/bin/python tests/perf/bench_signal_export.py [--count 10000]
    TRYTOND_DATABASE_URI=postgresql://postgres@127.0.0.1:54329/ \\
        .venv/bin/python tests/perf/bench_signal_export.py

Activates ct_risk in a throw-away database (the test machinery: SQLite in
memory by default, or a test_<timestamp> database of the PostgreSQL server
of TRYTOND_DATABASE_URI, dropped at the end), raises ``--count`` signals
over 50 institutions through ``Signal.sync_findings`` (what a patrol
does; slower here than in production as test mode validates the Function
fields too), then exports them all as a
regulator through the report ``ct.risk.signal.xlsx`` (the Print menu and
RPC path: access check, record rules, SQL rows, xlsxwriter in
constant_memory mode) and checks the workbook with openpyxl.
"""
import argparse
import io
import os
import time


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--count', type=int, default=10000)
    parser.add_argument('--institutions', type=int, default=50)
    parser.add_argument('--pdf', type=int, default=500,
        help="rows of the PDF timed as well, as the background job makes "
        "it (0: skip)")
    args = parser.parse_args(argv)

    os.environ.setdefault('TRYTOND_DATABASE_URI', 'sqlite://')
    if os.environ['TRYTOND_DATABASE_URI'].startswith('sqlite'):
        os.environ.setdefault('DB_NAME', ':memory:')
    from trytond.pool import Pool
    from trytond.tests.test_tryton import DB_NAME, activate_module, drop_db
    from trytond.transaction import Transaction

    started = time.perf_counter()
    activate_module('ct_risk')
    print(f"activate ct_risk: {time.perf_counter() - started:.1f} s")

    with Transaction().start(DB_NAME, 0) as transaction:
        pool = Pool()
        Institution = pool.get('ct.institution')
        Rule = pool.get('ct.risk.rule')
        Signal = pool.get('ct.risk.signal')
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        Report = pool.get('ct.risk.signal.xlsx', type='report')

        institutions = Institution.create([{
                    'name': f"机构{i:03d}", 'code': f'BENCH-{i:03d}',
                    'district': 'xuhui'}
                for i in range(args.institutions)])
        regulator, = User.create([{
                    'login': 'bench_regulator', 'name': "监管员",
                    'groups': [('add', [ModelData.get_id(
                                    'ct_base', 'group_regulator')])],
                    }])
        rules = Rule.create([{
                    'name': f"规则{level}", 'code': f'BENCH-{level}',
                    'monitor': 'rectification_overdue', 'level': level,
                    'measures': "责令限期整改", 'auto_dispose': False,
                    } for level in ['high', 'medium', 'low']])
        Rule.write(rules, {'state': 'running'})
        started = time.perf_counter()
        for r, rule in enumerate(rules):
            share = range(r, args.count, len(rules))
            Signal.sync_findings(rule, [{
                        'fingerprint': f'bench-{n}',
                        'summary': f"机构{n % args.institutions:03d}"
                        f"整改报告逾期（第 {n} 条）",
                        'institution': institutions[
                            n % args.institutions].id,
                        'days_overdue': n % 90,
                        } for n in share])
        print(f"raise {args.count} signals (sync_findings): "
            f"{time.perf_counter() - started:.1f} s")
        transaction.commit()

        ids = [s.id for s in Signal.search([], order=[('id', 'ASC')])]
        assert len(ids) == args.count, len(ids)
        with Transaction().set_user(regulator.id), \
                Transaction().set_context(_check_access=True):
            started = time.perf_counter()
            ext, data, _, name = Report.execute(ids, {})
            elapsed = time.perf_counter() - started
        print(f"export {len(ids)} signals to xlsx: {elapsed:.2f} s "
            f"({len(data) / 1e6:.1f} MB, {name}.{ext})")

        import openpyxl
        sheet = openpyxl.load_workbook(
            io.BytesIO(data), read_only=True).active
        rows = sum(1 for _ in sheet.iter_rows(values_only=True))
        assert rows == len(ids) + 1, rows
        print(f"checked: {rows - 1} data rows and a header")

        if args.pdf:
            Pdf = pool.get('ct.risk.signal.pdf', type='report')
            with Transaction().set_user(regulator.id), \
                    Transaction().set_context(
                        _check_access=True, ct_risk_background=True):
                started = time.perf_counter()
                ext, data, _, _ = Pdf.execute(ids[:args.pdf], {})
                elapsed = time.perf_counter() - started
            print(f"export {min(args.pdf, len(ids))} signals to pdf: "
                f"{elapsed:.2f} s ({len(data) / 1e6:.1f} MB)")


    if DB_NAME != ':memory:':
        drop_db()


if __name__ == '__main__':
    main()
