from trytond.pool import PoolMeta


class Job(metaclass=PoolMeta):
    __name__ = 'ct.job'

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls.kind.selection.append(('nmpa_import', "NMPA Import"))
