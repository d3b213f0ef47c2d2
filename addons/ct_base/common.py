"""Shared selections and helpers of the clinical-trial platform."""

# The sixteen districts of Shanghai, keyed by pinyin.
DISTRICTS = [
    ('huangpu', "Huangpu"),
    ('xuhui', "Xuhui"),
    ('changning', "Changning"),
    ('jingan', "Jing'an"),
    ('putuo', "Putuo"),
    ('hongkou', "Hongkou"),
    ('yangpu', "Yangpu"),
    ('minhang', "Minhang"),
    ('baoshan', "Baoshan"),
    ('jiading', "Jiading"),
    ('pudong', "Pudong New Area"),
    ('jinshan', "Jinshan"),
    ('songjiang', "Songjiang"),
    ('qingpu', "Qingpu"),
    ('fengxian', "Fengxian"),
    ('chongming', "Chongming"),
    ]

INSTITUTION_KINDS = [
    ('clinical', "Clinical Trial Institution"),
    ('nonclinical', "Non-clinical (GLP) Institution"),
    ]



def rec_name_domain(clause, names):
    """The search_rec_name domain matching any of the fields names (all of
    them for a negative operator)"""
    _, operator, operand, *extra = clause
    bool_op = 'AND' if operator.startswith('!') or operator.startswith(
        'not ') else 'OR'
    return [bool_op] + [(name, operator, operand, *extra) for name in names]
