"""Meta-tests over every ct_* model: access rows, institution rules and
zh_CN translations.

Tryton 8.0 opens a model without any ir.model.access row to every user,
and a model without a record rule to every institution: both must be
explicit for each of our models.
"""
import polib
from trytond.model import ModelSQL, ModelStorage
from trytond.pool import Pool
from trytond.tests.test_tryton import TestCase as _TestCase
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

from .common import ADDONS, ct_modules


def holds_institution_data(Model):
    "True when records of Model belong to one institution"
    field = Model._fields.get('institution')
    return (Model.__name__ == 'ct.institution'
        or (field is not None and getattr(field, 'model_name', None)
            == 'ct.institution' and field._type == 'many2one'))


class MetaTestCase(_TestCase):
    "Every ct.* model has access rows, rules and translations"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module(ct_modules())

    def ct_models(self):
        for name, Model in Pool().iterobject():
            if name.startswith('ct.') and issubclass(Model, ModelStorage):
                yield name, Model

    @with_transaction()
    def test_access_rows(self):
        "Each stored ct.* model has a default access row and a group row"
        Access = Pool().get('ir.model.access')
        for name, Model in self.ct_models():
            if not issubclass(Model, ModelSQL) or Model.__access__:
                continue
            with self.subTest(model=name):
                accesses = Access.search([('model', '=', name)])
                default = [a for a in accesses if not a.group]
                self.assertTrue(default,
                    f"{name} has no default (group-less) access row: "
                    "every user may read and write it")
                self.assertFalse(any(a.perm_write or a.perm_delete
                        for a in default),
                    f"{name}: the default access row grants write/delete")
                self.assertTrue([a for a in accesses if a.group],
                    f"{name} has no group access row")

    @with_transaction()
    def test_institution_rules(self):
        "Each model holding institution data has a global institution rule"
        RuleGroup = Pool().get('ir.rule.group')
        for name, Model in self.ct_models():
            if not holds_institution_data(Model) or Model.__access__:
                continue
            with self.subTest(model=name):
                groups = RuleGroup.search([
                        ('model', '=', name),
                        ('global_p', '=', True),
                        ])
                domains = [r.domain for g in groups for r in g.rules]
                self.assertTrue(
                    any('ct_institution' in d for d in domains),
                    f"{name} holds institution data but has no global "
                    "rule on the user's institution")

    @with_transaction()
    def test_rule_cache_key_has_institution(self):
        "Two institutions' users with the same groups get distinct domains"
        pool = Pool()
        Rule = pool.get('ir.rule')
        User = pool.get('res.user')
        Institution = pool.get('ct.institution')
        a, b = Institution.create([
                {'name': "甲", 'code': 'META-A'},
                {'name': "乙", 'code': 'META-B'}])
        users = User.create([
                {'login': 'meta_a', 'name': 'a', 'ct_institution': a.id},
                {'login': 'meta_b', 'name': 'b', 'ct_institution': b.id}])
        domains = []
        for user in users:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                domains.append(str(Rule.domain_get('ct.trial')))
        self.assertNotEqual(domains[0], domains[1])
        self.assertIn(str(a.id), domains[0])
        self.assertIn(str(b.id), domains[1])

    @with_transaction()
    def test_zh_cn_translations(self):
        "Every user-visible string of every ct module has a zh_CN msgstr"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Translation = pool.get('ir.translation')
        TranslationSet = pool.get('ir.translation.set', type='wizard')
        TranslationUpdate = pool.get(
            'ir.translation.update', type='wizard')
        lang, = Lang.search([('code', '=', 'zh_CN')])
        Lang.write([lang], {'translatable': True})
        session_id, _, _ = TranslationSet.create()
        TranslationSet.execute(session_id, {}, 'set_')
        TranslationSet.delete(session_id)
        session_id, _, _ = TranslationUpdate.create()
        TranslationUpdate.execute(
            session_id, {'start': {'language': lang.id}}, 'update')
        TranslationUpdate.delete(session_id)
        for module in ct_modules():
            po_path = ADDONS / module / 'locale' / 'zh_CN.po'
            with self.subTest(module=module):
                self.assertTrue(po_path.exists(), f"{po_path} missing")
                # Every string the code has, before the import: importing
                # drops the rows the .po file does not mention.
                wanted = polib.pofile(
                    Translation.translation_export('zh_CN', module)
                    .decode('utf-8'))
                Translation.translation_import(
                    'zh_CN', module, str(po_path))
                exported = polib.pofile(
                    Translation.translation_export('zh_CN', module)
                    .decode('utf-8'))
                done = {(e.msgctxt, e.msgid) for e in exported
                    if e.msgstr and 'fuzzy' not in e.flags}
                missing = [f'{e.msgctxt} {e.msgid!r}'
                    for e in wanted
                    if e.msgid and (e.msgctxt, e.msgid) not in done]
                self.assertFalse(missing,
                    f"{module}: {len(missing)} strings without zh_CN "
                    "translation (run tools/export-translations):\n"
                    + '\n'.join(missing[:40]))


del _TestCase
