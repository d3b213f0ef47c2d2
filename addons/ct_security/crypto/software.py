"""Software provider: ``cryptography`` for SM3, HMAC-SM3, PBKDF2-SM3 and
SM4-GCM, ``gmalglib`` for SM2.

Not a certified cryptographic module: it serves development, tests and
deployments whose 密评 plan accepts a software implementation for a given
item.  Production keys belong in the cipher machine (``sdf.SDFProvider``).

The master key (key-encryption key, SM4-128) wraps every data key.  It
comes from ``[ct_security] master_key`` (32 hex digits) or from the file
named by ``[ct_security] master_key_file``, both outside the database.
Without either, a development key is derived from a fixed label and a
warning is logged; ``[ct_security] require_master_key = True`` turns that
into an error (set it in production).
"""
import hmac as _hmac
import logging
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as crypto_hmac
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC
from trytond import config

from .provider import (
    DEFAULT_UID,
    HMAC_SM3,
    KEY_SIZES,
    NONCE_SIZE,
    SM2,
    SM4,
    CryptoProvider,
    Envelope,
    ProviderError,
    _b64,
    _unb64,
)

logger = logging.getLogger(__name__)

__all__ = ['SoftwareProvider', 'sm3', 'sm4_gcm_seal', 'sm4_gcm_open']

DEVELOPMENT_LABEL = b'ct-platform development master key'


def sm3(data):
    digest = hashes.Hash(hashes.SM3())
    digest.update(data)
    return digest.finalize()


def hmac_sm3(key, data):
    mac = crypto_hmac.HMAC(key, hashes.SM3())
    mac.update(data)
    return mac.finalize()


def sm4_gcm_seal(key, nonce, plaintext, aad):
    "Return (ciphertext, tag)"
    encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
    encryptor.authenticate_additional_data(aad)
    ciphertext = encryptor.update(plaintext) + encryptor.finalize()
    return ciphertext, encryptor.tag


def sm4_gcm_open(key, nonce, ciphertext, tag, aad):
    "Return the plaintext; raise ValueError if it does not authenticate"
    try:
        decryptor = Cipher(
            algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        return decryptor.update(ciphertext) + decryptor.finalize()
    except InvalidTag:
        raise ValueError("envelope does not authenticate")


def _wrap_aad(purpose, version, algorithm):
    return f'ct.security.key|{purpose}|{version}|{algorithm}'.encode()


def load_master_key():
    "Return the configured master key (16 bytes)"
    value = config.get('ct_security', 'master_key', default=None)
    path = config.get('ct_security', 'master_key_file', default=None)
    if not value and path:
        with open(path) as fp:
            value = fp.read().strip()
    if value:
        try:
            key = bytes.fromhex(value)
        except ValueError:
            raise ProviderError("[ct_security] master key is not hexadecimal")
        if len(key) != 16:
            raise ProviderError(
                "[ct_security] master key must be 128 bits (32 hex digits)")
        return key
    if config.getboolean(
            'ct_security', 'require_master_key', default=False):
        raise ProviderError("no [ct_security] master_key configured")
    logger.warning("no [ct_security] master_key configured: using the "
        "development master key, not for production")
    return sm3(DEVELOPMENT_LABEL)[:16]


class SoftwareProvider(CryptoProvider):
    __doc__ = __doc__
    name = 'software'
    certified = False

    def __init__(self, keystore=None, master_key=None):
        super().__init__(keystore)
        if master_key is None:
            master_key = load_master_key()
        if len(master_key) != 16:
            raise ProviderError("master key must be 16 bytes")
        self._master_key = master_key
        # Unwrapped data keys by their wrapped form (which embeds a random
        # nonce, so two databases never share an entry)
        self._keys = {}
        self._lock = threading.Lock()

    def random(self, n):
        return os.urandom(n)

    def hash(self, data):
        return sm3(data)

    def pbkdf2(self, password, salt, iterations, length=32):
        return PBKDF2HMAC(
            hashes.SM3(), length, salt, iterations).derive(password)

    # Key wrapping under the master key

    def _wrap(self, key, purpose, version, algorithm):
        nonce = self.random(NONCE_SIZE)
        ciphertext, tag = sm4_gcm_seal(
            self._master_key, nonce, key,
            _wrap_aad(purpose, version, algorithm))
        return _b64(nonce + ciphertext + tag)

    def _unwrap(self, record):
        key = self._keys.get(record.wrapped)
        if key is None:
            raw = _unb64(record.wrapped)
            if len(raw) < NONCE_SIZE + 16:
                raise ValueError("truncated wrapped key")
            key = sm4_gcm_open(
                self._master_key, raw[:NONCE_SIZE], raw[NONCE_SIZE:-16],
                raw[-16:], _wrap_aad(
                    record.purpose, record.version, record.algorithm))
            if len(key) != KEY_SIZES[record.algorithm]:
                raise ValueError("wrapped key has a wrong size")
            with self._lock:
                if len(self._keys) > 1024:
                    self._keys.clear()
                self._keys[record.wrapped] = key
        return key

    def generate_key(self, purpose, version, algorithm):
        public_key = None
        if algorithm == SM2:
            from gmalglib.sm2 import SM2 as GmSM2
            secret, public_key = GmSM2(rnd_fn=self.random).generate_keypair()
        elif algorithm in KEY_SIZES:
            secret = self.random(KEY_SIZES[algorithm])
        else:
            raise ValueError(f"unknown algorithm {algorithm}")
        return self._wrap(secret, purpose, version, algorithm), public_key

    def check_key(self, record):
        "Raise ValueError if record does not unwrap under the master key"
        self._unwrap(record)

    # Symmetric operations

    def hmac(self, purpose, data, version=None):
        record = self.key(purpose, version, algorithm=HMAC_SM3)
        return hmac_sm3(self._unwrap(record), data)

    def hmac_verify(self, purpose, data, mac, version=None):
        if not _hmac.compare_digest(self.hmac(purpose, data, version), mac):
            raise ValueError("MAC does not verify")

    def encrypt(self, purpose, plaintext, aad):
        if isinstance(plaintext, str):
            plaintext = plaintext.encode('utf-8')
        record = self.key(purpose, algorithm=SM4)
        nonce = self.random(NONCE_SIZE)
        header = Envelope(record.purpose, record.version, nonce, b'', b'')
        ciphertext, tag = sm4_gcm_seal(
            self._unwrap(record), nonce, plaintext, header.aad(aad))
        return str(Envelope(
                record.purpose, record.version, nonce, ciphertext, tag))

    def decrypt(self, envelope, aad):
        envelope = Envelope.parse(envelope)
        record = self.key(envelope.purpose, envelope.version, algorithm=SM4)
        return sm4_gcm_open(
            self._unwrap(record), envelope.nonce, envelope.ciphertext,
            envelope.tag, envelope.aad(aad))

    # SM2

    def sign(self, purpose, data, uid=DEFAULT_UID):
        from gmalglib.sm2 import SM2 as GmSM2
        record = self.key(purpose, algorithm=SM2)
        return GmSM2(
            self._unwrap(record), uid=uid, rnd_fn=self.random).sign(data)

    def verify(self, public_key, data, signature, uid=DEFAULT_UID):
        from gmalglib.sm2 import SM2 as GmSM2
        try:
            return bool(GmSM2(pk=public_key, uid=uid).verify(
                    data, signature))
        except (ValueError, OverflowError):
            return False

    def public_key(self, purpose, version=None):
        return self.key(purpose, version, algorithm=SM2).public_key

    def self_test_primitives(self):
        from . import selftest
        selftest.check_sm4_block(sm4_ecb_block)
        selftest.check_sm4_gcm(sm4_gcm_seal, sm4_gcm_open)
        selftest.check_hmac_sm3(hmac_sm3)
        selftest.check_sm2_pairwise()
        # The master key must wrap and unwrap (catches a corrupted key
        # buffer, not a wrong key: that shows on the first unwrap)
        wrapped, _ = self.generate_key('self-test', 0, SM4)
        from .provider import KeyRecord
        self._unwrap(KeyRecord('self-test', 0, SM4, 'active', wrapped))
        self._keys.pop(wrapped, None)


def sm4_ecb_block(key, block):
    "One SM4 block (known-answer test only: data is never sealed in ECB)"
    # nosec B305: one block for the known-answer test, never data
    encryptor = Cipher(algorithms.SM4(key), modes.ECB()).encryptor()  # noqa: S305 # nosec B305
    return encryptor.update(block) + encryptor.finalize()

