from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction


class Rule(metaclass=PoolMeta):
    """Record rules know the user's institution.

    The institution is added to both the PYSON context and the cache key:
    rule domains are cached per key, so without it two institutions' users
    with the same groups would share one decoded domain.
    """
    __name__ = 'ir.rule'

    @classmethod
    def _get_context(cls, model_name):
        context = super()._get_context(model_name)
        context['ct_institution'] = (
            Pool().get('res.user').get_ct_institution())
        return context

    @classmethod
    def _get_cache_key(cls, model_names):
        return (*super()._get_cache_key(model_names),
            Pool().get('res.user').get_ct_institution())


class Action(metaclass=PoolMeta):
    "URL actions may name the current database as {database}"
    __name__ = 'ir.action'

    @classmethod
    def get_action_values(cls, type_, action_ids, columns=None):
        values = super().get_action_values(
            type_, action_ids, columns=columns)
        if type_ == 'ir.action.url':
            database = Transaction().database.name
            for value in values:
                value['url'] = value['url'].replace('{database}', database)
        return values
