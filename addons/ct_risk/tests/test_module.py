from trytond.tests.test_tryton import ModuleTestCase


class CtRiskTestCase(ModuleTestCase):
    "Test ct_risk module"
    module = 'ct_risk'


del ModuleTestCase
