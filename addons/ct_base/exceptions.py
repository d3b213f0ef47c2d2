from trytond.exceptions import UserError
from trytond.model.exceptions import ValidationError


class InstitutionError(ValidationError):
    pass


class JobError(UserError):
    pass


class OutboxError(UserError):
    pass


class CalendarError(ValidationError):
    pass


class AttachmentError(ValidationError):
    pass
