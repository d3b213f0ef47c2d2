#!/usr/bin/env python3
"""Load deterministic demo data into a database where ct_base is activated.

    python data/generate.py -c trytond.conf -d DBNAME --scale 1 --seed 42

Scale 1 is Shanghai's real size: 120 clinical institutions (1,500
specialties, 6,000 investigators, 20,000 trial projects) and 15
non-clinical (GLP) institutions.  Other scales multiply those numbers.
The same seed, scale and reference date always give the same data (only
the ids, timestamps and the random nonces of the encrypted envelopes
differ).

Parties, institutions, specialties and users go through the ORM;
investigators and trials are inserted with python-sql multi-row INSERTs
(ids are allocated first so that the encrypted columns, whose associated
data contains the record id, are written in the same statement), then
their ``__history`` rows are copied like ``ModelSQL.create`` does.

Inside an open transaction, call ``generate(scale, seed)``; it returns
the row counts, or None when the demo data is already there.
"""
import argparse
import bisect
import datetime as dt
import hashlib
import itertools
import os
import random
import sys
import time
from collections import defaultdict

if __package__ in (None, ''):
    sys.path.insert(0, os.path.dirname(os.path.dirname(
                os.path.abspath(__file__))))
    from data import names as N  # noqa: E402
else:
    from . import names as N

BASE = {
    'clinical': 120,
    'nonclinical': 15,
    'specialties': 1500,
    'investigators': 6000,
    'trials': 20000,
    'dual_pis': 30,
    'overloaded_pis': 60,
    }
REFERENCE_DATE = dt.date(2026, 10, 31)
DEMO_PASSWORD = 'Ct#Demo-2026'  # noqa: S105 (demo accounts)
ROLE_USERS = [
    ('regulator', "监管用户（演示）", 'group_regulator'),
    ('inspector', "检查员（演示）", 'group_inspector'),
    ('reviewer', "审核人员（演示）", 'group_reviewer'),
    ('leader', "领导（演示）", 'group_leader'),
    ('sysadmin', "系统管理员（演示）", 'group_sysadmin'),
    ('secadmin', "安全管理员（演示）", 'group_secadmin'),
    ('auditor', "审计管理员（演示）", 'group_auditor'),
    ]
INSTITUTION_USERS = ['inst1', 'inst2']
CLINICAL_PREFIX = "药临机构备字"
GLP_PREFIX = "GLP"

# --- check digits ---------------------------------------------------------

ID_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
CREDIT_CHARS = '0123456789ABCDEFGHJKLMNPQRTUWXY'
CREDIT_WEIGHTS = [pow(3, i, 31) for i in range(17)]
ORG_WEIGHTS = [3, 7, 9, 10, 5, 8, 4, 2]


def id_check_digit(body):
    "GB 11643 check character of the first 17 digits"
    total = sum(int(c) * w for c, w in zip(body, ID_WEIGHTS, strict=False))
    return '10X98765432'[total % 11]


def is_valid_id_number(value):
    return (isinstance(value, str) and len(value) == 18
        and value[:17].isdigit() and id_check_digit(value[:17]) == value[17])


def org_check_digit(body):
    "GB 11714 check character of an 8-character organisation code"
    total = sum(int(c, 36) * w for c, w in zip(body, ORG_WEIGHTS, strict=False))
    check = 11 - total % 11
    return {10: 'X', 11: '0'}.get(check, str(check))


def credit_check_digit(body):
    "GB 32100 check character of the first 17 characters"
    total = sum(CREDIT_CHARS.index(c) * w
        for c, w in zip(body, CREDIT_WEIGHTS, strict=False))
    return CREDIT_CHARS[(31 - total % 31) % 31]


def is_valid_credit_code(value):
    return (isinstance(value, str) and len(value) == 18
        and all(c in CREDIT_CHARS for c in value)
        and credit_check_digit(value[:17]) == value[17])


# --- helpers --------------------------------------------------------------

def count_for(name, scale):
    value = round(BASE[name] * scale)
    return max(1, value) if name != 'trials' else max(0, value)


def apportion(total, weights, minimum=0, maximum=None):
    "Split total into integers proportional to weights (largest remainder)"
    n = len(weights)
    if not n:
        return []
    minimum = min(minimum, total // n)
    result = [minimum] * n
    left = total - minimum * n
    wsum = float(sum(weights)) or 1.0
    quotas = [left * w / wsum for w in weights]
    floors = [int(q) for q in quotas]
    for i, f in enumerate(floors):
        result[i] += f
    rest = left - sum(floors)
    order = sorted(range(n), key=lambda i: (floors[i] - quotas[i], i))
    for i in order[:rest]:
        result[i] += 1
    if maximum is not None:
        extra = 0
        for i in range(n):
            if result[i] > maximum:
                extra += result[i] - maximum
                result[i] = maximum
        i = 0
        while extra and any(r < maximum for r in result):
            j = order[i % n]
            if result[j] < maximum:
                result[j] += 1
                extra -= 1
            i += 1
    return result


class Picker:
    "Weighted choice with precomputed cumulative weights"

    def __init__(self, rng, items, weights):
        self.rng = rng
        self.items = list(items)
        self.cum = list(itertools.accumulate(weights))

    def __call__(self):
        x = self.rng.random() * self.cum[-1]
        return self.items[bisect.bisect_right(self.cum, x)]


def random_date(rng, start, end):
    if end <= start:
        return start
    return start + dt.timedelta(days=rng.randrange((end - start).days + 1))


# --- the plan: everything is computed in Python first ---------------------

class Plan:

    def __init__(self, scale, seed, reference_date=REFERENCE_DATE):
        self.scale = scale
        self.seed = seed
        self.today = reference_date
        self.rng = random.Random(f'ct-demo|{seed}|{scale}')
        self.institutions = []
        self.specialties = []
        self.investigators = []
        self.trials = []
        self._ids = set()
        self._phones = set()
        self._codes = set()
        self._credit = set()
        rng = self.rng
        surname_weights = [1 / (i + 8) for i in range(len(N.SURNAMES))]
        self._surname = Picker(rng, N.SURNAMES, surname_weights)
        self._sponsor_pool()
        self.build()

    # people
    def person_name(self):
        rng = self.rng
        surname = (rng.choice(N.SURNAMES_COMPOUND) if rng.random() < 0.01
            else self._surname())
        male = rng.random() < 0.55
        chars = N.GIVEN_MALE if male else N.GIVEN_FEMALE
        given = rng.choice(chars)
        if rng.random() < 0.65:
            given += rng.choice(chars)
        return surname + given, male

    def id_number(self, male, district=None, senior=False):
        rng = self.rng
        while True:
            if rng.random() < 0.7:
                if district and rng.random() < 0.5:
                    area = N.DISTRICTS[district][1]
                else:
                    area = rng.choice(list(N.DISTRICTS.values()))[1]
            else:
                area = rng.choice(N.OTHER_AREA_CODES)
            birth = random_date(rng,
                dt.date(1958, 1, 1),
                dt.date(1978 if senior else 1994, 12, 31))
            seq = rng.randrange(0, 1000)
            if (seq % 2 == 1) != male:
                seq = (seq + 1) % 1000
            body = f'{area}{birth:%Y%m%d}{seq:03d}'
            value = body + id_check_digit(body)
            if value not in self._ids:
                self._ids.add(value)
                return value

    def mobile(self):
        rng = self.rng
        while True:
            value = rng.choice(N.MOBILE_PREFIXES) + (
                f'{rng.randrange(10 ** 8):08d}')
            if value not in self._phones:
                self._phones.add(value)
                return value

    def credit_code(self, prefix, area):
        rng = self.rng
        while True:
            org = ''.join(rng.choice('0123456789') for _ in range(8))
            if prefix == '91':
                org = rng.choice('MN') + org[1:]
            body = f'{prefix}{area}{org}{org_check_digit(org)}'
            value = body + credit_check_digit(body)
            if value not in self._credit:
                self._credit.add(value)
                return value

    def filing_code(self, prefix, year):
        rng = self.rng
        while True:
            value = f'{prefix}{year}{rng.randrange(1, 10000):04d}'
            if value not in self._codes:
                self._codes.add(value)
                return value

    def address(self, district):
        rng = self.rng
        return (f"上海市{N.DISTRICTS[district][0]}{rng.choice(N.ROADS)}"
            f"{rng.randrange(1, 2000)}号")

    def landline(self):
        return f"021-{self.rng.choice('5633')}{self.rng.randrange(10**7):07d}"

    # institutions
    def _institution_names(self, count):
        rng = self.rng
        result = [(n, d, g, w) for n, d, g, w in N.REAL_HOSPITALS][:count]
        seen = {r[0] for r in result}
        districts = list(N.DISTRICTS)
        grade = Picker(rng, [g for g, _ in N.GRADE_WEIGHTS],
            [w for _, w in N.GRADE_WEIGHTS])
        serial = itertools.count(2)
        while len(result) < count:
            roll = rng.random()
            district = rng.choice(districts)
            dname = N.DISTRICTS[district][0]
            if roll < 0.45:
                name = f"上海市{dname}{rng.choice(N.DISTRICT_HOSPITAL_KINDS)}"
            elif roll < 0.75:
                name = f"上海市{dname}{rng.choice(N.TOWNS[district])}医院"
            else:
                name = f"上海{rng.choice(N.BRANDS)}{rng.choice(N.PRIVATE_TYPES)}"
            if name in seen:
                if len(seen) < 600 or rng.random() < 0.7:
                    continue
                name = f"{name}（第{next(serial)}分院）"
                if name in seen:
                    continue
            seen.add(name)
            weight = round(rng.lognormvariate(0, 0.6), 3)
            result.append((name, district, grade(), weight))
        return result

    def build_institutions(self):
        rng = self.rng
        n_clin = count_for('clinical', self.scale)
        n_glp = count_for('nonclinical', self.scale)
        year = Picker(rng, range(2019, 2026), [30, 25, 12, 10, 9, 8, 6])
        for name, district, grade, weight in self._institution_names(n_clin):
            y = year()
            filing = random_date(rng,
                dt.date(y, 12 if y == 2019 else 1, 1), dt.date(y, 12, 31))
            real = len(self.institutions) < len(N.REAL_HOSPITALS)
            state = 'active'
            if not real:
                state = rng.choices(
                    ['active', 'suspended', 'cancelled'], [94, 4, 2])[0]
            self.institutions.append({
                    'name': name,
                    'code': self.filing_code(CLINICAL_PREFIX, y),
                    'credit_code': self.credit_code(
                        '12', N.DISTRICTS[district][1]),
                    'kind': 'clinical',
                    'district': district,
                    'grade': grade,
                    'filing_date': filing,
                    'address': self.address(district),
                    'contact_name': self.person_name()[0],
                    'contact_phone': self.landline(),
                    'state': state,
                    '_weight': weight,
                    })
        glp_names = list(N.GLP_INSTITUTIONS)
        seen = {n for n, _ in glp_names}
        while len(glp_names) < n_glp:
            name = (f"上海{rng.choice(N.SPONSOR_BRANDS)}"
                f"{rng.choice(N.GLP_TYPES)}")
            if name not in seen:
                seen.add(name)
                glp_names.append((name, rng.choice(
                            ['pudong', 'minhang', 'jiading', 'fengxian',
                                'songjiang'])))
        for name, district in glp_names[:n_glp]:
            y = rng.randrange(2008, 2025)
            company = name.endswith('公司') or '公司' in name
            self.institutions.append({
                    'name': name,
                    'code': self.filing_code(GLP_PREFIX, y),
                    'credit_code': self.credit_code(
                        '91' if company else '12', N.DISTRICTS[district][1]),
                    'kind': 'nonclinical',
                    'district': district,
                    'grade': None,
                    'filing_date': random_date(
                        rng, dt.date(y, 1, 1), dt.date(y, 12, 31)),
                    'address': self.address(district),
                    'contact_name': self.person_name()[0],
                    'contact_phone': self.landline(),
                    'state': 'active',
                    '_weight': 0,
                    })

    def build_specialties(self):
        rng = self.rng
        clinical = [i for i, r in enumerate(self.institutions)
            if r['kind'] == 'clinical']
        names = list(N.SPECIALTIES)
        counts = apportion(count_for('specialties', self.scale),
            [self.institutions[i]['_weight'] for i in clinical],
            minimum=3, maximum=len(names))
        for inst, count in zip(clinical, counts, strict=True):
            weights = {n: N.SPECIALTIES[n][0] for n in names}
            chosen = []
            if count >= 6 or self.institutions[inst]['_weight'] >= 2:
                chosen.append("I期临床试验研究室")
            # weighted sampling without replacement
            while len(chosen) < count:
                pool = [n for n in names if n not in chosen]
                chosen.append(rng.choices(
                        pool, [weights[n] for n in pool])[0])
            start = self.institutions[inst]['filing_date']
            for name in chosen:
                state = rng.choices(
                    ['active', 'suspended', 'cancelled'], [95, 3, 2])[0]
                self.specialties.append({
                        '_institution': inst,
                        'name': name,
                        'direction': "、".join(rng.sample(
                                N.SPECIALTIES[name][1],
                                min(2, len(N.SPECIALTIES[name][1])))),
                        'filing_date': random_date(
                            rng, start, min(self.today,
                                start + dt.timedelta(days=1500))),
                        'state': state,
                        '_weight': N.SPECIALTIES[name][0]
                        * self.institutions[inst]['_weight']
                        * rng.uniform(0.5, 1.5),
                        })

    def build_investigators(self):
        rng = self.rng
        counts = apportion(count_for('investigators', self.scale),
            [s['_weight'] for s in self.specialties], minimum=1)
        titles = list(N.TITLE_WEIGHTS)
        title_inv = Picker(rng, titles, [w for w, _ in
                N.TITLE_WEIGHTS.values()])
        title_pi = Picker(rng, titles, [w for _, w in
                N.TITLE_WEIGHTS.values()])
        self.pis_by_specialty = defaultdict(list)
        for spec, count in enumerate(counts):
            inst = self.specialties[spec]['_institution']
            district = self.institutions[inst]['district']
            n_pi = max(1, round(count * 0.3)) if count else 0
            for k in range(count):
                is_pi = k < n_pi
                name, male = self.person_name()
                gcp = (None if rng.random() < 0.05 else random_date(
                        rng, dt.date(2016, 1, 1), self.today))
                self.investigators.append({
                        '_institution': inst,
                        '_specialty': spec,
                        'name': name,
                        'id_number': self.id_number(
                            male, district, senior=is_pi),
                        'phone': self.mobile(),
                        'title': title_pi() if is_pi else title_inv(),
                        'is_pi': is_pi,
                        'gcp_training_date': gcp,
                        })
                if is_pi:
                    self.pis_by_specialty[spec].append(
                        len(self.investigators) - 1)
        self._dual_pis()

    def _dual_pis(self):
        "Some PIs also work at a second institution (same person)"
        rng = self.rng
        pis = [i for i, v in enumerate(self.investigators) if v['is_pi']]
        wanted = min(count_for('dual_pis', self.scale), len(pis) // 2)
        used = set()
        self.dual_pis = []
        attempts = 0
        while len(self.dual_pis) < wanted and attempts < 100 * wanted:
            attempts += 1
            a, b = rng.sample(pis, 2)
            va, vb = self.investigators[a], self.investigators[b]
            if (a in used or b in used
                    or va['_institution'] == vb['_institution']):
                continue
            used.update((a, b))
            self._ids.discard(vb['id_number'])
            for key in ('name', 'id_number', 'phone', 'title'):
                vb[key] = va[key]
            self.dual_pis.append((a, b))

    # trials
    def _sponsor_pool(self):
        rng = self.rng
        size = max(40, min(600, round(250 * self.scale ** 0.5)))
        seen, sponsors = set(), []
        while len(sponsors) < size:
            name = (rng.choice(N.SPONSOR_CITIES)
                + rng.choice(N.SPONSOR_BRANDS) + rng.choice(N.SPONSOR_KINDS))
            if name not in seen:
                seen.add(name)
                sponsors.append(name)
        self.sponsors = sponsors
        self._sponsor = Picker(rng, range(size),
            [1 / (i + 3) for i in range(size)])

    def drug(self, category, specialty_name, phase, cell_gene):
        rng = self.rng
        if category == 'tcm':
            herbs = rng.sample(N.TCM_HERBS, 2)
            return "".join(herbs) + rng.choice(N.TCM_FORMS)
        if cell_gene:
            return rng.choice(N.CELL_GENE)
        if category == 'biological':
            if specialty_name in ("感染科", "儿科", "全科医学科") and (
                    rng.random() < 0.5):
                return rng.choice(N.VACCINES)
            biological = True
            forms = N.BIOLOGICAL_FORMS
        else:
            biological = False
            forms = N.CHEMICAL_FORMS
        pickers = self.__dict__.setdefault('_stem_pickers', {})
        if biological not in pickers:
            stems = [(s, w) for s, w in N.STEM_WEIGHTS
                if (s in N.BIOLOGICAL_STEMS) == biological]
            pickers[biological] = Picker(rng, [s for s, _ in stems],
                [w for _, w in stems])
        stem = pickers[biological]()
        base = "".join(rng.choice(N.DRUG_SYLLABLES)
            for _ in range(rng.choice((1, 2, 2, 3)))) + N.STEMS[stem]
        form = rng.choices([f for f, _ in forms], [w for _, w in forms])[0]
        return form.format(base)

    def code_drug(self, sponsor, category):
        rng = self.rng
        prefix = N.SPONSOR_CODES[sponsor % len(N.SPONSOR_CODES)]
        code = f"{prefix}{rng.choice(['', '-'])}{rng.randrange(1000, 9999)}"
        if category == 'biological':
            return rng.choice([f"注射用{code}", f"{code}注射液"])
        return rng.choice([f"{code}片", f"{code}胶囊", f"注射用{code}"])

    def new_project(self, spec, phase_unit):
        rng = self.rng
        spec_name = self.specialties[spec]['name']
        if phase_unit:
            phase = rng.choices(['i', 'be', 'other'], [45, 50, 5])[0]
        else:
            phase = rng.choices(['i', 'ii', 'iii', 'iv', 'other'],
                [12, 28, 45, 8, 7])[0]
        if phase == 'be':
            category = 'chemical'
        elif spec_name in N.TCM_SPECIALTIES:
            category = rng.choices(
                ['tcm', 'chemical', 'biological'], [75, 20, 5])[0]
        else:
            category = rng.choices(
                ['chemical', 'biological', 'tcm'], [52, 42, 6])[0]
        cell_gene = (category == 'biological'
            and spec_name in ("肿瘤科", "血液科", "儿童血液肿瘤科", "眼科")
            and phase in ('i', 'ii') and rng.random() < 0.3)
        innovative = phase in ('i', 'ii', 'iii') and (
            cell_gene or rng.random() < (0.8 if phase == 'i' else 0.5))
        sponsor = self._sponsor()
        if innovative and not cell_gene and category != 'tcm' and (
                rng.random() < 0.35):
            drug = self.code_drug(sponsor, category)
        else:
            drug = self.drug(category, spec_name, phase, cell_gene)
        indication = rng.choice(N.SPECIALTIES[spec_name][2])
        if indication == "健康受试者":
            templates = N.HEALTHY_TEMPLATES[phase]
        else:
            templates = N.TITLE_TEMPLATES[phase]
        title = rng.choice(templates).format(drug=drug, ind=indication)
        return {
            'title': title,
            'drug_name': drug,
            'sponsor': self.sponsors[sponsor],
            'phase': phase,
            'drug_category': category,
            'is_innovative': innovative,
            'is_cell_gene': cell_gene,
            '_spec_name': spec_name,
            '_institutions': set(),
            '_state': None,
            '_start': None,
            }

    def state_dates(self, state):
        rng = self.rng
        today = self.today
        first = dt.date(2013, 9, 1)
        recent = self.__dict__.get('_recent')
        if recent is None:
            recent = self._recent = Picker(rng, range(2013, today.year + 1),
                [(y - 2010) ** 1.5 for y in range(2013, today.year + 1)])
        if state == 'preparing':
            registered = today - dt.timedelta(days=rng.randrange(10, 365))
            start = (None if rng.random() < 0.4 else
                today + dt.timedelta(days=rng.randrange(5, 120)))
            return registered, start, None
        if state in ('ongoing', 'suspended'):
            start = today - dt.timedelta(
                days=int(rng.triangular(20, 1800, 200)))
            return start - dt.timedelta(days=rng.randrange(15, 150)), \
                start, None
        year = recent()
        start = random_date(rng, max(first, dt.date(year, 1, 1)),
            min(dt.date(year, 12, 31), today - dt.timedelta(days=200)))
        days = (rng.randrange(120, 1500) if state == 'completed'
            else rng.randrange(30, 700))
        end = min(start + dt.timedelta(days=days),
            today - dt.timedelta(days=rng.randrange(1, 60)))
        if end <= start:
            end = start + dt.timedelta(days=30)
        registered = max(first, start - dt.timedelta(
                days=rng.randrange(15, 150)))
        return registered, start, end

    def build_trials(self):
        rng = self.rng
        total = count_for('trials', self.scale)
        specs = [s for s in range(len(self.specialties))
            if self.pis_by_specialty.get(s)]
        counts = apportion(total, [self.specialties[s]['_weight']
                for s in specs])
        pis = [i for i, v in enumerate(self.investigators) if v['is_pi']]
        n_over = min(count_for('overloaded_pis', self.scale), len(pis))
        self.overloaded = set(rng.sample(pis, n_over))
        projects, by_specialty_name = [], defaultdict(list)
        reg_serials = defaultdict(set)
        per_year = max(1, total) / 10
        digits = 4 if per_year < 6000 else 5
        states = ['completed', 'ongoing', 'preparing', 'terminated',
            'suspended']
        state_weights = [42, 35, 10, 8, 5]
        rows = []
        for spec, count in zip(specs, counts, strict=True):
            inst = self.specialties[spec]['_institution']
            spec_name = self.specialties[spec]['name']
            phase_unit = spec_name in N.PHASE_ONE_UNITS
            spec_pis = self.pis_by_specialty[spec]
            pi_weights = [(6 if p in self.overloaded else 1) / (r + 1)
                for r, p in enumerate(spec_pis)]
            pick_pi = Picker(rng, spec_pis, pi_weights)
            for _ in range(count):
                project = None
                candidates = by_specialty_name[spec_name]
                if candidates and not phase_unit and rng.random() < 0.2:
                    p = projects[rng.choice(candidates[-200:])]
                    if inst not in p['_institutions']:
                        project = p
                if project is None:
                    project = self.new_project(spec, phase_unit)
                    projects.append(project)
                    by_specialty_name[spec_name].append(len(projects) - 1)
                pi = pick_pi()
                if project['_state'] is None or rng.random() < 0.15:
                    if pi in self.overloaded and rng.random() < 0.85:
                        state = 'ongoing'
                    else:
                        state = rng.choices(states, state_weights)[0]
                    registered, start, end = self.state_dates(state)
                    if project['_state'] is None:
                        project['_state'] = state
                        project['_start'] = (registered, start, end)
                else:
                    state = project['_state']
                    registered, start, end = project['_start']
                    if start and rng.random() < 0.7:
                        shift = dt.timedelta(days=rng.randrange(0, 90))
                        start = start + shift
                        if end:
                            end = max(end, start + dt.timedelta(days=30))
                            if end > self.today:
                                state, end = 'ongoing', None
                        elif state == 'preparing':
                            pass
                        elif start > self.today:
                            start = self.today
                if 'registration_no' not in project:
                    year = registered.year
                    while True:
                        serial = rng.randrange(1, 10 ** digits)
                        if serial not in reg_serials[year]:
                            reg_serials[year].add(serial)
                            break
                    project['registration_no'] = (
                        f'CTR{year}{serial:0{digits}d}')
                project['_institutions'].add(inst)
                row = {k: v for k, v in project.items()
                    if not k.startswith('_')}
                row.update({
                        '_institution': inst,
                        '_specialty': spec,
                        '_pi': pi,
                        'start_date': start,
                        'end_date': end,
                        'state': state,
                        })
                rows.append(row)
        self.trials = rows
        self.projects = len(projects)

    def build(self):
        self.build_institutions()
        self.build_specialties()
        self.build_investigators()
        self.build_trials()


# --- loading --------------------------------------------------------------

def bulk_insert(Model, rows):
    from trytond.modules.ct_base.bulk import bulk_insert
    return bulk_insert(Model, rows)


def allocate_ids(Model, count):
    from trytond.modules.ct_base.bulk import allocate_ids
    return allocate_ids(Model, count)


def _sibling(name):
    "Import data/<name>.py whether or not data/ is on sys.path"
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)),
        f'{name}.py')
    spec = importlib.util.spec_from_file_location(f'ct_demo_{name}', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _log(log, message, *args):
    if log:
        log(message % args if args else message)


def already_loaded(plan):
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Institution = pool.get('ct.institution')
    User = pool.get('res.user')
    with Transaction().set_context(active_test=False):
        codes = [i['code'] for i in plan.institutions[:50]]
        if Institution.search([('code', 'in', codes)], limit=1):
            return True
        if User.search([('login', 'in',
                        [u for u, _, _ in ROLE_USERS] + INSTITUTION_USERS)],
                limit=1):
            return True
    return False


def generate(scale=1.0, seed=42, reference_date=REFERENCE_DATE, log=None):
    """Load the demo data inside the current transaction.

    Return a dict of row counts, or None if the data is already loaded."""
    from trytond.pool import Pool
    pool = Pool()
    Party = pool.get('party.party')
    Institution = pool.get('ct.institution')
    Specialty = pool.get('ct.specialty')
    Investigator = pool.get('ct.investigator')
    Trial = pool.get('ct.trial')
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    from trytond.modules.ct_base.encrypted import get_cipher

    started = time.monotonic()
    plan = Plan(scale, seed, reference_date)
    _log(log, "plan built in %.1fs", time.monotonic() - started)
    if already_loaded(plan):
        # A database loaded before ct_inspection was activated gets the
        # inspection history on its own.
        if ('ct.inspection' in dict(pool.iterobject())
                and not pool.get('ct.inspection').search([], limit=1)):
            return _sibling('inspections').generate_inspections(
                seed, reference_date, bulk_insert, allocate_ids, log=log)
        return None

    def public(row):
        return {k: v for k, v in row.items() if not k.startswith('_')}

    # Parties and institutions (ORM)
    t0 = time.monotonic()
    inst_ids = []
    for i in range(0, len(plan.institutions), 500):
        part = plan.institutions[i:i + 500]
        parties = Party.create([{'name': r['name']} for r in part])
        values = []
        for row, party in zip(part, parties, strict=True):
            value = public(row)
            value.pop('name')
            value['party'] = party.id
            values.append(value)
        inst_ids.extend(r.id for r in Institution.create(values))
    _log(log, "%d institutions in %.1fs", len(inst_ids),
        time.monotonic() - t0)

    # Specialties (ORM)
    t0 = time.monotonic()
    spec_ids = []
    for i in range(0, len(plan.specialties), 1000):
        part = plan.specialties[i:i + 1000]
        values = []
        for row in part:
            value = public(row)
            value['institution'] = inst_ids[row['_institution']]
            values.append(value)
        spec_ids.extend(r.id for r in Specialty.create(values))
    _log(log, "%d specialties in %.1fs", len(spec_ids),
        time.monotonic() - t0)

    # Investigators (SQL, encrypted columns computed with the record id)
    t0 = time.monotonic()
    cipher = get_cipher()
    aad = Investigator._encryption_aad
    inv_ids = allocate_ids(Investigator, len(plan.investigators))
    rows = []
    for id_, row in zip(inv_ids, plan.investigators, strict=True):
        rows.append({
                'id': id_,
                'name': row['name'],
                'id_number_cipher': cipher.encrypt(
                    row['id_number'], aad('id_number', id_)),
                'phone_cipher': cipher.encrypt(
                    row['phone'], aad('phone', id_)),
                'title': row['title'],
                'institution': inst_ids[row['_institution']],
                'specialty': spec_ids[row['_specialty']],
                'is_pi': row['is_pi'],
                'gcp_training_date': row['gcp_training_date'],
                'active': True,
                })
    bulk_insert(Investigator, rows)
    _log(log, "%d investigators in %.1fs", len(rows), time.monotonic() - t0)

    # Trials (SQL)
    t0 = time.monotonic()
    trial_ids = allocate_ids(Trial, len(plan.trials))
    rows = []
    for id_, row in zip(trial_ids, plan.trials, strict=True):
        value = public(row)
        value.update({
                'id': id_,
                'institution': inst_ids[row['_institution']],
                'specialty': spec_ids[row['_specialty']],
                'pi': inv_ids[row['_pi']],
                })
        rows.append(value)
    bulk_insert(Trial, rows)
    _log(log, "%d trials in %.1fs", len(rows), time.monotonic() - t0)

    # Users
    t0 = time.monotonic()
    # One hash for all (salted once): hashing is deliberately slow
    password_hash = User.hash_password(DEMO_PASSWORD)
    values = []
    # Extra groups of modules that may be activated: the demo regulator
    # also manages the risk rules.
    extra_groups = {'regulator': [('ct_risk', 'group_risk_manager')]}
    for login, name, group in ROLE_USERS:
        groups = [ModelData.get_id('ct_base', group)]
        for module, xml_id in extra_groups.get(login, []):
            try:
                groups.append(ModelData.get_id(module, xml_id))
            except KeyError:
                pass
        values.append({
                'login': login,
                'name': name,
                'password_hash': password_hash,
                'groups': [('add', groups)],
                })
    institution_group = ModelData.get_id('ct_base', 'group_institution')
    for n, login in enumerate(INSTITUTION_USERS):
        values.append({
                'login': login,
                'name': f"机构用户{n + 1}（{plan.institutions[n]['name']}）",
                'password_hash': password_hash,
                'ct_institution': inst_ids[n],
                'groups': [('add', [institution_group])],
                })
    if 'password_changed' in User._fields:
        # ct_security's policy: demo passwords are fresh, not to be changed
        now = dt.datetime.now()
        for value in values:
            value.update(password_changed=now, password_must_change=False)
    User.create(values)
    _log(log, "%d users in %.1fs", len(values), time.monotonic() - t0)
    extra = {}
    if 'ct.inspection' in dict(pool.iterobject()):
        generate_inspections = _sibling('inspections').generate_inspections
        t0 = time.monotonic()
        extra = generate_inspections(seed, reference_date, bulk_insert,
            allocate_ids, log=log)
        _log(log, "inspection history in %.1fs", time.monotonic() - t0)
    return {
        'institutions': len(inst_ids),
        'clinical': sum(1 for r in plan.institutions
            if r['kind'] == 'clinical'),
        'nonclinical': sum(1 for r in plan.institutions
            if r['kind'] == 'nonclinical'),
        'specialties': len(spec_ids),
        'investigators': len(inv_ids),
        'pis': sum(1 for r in plan.investigators if r['is_pi']),
        'dual_pis': len(plan.dual_pis),
        'overloaded_pis': len(plan.overloaded),
        'trials': len(trial_ids),
        'projects': plan.projects,
        'users': len(values),
        **extra,
        }


def table_counts():
    "Row counts of the demo tables and their history tables"
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    cursor = Transaction().connection.cursor()
    from sql.aggregate import Count
    result = {}
    for name in ['party.party', 'ct.institution', 'ct.specialty',
            'ct.investigator', 'ct.trial', 'res.user']:
        Model = pool.get(name)
        tables = [Model.__table__()]
        if Model._history:
            tables.append(Model.__table_history__())
        for table in tables:
            cursor.execute(*table.select(Count()))
            result[table._name] = cursor.fetchone()[0]
    return result


def digest():
    """SHA-256 of the demo data by natural keys (no ids, no timestamps,
    encrypted values decrypted)"""
    from trytond.pool import Pool
    from trytond.transaction import Transaction
    pool = Pool()
    Investigator = pool.get('ct.investigator')
    cursor = Transaction().connection.cursor()
    party = pool.get('party.party').__table__()
    inst = pool.get('ct.institution').__table__()
    spec = pool.get('ct.specialty').__table__()
    inv = Investigator.__table__()
    trial = pool.get('ct.trial').__table__()
    h = hashlib.sha256()

    def norm(value):
        if isinstance(value, bool):
            return int(value)
        if isinstance(value, (dt.date, tuple)):
            return str(value)
        return value

    def feed(rows):
        for row in sorted(repr(tuple(map(norm, r))) for r in rows):
            h.update(row.encode())
        h.update(b'|')

    cursor.execute(*inst.join(party, condition=inst.party == party.id)
        .select(inst.id, inst.code, party.name, inst.credit_code, inst.kind,
            inst.district, inst.grade, inst.filing_date, inst.address,
            inst.state))
    rows = cursor.fetchall()
    codes = {r[0]: r[1] for r in rows}
    feed([r[1:] for r in rows])
    cursor.execute(*spec.select(spec.id, spec.institution, spec.name,
            spec.direction, spec.filing_date, spec.state))
    rows = cursor.fetchall()
    specs = {r[0]: (codes[r[1]], r[2]) for r in rows}
    feed([(codes[r[1]],) + r[2:] for r in rows])
    cursor.execute(*inv.select(inv.id, inv.institution, inv.specialty,
            inv.name, inv.title, inv.is_pi, inv.gcp_training_date))
    rows = cursor.fetchall()
    values = Investigator.get_encrypted(
        Investigator.browse([r[0] for r in rows]), ['id_number', 'phone'])
    people = {r[0]: (codes[r[1]], values['id_number'][r[0]]) for r in rows}
    feed([(codes[r[1]], specs.get(r[2]), r[3], values['id_number'][r[0]],
                values['phone'][r[0]]) + r[4:] for r in rows])
    cursor.execute(*trial.select(trial.institution, trial.specialty,
            trial.pi, trial.registration_no, trial.title, trial.drug_name,
            trial.sponsor, trial.phase, trial.drug_category,
            trial.is_innovative, trial.is_cell_gene, trial.start_date,
            trial.end_date, trial.state))
    feed([(codes[r[0]], specs.get(r[1]), people.get(r[2])) + tuple(r[3:])
            for r in cursor.fetchall()])
    return h.hexdigest()


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('-c', '--config', dest='config',
        default=os.environ.get('TRYTOND_CONFIG'))
    parser.add_argument('-d', '--database', dest='database', required=True)
    parser.add_argument('--scale', type=float, default=1.0)
    parser.add_argument('--seed', type=int, default=42)
    parser.add_argument('--reference-date', type=dt.date.fromisoformat,
        default=REFERENCE_DATE,
        help="'today' of the generated dates (default %(default)s)")
    parser.add_argument('--digest', action='store_true',
        help="print a digest of the loaded data")
    parser.add_argument('-q', '--quiet', action='store_true')
    options = parser.parse_args(argv)

    from trytond import config as tconfig
    tconfig.update_etc(options.config)
    from trytond.pool import Pool
    from trytond.transaction import Transaction

    log = None if options.quiet else (
        lambda m: print(m, file=sys.stderr, flush=True))
    started = time.monotonic()
    Pool.start()
    pool = Pool(options.database)
    pool.init()
    _log(log, "pool loaded in %.1fs", time.monotonic() - started)
    started = time.monotonic()
    with Transaction().start(options.database, 0,
            context={'active_test': False}) as transaction:
        result = generate(options.scale, options.seed,
            options.reference_date, log=log)
        if result is None:
            print("demo data already loaded: nothing to do")
        else:
            transaction.commit()
            elapsed = time.monotonic() - started
            print(f"loaded scale {options.scale:g} seed {options.seed} "
                f"in {elapsed:.1f}s: " + ", ".join(
                    f"{k} {v}" for k, v in result.items()))
    with Transaction().start(options.database, 0, readonly=True):
        print("rows: " + ", ".join(
                f"{k} {v}" for k, v in table_counts().items()))
        if options.digest:
            print(f"digest {digest()}")
    return 0


if __name__ == '__main__':
    sys.exit(main())
