from trytond.exceptions import UserError
from trytond.model.exceptions import AccessError, ValidationError


class ClauseImportError(UserError):
    pass


class InspectionLockedError(AccessError):
    pass


class InspectionError(ValidationError):
    pass


class DefectError(ValidationError):
    pass


class RectificationError(UserError):
    pass


class EvaluationError(UserError):
    pass


class NmpaImportError(UserError):
    pass
