from trytond.tests.test_tryton import ModuleTestCase


class CtSecurityTestCase(ModuleTestCase):
    "Test ct_security module"
    module = 'ct_security'


del ModuleTestCase
