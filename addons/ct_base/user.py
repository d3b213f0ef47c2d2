from trytond.cache import Cache
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class User(metaclass=PoolMeta):
    __name__ = 'res.user'
    ct_institution = fields.Many2One(
        'ct.institution', "Institution", ondelete='RESTRICT',
        help="Set for institution users: they see only this "
        "institution's records. Empty for regulators.")
    _ct_institution_cache = Cache(
        'res_user.get_ct_institution', context=False)

    @classmethod
    def __setup__(cls):
        super().__setup__()
        cls._preferences_fields.append('ct_institution')
        cls._context_fields.append('ct_institution')

    @classmethod
    def get_ct_institution(cls, user_id=None):
        "Return the institution id of the user (current by default)"
        if user_id is None:
            user_id = Transaction().user
        result = cls._ct_institution_cache.get(user_id, -1)
        if result == -1:
            table = cls.__table__()
            cursor = Transaction().connection.cursor()
            cursor.execute(*table.select(
                    table.ct_institution, where=table.id == user_id))
            row = cursor.fetchone()
            result = row[0] if row else None
            cls._ct_institution_cache.set(user_id, result)
        return result

    @classmethod
    def on_modification(cls, mode, users, field_names=None):
        super().on_modification(mode, users, field_names=field_names)
        if mode != 'create' and (
                field_names is None or 'ct_institution' in field_names):
            cls._ct_institution_cache.clear()
            Pool().get('ir.rule')._domain_get_cache.clear()
