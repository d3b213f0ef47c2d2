# Charts register themselves on import; the models are listed in tryton.cfg.
from . import stats  # noqa: F401
