"""Signatures of approved and locked documents.

A model mixing in :class:`SignedDocumentMixin` lists in ``_signed_fields``
the fields that make its content; ``sign_documents`` signs the canonical
form of that content when the document is approved or locked, and
``signature_state`` tells later whether the stored content still matches
its signature (valid) or not (tampered).

ct_base does not sign by itself: ct_security installs the SM2 signer with
:func:`set_signer` (the same plug-in point as the field cipher). Without a
signer documents stay unsigned.
"""
import base64
import datetime
import json
from decimal import Decimal

from trytond.model import fields
from trytond.pool import Pool
from trytond.transaction import Transaction, without_check_access

SIGNATURE_STATES = [
    ('unsigned', "Unsigned"),
    ('valid', "Valid"),
    ('tampered', "Tampered"),
    ]


class Signer:
    "Interface of a document signer"
    algorithm = None

    def sign(self, data):
        """Return (key id, signature bytes) for data (bytes), or None when
        signing is not available in this database"""
        raise NotImplementedError

    def verify(self, key_id, data, signature):
        "Return True when signature of data is valid for key id"
        raise NotImplementedError


_signer = None


def get_signer():
    return _signer


def set_signer(signer):
    "Install the signer (None to remove); return the previous one"
    global _signer
    old, _signer = _signer, signer
    return old


def _plain(value):
    if hasattr(value, 'id') and hasattr(value, '__name__'):
        # The id, not the name: renaming a related record (an institution)
        # does not change the signed document.
        return [value.__name__, value.id]
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


class SignedDocumentMixin:
    "Content signature of approved documents"
    __slots__ = ()
    _signed_fields = []

    signature = fields.Text("Signature", readonly=True)
    signature_key = fields.Char("Signing Key", readonly=True)
    signature_algorithm = fields.Char("Signature Algorithm", readonly=True)
    signed_by = fields.Many2One('res.user', "Signed By", readonly=True)
    signed_at = fields.Timestamp("Signed At", readonly=True)
    signature_state = fields.Function(fields.Selection(
            SIGNATURE_STATES, "Signature Status"), 'get_signature_state')

    def signed_content(self):
        "The canonical bytes of the document's content"
        content = {'model': self.__name__, 'id': self.id}
        for name in self._signed_fields:
            content[name] = _plain(getattr(self, name))
        content.update(self.signed_extra())
        return json.dumps(content, ensure_ascii=False, sort_keys=True,
            separators=(',', ':')).encode('utf-8')

    def signed_extra(self):
        "More content to sign (e.g. the full text of the lines)"
        return {}

    @classmethod
    def sign_documents(cls, records):
        "Sign the current content of the records (server side)"
        signer = get_signer()
        if signer is None or not records:
            return
        now = datetime.datetime.now()
        to_write = []
        with without_check_access():
            for record in cls.browse(records):
                signed = signer.sign(record.signed_content())
                if signed is None:
                    continue
                key_id, signature = signed
                to_write.extend([[record], {
                            'signature': base64.b64encode(signature).decode(),
                            'signature_key': key_id,
                            'signature_algorithm': signer.algorithm,
                            'signed_by': Transaction().user or None,
                            'signed_at': now,
                            }])
            if to_write:
                # The key starts with '_': RPC clients cannot set it.
                with Transaction().set_context(_ct_signing=True):
                    cls.write(*to_write)

    @classmethod
    def get_signature_state(cls, records, name):
        return cls.verify_documents(records)

    @classmethod
    def verify_documents(cls, records):
        "Return {id: 'unsigned' | 'valid' | 'tampered'}"
        signer = get_signer()
        result = {}
        with without_check_access():
            for record in cls.browse(records):
                if not record.signature:
                    result[record.id] = 'unsigned'
                    continue
                try:
                    valid = signer is not None and signer.verify(
                        record.signature_key, record.signed_content(),
                        base64.b64decode(record.signature))
                except Exception:
                    valid = False
                result[record.id] = 'valid' if valid else 'tampered'
        return result


def signed_models():
    "The models of the pool that sign their documents"
    return [Model for _, Model in Pool().iterobject()
        if isinstance(Model, type) and issubclass(Model, SignedDocumentMixin)
        and not getattr(Model, '__abstract__', False)]
