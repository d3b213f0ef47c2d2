"""The interface every cryptographic back end implements.

The application never handles a key-encryption key: it asks a provider to
encrypt, MAC or sign *for a purpose* and the provider finds the data key of
that purpose through a key store (``ct.security.key`` in the database, see
``key.py``).  A purpose names what a key protects, for example
``field.ct_investigator.id_number`` or ``audit.chain``.

Envelope of an encrypted value (ASCII, ``|`` separated)::

    v2|<purpose>:<version>|<b64 nonce>|<b64 ciphertext>|<b64 tag>

SM4-GCM with a 12-byte random nonce and a 16-byte tag.  The GCM associated
data is ``v2|<purpose>:<version>|`` followed by the caller's AAD, so neither
the header nor the binding (table, column, record) can be changed without
the tag failing.
"""
import base64
import binascii
from dataclasses import dataclass

__all__ = ['CryptoProvider', 'KeyRecord', 'KeyStore', 'Envelope',
    'ProviderError', 'SelfTestError']

ENVELOPE_VERSION = 'v2'
NONCE_SIZE = 12
TAG_SIZE = 16
DEFAULT_UID = b'1234567812345678'

# Algorithms of data keys
SM4 = 'sm4'
HMAC_SM3 = 'hmac-sm3'
SM2 = 'sm2'
KEY_SIZES = {SM4: 16, HMAC_SM3: 32, SM2: 32}


class ProviderError(Exception):
    "The provider cannot serve the request (configuration, device, key)"


class SelfTestError(ProviderError):
    "A known-answer test failed: the provider must not be used"


@dataclass(frozen=True)
class KeyRecord:
    "A data key as the key store keeps it (never in clear)"
    purpose: str
    version: int
    algorithm: str
    state: str
    wrapped: str
    public_key: bytes = None

    @property
    def kid(self):
        return f'{self.purpose}:{self.version}'


class KeyStore:
    "Where a provider finds the wrapped data keys"

    def active(self, purpose, algorithm):
        "Return the active KeyRecord of purpose, creating it if needed"
        raise NotImplementedError

    def get(self, purpose, version):
        "Return the KeyRecord of purpose and version or None"
        raise NotImplementedError


def _b64(data):
    return base64.b64encode(data).decode('ascii')


def _unb64(text):
    try:
        return base64.b64decode(text.encode('ascii'), validate=True)
    except (binascii.Error, UnicodeEncodeError):
        raise ValueError("malformed envelope")


@dataclass(frozen=True)
class Envelope:
    purpose: str
    version: int
    nonce: bytes
    ciphertext: bytes
    tag: bytes

    @property
    def header(self):
        return f'{ENVELOPE_VERSION}|{self.purpose}:{self.version}|'

    def aad(self, aad):
        return self.header.encode('ascii') + aad

    def __str__(self):
        return self.header + '|'.join(
            _b64(x) for x in (self.nonce, self.ciphertext, self.tag))

    @classmethod
    def parse(cls, text):
        "Parse text; raise ValueError if it is not a v2 envelope"
        if not isinstance(text, str):
            raise ValueError("envelope must be text")
        parts = text.split('|')
        if len(parts) != 5 or parts[0] != ENVELOPE_VERSION:
            raise ValueError("unknown envelope version")
        purpose, sep, version = parts[1].rpartition(':')
        if not sep or not purpose or not version.isdigit():
            raise ValueError("malformed key id")
        nonce, ciphertext, tag = map(_unb64, parts[2:])
        if len(nonce) != NONCE_SIZE or len(tag) != TAG_SIZE:
            raise ValueError("malformed envelope")
        return cls(purpose, int(version), nonce, ciphertext, tag)

    @staticmethod
    def prefix(purpose, version):
        "The start of every envelope sealed with purpose and version"
        return f'{ENVELOPE_VERSION}|{purpose}:{version}|'


class CryptoProvider:
    """Interface of a cryptographic provider.

    Implementations: ``software.SoftwareProvider`` (cryptography +
    gmalglib) and ``sdf.SDFProvider`` (a certified server cipher machine
    through GM/T 0018).  Errors: ``ValueError`` for forged or malformed
    input (tag mismatch, wrong AAD, unknown key), ``ProviderError`` when
    the back end cannot serve.
    """
    name = None
    #: True only for a back end holding a GM/T 0028 certificate
    certified = False

    def __init__(self, keystore=None):
        self.keystore = keystore

    def random(self, n):
        "Return n bytes from the provider's approved RNG"
        raise NotImplementedError

    def hash(self, data):
        "Return the SM3 digest (32 bytes) of data"
        raise NotImplementedError

    def hmac(self, purpose, data, version=None):
        """Return HMAC-SM3 of data with the key of purpose (the active one
        without version; callers that verify later store the version)"""
        raise NotImplementedError

    def hmac_verify(self, purpose, data, mac, version=None):
        "Check mac of data; raise ValueError if it does not match"
        raise NotImplementedError

    def pbkdf2(self, password, salt, iterations, length=32):
        "Return PBKDF2-HMAC-SM3 of password (bytes)"
        raise NotImplementedError

    def encrypt(self, purpose, plaintext, aad):
        "Seal plaintext (bytes) with the active SM4 key of purpose"
        raise NotImplementedError

    def decrypt(self, envelope, aad):
        "Open envelope (str); raise ValueError if forged or key unusable"
        raise NotImplementedError

    def sign(self, purpose, data, uid=DEFAULT_UID):
        "Return the SM2 signature r||s (64 bytes) with the key of purpose"
        raise NotImplementedError

    def verify(self, public_key, data, signature, uid=DEFAULT_UID):
        "Return True if signature is a valid SM2 signature of data"
        raise NotImplementedError

    def public_key(self, purpose, version=None):
        "Return the SM2 public key (65 bytes, 04||x||y) of purpose"
        raise NotImplementedError

    def generate_key(self, purpose, version, algorithm):
        "Return (wrapped, public_key) of a new data key"
        raise NotImplementedError

    def self_test(self):
        "Run the known-answer tests; raise SelfTestError on failure"
        from .selftest import run
        run(self)

    def self_test_primitives(self):
        "Back-end specific known-answer tests (keys outside the key store)"

    # Key lookup shared by the implementations

    def _key_store(self):
        if self.keystore is None:
            raise ProviderError("no key store configured")
        return self.keystore

    def key(self, purpose, version=None, algorithm=SM4):
        """Return the KeyRecord of purpose.

        Without version: the active key (created by the store on first
        use).  With version: that key if it may still decrypt/verify.
        """
        store = self._key_store()
        if version is None:
            record = store.active(purpose, algorithm)
            if record is None or record.state != 'active':
                raise ValueError(f"no active key for {purpose}")
        else:
            record = store.get(purpose, version)
            if record is None:
                raise ValueError(f"unknown key {purpose}:{version}")
            if record.state not in {'active', 'decrypt_only'}:
                raise ValueError(f"key {record.kid} is retired")
        if record.algorithm != algorithm:
            raise ValueError(f"key {record.kid} is not an {algorithm} key")
        return record
