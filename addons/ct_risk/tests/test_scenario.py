from trytond.modules.ct_base.tests.tools import scenario_test_case
from trytond.tests.test_tryton import load_doc_tests

ScenarioTestCase = scenario_test_case(__package__, __file__)


def load_tests(*args, **kwargs):
    return load_doc_tests(__name__, __file__, *args, **kwargs)
