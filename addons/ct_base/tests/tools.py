"""Test helpers shared by the ct_* modules."""
import doctest
import glob
import io
import os
import unittest

from trytond.tests.test_tryton import (
    doctest_checker,
    doctest_setup,
    doctest_teardown,
)

OPTIONFLAGS = (doctest.REPORT_ONLY_FIRST_FAILURE | doctest.ELLIPSIS
    | doctest.IGNORE_EXCEPTION_DETAIL)


def scenario_test_case(package, path):
    """Return a TestCase with one test per ``scenario_*.rst`` beside path.

    pytest ignores the ``load_tests`` protocol that Tryton uses for its
    doctest scenarios and would silently skip them; these tests run each
    scenario as a doctest suite and fail on any failure, or when the
    scenario ran nothing.
    """
    directory = os.path.dirname(path)
    scenarios = sorted(
        os.path.basename(p)
        for p in glob.glob(os.path.join(directory, 'scenario_*.rst')))
    if not scenarios:
        raise RuntimeError(f"no scenario_*.rst in {directory}")

    def make_test(scenario):
        def test(self):
            suite = doctest.DocFileSuite(
                scenario, package=package,
                setUp=doctest_setup, tearDown=doctest_teardown,
                encoding='utf-8', checker=doctest_checker,
                optionflags=OPTIONFLAGS)
            stream = io.StringIO()
            result = unittest.TextTestRunner(
                stream=stream, verbosity=0).run(suite)
            if not result.testsRun:
                self.fail(f"{scenario} ran no test")
            if not result.wasSuccessful():
                self.fail(stream.getvalue())
        test.__name__ = 'test_' + scenario[:-len('.rst')]
        test.__doc__ = f"Scenario {scenario}"
        return test

    attrs = {make_test(s).__name__: make_test(s) for s in scenarios}
    return type('ScenarioTestCase', (unittest.TestCase,), attrs)
