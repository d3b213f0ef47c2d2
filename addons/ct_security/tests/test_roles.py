"""三员分立: role × operation matrix and exclusivity of the admin groups."""
import datetime

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.pool import Pool
from trytond.tests.test_tryton import RouteTestCase, with_transaction
from trytond.transaction import Transaction

from .test_audit import make_user, raw

OPERATIONS = [
    'create_user', 'write_user', 'write_user_groups', 'add_group_member',
    'create_membership', 'create_group', 'create_model_access',
    'create_rule_group', 'read_audit', 'write_audit', 'unlock_user',
    ]
ALLOWED = {
    'sysadmin': {'create_user', 'write_user', 'unlock_user'},
    'secadmin': {'add_group_member', 'create_membership', 'create_group',
        'create_model_access', 'create_rule_group'},
    'auditor': {'read_audit'},
    'regulator': set(),
    # The built-in admin bootstraps accounts and groups, never the audit log
    'admin': {'create_user', 'write_user', 'write_user_groups',
        'add_group_member', 'create_membership', 'create_group',
        'create_model_access', 'create_rule_group'},
    }


class RolesTestCase(RouteTestCase):
    "Test the separation of the three administrators"
    module = 'ct_security'

    def _operation(self, name, target, n):
        pool = Pool()
        User = pool.get('res.user')
        Group = pool.get('res.group')
        UserGroup = pool.get('res.user-res.group')
        ModelAccess = pool.get('ir.model.access')
        RuleGroup = pool.get('ir.rule.group')
        AuditLog = pool.get('ct.audit.log')
        ModelData = pool.get('ir.model.data')
        regulator = ModelData.get_id('ct_base', 'group_regulator')
        inspector = ModelData.get_id('ct_base', 'group_inspector')
        if name == 'create_user':
            User.create([{'name': f'n{n}', 'login': f'new{n}'}])
        elif name == 'write_user':
            User.write([User(target)], {'name': f'renamed{n}'})
        elif name == 'write_user_groups':
            User.write([User(target)], {'groups': [('add', [inspector])]})
        elif name == 'add_group_member':
            Group.write([Group(regulator)], {'users': [('add', [target])]})
        elif name == 'create_membership':
            UserGroup.create([{'user': target, 'group': inspector}])
        elif name == 'create_group':
            Group.create([{'name': f'G{n}'}])
        elif name == 'create_model_access':
            ModelAccess.create([{'model': 'ct.institution',
                        'perm_read': True}])
        elif name == 'create_rule_group':
            RuleGroup.create([{'name': f'R{n}', 'model': 'ct.institution',
                        'global_p': True}])
        elif name == 'read_audit':
            AuditLog.read([r.id for r in AuditLog.search([])], ['detail'])
        elif name == 'write_audit':
            AuditLog.write(AuditLog.search([], limit=1), {'detail': 'x'})
        elif name == 'unlock_user':
            User.ct_unlock([User(target)])

    @with_transaction()
    def test_role_operation_matrix(self):
        "Each role can do exactly its operations"
        pool = Pool()
        AuditLog = pool.get('ct.audit.log')
        User = pool.get('res.user')
        AuditLog.log('login', login='seed')
        users = {
            'sysadmin': make_user('m_sys', 'ct_base.group_sysadmin'),
            'secadmin': make_user('m_sec', 'ct_base.group_secadmin'),
            'auditor': make_user('m_aud', 'ct_base.group_auditor'),
            'regulator': make_user('m_reg', 'ct_base.group_regulator'),
            'admin': User(1),
            }
        target = make_user('m_target').id
        # locked, so that the Unlock button is available
        User.write([User(target)], {
                'ct_locked_until': datetime.datetime(2100, 1, 1)})
        n = 0
        failures = []
        for role, user in users.items():
            for operation in OPERATIONS:
                n += 1
                expected = operation in ALLOWED[role]
                raw('SAVEPOINT ct_roles')
                try:
                    with Transaction().set_user(user.id), \
                            Transaction().set_context(_check_access=True):
                        self._operation(operation, target, n)
                    allowed = True
                except UserError:
                    allowed = False
                finally:
                    raw('ROLLBACK TO SAVEPOINT ct_roles')
                    Transaction().cache.clear()
                if allowed != expected:
                    failures.append((role, operation, allowed))
        self.assertEqual(failures, [])

    @with_transaction()
    def test_admin_groups_exclusive(self):
        "A user cannot hold two of the administrator groups"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        ids = {x: ModelData.get_id('ct_base', x) for x in [
                'group_sysadmin', 'group_secadmin', 'group_auditor']}
        for first in ids:
            for second in ids:
                if first == second:
                    continue
                user = make_user(f'x_{first}_{second}', f'ct_base.{first}')
                with self.assertRaises(UserError) as cm:
                    User.write([user], {'groups': [('add', [ids[second]])]})
                self.assertIn('administrator', cm.exception.message)
        # the built-in admin (group Administration) cannot become auditor
        with self.assertRaises(UserError):
            User.write([User(1)], {'groups': [('add', [ids['group_auditor']])]})
        with self.assertRaises(UserError):
            make_user('x_both', 'ct_base.group_sysadmin',
                'ct_base.group_auditor')
        # other groups combine freely
        make_user('x_ok', 'ct_base.group_secadmin', 'ct_base.group_regulator')

    @with_transaction()
    def test_no_open_membership(self):
        "An ordinary user cannot grant himself a group over RPC"
        pool = Pool()
        UserGroup = pool.get('res.user-res.group')
        ModelData = pool.get('ir.model.data')
        user = make_user('self_grant', 'ct_base.group_regulator')
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                UserGroup.create([{'user': user.id,
                            'group': ModelData.get_id('res', 'group_admin')}])


del RouteTestCase
