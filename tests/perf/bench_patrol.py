#!/usr/bin/env python3
"""Benchmark the patrols of the built-in risk rules on demo data.

    .venv/bin/python tests/perf/bench_patrol.py --scale 10
    .venv/bin/python tests/perf/bench_patrol.py --scale 1 \\
        --uri postgresql://postgres@127.0.0.1:5496/

Creates a database (SQLite in a temporary directory by default, or on the
PostgreSQL server of --uri), activates ct_risk (with ct_base and
ct_inspection) with trytond-admin, loads ``data/generate.py`` at the scale
(the demo data includes the inspection history when ct_inspection is
activated; when it holds no inspection, the benchmark inserts a
deterministic history itself, in bulk), then patrols every built-in rule
in turn, each in its own committed transaction, and prints the time of
each rule and the total. The patrols are run --rounds times: the first
raises the signals, the next ones refresh them (the steady state of the
schedule). Targets: the whole set under 60 s at scale 10, one rule under
5 s at scale 1. The database is dropped at the end unless --keep.
"""
import argparse
import datetime as dt
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)
TARGET_SET = 60.0
TARGET_RULE = 5.0


def run(cmd, env=None):
    result = subprocess.run(cmd, env=env, capture_output=True, text=True,
        cwd=ROOT)
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed: {' '.join(cmd)}")
    return result


def pg_admin(uri, sql):
    import psycopg
    parts = urlsplit(uri)
    conninfo = uri.rstrip('/') + '/postgres' if not parts.path.strip('/') \
        else uri
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)


def ensure_inspections(seed):
    """Insert an inspection history when the demo data has none: per
    institution 0-4 inspections of every source with 0-12 defects, their
    rectifications (some overdue) and a few evaluations. Bulk SQL."""
    from sql import Literal
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Inspection = pool.get('ct.inspection')
    if Inspection.search_count([]):
        return 0
    Institution = pool.get('ct.institution')
    Defect = pool.get('ct.inspection.defect')
    Rectification = pool.get('ct.rectification')
    Evaluation = pool.get('ct.evaluation')
    cursor = Transaction().connection.cursor()
    rng = random.Random(seed)
    today = dt.date.today()
    now = dt.datetime.now()
    institution = Institution.__table__()
    cursor.execute(*institution.select(institution.id))
    institutions = [i for i, in cursor]
    inspections, defects, rectifications, evaluations = [], [], [], []
    number = 0
    for institution_id in institutions:
        for _ in range(rng.choice([0, 1, 2, 2, 3, 4])):
            number += 1
            end = today - dt.timedelta(days=rng.randrange(5, 700))
            conclusion = rng.choices(
                ['compliant', 'rectify', 'non_compliant'], [5, 4, 1])[0]
            source = rng.choices(['center', 'nmpa', 'city'], [6, 3, 1])[0]
            inspections.append([number, institution_id, source, 'routine',
                    end - dt.timedelta(days=2), end, conclusion, 'bench',
                    f'JC{end.year}-B{number:06d}', 'concluded', 0, now])
            count = rng.choice([0, 1, 2, 3, 5, 8, 12])
            for _ in range(count):
                severity = rng.choices(
                    ['critical', 'major', 'minor'], [1, 4, 10])[0]
                defects.append([number, institution_id, 'bench', severity,
                        severity, 0, now])
            if count or conclusion != 'compliant':
                state = rng.choices(['plan_submitted', 'returned',
                        'report_submitted', 'accepted', 'waiting_plan'],
                    [3, 1, 1, 5, 1])[0]
                rectifications.append([number, institution_id,
                        end + dt.timedelta(days=60), state, 0, 0, now])
        if rng.random() < 0.1:
            evaluations.append([institution_id,
                    today - dt.timedelta(days=rng.randrange(1, 300)),
                    'bench', rng.choice(['compliant', 'non_compliant']),
                    'bench', 'approved', 0, now])

    def insert(Model, columns, rows):
        table = Model.__table__()
        for i in range(0, len(rows), 500):
            cursor.execute(*table.insert(
                    [getattr(table, c) for c in columns],
                    [[Literal(v) if v is not None else None for v in row]
                        for row in rows[i:i + 500]]))
    # the inspection ids are assigned by the database: map our numbers
    insert(Inspection, ['institution', 'source', 'inspection_type',
            'date_start', 'date_end', 'conclusion', 'judgement', 'number',
            'state', 'create_uid', 'create_date'],
        [r[1:] for r in inspections])
    inspection = Inspection.__table__()
    cursor.execute(*inspection.select(inspection.number, inspection.id))
    ids = dict(cursor)
    insert(Defect, ['inspection', 'institution', 'description', 'severity',
            'default_severity', 'create_uid', 'create_date'],
        [[ids[inspections[r[0] - 1][8]]] + r[1:] for r in defects])
    insert(Rectification, ['inspection', 'institution', 'report_due',
            'state', 'return_count', 'create_uid', 'create_date'],
        [[ids[inspections[r[0] - 1][8]]] + r[1:] for r in rectifications])
    insert(Evaluation, ['institution', 'date', 'evaluators', 'conclusion',
            'summary', 'state', 'create_uid', 'create_date'], evaluations)
    return len(inspections)


def patrol(database, rounds):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool(database)
    Rule = pool.get('ct.risk.rule')
    Run = pool.get('ct.risk.run')
    ModelData = pool.get('ir.model.data')
    with Transaction().start(database, 0, readonly=True):
        rule_ids = [d.db_id for d in ModelData.search([
                    ('module', '=', 'ct_risk'),
                    ('model', '=', 'ct.risk.rule'),
                    ], order=[('db_id', 'ASC')])]
    results = []
    for round_ in range(1, rounds + 1):
        total = 0.0
        for rule_id in rule_ids:
            started = time.monotonic()
            with Transaction().start(database, 0) as transaction:
                rule = Rule(rule_id)
                label = f'{rule.code} {rule.monitor}'
                run_id, = Rule.patrol([rule])
                transaction.commit()
            elapsed = time.monotonic() - started
            with Transaction().start(database, 0, readonly=True):
                run = Run(run_id)
                row = (round_, label, elapsed, run.state, run.scanned,
                    run.found, run.raised, run.refreshed, run.closed,
                    run.errors)
            total += elapsed
            results.append(row)
            print("round %d  %-32s %7.2fs  %-6s scanned %7d found %6d "
                "raised %6d refreshed %6d closed %5d errors %d" % row,
                flush=True)
        print(f"round {round_}: all {len(rule_ids)} rules in {total:.1f}s",
            flush=True)
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scale', type=float, default=10.0)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--uri', default='sqlite://',
        help="database URI (default %(default)s)")
    parser.add_argument('--name', default=None, help="database name")
    parser.add_argument('--keep', action='store_true',
        help="keep the database")
    options = parser.parse_args(argv)

    tmp = tempfile.mkdtemp(prefix='ctpatrol-')
    name = options.name or f'ctpatrol_{os.getpid()}'
    sqlite = options.uri.startswith('sqlite')
    conf = os.path.join(tmp, 'trytond.conf')
    with open(conf, 'w') as fp:
        fp.write(f"[database]\nuri = {options.uri}\npath = {tmp}\n"
            "language = zh_CN\n")
    password = os.path.join(tmp, 'pw')
    with open(password, 'w') as fp:
        fp.write('admin\n')
    for key in ['TRYTOND_DATABASE_URI', 'TRYTOND_DATABASE__URI']:
        os.environ.pop(key, None)
    env = dict(os.environ, TRYTONPASSFILE=password)
    if sqlite:
        open(os.path.join(tmp, f'{name}.sqlite'), 'w').close()
    else:
        pg_admin(options.uri, f'CREATE DATABASE "{name}"')
    try:
        started = time.monotonic()
        admin = os.path.join(BIN, 'trytond-admin')
        run([admin, '-c', conf, '-d', name, '--all',
                '--email', 'admin@example.com'], env=env)
        run([admin, '-c', conf, '-d', name, '-u', 'ct_risk',
                '--activate-dependencies'], env=env)
        print(f"database setup (trytond-admin): "
            f"{time.monotonic() - started:.1f}s", flush=True)
        started = time.monotonic()
        result = run([sys.executable, os.path.join('data', 'generate.py'),
                '-c', conf, '-d', name, '--scale', str(options.scale),
                '--seed', str(options.seed), '-q'], env=env)
        print(f"demo data scale {options.scale:g}: "
            f"{time.monotonic() - started:.1f}s", flush=True)
        for line in result.stdout.splitlines():
            if line.startswith('rows:'):
                print(line)

        from trytond import config
        config.update_etc(conf)
        from trytond.pool import Pool
        from trytond.transaction import Transaction
        Pool.start()
        Pool(name).init()
        with Transaction().start(name, 0) as transaction:
            added = ensure_inspections(options.seed)
            transaction.commit()
            counts = {m: Pool().get(m).search_count([]) for m in [
                    'ct.inspection', 'ct.inspection.defect',
                    'ct.rectification', 'ct.evaluation']}
        if added:
            print(f"no demo inspection: {added} inserted by the benchmark")
        print("inspection history: " + ", ".join(
                f"{k} {v}" for k, v in counts.items()), flush=True)

        started = time.monotonic()
        results = patrol(name, options.rounds)
        first = [r for r in results if r[0] == 1]
        last = [r for r in results if r[0] == options.rounds]
        print(f"backend {'sqlite' if sqlite else 'postgresql'} scale "
            f"{options.scale:g}: first round {sum(r[2] for r in first):.1f}s,"
            f" last round {sum(r[2] for r in last):.1f}s, slowest rule "
            f"{max(r[2] for r in results):.2f}s "
            f"(targets: set < {TARGET_SET:.0f}s at scale 10, one rule < "
            f"{TARGET_RULE:.0f}s at scale 1)")
        failed = [r for r in results if r[3] != 'done']
        if failed:
            print(f"FAILED runs: {failed}")
            return 1
    finally:
        if not options.keep:
            if not sqlite:
                try:
                    pg_admin(options.uri,
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exception:
                    print(f"could not drop {name}: {exception}")
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept database {name} (config {conf})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
