from sql.aggregate import Count
from trytond import backend
from trytond.model import DeactivableMixin, Index, ModelSQL, ModelView, fields
from trytond.pool import Pool
from trytond.pyson import Eval
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

from .changelog import ChangeLogMixin
from .encrypted import EncryptedMixin, encrypted_field, mask

TITLES = [
    (None, ""),
    ('chief_physician', "Chief Physician"),
    ('associate_chief_physician', "Associate Chief Physician"),
    ('attending_physician', "Attending Physician"),
    ('resident_physician', "Resident Physician"),
    ('professor', "Professor"),
    ('associate_professor', "Associate Professor"),
    ('researcher', "Researcher"),
    ('associate_researcher', "Associate Researcher"),
    ('pharmacist', "Chief Pharmacist"),
    ('nurse', "Chief Nurse"),
    ('other', "Other"),
    ]


class Investigator(
        ChangeLogMixin, EncryptedMixin, DeactivableMixin, ModelSQL,
        ModelView):
    "A researcher of an institution; PIs lead trials"
    __name__ = 'ct.investigator'
    __string__ = "Investigator"
    _history = True
    _changelog_masked = {'id_number', 'phone'}

    name = fields.Char("Name", required=True, strip=True)
    id_number = encrypted_field(fields.Char("ID Number"))
    id_number_cipher = fields.Char("ID Number (encrypted)", readonly=True)
    id_number_masked = fields.Function(
        fields.Char("ID Number"), 'get_masked')
    phone = encrypted_field(fields.Char("Phone"))
    phone_cipher = fields.Char("Phone (encrypted)", readonly=True)
    phone_masked = fields.Function(fields.Char("Phone"), 'get_masked')
    title = fields.Selection(TITLES, "Title", sort=False)
    institution = fields.Many2One(
        'ct.institution', "Institution", required=True,
        ondelete='CASCADE')
    specialty = fields.Many2One(
        'ct.specialty', "Specialty", ondelete='SET NULL',
        domain=[('institution', '=', Eval('institution', -1))])
    is_pi = fields.Boolean("Principal Investigator")
    gcp_training_date = fields.Date("GCP Training Date")
    trials = fields.One2Many('ct.trial', 'pi', "Trials as PI")
    ongoing_trial_count = fields.Function(
        fields.Integer("Ongoing Trials"), 'get_ongoing_trial_count')

    @classmethod
    def __setup__(cls):
        super().__setup__()
        t = cls.__table__()
        cls._sql_indexes.update({
                Index(t, (t.institution, Index.Range()),
                    (t.is_pi, Index.Equality(cardinality='low'))),
                Index(t, (t.specialty, Index.Range())),
                Index(t, (t.name, Index.Similarity())),
                })
        cls._order = [('institution', 'ASC'), ('name', 'ASC'), ('id', 'ASC')]

    @classmethod
    def default_is_pi(cls):
        return False

    def get_rec_name(self, name):
        return self.name

    @classmethod
    def get_masked(cls, investigators, names):
        if isinstance(names, str):
            return cls.get_masked(investigators, [names])[names]
        source = {n: n[:-len('_masked')] for n in names}
        values = cls.get_encrypted(investigators, list(set(source.values())))
        keep = {'id_number': (6, 4), 'phone': (3, 4)}
        return {
            n: {i: mask(v, *keep[source[n]])
                for i, v in values[source[n]].items()}
            for n in names}

    @classmethod
    def get_ongoing_trial_count(cls, investigators, name):
        trial = Pool().get('ct.trial').__table__()
        cursor = Transaction().connection.cursor()
        ids = [i.id for i in investigators]
        result = dict.fromkeys(ids, 0)
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*trial.select(trial.pi, Count(),
                    where=trial.pi.in_(list(sub_ids))
                    & (trial.state == 'ongoing'),
                    group_by=[trial.pi]))
            result.update(cursor)
        return result

    @classmethod
    def copy(cls, investigators, default=None):
        default = default.copy() if default is not None else {}
        default.setdefault('trials', None)
        return super().copy(investigators, default=default)
