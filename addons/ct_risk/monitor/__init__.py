"""The monitors of risk rules, one class per file behind one interface
(base.Monitor); importing this package registers them all."""
from . import (  # noqa: F401
    domain,
    evaluation,
    first_inspection_due,
    inspection_conclusion,
    kri_outlier,
    nmpa_defect,
    pi_overload,
    rectification_overdue,
)
from .base import MONITORS, Monitor, get_monitor, register

__all__ = ['MONITORS', 'Monitor', 'get_monitor', 'register']
