from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class SignalActionError(UserError):
    pass


class RuleError(ValidationError):
    pass


class PatrolError(UserError):
    pass
