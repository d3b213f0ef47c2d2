"""Verify the audit chain and the signed documents from the command line.

    python -m trytond.modules.ct_security.audit_verify -c trytond.conf -d DB

Exit status 0 when the chain is intact and every signed document matches
its SM2 signature, 1 when an audit row was modified, inserted or deleted
(the first bad row is printed) or a signed document was changed (each is
printed), 2 on usage errors.
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
    if args.config and os.environ.get('TRYTOND_CONFIG') != args.config:
        # Importing this package (routes, trytond.wsgi) fixed the database
        # backend from the default configuration already: start again with
        # the configuration in the environment, read at trytond's import.
        os.environ['TRYTOND_CONFIG'] = args.config
        os.execv(sys.executable, [  # noqa: S606
                sys.executable, '-m', __spec__.name,
                *(sys.argv[1:] if argv is None else argv)])

    from trytond import config
    if args.config:
        config.update_etc(args.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    Pool.start()
    pool = Pool(args.database)
    pool.init()
    with Transaction().start(args.database, 0, readonly=True):
        from .key import install
        from .signing import verify_all
        install()
        AuditLog = pool.get('ct.audit.log')
        status = 0
        bad, count, reason = AuditLog.verify_report()
        if bad is None:
            print(f"audit chain valid: {count} rows")
        else:
            print(f"audit chain BROKEN at sequence {bad.sequence} "
                f"(id {bad.id}): {reason}; {count} rows read")
            status = 1
        for model, _, valid, tampered in verify_all():
            print(f"{model}: {valid} valid signatures, "
                f"{len(tampered)} tampered")
            for record in tampered:
                print(f"  TAMPERED {model},{record.id}: {record.rec_name}")
                status = 1
        return status


if __name__ == '__main__':
    sys.exit(main())
