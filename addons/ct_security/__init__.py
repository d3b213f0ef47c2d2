# Routes register themselves on import; the models are listed in tryton.cfg.
from . import routes  # noqa: F401
