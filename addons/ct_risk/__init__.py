# The charts (dashboard, KRI funnel plot) register themselves on import
# (routes are global).
from . import dashboard, funnel  # noqa: F401
