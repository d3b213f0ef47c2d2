"""Working-day calendar (工作日历).

Monday to Friday are working days, Saturday and Sunday are not, except on
the dates stored as ``ct.calendar.day``: a public holiday on a weekday or an
adjusted working weekend day (调休上班). Deadlines such as the
rectification report (20 working days after an inspection) and the first
inspection (60 working days) are computed with the classmethods of
``CalendarDay``::

    CalendarDay = Pool().get('ct.calendar.day')
    due = CalendarDay.add_working_days(inspection_end, 20)
"""
import datetime as dt

from trytond.cache import Cache
from trytond.i18n import gettext
from trytond.model import Index, ModelSQL, ModelView, Unique, fields
from trytond.transaction import Transaction

from .exceptions import CalendarError

KINDS = [
    ('holiday', "Public Holiday"),
    ('workday', "Adjusted Working Day"),
    ]
WEEKDAYS = [
    ('mon', "Monday"),
    ('tue', "Tuesday"),
    ('wed', "Wednesday"),
    ('thu', "Thursday"),
    ('fri', "Friday"),
    ('sat', "Saturday"),
    ('sun', "Sunday"),
    ]
ONE_DAY = dt.timedelta(days=1)


def _weekdays_to(day):
    "Number of Mondays to Fridays from 0001-01-01 (a Monday) to day"
    weeks, rest = divmod(day.toordinal(), 7)
    return weeks * 5 + min(rest, 5)


def _is_working(day, exceptions):
    kind = exceptions.get(day)
    if kind == 'holiday':
        return False
    elif kind == 'workday':
        return True
    return day.weekday() < 5


class CalendarDay(ModelSQL, ModelView):
    """An exception to the Monday-to-Friday working week (工作日历例外日)

    Only exceptions are stored: a public holiday falling on a weekday and a
    weekend day that is worked (调休). The classmethods answer for any date.
    """
    __name__ = 'ct.calendar.day'
    __string__ = "Working Calendar Exception"

    date = fields.Date("Date", required=True)
    year = fields.Integer(
        "Year", readonly=True,
        help="The year of the date, to filter the calendar by year.")
    kind = fields.Selection(KINDS, "Kind", required=True, sort=False)
    name = fields.Char(
        "Name", strip=True,
        help="The holiday the day belongs to, for example 春节 or 国庆节.")
    weekday = fields.Function(
        fields.Selection(WEEKDAYS, "Weekday", sort=False),
        'on_change_with_weekday')

    # {year: {date: kind}} of the stored exceptions, shared by the
    # transactions of a database and cleared on every modification.
    _exceptions_cache = Cache('ct.calendar.day.exceptions', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_constraints += [
            ('date_unique', Unique(t, t.date),
                'ct_base.msg_calendar_date_unique'),
            ]
        cls._sql_indexes.add(Index(t, (t.year, Index.Equality())))
        cls._order = [('date', 'ASC'), ('id', 'ASC')]

    @fields.depends('date')
    def on_change_with_year(self, name=None):
        if self.date:
            return self.date.year

    @fields.depends('date')
    def on_change_with_weekday(self, name=None):
        if self.date:
            return WEEKDAYS[self.date.weekday()][0]

    def get_rec_name(self, name):
        return ' '.join(filter(None, [str(self.date), self.name]))

    @classmethod
    def preprocess_values(cls, mode, values):
        values = super().preprocess_values(mode, values)
        # The year always follows the date
        values.pop('year', None)
        date = values.get('date')
        if isinstance(date, str):
            date = dt.date.fromisoformat(date)
        if date:
            values['year'] = date.year
        return values

    @classmethod
    def validate_fields(cls, days, field_names):
        super().validate_fields(days, field_names)
        if field_names & {'date', 'kind'}:
            for day in days:
                day.check_exception()

    def check_exception(self):
        "A stored day must change the Monday-to-Friday rule"
        weekend = self.date.weekday() >= 5
        if self.kind == 'holiday' and weekend:
            raise CalendarError(gettext(
                    'ct_base.msg_calendar_holiday_weekend',
                    date=self.date, name=self.name or ''))
        elif self.kind == 'workday' and not weekend:
            raise CalendarError(gettext(
                    'ct_base.msg_calendar_workday_weekday',
                    date=self.date, name=self.name or ''))

    @classmethod
    def on_modification(cls, mode, days, field_names=None):
        super().on_modification(mode, days, field_names=field_names)
        cls._exceptions_cache.clear()

    @classmethod
    def on_delete(cls, days):
        # on_modification runs before the rows are deleted: clear again
        # once they are gone.
        return super().on_delete(days) + [cls._exceptions_cache.clear]

    @classmethod
    def _exceptions(cls, first_year, last_year):
        """Return {date: kind} of the exceptions of the years from first_year
        to last_year, reading the years not cached with one query.

        The query skips access rules on purpose: every user must get the
        same deadlines and the calendar holds no confidential data.
        """
        exceptions = {}
        missing = []
        for year in range(first_year, last_year + 1):
            cached = cls._exceptions_cache.get(year)
            if cached is None:
                missing.append(year)
            else:
                exceptions.update(cached)
        if missing:
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.select(table.date, table.kind,
                    where=(table.date >= dt.date(min(missing), 1, 1))
                    & (table.date <= dt.date(max(missing), 12, 31))))
            loaded = {year: {} for year in missing}
            for date, kind in cursor:
                if isinstance(date, str):
                    date = dt.date.fromisoformat(date)
                if date.year in loaded:
                    loaded[date.year][date] = kind
            for year, days in loaded.items():
                cls._exceptions_cache.set(year, days)
                exceptions.update(days)
        return exceptions

    @classmethod
    def is_working_day(cls, date):
        "Return True when date is a working day"
        return _is_working(date, cls._exceptions(date.year, date.year))

    @classmethod
    def add_working_days(cls, date, n):
        """Return the date n working days after date (before it when n is
        negative); date itself is not counted and n == 0 returns date."""
        if not n:
            return date
        step = ONE_DAY if n > 0 else -ONE_DAY
        # Guess the years to read at once (5 working days a week plus the
        # holidays), and read one more year if the guess falls short.
        guess = date + step * (abs(n) * 7 // 5 + 30)
        first, last = sorted([date.year, guess.year])
        exceptions = cls._exceptions(first, last)
        day, remaining = date, abs(n)
        while remaining:
            day += step
            if not first <= day.year <= last:
                exceptions.update(cls._exceptions(day.year, day.year))
                first, last = min(first, day.year), max(last, day.year)
            if _is_working(day, exceptions):
                remaining -= 1
        return day

    @classmethod
    def working_days_between(cls, start, end):
        """Return the number of working days in (start, end], negated when
        end is before start: add_working_days(start, n) == end gives n."""
        if end < start:
            return -cls.working_days_between(end, start)
        count = _weekdays_to(end) - _weekdays_to(start)
        exceptions = cls._exceptions(start.year, end.year)
        for day, kind in exceptions.items():
            if start < day <= end:
                weekend = day.weekday() >= 5
                if kind == 'holiday' and not weekend:
                    count -= 1
                elif kind == 'workday' and weekend:
                    count += 1
        return count

    @classmethod
    def working_days_set(cls, start, end):
        """Return the set of the working days from start to end, both
        included (for example to filter a date column with ``in_``)."""
        if end < start:
            return set()
        exceptions = cls._exceptions(start.year, end.year)
        days = set()
        day = start
        while day <= end:
            if _is_working(day, exceptions):
                days.add(day)
            day += ONE_DAY
        return days
