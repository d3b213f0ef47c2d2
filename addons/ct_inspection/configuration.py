from trytond.model import ModelSingleton, ModelSQL, ModelView, fields


class Configuration(ModelSingleton, ModelSQL, ModelView):
    "Inspection settings: deadlines and conclusion thresholds"
    __name__ = 'ct.inspection.configuration'
    __string__ = "Inspection Configuration"

    rectification_days = fields.Integer(
        "Report Due (Working Days)", required=True,
        domain=[('rectification_days', '>', 0)],
        help="Working days after the inspection ends within which the "
        "institution must submit its rectification report.")
    plan_days = fields.Integer(
        "Plan Due (Working Days)", required=True,
        domain=[('plan_days', '>', 0)],
        help="Working days after the inspection ends within which the "
        "institution must submit its rectification plan.")
    compliant_max_major = fields.Integer(
        "Compliant: Max Major Defects", required=True,
        domain=[('compliant_max_major', '>=', 0)])
    compliant_minor_limit = fields.Integer(
        "Compliant: Minor Defects Below", required=True,
        domain=[('compliant_minor_limit', '>', 0)],
        help="The conclusion 符合要求 is proposed only when there are "
        "fewer minor defects than this.")
    non_compliant_max_critical = fields.Integer(
        "Non-compliant: Critical Defects Above", required=True,
        domain=[('non_compliant_max_critical', '>=', 0)],
        help="More critical defects than this propose 不符合要求.")

    @classmethod
    def default_rectification_days(cls):
        return 20

    @classmethod
    def default_plan_days(cls):
        return 10

    @classmethod
    def default_compliant_max_major(cls):
        return 0

    @classmethod
    def default_compliant_minor_limit(cls):
        return 5

    @classmethod
    def default_non_compliant_max_critical(cls):
        return 0
