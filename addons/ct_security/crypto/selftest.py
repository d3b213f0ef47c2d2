"""Start-up known-answer tests (fail closed).

Vectors:

* SM3, GB/T 32905-2016 Annex A: "abc" and the 512-bit message "abcd" x 16.
* SM4, GB/T 32907-2016 Annex A.1: key = plaintext = 0123456789abcdef
  fedcba9876543210, ciphertext 681edf34d206965e86b3e94f536e4246.
* SM4-GCM, RFC 8998 Appendix A.1.
* SM2, GB/T 32918.2-2016 / GM/T 0003.5 example on the recommended curve:
  private key 3945208f..., message "message digest", ID 1234567812345678,
  Z_A b2e14c5c..., signature (r, s) = (f5a03b06..., b1b6aa29...).  The
  signature is *verified* (gmalglib draws k itself, so signing with the
  standard's k cannot be reproduced); signing is covered by a pairwise
  consistency test with a fresh key.
* HMAC-SM3 and PBKDF2-HMAC-SM3 have no published national vectors: they
  are cross-checked against an RFC 2104 / RFC 8018 construction over an
  independent SM3 implementation (gmalglib).
"""
import hmac as _hmac

from .provider import SelfTestError

__all__ = ['run']

SM3_VECTORS = [
    (b'abc',
        '66c7f0f462eeedd9d1f2d46bdc10e4e24167c4875cf2f7a2297da02b8f4ba8e0'),
    (b'abcd' * 16,
        'debe9ff92275b8a138604889c18e5a4d6fdb70e5387e5765293dcba39c0c5732'),
    ]
SM4_KEY = bytes.fromhex('0123456789abcdeffedcba9876543210')
SM4_CIPHERTEXT = bytes.fromhex('681edf34d206965e86b3e94f536e4246')
GCM_KEY = SM4_KEY
GCM_NONCE = bytes.fromhex('00001234567800000000abcd')
GCM_AAD = bytes.fromhex('feedfacedeadbeeffeedfacedeadbeefabaddad2')
GCM_PLAINTEXT = bytes.fromhex(
    'aaaaaaaaaaaaaaaabbbbbbbbbbbbbbbbccccccccccccccccdddddddddddddddd'
    'eeeeeeeeeeeeeeeeffffffffffffffffeeeeeeeeeeeeeeeeaaaaaaaaaaaaaaaa')
GCM_CIPHERTEXT = bytes.fromhex(
    '17f399f08c67d5ee19d0dc9969c4bb7d5fd46fd3756489069157b282bb200735'
    'd82710ca5c22f0ccfa7cbf93d496ac15a56834cbcf98c397b4024a2691233b8d')
GCM_TAG = bytes.fromhex('83de3541e4c2b58177e065a9bf7b62ec')
SM2_UID = b'1234567812345678'
SM2_PRIVATE = bytes.fromhex(
    '3945208f7b2144b13f36e38ac6d39f95889393692860b51a42fb81ef4df7c5b8')
SM2_PUBLIC = bytes.fromhex(
    '04'
    '09f9df311e5421a150dd7d161e4bc5c672179fad1833fc076bb08ff356f35020'
    'ccea490ce26775a52dc6ea718cc1aa600aed05fbf35e084a6632f6072da9ad13')
SM2_MESSAGE = b'message digest'
SM2_ZA = bytes.fromhex(
    'b2e14c5c79c6df5b85f4fe7ed8db7a262b9da7e07ccb0ea9f4747b8ccda8a4f3')
SM2_SIGNATURE = bytes.fromhex(
    'f5a03b0648d2c4630eeac513e1bb81a15944da3827d5b74143ac7eaceee720b3'
    'b1b6aa29df212fd8763182bc0d421ca1bb9038fd1f7f42d4840b69c485bbc1aa')


def _check(condition, what):
    if not condition:
        raise SelfTestError(f"cryptographic self-test failed: {what}")


def _gm_sm3(data):
    from gmalglib.sm3 import SM3
    return SM3(data).digest()


def _reference_hmac_sm3(key, data):
    "RFC 2104 over gmalglib's SM3 (block size 64)"
    if len(key) > 64:
        key = _gm_sm3(key)
    key = key.ljust(64, b'\0')
    inner = _gm_sm3(bytes(k ^ 0x36 for k in key) + data)
    return _gm_sm3(bytes(k ^ 0x5c for k in key) + inner)


def _reference_pbkdf2_sm3(password, salt, iterations, length):
    "RFC 8018 PBKDF2 with the reference HMAC-SM3"
    blocks = []
    for i in range(1, -(-length // 32) + 1):
        u = _reference_hmac_sm3(password, salt + i.to_bytes(4, 'big'))
        t = bytearray(u)
        for _ in range(iterations - 1):
            u = _reference_hmac_sm3(password, u)
            t = bytearray(a ^ b for a, b in zip(t, u, strict=True))
        blocks.append(bytes(t))
    return b''.join(blocks)[:length]


def check_sm3(sm3):
    for message, digest in SM3_VECTORS:
        _check(sm3(message).hex() == digest, "SM3 GB/T 32905 vector")
        _check(_gm_sm3(message).hex() == digest, "SM3 (gmalglib) vector")


def check_sm4_block(encrypt_block):
    _check(encrypt_block(SM4_KEY, SM4_KEY) == SM4_CIPHERTEXT,
        "SM4 GB/T 32907 vector")
    from gmalglib.sm4 import SM4
    _check(SM4(SM4_KEY).encrypt(SM4_KEY) == SM4_CIPHERTEXT,
        "SM4 (gmalglib) vector")


def check_sm4_gcm(seal, open_):
    ciphertext, tag = seal(GCM_KEY, GCM_NONCE, GCM_PLAINTEXT, GCM_AAD)
    _check(ciphertext == GCM_CIPHERTEXT and tag == GCM_TAG,
        "SM4-GCM RFC 8998 A.1 vector")
    _check(open_(GCM_KEY, GCM_NONCE, GCM_CIPHERTEXT, GCM_TAG, GCM_AAD)
        == GCM_PLAINTEXT, "SM4-GCM RFC 8998 A.1 decryption")
    forged = bytes([GCM_TAG[0] ^ 1]) + GCM_TAG[1:]
    try:
        open_(GCM_KEY, GCM_NONCE, GCM_CIPHERTEXT, forged, GCM_AAD)
    except ValueError:
        pass
    else:
        _check(False, "SM4-GCM accepts a forged tag")


def check_hmac_sm3(hmac_sm3):
    key, data = bytes(range(32)), b'abc' * 50
    _check(_hmac.compare_digest(
            hmac_sm3(key, data), _reference_hmac_sm3(key, data)),
        "HMAC-SM3 cross-check")


def check_pbkdf2(pbkdf2):
    expected = _reference_pbkdf2_sm3(b'password', b'salt' * 4, 3, 40)
    _check(pbkdf2(b'password', b'salt' * 4, 3, 40) == expected,
        "PBKDF2-HMAC-SM3 cross-check")


def check_sm2_verify(verify):
    from gmalglib.sm2 import SM2
    _check(SM2.get_pk(SM2_PRIVATE) == SM2_PUBLIC, "SM2 public key vector")
    _check(SM2(pk=SM2_PUBLIC, uid=SM2_UID).get_entity_info() == SM2_ZA,
        "SM2 Z_A vector")
    _check(verify(SM2_PUBLIC, SM2_MESSAGE, SM2_SIGNATURE, SM2_UID),
        "SM2 GB/T 32918.2 signature vector")
    _check(not verify(SM2_PUBLIC, SM2_MESSAGE + b'.', SM2_SIGNATURE,
            SM2_UID), "SM2 accepts a signature of another message")
    _check(not verify(SM2_PUBLIC, SM2_MESSAGE, SM2_SIGNATURE,
            b'ALICE123@YAHOO.COM'), "SM2 ignores the signer ID")


def check_sm2_pairwise():
    import os

    from gmalglib.sm2 import SM2
    secret, public = SM2(rnd_fn=os.urandom).generate_keypair()
    signature = SM2(secret, uid=SM2_UID, rnd_fn=os.urandom).sign(
        SM2_MESSAGE)
    _check(SM2(pk=public, uid=SM2_UID).verify(SM2_MESSAGE, signature),
        "SM2 pairwise consistency")


def run(provider):
    "Run every test on provider; raise SelfTestError on the first failure"
    try:
        check_sm3(provider.hash)
        check_pbkdf2(provider.pbkdf2)
        check_sm2_verify(provider.verify)
        first, second = provider.random(32), provider.random(32)
        _check(len(first) == 32 and first != second, "random generator")
        provider.self_test_primitives()
    except SelfTestError:
        raise
    except Exception as exception:
        raise SelfTestError(
            f"cryptographic self-test failed: {exception!r}") from exception
