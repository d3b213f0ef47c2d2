from trytond.tests.test_tryton import ModuleTestCase


class CtBaseTestCase(ModuleTestCase):
    "Test ct_base module"
    module = 'ct_base'


del ModuleTestCase
