"""Encrypted-at-rest fields.

A sensitive field is a ``fields.Function`` whose value is kept, encrypted,
in a stored companion column named ``<field>_cipher``.  Every envelope is
bound (as associated data) to the table, the column and the record id, so a
ciphertext copied to another row or column does not decrypt.

The cipher is pluggable: ``set_cipher()`` installs another implementation
(``ct_security`` installs its key-managed provider).  The default one is
SM4-GCM with a key read from the configuration.
"""
import base64
import hashlib
import logging
import os

from trytond import backend, config
from trytond.model import fields
from trytond.pool import Pool
from trytond.tools import grouped_slice
from trytond.transaction import Transaction

logger = logging.getLogger(__name__)

__all__ = ['FieldCipher', 'SM4GCMCipher', 'get_cipher', 'set_cipher',
    'EncryptedMixin', 'encrypted_field', 'mask']


class FieldCipher:
    "Interface of the cipher used by encrypted fields"

    def encrypt(self, plaintext, aad):
        "Return an ASCII envelope of the text ``plaintext``"
        raise NotImplementedError

    def decrypt(self, envelope, aad):
        "Return the text sealed in ``envelope``; raise ValueError if forged"
        raise NotImplementedError


class SM4GCMCipher(FieldCipher):
    """SM4-GCM with a single configured key.

    Envelope: ``v1:<base64(nonce | ciphertext | tag)>``.
    The key comes from ``[ct] field_key`` (64 hex digits are cut to 128
    bits) or the file named by ``[ct] field_key_file``; without either, a
    development key derived from a fixed label is used and a warning is
    logged.
    """
    prefix = 'v1:'

    def __init__(self, key=None):
        if key is None:
            key = self._configured_key()
        if len(key) != 16:
            raise ValueError("SM4 key must be 16 bytes")
        self._key = key

    @staticmethod
    def _configured_key():
        value = config.get('ct', 'field_key', default=None)
        path = config.get('ct', 'field_key_file', default=None)
        if path and os.path.exists(path):
            with open(path) as fp:
                value = fp.read().strip()
        if value:
            return bytes.fromhex(value)[:16]
        logger.warning("no [ct] field_key configured: using the "
            "development key, not for production")
        return hashlib.sha256(b'ct-platform-development-key').digest()[:16]

    def _gcm(self, nonce, tag=None):
        from cryptography.hazmat.primitives.ciphers import (
            Cipher,
            algorithms,
            modes,
        )
        return Cipher(algorithms.SM4(self._key), modes.GCM(nonce, tag))

    def encrypt(self, plaintext, aad):
        nonce = os.urandom(12)
        encryptor = self._gcm(nonce).encryptor()
        encryptor.authenticate_additional_data(aad)
        data = encryptor.update(plaintext.encode('utf-8'))
        data += encryptor.finalize()
        raw = nonce + data + encryptor.tag
        return self.prefix + base64.b64encode(raw).decode('ascii')

    def decrypt(self, envelope, aad):
        from cryptography.exceptions import InvalidTag
        if not envelope.startswith(self.prefix):
            raise ValueError("unknown envelope version")
        raw = base64.b64decode(envelope[len(self.prefix):])
        if len(raw) < 28:
            raise ValueError("truncated envelope")
        nonce, data, tag = raw[:12], raw[12:-16], raw[-16:]
        decryptor = self._gcm(nonce, tag).decryptor()
        decryptor.authenticate_additional_data(aad)
        try:
            plain = decryptor.update(data) + decryptor.finalize()
        except InvalidTag:
            raise ValueError("envelope does not authenticate")
        return plain.decode('utf-8')


_cipher = None


def get_cipher():
    global _cipher
    if _cipher is None:
        _cipher = SM4GCMCipher()
    return _cipher


def set_cipher(cipher):
    "Install ``cipher`` for every encrypted field (None: the default)"
    global _cipher
    _cipher = cipher


def mask(value, keep_start=3, keep_end=4):
    "Mask the middle of ``value``: 310101********1234"
    if not value:
        return value
    if len(value) <= keep_start + keep_end:
        return '*' * len(value)
    return (value[:keep_start] + '*' * (len(value) - keep_start - keep_end)
        + value[-keep_end:])


def encrypted_field(field):
    "Wrap ``field`` as an encrypted Function field"
    return fields.Function(
        field, 'get_encrypted_field', setter='set_encrypted')


class EncryptedMixin:
    "Getter and setter of encrypted Function fields (see encrypted_field)"
    __slots__ = ()

    @classmethod
    def _encryption_aad(cls, name, record_id):
        return f'{cls._table}|{name}|{record_id}'.encode()

    # Groups (module.xml_id) whose users read the clear values; everybody
    # else with read access gets them masked (310101********1234).
    _encrypted_readers = (
        'ct_base.group_regulator', 'ct_base.group_inspector',
        'ct_base.group_reviewer', 'ct_base.group_institution',
        )

    @classmethod
    def _encrypted_names(cls):
        return [n for n, f in cls._fields.items()
            if isinstance(f, fields.Function)
            and f.getter in {'get_encrypted', 'get_encrypted_field'}]

    @classmethod
    def may_read_clear(cls):
        "True when the user may see the decrypted values"
        pool = Pool()
        User = pool.get('res.user')
        ModelData = pool.get('ir.model.data')
        transaction = Transaction()
        # Getters run without access checks even for users' reads, so the
        # user decides. Server code needing the clear value of another
        # user's record reads it with get_encrypted (or as root).
        if transaction.user == 0:
            return True
        allowed = {ModelData.get_id(*xml_id.split('.', 1))
            for xml_id in cls._encrypted_readers}
        return bool(allowed & set(User.get_groups()))

    @classmethod
    def get_encrypted_field(cls, records, names):
        "The getter of the fields: clear or masked depending on the user"
        if isinstance(names, str):
            return cls.get_encrypted_field(records, [names])[names]
        result = cls.get_encrypted(records, names)
        if not cls.may_read_clear():
            result = {n: {i: mask(v) for i, v in values.items()}
                for n, values in result.items()}
        return result

    @classmethod
    def copy(cls, records, default=None):
        "Copies re-encrypt: an envelope is bound to its record id"
        names = cls._encrypted_names()
        default = default.copy() if default is not None else {}
        for name in names:
            default[f'{name}_cipher'] = None
        copies = super().copy(records, default=default)
        values = cls.get_encrypted(records, names)
        for record, copy in zip(records, copies, strict=True):
            for name in names:
                if values[name].get(record.id):
                    cls.set_encrypted(
                        [copy], name, values[name][record.id])
        return copies

    @classmethod
    def get_encrypted(cls, records, names):
        if isinstance(names, str):
            return cls.get_encrypted(records, [names])[names]
        cipher = get_cipher()
        result = {n: {} for n in names}
        table = cls.__table__()
        cursor = Transaction().connection.cursor()
        columns = [getattr(table, f'{n}_cipher') for n in names]
        ids = [r.id for r in records]
        for sub_ids in grouped_slice(ids, backend.MAX_QUERY_PARAMS):
            cursor.execute(*table.select(
                    table.id, *columns, where=table.id.in_(list(sub_ids))))
            for row in cursor:
                for name, envelope in zip(names, row[1:], strict=True):
                    result[name][row[0]] = (
                        cipher.decrypt(
                            envelope, cls._encryption_aad(name, row[0]))
                        if envelope else None)
        return result

    @classmethod
    def set_encrypted(cls, records, name, value):
        cipher = get_cipher()
        table = cls.__table__()
        column = getattr(table, f'{name}_cipher')
        cursor = Transaction().connection.cursor()
        for record in records:
            envelope = (cipher.encrypt(
                    value, cls._encryption_aad(name, record.id))
                if value else None)
            cursor.execute(*table.update(
                    [column], [envelope], where=table.id == record.id))

