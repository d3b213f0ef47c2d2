"""A throw-away database for the benchmarks.

    with scratch_database('sqlite://', 'ctbench', ['ct_base']) as db:
        subprocess.run([..., '-c', db.conf, '-d', db.name], env=db.env)

SQLite in a temporary directory by default, or a database on the
PostgreSQL server of the URI; trytond-admin initialises it and activates
the modules; it is dropped at the end unless keep.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urlsplit

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(
            os.path.abspath(__file__))))
BIN = os.path.dirname(sys.executable)


def run(cmd, env=None, **kwargs):
    "Run cmd from the repository root; exit with its output on failure"
    result = subprocess.run(cmd, env=env, capture_output=True, text=True,
        cwd=ROOT, **kwargs)
    if result.returncode:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"failed: {' '.join(map(str, cmd))}")
    return result


def pg_admin(uri, sql):
    "Run sql on the maintenance database of the server of uri"
    import psycopg
    parts = urlsplit(uri)
    conninfo = uri.rstrip('/') + '/postgres' if not parts.path.strip('/') \
        else uri
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(sql)


@dataclass
class ScratchDatabase:
    name: str
    conf: str
    env: dict
    sqlite: bool
    directory: str
    setup: float = 0.0

    @property
    def backend(self):
        return 'sqlite' if self.sqlite else 'postgresql'


@contextmanager
def scratch_database(uri, prefix, modules, name=None, keep=False):
    "Yield a ScratchDatabase with modules activated (see the module doc)"
    tmp = tempfile.mkdtemp(prefix=f'{prefix}-')
    name = name or f'{prefix}_{os.getpid()}'
    sqlite = uri.startswith('sqlite')
    conf = os.path.join(tmp, 'trytond.conf')
    with open(conf, 'w') as fp:
        fp.write(f"[database]\nuri = {uri}\npath = {tmp}\n"
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
        pg_admin(uri, f'CREATE DATABASE "{name}"')
    db = ScratchDatabase(name, conf, env, sqlite, tmp)
    try:
        started = time.monotonic()
        admin = os.path.join(BIN, 'trytond-admin')
        run([admin, '-c', conf, '-d', name, '--all',
                '--email', 'admin@example.com'], env=env)
        run([admin, '-c', conf, '-d', name, '-u', *modules,
                '--activate-dependencies'], env=env)
        db.setup = time.monotonic() - started
        yield db
    finally:
        if keep:
            print(f"kept database {name} (config {conf})")
        else:
            if not sqlite:
                try:
                    # FORCE: the benchmark's own pool may still be connected
                    pg_admin(uri,
                        f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                except Exception as exception:
                    print(f"could not drop {name}: {exception}")
            shutil.rmtree(tmp, ignore_errors=True)
