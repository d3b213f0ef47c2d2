from trytond.tests.test_tryton import ModuleTestCase


class CtInspectionTestCase(ModuleTestCase):
    "Test ct_inspection module"
    module = 'ct_inspection'


del ModuleTestCase
