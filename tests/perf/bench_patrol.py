#!/usr/bin/env python3
"""Benchmark the patrols of the built-in risk rules on demo data.

    .venv/bin/python tests/perf/bench_patrol.py --scale 10
    .venv/bin/python tests/perf/bench_patrol.py --scale 1 \\
        --uri postgresql://postgres@127.0.0.1:5496/

Creates a database (SQLite in a temporary directory by default, or on the
PostgreSQL server of --uri), activates ct_risk (with ct_base and
ct_inspection) with trytond-admin, loads ``data/generate.py`` at the scale
(the demo data includes the inspection history when ct_inspection is
activated), then patrols every built-in rule
in turn, each in its own committed transaction, and prints the time of
each rule and the total. The patrols are run --rounds times: the first
raises the signals, the next ones refresh them (the steady state of the
schedule). Targets: the whole set under 60 s at scale 10, one rule under
5 s at scale 1. The database is dropped at the end unless --keep.
"""
import argparse
import os
import sys
import time

from scratch_db import run, scratch_database

TARGET_SET = 60.0
TARGET_RULE = 5.0


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

    with scratch_database(options.uri, 'ctpatrol', ['ct_risk'],
            name=options.name, keep=options.keep) as db:
        return bench(db, options)


def bench(db, options):
    "Load the demo data in db, then patrol every built-in rule"
    print(f"database setup (trytond-admin): {db.setup:.1f}s", flush=True)
    started = time.monotonic()
    result = run([sys.executable, os.path.join('data', 'generate.py'),
            '-c', db.conf, '-d', db.name, '--scale', str(options.scale),
            '--seed', str(options.seed), '-q'], env=db.env)
    print(f"demo data scale {options.scale:g}: "
        f"{time.monotonic() - started:.1f}s", flush=True)
    for line in result.stdout.splitlines():
        if line.startswith('rows:'):
            print(line)

    from trytond import config
    config.update_etc(db.conf)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    Pool(db.name).init()
    with Transaction().start(db.name, 0, readonly=True):
        counts = {m: Pool().get(m).search_count([]) for m in [
                'ct.inspection', 'ct.inspection.defect',
                'ct.rectification', 'ct.evaluation']}
    print("inspection history: " + ", ".join(
            f"{k} {v}" for k, v in counts.items()), flush=True)

    results = patrol(db.name, options.rounds)
    first = [r for r in results if r[0] == 1]
    last = [r for r in results if r[0] == options.rounds]
    print(f"backend {db.backend} scale "
        f"{options.scale:g}: first round {sum(r[2] for r in first):.1f}s,"
        f" last round {sum(r[2] for r in last):.1f}s, slowest rule "
        f"{max(r[2] for r in results):.2f}s "
        f"(targets: set < {TARGET_SET:.0f}s at scale 10, one rule < "
        f"{TARGET_RULE:.0f}s at scale 1)")
    failed = [r for r in results if r[3] != 'done']
    if failed:
        print(f"FAILED runs: {failed}")
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
