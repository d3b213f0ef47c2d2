"""Watch a ct.job's progress from another connection while trytond-worker runs it

Usage (PostgreSQL only: trytond-worker does not run on SQLite)::

    TRYTOND_DATABASE_URI=postgresql://postgres@127.0.0.1:5497/ \\
        .venv/bin/python tests/perf/job_progress_worker.py [--institutions 60]

It creates a database ``ctjobdemo`` (dropped first), activates ct_base, creates
institutions, launches the demo job "recount institution statistics" with a
pause per chunk (as the wizard does), starts ``trytond-worker`` in its own process
group and polls ``ct_job`` with plain psycopg (another session) until the job ends.
"""
import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time

import psycopg

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(
                __file__))))
BIN = os.path.join(ROOT, '.venv', 'bin')
DB = 'ctjobdemo'


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--institutions', type=int, default=60)
    parser.add_argument('--chunk', type=int, default=5)
    parser.add_argument('--sleep', type=float, default=0.25)
    args = parser.parse_args()
    uri = os.environ['TRYTOND_DATABASE_URI']
    assert uri.startswith('postgresql'), "needs PostgreSQL"

    with psycopg.connect(uri.rstrip('/') + '/postgres',
            autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS {DB}')
        conn.execute(f'CREATE DATABASE {DB}')

    tmp = tempfile.mkdtemp(prefix='ctjob')
    conf = os.path.join(tmp, 'trytond.conf')
    with open(conf, 'w') as f:
        f.write(f"[database]\nuri = {uri}\npath = {tmp}\nlanguage = en\n"
            "[queue]\nworker = True\n")
    pwfile = os.path.join(tmp, 'pw')
    with open(pwfile, 'w') as f:
        f.write('admin-demo-pw\n')
    env = dict(os.environ, TRYTONPASSFILE=pwfile, TRYTOND_CONFIG=conf)
    env.pop('TRYTOND_DATABASE_URI')
    subprocess.run([os.path.join(BIN, 'trytond-admin'), '-c', conf, '-d', DB,
            '--all', '--email', 'admin@example.com', '-u', 'ct_base',
            '--activate-dependencies'], env=env, check=True,
        stdout=subprocess.DEVNULL)

    # create data and launch the job as the admin, like the wizard does
    launch = f"""
from trytond.pool import Pool
from trytond.transaction import Transaction
Pool.start()
pool = Pool({DB!r}); pool.init()
with Transaction().start({DB!r}, 1) as t:
    Institution = pool.get('ct.institution'); Job = pool.get('ct.job')
    insts = Institution.create([{{'name': f'Demo {{i}}', 'code': f'D{{i:04d}}',
        'kind': 'clinical'}} for i in range({args.institutions})])
    with t.set_context(ct_job_sleep={args.sleep}, ct_job_chunk={args.chunk}):
        job = Job.launch('recount_institutions', 'demo recount',
            'ct.job|recount_institutions', insts)
    t.commit()
    print(job.id)
"""
    out = subprocess.run([os.path.join(BIN, 'python'), '-c', launch],
        env=env, check=True, capture_output=True, text=True)
    job_id = int(out.stdout.strip().splitlines()[-1])
    print(f"job {job_id} queued; starting trytond-worker")

    worker = subprocess.Popen([os.path.join(BIN, 'trytond-worker'), '-c', conf,
            '-d', DB, '-n', '1', '-t', '1'], env=env, start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, 'worker.log'),
            'w'))
    seen = []
    start = time.monotonic()
    try:
        with psycopg.connect(uri.rstrip('/') + '/' + DB,
                autocommit=True) as conn:
            while time.monotonic() - start < 120:
                state, progress, message = conn.execute(
                    'SELECT state, progress, message FROM ct_job '
                    'WHERE id = %s', (job_id,)).fetchone()
                row = (round(time.monotonic() - start, 2), state, progress,
                    message)
                if not seen or seen[-1][1:] != row[1:]:
                    seen.append(row)
                    print("t=%5.2fs  state=%-8s progress=%5.1f  %s" % row,
                        flush=True)
                if state in {'done', 'failed', 'cancelled'}:
                    break
                time.sleep(0.1)
            notified = conn.execute(
                "SELECT label FROM res_notification WHERE model = 'ct.job' "
                "AND records = %s", (f'[{job_id}]',)).fetchall()
            print("notification:", notified)
    finally:
        os.killpg(worker.pid, signal.SIGTERM)
        worker.wait(10)
    running = [s for s in seen if s[1] == 'running']
    print(f"{len(running)} distinct running snapshots seen from another "
        "connection")
    ok = seen[-1][1] == 'done' and len(running) >= 3
    print('OK' if ok else 'NOT OK (see %s)' % os.path.join(tmp, 'worker.log'))
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
