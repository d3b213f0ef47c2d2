"""Demo inspection history: inspections of every source, defects against
the sample checklist, conclusions, rectifications in every state (some
overdue) and comprehensive evaluations.

Called by generate.py when ct_inspection is activated; deterministic for a
seed. Rows are inserted in bulk (SQL), like the rest of the demo data.
"""
import datetime as dt
import importlib.util
import random
from pathlib import Path

SOURCES = (['center'] * 6) + (['nmpa'] * 3) + (['city'] * 1)
TYPES = (['routine'] * 5) + (['first'] * 2) + ['for_cause', 'special']
INSPECTORS = ['王磊', '李娜', '张伟', '刘洋', '陈静', '杨帆', '赵敏', '黄鑫',
    '周婷', '吴昊', '徐丽', '孙强', '马骏', '朱琳', '胡斌', '郭艳']
DEFECT_NOTES = [
    '抽查{n}份病历，', '抽查{n}例受试者资料，', '现场查看发现', '查阅记录发现',
    ]
JUDGEMENTS = {
    'compliant': '质量管理体系运行有效，缺陷已现场纠正，综合研判为符合要求。',
    'rectify': '存在影响试验质量的缺陷，须在规定期限内完成整改后评定。',
    'non_compliant': '存在严重缺陷，涉及受试者权益或数据真实性，综合研判为不符合要求。',
    }


def sample_institution_values():
    "The institutions named by the NMPA sample workbooks (data/samples)"
    path = Path(__file__).parent / 'samples' / 'make_samples.py'
    spec = importlib.util.spec_from_file_location('ct_make_samples', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return [v.copy() for v in module.SAMPLE_INSTITUTION_VALUES]


def generate_inspections(seed, reference_date, bulk_insert, allocate_ids,
        log=None):
    """Create the demo inspection history; return a dict of counts"""
    from trytond.modules.ct_inspection.common import (
        CLASS_SEVERITY,
        propose_conclusion,
    )
    from trytond.pool import Pool
    pool = Pool()
    Institution = pool.get('ct.institution')
    Specialty = pool.get('ct.specialty')
    Inspection = pool.get('ct.inspection')
    InspectionSpecialty = pool.get('ct.inspection-ct.specialty')
    SpecialtyConclusion = pool.get('ct.inspection.specialty_conclusion')
    Defect = pool.get('ct.inspection.defect')
    Rectification = pool.get('ct.rectification')
    Evaluation = pool.get('ct.evaluation')
    Clause = pool.get('ct.inspection.clause')
    Calendar = pool.get('ct.calendar.day')
    config = pool.get('ct.inspection.configuration')(1)
    rng = random.Random(seed * 7919 + 17)

    # The institutions of the NMPA sample files, so the import can be tried
    # (a demo institution of the same name takes the sample's credit code
    # instead of being duplicated: names must stay unique for matching).
    by_name = {i.name: i for i in Institution.search([])}
    codes = {i.code for i in by_name.values()}
    samples = []
    for values in sample_institution_values():
        same = by_name.get(values['name'])
        if same:
            if same.credit_code != values['credit_code']:
                Institution.write([same], {
                        'credit_code': values['credit_code']})
        elif values['code'] not in codes:
            samples.append(values)
    if samples:
        Institution.create(samples)

    institutions = Institution.search(
        [('kind', '=', 'clinical')], order=[('id', 'ASC')])
    specialties = {}
    for specialty in Specialty.search([], order=[('id', 'ASC')]):
        specialties.setdefault(specialty.institution.id, []).append(
            specialty.id)
    clauses = Clause.search(
        [('catalogue.version', '=', '2023-sample')], order=[('id', 'ASC')])
    by_class = {}
    for clause in clauses:
        by_class.setdefault(clause.item_class, []).append(clause)

    inspections, links, conclusions, defects, rectifications = (
        [], [], [], [], [])
    evaluations = []
    horizon = 4 * 365
    for institution in institutions:
        count = rng.choice([1, 1, 2, 2, 2, 3, 4])
        offsets = sorted(rng.sample(range(3, horizon), count), reverse=True)
        inst_specs = specialties.get(institution.id, [])
        for offset in offsets:
            end = reference_date - dt.timedelta(days=offset)
            start = end - dt.timedelta(days=rng.choice([1, 2, 2, 3]))
            source = rng.choice(SOURCES)
            covered = rng.sample(inst_specs, min(len(inst_specs),
                    rng.choice([1, 1, 2, 3]))) if inst_specs else []
            n_defects = rng.choice([0, 1, 2, 3, 3, 4, 5, 6, 8])
            found = []
            for _ in range(n_defects):
                item_class = rng.choices(
                    ['key', 'major', 'general'], [1, 6, 8])[0]
                clause = rng.choice(by_class[item_class])
                severity = CLASS_SEVERITY[item_class]
                regraded = rng.random() < 0.06 and severity != 'minor'
                found.append({
                        'clause': clause,
                        'specialty': rng.choice(covered) if covered
                        and clause.part == 'specialty' else None,
                        'default_severity': severity,
                        'severity': 'minor' if regraded and severity == 'major'
                        else ('major' if regraded else severity),
                        'regrade_reason': '现场已纠正，经检查组合议调整等级。'
                        if regraded else None,
                        'description': rng.choice(DEFECT_NOTES).format(
                            n=rng.randint(3, 30)) + clause.title + '方面存在不足。',
                        })
            severities = [d['severity'] for d in found]
            conclusion = propose_conclusion(
                severities.count('critical'), severities.count('major'),
                severities.count('minor'), config)
            recent = offset < 10
            state = 'in_progress' if recent else 'concluded'
            inspections.append({
                    'institution': institution.id,
                    'source': source,
                    'inspection_type': rng.choice(TYPES),
                    'date_start': start,
                    'date_end': end,
                    'inspectors': '、'.join(rng.sample(INSPECTORS, 3)),
                    'conclusion': None if recent else conclusion,
                    'judgement': None if recent else JUDGEMENTS[conclusion],
                    'concluded_date': None if recent else end,
                    'external_key': None,
                    'state': state,
                    '_covered': covered,
                    '_defects': found,
                    })
        if inspections and rng.random() < 0.3 and not recent:
            last = inspections[-1]
            evaluations.append({
                    'institution': institution.id,
                    'specialty': None,
                    'date': last['date_end'] + dt.timedelta(days=30),
                    'evaluators': '、'.join(rng.sample(INSPECTORS, 2)),
                    'conclusion': last['conclusion'] or 'compliant',
                    'summary': '结合监督检查及整改情况，' + JUDGEMENTS[
                        last['conclusion'] or 'compliant'],
                    'state': 'approved',
                    '_inspection': len(inspections) - 1,
                    })

    ids = allocate_ids(Inspection, len(inspections))
    rows = []
    for id_, row in zip(ids, inspections, strict=True):
        value = {k: v for k, v in row.items() if not k.startswith('_')}
        value['id'] = id_
        value['number'] = f"JC{row['date_start'].year}-{id_:06d}"
        if row['source'] == 'nmpa':
            value['external_key'] = f"demo:{id_}"
        rows.append(value)
        for specialty in row['_covered']:
            links.append({'inspection': id_, 'specialty': specialty})
            if row['state'] == 'concluded':
                conclusions.append({
                        'inspection': id_,
                        'institution': row['institution'],
                        'specialty': specialty,
                        'conclusion': row['conclusion'],
                        'judgement': JUDGEMENTS[row['conclusion']],
                        })
        for defect in row['_defects']:
            defects.append({
                    'inspection': id_,
                    'institution': row['institution'],
                    'specialty': defect['specialty'],
                    'clause': defect['clause'].id,
                    'clause_code': defect['clause'].code,
                    'clause_text': defect['clause'].title,
                    'item_class': defect['clause'].item_class,
                    'description': defect['description'],
                    'default_severity': defect['default_severity'],
                    'severity': defect['severity'],
                    'regrade_reason': defect['regrade_reason'],
                    })
        if row['state'] == 'concluded' and row['_defects']:
            end = row['date_end']
            due = Calendar.add_working_days(end, config.rectification_days)
            plan_due = Calendar.add_working_days(end, config.plan_days)
            age = (reference_date - due).days
            draw = rng.random()
            if age > 60 and draw < 0.9 or age > 0 and draw < 0.5:
                state = 'accepted'
            elif age > 0:
                state = rng.choice(['waiting_plan', 'plan_submitted',
                        'returned', 'report_submitted'])
            else:
                state = rng.choice(['waiting_plan', 'plan_submitted',
                        'report_submitted'])
            submitted = state in {'report_submitted', 'accepted'}
            late = rng.random() < 0.2
            report_date = (due + dt.timedelta(days=rng.randint(1, 25))
                if late else due - dt.timedelta(days=rng.randint(0, 15)))
            report_date = min(report_date, reference_date)
            rectifications.append({
                    'inspection': id_,
                    'institution': row['institution'],
                    'plan': None if state == 'waiting_plan'
                    else '针对检查发现的缺陷逐条制定整改措施，明确责任人和完成时限。',
                    'plan_due': plan_due,
                    'plan_date': None if state == 'waiting_plan'
                    else min(plan_due, reference_date),
                    'report': '已逐条完成整改，附整改证明材料。'
                    if submitted or state == 'returned' else None,
                    'report_due': due,
                    'report_date': report_date if submitted else None,
                    'return_reason': '整改证明材料不完整，请补充。'
                    if state == 'returned' else None,
                    'return_count': 1 if state == 'returned' else 0,
                    'accepted_date': report_date + dt.timedelta(days=10)
                    if state == 'accepted' else None,
                    'state': state,
                    })
    bulk_insert(Inspection, rows)
    for Model, values in [
            (InspectionSpecialty, links),
            (SpecialtyConclusion, conclusions),
            (Defect, defects),
            (Rectification, rectifications)]:
        new_ids = allocate_ids(Model, len(values))
        for id_, value in zip(new_ids, values, strict=True):
            value['id'] = id_
        bulk_insert(Model, values)
    eval_rows = []
    for id_, row in zip(allocate_ids(Evaluation, len(evaluations)),
            evaluations, strict=True):
        value = {k: v for k, v in row.items() if not k.startswith('_')}
        value['id'] = id_
        value['inspection'] = ids[row['_inspection']]
        eval_rows.append(value)
    bulk_insert(Evaluation, eval_rows)
    return {
        'inspections': len(rows),
        'defects': len(defects),
        'rectifications': len(rectifications),
        'evaluations': len(eval_rows),
        'nmpa_sample_institutions': len(sample_institution_values()),
        }
