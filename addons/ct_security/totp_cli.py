"""Second-factor administration from the server's command line.

    python -m trytond.modules.ct_security.totp_cli -c trytond.conf -d DB \\
        --enrol LOGIN...        issue a new secret to each login and print
                                it once (Base32 and otpauth:// URI)
        --enrol-required        issue a secret to every user who needs the
                                second factor and has none (alias
                                --enrol-demo); prints only the logins
        --status                list who needs the second factor / has it
        LOGIN...                print the current one-time code of each
                                login (only where [ct_security]
                                totp_show_codes = True: the demo)

It runs as root on the database (like trytond-admin), so it is how the
first security administrator gets a token; every enrolment is written to
the audit log like the wizard's. Exit status 0, 1 when a login is unknown
or the command is refused, 2 on usage errors.
"""
import argparse
import os
import sys


def _parser():
    parser = argparse.ArgumentParser(
        prog='python -m trytond.modules.ct_security.totp_cli',
        description="Second factor (TOTP with HMAC-SM3) administration")
    parser.add_argument('-c', '--config', dest='config',
        default=os.environ.get('TRYTOND_CONFIG'))
    parser.add_argument('-d', '--database', dest='database', required=True)
    action = parser.add_mutually_exclusive_group()
    action.add_argument('--enrol', action='store_true',
        help="issue a new secret to each LOGIN and print it once")
    action.add_argument('--enrol-required', '--enrol-demo',
        dest='enrol_required', action='store_true',
        help="issue a secret to every required user without one")
    action.add_argument('--status', action='store_true',
        help="list the users requiring or having the second factor")
    parser.add_argument('logins', nargs='*', metavar='LOGIN')
    return parser


def main(argv=None):
    parser = _parser()
    args = parser.parse_args(argv)
    if not (args.enrol_required or args.status or args.logins):
        parser.error("give LOGINs or one of --enrol-required, --status")
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

    from . import totp

    Pool.start()
    pool = Pool(args.database)
    pool.init()
    readonly = not (args.enrol or args.enrol_required)
    with Transaction().start(
            args.database, 0, readonly=readonly) as transaction, \
            transaction.set_context(active_test=False):
        User = pool.get('res.user')

        def users_of(logins):
            users = User.search([('login', 'in', logins)])
            unknown = set(logins) - {u.login for u in users}
            if unknown:
                print("unknown login(s): " + ', '.join(sorted(unknown)),
                    file=sys.stderr)
            return users, bool(unknown)

        if args.status:
            users = User.search(['OR',
                    ('totp_required', '=', True),
                    ('totp_enrolled', '!=', None),
                    ], order=[('login', 'ASC')])
            for user in users:
                print(f"{user.login:20s} "
                    f"{'required' if user.totp_required else 'optional':8s} "
                    + (f"enrolled {user.totp_enrolled:%Y-%m-%d %H:%M}"
                        if user.totp_enrolled else "NOT ENROLLED"))
            return 0

        if args.enrol_required:
            users = User.search([
                    ('totp_required', '=', True),
                    ('totp_enrolled', '=', None),
                    ('active', '=', True),
                    ], order=[('login', 'ASC')])
            User.totp_enrol_users(users)
            transaction.commit()
            for user in users:
                print(f"enrolled {user.login}")
            return 0

        users, unknown = users_of(args.logins)
        if args.enrol:
            secrets = User.totp_enrol_users(users)
            transaction.commit()
            for user in users:
                secret = secrets[user.id]
                print(f"{user.login}\n"
                    f"  secret: {totp.group_secret(secret)}\n"
                    f"  uri:    {totp.provisioning_uri(secret, user.login)}\n"
                    f"  HMAC-SM3, {totp.DIGITS} digits, "
                    f"{totp.PERIOD} s steps")
            return 1 if unknown else 0

        if not config.getboolean(
                'ct_security', 'totp_show_codes', default=False):
            print("refused: printing one-time codes needs [ct_security] "
                "totp_show_codes = True (demo databases only)",
                file=sys.stderr)
            return 1
        now = totp._now()
        left = totp.PERIOD - int(now) % totp.PERIOD
        status = 1 if unknown else 0
        for user in users:
            if not user.totp_enrolled or not user.totp_secret:
                print(f"{user.login}: not enrolled", file=sys.stderr)
                status = 1
                continue
            key = totp.decode_secret(user.totp_secret)
            # The code of the current step may have been used already (a
            # step is accepted once): then give the next step's code, which
            # the login accepts too (window of one step)
            current = totp.counter_at(now)
            last = user.totp_last_counter
            step = current if last is None or last < current else last + 1
            if step > current + totp.WINDOW:
                print(f"{user.login}: codes used up to the next step, "
                    f"wait {left} s", file=sys.stderr)
                status = 1
                continue
            code = totp.hotp(key, step)
            if len(users) == 1:
                print(code)
            else:
                print(f"{user.login:20s} {code}")
        if users:
            print(f"(valid at least {left} s more; codes change every "
                f"{totp.PERIOD} s)",
                file=sys.stderr)
        return status


if __name__ == '__main__':
    sys.exit(main())
