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
import shutil
import subprocess
import sys
import tempfile
import time
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(cmd, env=None, **kwargs):
    result = subprocess.run(cmd, env=env, capture_output=True, text=True,
        cwd=ROOT, **kwargs)
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

    tmp = tempfile.mkdtemp(prefix='ctbench-')
    name = options.name or f'ctbench_{os.getpid()}'
    sqlite = options.uri.startswith('sqlite')
    conf = os.path.join(tmp, 'trytond.conf')
    with open(conf, 'w') as fp:
        fp.write(f"[database]\nuri = {options.uri}\npath = {tmp}\n"
            "language = zh_CN\n")
    password = os.path.join(tmp, 'pw')
    with open(password, 'w') as fp:
        fp.write('admin\n')
    env = dict(os.environ, TRYTONPASSFILE=password)
    env.pop('TRYTOND_DATABASE_URI', None)
    env.pop('TRYTOND_DATABASE__URI', None)
    if sqlite:
        open(os.path.join(tmp, f'{name}.sqlite'), 'w').close()
    else:
        pg_admin(options.uri, f'CREATE DATABASE "{name}"')
    try:
        started = time.monotonic()
        admin = os.path.join(BIN, 'trytond-admin')
        run([admin, '-c', conf, '-d', name, '--all',
                '--email', 'admin@example.com'], env=env)
        run([admin, '-c', conf, '-d', name, '-u', 'ct_base',
                '--activate-dependencies'], env=env)
        setup = time.monotonic() - started

        started = time.monotonic()
        result = run([sys.executable, os.path.join('data', 'generate.py'),
                '-c', conf, '-d', name, '--scale', str(options.scale),
                '--seed', str(options.seed)], env=env)
        total = time.monotonic() - started
        out = result.stdout + result.stderr
        match = re.search(r'loaded scale \S+ seed \S+ in ([\d.]+)s', out)
        load = float(match.group(1)) if match else float('nan')
        rows = re.search(r'^rows: (.*)$', out, re.M)
        backend = 'sqlite' if sqlite else 'postgresql'
        print(f"backend {backend} scale {options.scale:g} "
            f"seed {options.seed}")
        print(f"database setup (trytond-admin): {setup:.1f}s")
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
    finally:
        if not options.keep:
            if not sqlite:
                pg_admin(options.uri, f'DROP DATABASE IF EXISTS "{name}"')
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            print(f"kept database {name} (config {conf})")
    return 0


if __name__ == '__main__':
    sys.exit(main())
