#!/usr/bin/env python3
"""Benchmark the NMPA import of a 50,000-row workbook as a background job.

    .venv/bin/python tests/perf/bench_nmpa_import.py [--rows 50000]
        [--uri postgresql://postgres@127.0.0.1:54329/]

Creates a database (SQLite in a temporary directory by default), activates
ct_inspection, files the institutions of the NMPA samples, writes the
workbook with tests/perf/make_nmpa_workbook.py, then queues the import as
a ct.job and runs the job exactly as trytond-worker does (Job._run), while
a second thread samples the job's progress from its own transactions.
Prints the parse+import time, the progress values seen and the counts.
"""
import argparse
import importlib.util
import os
import sys
import threading
import time

from scratch_db import scratch_database

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))


def load(name, path):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--rows', type=int, default=50000)
    parser.add_argument('--uri', default='sqlite://')
    parser.add_argument('--keep', action='store_true')
    options = parser.parse_args(argv)

    maker = load('make_nmpa_workbook',
        os.path.join(HERE, 'make_nmpa_workbook.py'))
    samples = load('nmpa_make_samples',
        os.path.join(ROOT, 'data', 'samples', 'make_samples.py'))

    with scratch_database(options.uri, 'ctnmpa', ['ct_inspection'],
            keep=options.keep) as db:
        return bench(db, options, maker, samples)


def bench(db, options, maker, samples):
    "Import a generated workbook as a job in db; print times and counts"
    name, conf, tmp, sqlite = db.name, db.conf, db.directory, db.sqlite
    path = os.path.join(tmp, 'nmpa_50k.xlsx')
    started = time.monotonic()
    errors = maker.write(path, options.rows)
    print(f"workbook: {options.rows} rows ({errors} malformed) "
        f"written in {time.monotonic() - started:.1f}s, "
        f"{os.path.getsize(path) / 1e6:.1f} MB")

    from trytond import config
    config.update_etc(conf)
    os.environ.pop('TRYTOND_DATABASE_URI', None)
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    Pool.start()
    pool = Pool(name)
    pool.init()
    with Transaction().start(name, 1) as transaction:
        Institution = pool.get('ct.institution')
        Batch = pool.get('ct.nmpa.batch')
        Job = pool.get('ct.job')
        Institution.create(
            [v.copy() for v in samples.SAMPLE_INSTITUTION_VALUES])
        with open(path, 'rb') as fp:
            batch = Batch._new('nmpa_50k.xlsx', fp.read(), True, {})
        job = Job.launch('nmpa_import', '国家局数据导入（性能测试）',
            'ct.nmpa.batch|run_import', [batch])
        batch_id, job_id = batch.id, job.id
        transaction.commit()

    seen, done = [], threading.Event()

    def watch():
        while not done.is_set():
            with Transaction().start(name, 0, readonly=True):
                job = pool.get('ct.job')(job_id)
                seen.append((round(time.monotonic() - started, 1),
                        job.state, job.progress))
            done.wait(1.0)
    watcher = threading.Thread(target=watch, daemon=True)
    started = time.monotonic()
    if not sqlite:
        watcher.start()
    with Transaction().start(name, 0):
        pool.get('ct.job')._run(job_id)
    elapsed = time.monotonic() - started
    done.set()
    with Transaction().start(name, 0, readonly=True):
        job = pool.get('ct.job')(job_id)
        batch = pool.get('ct.nmpa.batch')(batch_id)
        Defect = pool.get('ct.inspection.defect')
        print(f"backend {'sqlite' if sqlite else 'postgresql'}: "
            f"job {job.state} in {elapsed:.1f}s "
            f"(progress {job.progress}%)")
        print(f"batch: read {batch.rows_read}, imported "
            f"{batch.rows_imported}, rejected {batch.rows_rejected}, "
            f"duplicates {batch.rows_duplicate}, inspections "
            f"{batch.inspections_created}, defects "
            f"{Defect.search_count([])}")
        print(f"message: {batch.message}")
    if seen:
        print("progress seen by another session (s, state, %): "
            + ', '.join(f'{t}/{s}/{p}' for t, s, p in seen[::5]))
    return 0


if __name__ == '__main__':
    sys.exit(main())
