"""ct.calendar.day: working days with the shipped 2024-2026 holidays"""
import datetime as dt
import unittest
from unittest.mock import patch

from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.exceptions import CalendarError
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

D = dt.date


def make_user(login, group_xml_id=None):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    values = {'name': login, 'login': login}
    if group_xml_id:
        values['groups'] = [('add', [ModelData.get_id(*group_xml_id)])]
    user, = User.create([values])
    return user


def days(start, end):
    "Every date from start to end, both included"
    day = start
    while day <= end:
        yield day
        day += dt.timedelta(days=1)


class CalendarTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_base')

    @with_transaction()
    def test_plain_week(self):
        "Without exceptions Monday to Friday are the working days"
        Calendar = Pool().get('ct.calendar.day')
        # 2025-03-03 is a Monday, March 2025 has no holiday
        self.assertEqual(
            [Calendar.is_working_day(d)
                for d in days(D(2025, 3, 3), D(2025, 3, 9))],
            [True] * 5 + [False] * 2)
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 3), 0),
            D(2025, 3, 3))
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 3), 4),
            D(2025, 3, 7))
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 3), 5),
            D(2025, 3, 10))
        # from a Friday or a Saturday, the next working day is Monday
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 7), 1),
            D(2025, 3, 10))
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 8), 1),
            D(2025, 3, 10))
        self.assertEqual(
            Calendar.working_days_between(D(2025, 3, 3), D(2025, 3, 10)), 5)
        # the start is not counted, the end is
        self.assertEqual(
            Calendar.working_days_between(D(2025, 3, 7), D(2025, 3, 9)), 0)
        self.assertEqual(
            Calendar.working_days_between(D(2025, 3, 7), D(2025, 3, 10)), 1)
        self.assertEqual(
            Calendar.working_days_set(D(2025, 3, 7), D(2025, 3, 10)),
            {D(2025, 3, 7), D(2025, 3, 10)})

    @with_transaction()
    def test_adjusted_working_weekend(self):
        "A worked Sunday (调休) counts as a working day"
        Calendar = Pool().get('ct.calendar.day')
        self.assertTrue(Calendar.is_working_day(D(2024, 2, 4)))  # Sunday
        self.assertFalse(Calendar.is_working_day(D(2024, 2, 3)))  # Saturday
        self.assertEqual(Calendar.add_working_days(D(2024, 2, 2), 1),
            D(2024, 2, 4))
        self.assertEqual(Calendar.add_working_days(D(2024, 2, 3), 1),
            D(2024, 2, 4))
        self.assertEqual(
            Calendar.working_days_between(D(2024, 2, 2), D(2024, 2, 5)), 2)

    @with_transaction()
    def test_spring_festival_2024(self):
        "春节 2024: 2/10-2/17 off, 2/18 (Sunday) worked"
        Calendar = Pool().get('ct.calendar.day')
        for day in days(D(2024, 2, 10), D(2024, 2, 17)):
            self.assertFalse(Calendar.is_working_day(day), day)
        self.assertTrue(Calendar.is_working_day(D(2024, 2, 18)))
        self.assertEqual(Calendar.add_working_days(D(2024, 2, 9), 1),
            D(2024, 2, 18))
        self.assertEqual(Calendar.add_working_days(D(2024, 2, 8), 2),
            D(2024, 2, 18))
        self.assertEqual(Calendar.add_working_days(D(2024, 2, 9), 2),
            D(2024, 2, 19))
        self.assertEqual(
            Calendar.working_days_between(D(2024, 2, 9), D(2024, 2, 19)), 2)
        self.assertEqual(Calendar.add_working_days(D(2024, 2, 18), -1),
            D(2024, 2, 9))

    @with_transaction()
    def test_national_day_2025(self):
        "国庆节、中秋节 2025: 10/1-10/8 off, 9/28 and 10/11 worked"
        Calendar = Pool().get('ct.calendar.day')
        self.assertEqual(Calendar.add_working_days(D(2025, 9, 30), 1),
            D(2025, 10, 9))
        self.assertEqual(Calendar.add_working_days(D(2025, 10, 9), -1),
            D(2025, 9, 30))
        self.assertEqual(Calendar.add_working_days(D(2025, 9, 26), 1),
            D(2025, 9, 28))
        self.assertEqual(Calendar.add_working_days(D(2025, 10, 9), 2),
            D(2025, 10, 11))
        self.assertEqual(
            Calendar.working_days_between(D(2025, 9, 30), D(2025, 10, 12)),
            3)
        self.assertEqual(
            Calendar.working_days_set(D(2025, 9, 27), D(2025, 10, 12)),
            {D(2025, 9, 28), D(2025, 9, 29), D(2025, 9, 30),
                D(2025, 10, 9), D(2025, 10, 10), D(2025, 10, 11)})

    @with_transaction()
    def test_deadlines(self):
        "20 working days for the report, 60 for the first inspection"
        Calendar = Pool().get('ct.calendar.day')
        # four plain weeks
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 3), 20),
            D(2025, 3, 31))
        # over 9/28 (worked Sunday), 10/1-10/8 and 10/11 (worked Saturday)
        self.assertEqual(Calendar.add_working_days(D(2025, 9, 15), 20),
            D(2025, 10, 17))
        # over 元旦 and 春节 2024 with both worked Sundays
        self.assertEqual(Calendar.add_working_days(D(2024, 1, 2), 60),
            D(2024, 3, 29))
        # over the new year: 2025-01-01 is off
        self.assertEqual(Calendar.add_working_days(D(2024, 12, 31), 1),
            D(2025, 1, 2))
        self.assertEqual(Calendar.add_working_days(D(2024, 12, 20), 20),
            D(2025, 1, 20))

    @with_transaction()
    def test_working_days_per_year(self):
        "The shipped calendars give the published yearly totals"
        Calendar = Pool().get('ct.calendar.day')
        for year, total in [(2024, 251), (2025, 248), (2026, 248)]:
            with self.subTest(year=year):
                self.assertEqual(Calendar.working_days_between(
                        D(year - 1, 12, 31), D(year, 12, 31)), total)
                self.assertEqual(len(Calendar.working_days_set(
                            D(year, 1, 1), D(year, 12, 31))), total)
        # a long jump reads the years beyond the first guess
        self.assertEqual(Calendar.add_working_days(D(2023, 12, 31), 251),
            D(2024, 12, 31))
        self.assertEqual(
            Calendar.add_working_days(D(2023, 12, 31), 251 + 248 + 248),
            D(2026, 12, 31))
        self.assertEqual(
            Calendar.add_working_days(D(2026, 12, 31), -(251 + 248 + 248)),
            D(2023, 12, 29))

    @with_transaction()
    def test_between_sign_and_symmetry(self):
        "working_days_between is antisymmetric and inverts add_working_days"
        Calendar = Pool().get('ct.calendar.day')
        start = D(2024, 1, 25)
        self.assertEqual(Calendar.working_days_between(start, start), 0)
        for end in days(D(2024, 1, 20), D(2024, 3, 5)):
            forward = Calendar.working_days_between(start, end)
            backward = Calendar.working_days_between(end, start)
            self.assertEqual(forward, -backward, end)
            # count by hand with is_working_day
            low, high = sorted([start, end])
            count = sum(Calendar.is_working_day(d)
                for d in days(low + dt.timedelta(days=1), high))
            self.assertEqual(abs(forward), count, end)
            self.assertEqual(forward > 0, end > start and count > 0, end)
            if Calendar.is_working_day(end):
                self.assertEqual(
                    Calendar.add_working_days(start, forward), end)
        self.assertEqual(
            Calendar.working_days_between(D(2025, 10, 9), D(2025, 9, 30)),
            -1)

    @with_transaction()
    def test_one_query_per_missing_years(self):
        "The exceptions of the years not cached are read with one query"
        Calendar = Pool().get('ct.calendar.day')
        Calendar._exceptions_cache.clear()
        with patch.object(Calendar, '__table__',
                wraps=Calendar.__table__) as table:
            self.assertEqual(Calendar.working_days_between(
                    D(2023, 12, 31), D(2026, 12, 31)), 251 + 248 + 248)
            self.assertEqual(table.call_count, 1)
            Calendar.add_working_days(D(2024, 1, 2), 60)
            Calendar.is_working_day(D(2025, 10, 1))
            Calendar.working_days_set(D(2025, 1, 1), D(2025, 12, 31))
            self.assertEqual(table.call_count, 1)
            # 60 working days from December 2026 reach into 2027
            self.assertEqual(Calendar.add_working_days(D(2026, 12, 1), 60),
                D(2027, 2, 23))
            self.assertEqual(table.call_count, 2)

    @with_transaction()
    def test_user_exception_applies_at_once(self):
        "Adding, moving and removing a day changes the results at once"
        Calendar = Pool().get('ct.calendar.day')
        wednesday, saturday = D(2025, 3, 5), D(2025, 3, 8)
        # fill the cache first
        self.assertTrue(Calendar.is_working_day(wednesday))
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 4), 1),
            wednesday)

        holiday, = Calendar.create([{
                    'date': wednesday, 'kind': 'holiday', 'name': "临时"}])
        self.assertFalse(Calendar.is_working_day(wednesday))
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 4), 1),
            D(2025, 3, 6))
        self.assertEqual(
            Calendar.working_days_between(D(2025, 3, 2), D(2025, 3, 9)), 4)

        workday, = Calendar.create([{'date': saturday, 'kind': 'workday'}])
        self.assertTrue(Calendar.is_working_day(saturday))
        self.assertEqual(
            Calendar.working_days_between(D(2025, 3, 2), D(2025, 3, 9)), 5)

        Calendar.write([workday], {'date': D(2025, 3, 15)})
        self.assertFalse(Calendar.is_working_day(saturday))
        self.assertTrue(Calendar.is_working_day(D(2025, 3, 15)))

        Calendar.delete([holiday])
        self.assertTrue(Calendar.is_working_day(wednesday))
        self.assertEqual(Calendar.add_working_days(D(2025, 3, 4), 1),
            wednesday)

        # a shipped holiday removed by the user
        national_day, = Calendar.search([('date', '=', D(2025, 10, 8))])
        Calendar.delete([national_day])
        self.assertEqual(Calendar.add_working_days(D(2025, 9, 30), 1),
            D(2025, 10, 8))

    @with_transaction()
    def test_year_follows_date(self):
        "The stored year is derived from the date"
        Calendar = Pool().get('ct.calendar.day')
        day, = Calendar.create([{
                    'date': D(2027, 1, 1), 'kind': 'holiday',
                    'year': 1999}])
        self.assertEqual(day.year, 2027)
        self.assertEqual(day.weekday, 'fri')
        Calendar.write([day], {'date': D(2028, 1, 3), 'year': 1999})
        self.assertEqual(day.year, 2028)
        Calendar.write([day], {'year': 1999})
        self.assertEqual(day.year, 2028)
        self.assertEqual(
            Calendar.search_count([('year', '=', 2025)]), 23)
        self.assertEqual(
            Calendar.search_count([('year', '=', 2028)]), 1)

    @with_transaction()
    def test_pointless_exceptions(self):
        "A holiday on a weekend or a workday on a weekday is refused"
        Calendar = Pool().get('ct.calendar.day')
        with self.assertRaises(CalendarError) as cm:
            Calendar.create([{'date': D(2025, 3, 8), 'kind': 'holiday'}])
        self.assertIn('weekend', cm.exception.message)
        self.assertIn('2025-03-08', cm.exception.message)
        with self.assertRaises(CalendarError) as cm:
            Calendar.create([{'date': D(2025, 3, 5), 'kind': 'workday'}])
        self.assertIn('weekday', cm.exception.message)

        # (a failed write leaves its row changed until the rollback: use
        # two rows)
        sunday_4, sunday_18 = Calendar.search([
                ('date', 'in', [D(2024, 2, 4), D(2024, 2, 18)]),
                ], order=[('date', 'ASC')])
        with self.assertRaises(CalendarError):
            Calendar.write([sunday_4], {'kind': 'holiday'})
        with self.assertRaises(CalendarError):
            Calendar.write([sunday_18], {'date': D(2024, 2, 19)})

    @with_transaction()
    def test_date_unique(self):
        "A date is stored once"
        Calendar = Pool().get('ct.calendar.day')
        with self.assertRaises(UserError) as cm:
            Calendar.create([{'date': D(2024, 2, 12), 'kind': 'holiday'}])
        self.assertIn('only once', cm.exception.message)

    @with_transaction()
    def test_access(self):
        "Everyone reads the calendar, the regulator and sysadmin edit it"
        Calendar = Pool().get('ct.calendar.day')
        plain = make_user('cal_plain')
        institution = make_user('cal_inst', ('ct_base', 'group_institution'))
        regulator = make_user('cal_reg', ('ct_base', 'group_regulator'))
        sysadmin = make_user('cal_sys', ('ct_base', 'group_sysadmin'))
        values = {'date': D(2027, 1, 1), 'kind': 'holiday'}
        for user in [plain, institution]:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                self.assertEqual(
                    Calendar.search_count([('year', '=', 2024)]), 27)
                self.assertEqual(Calendar.add_working_days(
                        D(2025, 9, 30), 1), D(2025, 10, 9))
                with self.assertRaises(AccessError):
                    Calendar.create([values])
                day, = Calendar.search([('date', '=', D(2024, 2, 4))])
                with self.assertRaises(AccessError):
                    Calendar.write([day], {'name': "x"})
                with self.assertRaises(AccessError):
                    Calendar.delete([day])
        for user in [regulator, sysadmin]:
            with Transaction().set_user(user.id), \
                    Transaction().set_context(_check_access=True):
                day, = Calendar.create([values])
                Calendar.write([day], {'name': "元旦"})
                Calendar.delete([day])
