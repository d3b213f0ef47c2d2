"""Crypto provider: standard vectors, tamper tests, SM2, plug-in point."""
import unittest
from unittest import mock

from trytond.modules.ct_security import crypto
from trytond.modules.ct_security.crypto import (
    HMAC_SM3,
    SM2,
    SM4,
    Envelope,
    KeyRecord,
    KeyStore,
    ProviderError,
    SelfTestError,
    selftest,
    software,
)
from trytond.modules.ct_security.crypto.sdf import SDFProvider
from trytond.modules.ct_security.crypto.software import SoftwareProvider

MASTER = bytes.fromhex('00112233445566778899aabbccddeeff')
AAD = b'ct_investigator|id_number|42'


class MemoryKeyStore(KeyStore):
    "A key store of wrapped keys in a dict (the provider generates them)"

    def __init__(self):
        self.records = {}
        self.provider = None

    def active(self, purpose, algorithm):
        for record in self.records.values():
            if record.purpose == purpose and record.state == 'active':
                return record
        return self.rotate(purpose, algorithm)

    def get(self, purpose, version):
        return self.records.get((purpose, version))

    def rotate(self, purpose, algorithm):
        versions = [v for p, v in self.records if p == purpose]
        for (p, v), record in list(self.records.items()):
            if p == purpose and record.state == 'active':
                self.set_state(p, v, 'decrypt_only')
        version = max(versions, default=0) + 1
        wrapped, public = self.provider.generate_key(
            purpose, version, algorithm)
        record = KeyRecord(
            purpose, version, algorithm, 'active', wrapped, public)
        self.records[(purpose, version)] = record
        return record

    def set_state(self, purpose, version, state):
        old = self.records[(purpose, version)]
        self.records[(purpose, version)] = KeyRecord(
            old.purpose, old.version, old.algorithm, state, old.wrapped,
            old.public_key)


def make_provider(master=MASTER):
    store = MemoryKeyStore()
    provider = SoftwareProvider(store, master_key=master)
    store.provider = provider
    return provider, store


def flip(envelope, part, index=0):
    "Flip one bit of the base64 part (2 nonce, 3 ciphertext, 4 tag)"
    parts = envelope.split('|')
    raw = bytearray(crypto.provider._unb64(parts[part]))
    raw[index] ^= 1
    parts[part] = crypto.provider._b64(bytes(raw))
    return '|'.join(parts)


class KnownAnswerTestCase(unittest.TestCase):
    "The standards' published vectors"

    def test_sm3(self):
        for message, digest in selftest.SM3_VECTORS:
            self.assertEqual(software.sm3(message).hex(), digest)
        self.assertEqual(software.sm3(b'abc').hex(),
            '66c7f0f462eeedd9d1f2d46bdc10e4e2'
            '4167c4875cf2f7a2297da02b8f4ba8e0')

    def test_sm4_block(self):
        key = bytes.fromhex('0123456789abcdeffedcba9876543210')
        self.assertEqual(software.sm4_ecb_block(key, key).hex(),
            '681edf34d206965e86b3e94f536e4246')

    def test_sm4_gcm_rfc8998(self):
        ciphertext, tag = software.sm4_gcm_seal(selftest.GCM_KEY,
            selftest.GCM_NONCE, selftest.GCM_PLAINTEXT, selftest.GCM_AAD)
        self.assertEqual(ciphertext, selftest.GCM_CIPHERTEXT)
        self.assertEqual(tag.hex(), '83de3541e4c2b58177e065a9bf7b62ec')
        with self.assertRaises(ValueError):
            software.sm4_gcm_open(selftest.GCM_KEY, selftest.GCM_NONCE,
                ciphertext, tag, selftest.GCM_AAD + b'x')

    def test_sm2_known_signature(self):
        provider, _ = make_provider()
        self.assertTrue(provider.verify(selftest.SM2_PUBLIC,
                b'message digest', selftest.SM2_SIGNATURE))
        self.assertFalse(provider.verify(selftest.SM2_PUBLIC,
                b'message digesT', selftest.SM2_SIGNATURE))

    def test_hmac_and_pbkdf2_cross_check(self):
        key, data = b'k' * 20, b'data'
        self.assertEqual(software.hmac_sm3(key, data),
            selftest._reference_hmac_sm3(key, data))
        provider, _ = make_provider()
        self.assertEqual(provider.pbkdf2(b'pw', b's' * 16, 5, 64),
            selftest._reference_pbkdf2_sm3(b'pw', b's' * 16, 5, 64))

    def test_self_test(self):
        provider, _ = make_provider()
        provider.self_test()

    def test_self_test_fails_closed(self):
        provider, _ = make_provider()
        with mock.patch.object(provider, 'hash', lambda data: b'\0' * 32):
            with self.assertRaises(SelfTestError):
                provider.self_test()
        with mock.patch.object(
                software, 'sm4_gcm_seal', lambda *a: (b'', b'\0' * 16)):
            with self.assertRaises(SelfTestError):
                provider.self_test()

    def test_get_provider_refuses_failing_provider(self):
        old = crypto._provider
        crypto._provider = None
        try:
            with mock.patch.object(SoftwareProvider, 'verify',
                    lambda *a, **k: True):
                with self.assertRaises(SelfTestError):
                    crypto.get_provider()
            self.assertIsNone(crypto._provider)
        finally:
            crypto._provider = old


class EnvelopeTestCase(unittest.TestCase):
    "SM4-GCM envelopes: format, binding and tampering"

    def setUp(self):
        self.provider, self.store = make_provider()

    def test_round_trip(self):
        envelope = self.provider.encrypt('field.t.c', '310101199001011234',
            AAD)
        self.assertTrue(envelope.startswith('v2|field.t.c:1|'))
        self.assertEqual(len(envelope.split('|')), 5)
        self.assertNotIn('310101', envelope)
        self.assertEqual(self.provider.decrypt(envelope, AAD),
            b'310101199001011234')
        # Random nonce: the same value never gives the same envelope
        self.assertNotEqual(envelope,
            self.provider.encrypt('field.t.c', '310101199001011234', AAD))

    def test_tampering(self):
        envelope = self.provider.encrypt('field.t.c', 'secret value', AAD)
        for part in (2, 3, 4):
            with self.subTest(part=part), self.assertRaises(ValueError):
                self.provider.decrypt(flip(envelope, part), AAD)

    def test_wrong_aad(self):
        envelope = self.provider.encrypt('field.t.c', 'secret value', AAD)
        for aad in [b'ct_investigator|id_number|43',
                b'ct_investigator|phone|42', b'other|id_number|42', b'']:
            with self.subTest(aad=aad), self.assertRaises(ValueError):
                self.provider.decrypt(envelope, aad)

    def test_header_is_authenticated(self):
        self.provider.encrypt('field.t.c', 'x', AAD)
        self.store.rotate('field.t.c', SM4)
        envelope = self.provider.encrypt('field.t.c', 'secret value', AAD)
        moved = envelope.replace('field.t.c:2|', 'field.t.c:1|')
        with self.assertRaises(ValueError):
            self.provider.decrypt(moved, AAD)

    def test_wrong_key(self):
        envelope = self.provider.encrypt('field.t.c', 'secret value', AAD)
        # Same key store, another master key: the data key does not unwrap
        other = SoftwareProvider(self.store, master_key=b'\x01' * 16)
        with self.assertRaises(ValueError):
            other.decrypt(envelope, AAD)
        # Another data key under the same name
        provider, store = make_provider()
        provider.encrypt('field.t.c', 'x', AAD)
        with self.assertRaises(ValueError):
            provider.decrypt(envelope, AAD)

    def test_unknown_and_malformed(self):
        envelope = self.provider.encrypt('field.t.c', 'secret value', AAD)
        for bad in [envelope.replace('field.t.c:1', 'field.t.c:9'),
                envelope.replace('field.t.c:1', 'field.x.y:1'),
                'v1:AAAA', 'v2|a:1|@@|x|y', envelope + '|', '', 'v2|a|b|c|d']:
            with self.subTest(bad=bad), self.assertRaises(ValueError):
                self.provider.decrypt(bad, AAD)

    def test_rotation_states(self):
        old = self.provider.encrypt('field.t.c', 'old', AAD)
        self.store.rotate('field.t.c', SM4)
        new = self.provider.encrypt('field.t.c', 'new', AAD)
        self.assertTrue(new.startswith('v2|field.t.c:2|'))
        self.assertEqual(self.provider.decrypt(old, AAD), b'old')
        self.store.set_state('field.t.c', 1, 'retired')
        with self.assertRaises(ValueError):
            self.provider.decrypt(old, AAD)
        self.assertEqual(self.provider.decrypt(new, AAD), b'new')

    def test_algorithm_separation(self):
        self.provider.hmac('mac.purpose', b'data')
        with self.assertRaises(ValueError):
            self.provider.encrypt('mac.purpose', 'x', AAD)

    def test_envelope_parse(self):
        envelope = Envelope.parse(
            self.provider.encrypt('a.b:c', 'x', AAD))
        self.assertEqual((envelope.purpose, envelope.version), ('a.b:c', 1))
        self.assertEqual(len(envelope.nonce), 12)
        self.assertEqual(len(envelope.tag), 16)


class MacSignatureTestCase(unittest.TestCase):

    def setUp(self):
        self.provider, self.store = make_provider()

    def test_hmac(self):
        mac = self.provider.hmac('audit.chain', b'row 1')
        self.assertEqual(len(mac), 32)
        self.assertEqual(mac, self.provider.hmac('audit.chain', b'row 1'))
        self.provider.hmac_verify('audit.chain', b'row 1', mac)
        with self.assertRaises(ValueError):
            self.provider.hmac_verify('audit.chain', b'row 2', mac)
        self.store.rotate('audit.chain', HMAC_SM3)
        self.assertNotEqual(mac, self.provider.hmac('audit.chain', b'row 1'))
        self.provider.hmac_verify('audit.chain', b'row 1', mac, version=1)

    def test_sm2_sign_verify(self):
        data = b'submission 2025-001'
        signature = self.provider.sign('receipt', data)
        self.assertEqual(len(signature), 64)
        public = self.provider.public_key('receipt')
        self.assertEqual(len(public), 65)
        self.assertTrue(self.provider.verify(public, data, signature))
        record = self.store.get('receipt', 1)
        self.assertEqual(record.algorithm, SM2)
        self.assertNotIn(public.hex(), record.wrapped)

    def test_sm2_tampered(self):
        data = b'submission 2025-001'
        signature = self.provider.sign('receipt', data)
        public = self.provider.public_key('receipt')
        self.assertFalse(self.provider.verify(public, data + b'.', signature))
        forged = bytes([signature[0] ^ 1]) + signature[1:]
        self.assertFalse(self.provider.verify(public, data, forged))
        self.assertFalse(self.provider.verify(
                public, data, signature, uid=b'ALICE123@YAHOO.COM'))
        other = self.provider.public_key('other')
        self.assertFalse(self.provider.verify(other, data, signature))
        self.assertFalse(self.provider.verify(b'\x04' * 3, data, signature))
        self.assertFalse(self.provider.verify(public, data, b'short'))

    def test_random(self):
        self.assertEqual(len(self.provider.random(24)), 24)
        self.assertNotEqual(self.provider.random(16), self.provider.random(16))


class PluginTestCase(unittest.TestCase):

    def test_default_class(self):
        self.assertIs(crypto.load_provider_class(
                crypto.DEFAULT_PROVIDER), SoftwareProvider)

    def test_bad_path(self):
        with self.assertRaises(ProviderError):
            crypto.load_provider_class('no_colon')
        with self.assertRaises(ProviderError):
            crypto.load_provider_class('unittest:TestCase')

    def test_sdf_without_library(self):
        with self.assertRaises(ProviderError) as cm:
            SDFProvider()
        self.assertIn('sdf_library', str(cm.exception))
        with self.assertRaises(ProviderError):
            SDFProvider(library='/nonexistent/libsdf.so')

    def test_master_key_configuration(self):
        from trytond import config
        with mock.patch.object(config, 'get',
                lambda s, o, default=None: {
                    'master_key': 'zz'}.get(o, default)):
            with self.assertRaises(ProviderError):
                software.load_master_key()
        with mock.patch.object(config, 'get',
                lambda s, o, default=None: {
                    'master_key': MASTER.hex()}.get(o, default)):
            self.assertEqual(software.load_master_key(), MASTER)
