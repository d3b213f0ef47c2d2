"""Separation of the three administrators (三员分立).

The system administrator manages accounts, the security administrator
assigns groups, rules and access rights, the audit administrator only reads
the audit log (access rows in admin_roles.xml and audit.xml). A user may hold
at most one of these roles; the core "Administration" group counts as a role
too, so the built-in ``admin`` cannot also be an auditor. Every change of a
user's groups is written to the audit log.
"""
from collections import defaultdict

from trytond import backend
from trytond.i18n import gettext
from trytond.model.exceptions import ValidationError
from trytond.pool import Pool, PoolMeta
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

ADMIN_ROLES = [
    ('ct_base', 'group_sysadmin'),
    ('ct_base', 'group_secadmin'),
    ('ct_base', 'group_auditor'),
    ('res', 'group_admin'),
    ]


class AdminRoleError(ValidationError):
    pass


def admin_role_groups():
    "Return the ids of the mutually exclusive administrator groups."
    ModelData = Pool().get('ir.model.data')
    return {ModelData.get_id(m, x): (m, x) for m, x in ADMIN_ROLES}


class UserGroup(metaclass=PoolMeta):
    __name__ = 'res.user-res.group'

    @classmethod
    def validate(cls, records):
        super().validate(records)
        cls.check_admin_roles({r.user.id for r in records})

    @classmethod
    def check_admin_roles(cls, user_ids):
        pool = Pool()
        User = pool.get('res.user')
        Group = pool.get('res.group')
        roles = admin_role_groups()
        user_group = cls.user_group_all_table()
        cursor = Transaction().connection.cursor()
        held = defaultdict(set)
        for sub_ids in grouped_slice(
                list(user_ids), backend.MAX_QUERY_PARAMS):
            cursor.execute(*user_group.select(
                    user_group.user, user_group.group,
                    where=user_group.user.in_(list(sub_ids))
                    & user_group.group.in_(list(roles))))
            for user_id, group_id in cursor:
                held[user_id].add(group_id)
        for user_id, groups in held.items():
            if len(groups) > 1:
                user = User(user_id)
                names = ', '.join(sorted(g.rec_name for g in
                            Group.browse(sorted(groups))))
                raise AdminRoleError(gettext(
                        'ct_security.msg_admin_roles_exclusive',
                        user=user.rec_name, groups=names))

    @classmethod
    def on_modification(cls, mode, records, field_names=None):
        super().on_modification(mode, records, field_names=field_names)
        if mode == 'create':
            cls._ct_audit('group_added', [(r.user, r.group) for r in records])

    @classmethod
    def write(cls, *args):
        actions = iter(args)
        removed = []
        for records, values in zip(actions, actions, strict=False):
            if {'user', 'group'} & values.keys():
                removed.extend((r.user, r.group) for r in records)
        super().write(*args)
        if removed:
            cls._ct_audit('group_removed', removed)
            actions = iter(args)
            added = []
            for records, values in zip(actions, actions, strict=False):
                if {'user', 'group'} & values.keys():
                    added.extend((r.user, r.group) for r in records)
            cls._ct_audit('group_added', added)

    @classmethod
    def delete(cls, records):
        removed = [(r.user, r.group) for r in records]
        super().delete(records)
        cls._ct_audit('group_removed', removed)

    @classmethod
    def _ct_audit(cls, event, pairs):
        AuditLog = Pool().get('ct.audit.log')
        if pairs:
            AuditLog.log_many([{
                        'event': event,
                        'user': user.id,
                        'login': user.login,
                        'actor': Transaction().user or None,
                        'model': 'res.group',
                        'record': group.id,
                        'result': 'success',
                        'detail': group.name,
                        } for user, group in pairs])
