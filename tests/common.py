"""Helpers of the cross-module tests."""
import pathlib

ADDONS = pathlib.Path(__file__).resolve().parent.parent / 'addons'


def ct_modules():
    "Names of every ct_* module of the repository"
    return sorted(p.name for p in ADDONS.glob('ct_*')
        if (p / 'tryton.cfg').exists())
