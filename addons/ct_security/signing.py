"""SM2 signatures of approved documents (the ct_base signer) and their
verification by the security administrator."""
from trytond.model import ModelView, fields
from trytond.modules.ct_base.signature import Signer, signed_models
from trytond.pool import Pool
from trytond.transaction import without_check_access
from trytond.wizard import Button, StateView, Wizard

from .crypto import SM2, get_provider

PURPOSE = 'document.signing'


class ProviderSigner(Signer):
    "SM2 (with SM3) through the crypto provider; keys in ct.security.key"
    algorithm = 'SM2-SM3'

    @staticmethod
    def _store():
        from .key import KEY_STORE
        try:
            Pool().get('ct.security.key')
        except KeyError:
            return None
        return KEY_STORE

    def sign(self, data):
        store = self._store()
        if store is None:
            return None
        provider = get_provider(store)
        record = provider.key(PURPOSE, algorithm=SM2)
        return f'{PURPOSE}:{record.version}', provider.sign(PURPOSE, data)

    def verify(self, key_id, data, signature):
        store = self._store()
        if store is None:
            return False
        purpose, _, version = key_id.rpartition(':')
        provider = get_provider(store)
        public_key = provider.public_key(purpose, int(version))
        return provider.verify(public_key, data, signature)


def verify_all():
    """Verify every signed document of every model; return
    [(model, label, valid count, [tampered records])]"""
    report = []
    for Model in signed_models():
        # The auditor verifies documents it may not read otherwise.
        with without_check_access():
            records = Model.search([('signature', '!=', None)],
                order=[('id', 'ASC')])
            states = Model.verify_documents(records)
        tampered = [r for r in records if states[r.id] == 'tampered']
        report.append((Model.__name__, Model.__string__ or Model.__name__,
                len(records) - len(tampered), tampered))
    return report


class SignatureVerifyResult(ModelView):
    "Signature verification"
    __name__ = 'ct.security.signature.verify.result'
    __string__ = "Signature Verification"

    valid = fields.Integer("Valid Signatures", readonly=True)
    tampered = fields.Integer("Tampered Documents", readonly=True)
    detail = fields.Text("Detail", readonly=True)


class SignatureVerify(Wizard):
    "Verify the signatures of all approved documents"
    __name__ = 'ct.security.signature.verify'
    start = StateView('ct.security.signature.verify.result',
        'ct_security.signature_verify_result_view_form', [
            Button("Close", 'end', 'tryton-close', default=True),
            ])

    def default_start(self, fields):
        from trytond.i18n import gettext
        report = verify_all()
        lines = []
        for _, label, valid, tampered in report:
            lines.append(gettext('ct_security.msg_signature_line',
                    model=label, valid=valid, tampered=len(tampered)))
            for record in tampered:
                lines.append('  ✗ ' + record.rec_name)
        return {
            'valid': sum(r[2] for r in report),
            'tampered': sum(len(r[3]) for r in report),
            'detail': '\n'.join(lines),
            }
