"""Verify the audit chain from the command line.

    python -m trytond.modules.ct_security.audit_verify -c trytond.conf -d DB

Exit status 0 when the chain is intact, 1 when a row was modified, inserted
or deleted (the first bad row is printed), 2 on usage errors.
"""
import argparse
import os
import sys


def main(argv=None):
    parser = argparse.ArgumentParser(
        description="Verify the ct_security audit log chain")
    parser.add_argument('-c', '--config', dest='config',
        default=os.environ.get('TRYTOND_CONFIG'))
    parser.add_argument('-d', '--database', dest='database', required=True)
    args = parser.parse_args(argv)
    if args.config:
        os.environ['TRYTOND_CONFIG'] = args.config

    from trytond import config
    if args.config:
        config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    Pool.start()
    pool = Pool(args.database)
    pool.init()
    with Transaction().start(args.database, 0, readonly=True):
        AuditLog = pool.get('ct.audit.log')
        bad, count, reason = AuditLog.verify_report()
        if bad is None:
            print(f"audit chain valid: {count} rows")
            return 0
        print(f"audit chain BROKEN at sequence {bad.sequence} (id {bad.id}):"
            f" {reason}; {count} rows read")
        return 1


if __name__ == '__main__':
    sys.exit(main())
