#!/usr/bin/env python3
"""Benchmark data/generate.py on a fresh database.

    .venv/bin/python tests/perf/bench_demo_data.py --scale 1
    .venv/bin/python tests/perf/bench_demo_data.py --scale 10 \\
        --uri postgresql://postgres@127.0.0.1:5496/

Creates a database (SQLite in a temporary directory by default, or on the
PostgreSQL server of --uri), activates ct_base with trytond-admin, then
times ``data/generate.py`` (the load itself, in one transaction, is timed
separately from the process start and pool loading) and prints the row
counts.  The database is dropped at the end unless --keep.
"""
import argparse
import os
import re
import sys
import time

from scratch_db import run, scratch_database


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--scale', type=float, default=1.0)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--uri', default='sqlite://',
        help="database URI (default %(default)s)")
    parser.add_argument('--name', default=None, help="database name")
    parser.add_argument('--keep', action='store_true',
        help="keep the database")
    options = parser.parse_args(argv)

    with scratch_database(options.uri, 'ctbench', ['ct_base'],
            name=options.name, keep=options.keep) as db:
        started = time.monotonic()
        result = run([sys.executable, os.path.join('data', 'generate.py'),
                '-c', db.conf, '-d', db.name, '--scale', str(options.scale),
                '--seed', str(options.seed)], env=db.env)
        total = time.monotonic() - started
        out = result.stdout + result.stderr
        match = re.search(r'loaded scale \S+ seed \S+ in ([\d.]+)s', out)
        load = float(match.group(1)) if match else float('nan')
        rows = re.search(r'^rows: (.*)$', out, re.M)
        print(f"backend {db.backend} scale {options.scale:g} "
            f"seed {options.seed}")
        print(f"database setup (trytond-admin): {db.setup:.1f}s")
        print(f"load (one transaction, commit included): {load:.1f}s")
        print(f"generate.py process (+ imports, pool, counts): "
            f"{total:.1f}s")
        for line in out.splitlines():
            if line.startswith(('plan built', 'pool loaded')) or (
                    ' in ' in line and line.split()[0].isdigit()):
                print(f"  {line}")
        if rows:
            print("rows:")
            for item in rows.group(1).split(', '):
                print(f"  {item}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
