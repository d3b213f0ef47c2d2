#!/usr/bin/env python3
"""Throughput of the national algorithms in the candidate libraries.

    .venv/bin/python tests/perf/bench_crypto.py [--seconds 0.5]

Compares ``cryptography`` (used by the software provider for SM3, HMAC-SM3,
PBKDF2-SM3 and SM4-GCM), ``gmalglib`` (SM2; SM3; SM4 block API only) and
``gmssl`` 3.2.2 (pure Python, a test oracle only: ``pip install gmssl``
into the venv, never a runtime dependency).  Also checks that the
libraries agree (SM3 digests, SM4 block, SM2 signatures across
implementations) and measures the login cost of the PBKDF2-HMAC-SM3
verifier at the configured iteration count.
"""
import argparse
import os
import secrets
import time

MIB = 1 << 20


def rate(func, seconds, size=None):
    "Return operations per second (or MB/s when size is given)"
    func()
    count, start = 0, time.perf_counter()
    while True:
        func()
        count += 1
        elapsed = time.perf_counter() - start
        if elapsed >= seconds:
            break
    per_second = count / elapsed
    return per_second * size / 1e6 if size else per_second


def fmt(value, unit):
    if value is None:
        return 'n/a'
    if value >= 100:
        return f'{value:,.0f} {unit}'
    if value >= 1:
        return f'{value:,.1f} {unit}'
    return f'{value:.3f} {unit}'


def bench_cryptography(seconds):
    from cryptography.hazmat.primitives import hashes, hmac
    from cryptography.hazmat.primitives.ciphers import (
        Cipher,
        algorithms,
        modes,
    )
    data = os.urandom(MIB)
    key, nonce, aad = os.urandom(16), os.urandom(12), b'ct_investigator|x|1'

    def sm3():
        digest = hashes.Hash(hashes.SM3())
        digest.update(data)
        digest.finalize()

    def hmac_1k():
        mac = hmac.HMAC(key, hashes.SM3())
        mac.update(data[:1024])
        mac.finalize()

    def encrypt():
        encryptor = Cipher(algorithms.SM4(key), modes.GCM(nonce)).encryptor()
        encryptor.authenticate_additional_data(aad)
        out = encryptor.update(data) + encryptor.finalize()
        return out, encryptor.tag
    sealed, tag = encrypt()

    def decrypt():
        decryptor = Cipher(
            algorithms.SM4(key), modes.GCM(nonce, tag)).decryptor()
        decryptor.authenticate_additional_data(aad)
        decryptor.update(sealed) + decryptor.finalize()

    def field_small():
        # A typical encrypted field: 18 bytes (an ID number)
        encryptor = Cipher(
            algorithms.SM4(key), modes.GCM(os.urandom(12))).encryptor()
        encryptor.authenticate_additional_data(aad)
        encryptor.update(data[:18]) + encryptor.finalize()

    return {
        'SM3': rate(sm3, seconds, MIB),
        'SM4-GCM enc': rate(encrypt, seconds, MIB),
        'SM4-GCM dec': rate(decrypt, seconds, MIB),
        'HMAC-SM3 1 KiB': rate(hmac_1k, seconds),
        'SM4-GCM 18 B field': rate(field_small, seconds),
        }


def bench_gmalglib(seconds):
    from gmalglib.sm2 import SM2
    from gmalglib.sm3 import SM3
    from gmalglib.sm4 import SM4
    data = os.urandom(MIB)
    cipher = SM4(os.urandom(16))
    blocks = os.urandom(64 * 1024)

    def sm4_blocks():
        # Block API only (no mode): a Python loop over 16-byte blocks
        encrypt = cipher.encrypt
        for i in range(0, len(blocks), 16):
            encrypt(blocks[i:i + 16])

    secret, public = SM2(rnd_fn=os.urandom).generate_keypair()
    signer = SM2(secret, rnd_fn=os.urandom)
    verifier = SM2(pk=public)
    message = b'receipt of submission 2025-001'
    signature = signer.sign(message)
    return {
        'SM3': rate(lambda: SM3(data).digest(), seconds, MIB),
        'SM4 block loop (ECB)': rate(sm4_blocks, seconds, len(blocks)),
        'SM2 sign': rate(lambda: signer.sign(message), seconds),
        'SM2 verify': rate(
            lambda: verifier.verify(message, signature), seconds),
        }


def bench_gmssl(seconds):
    try:
        from gmssl import sm2, sm3, sm4
    except ImportError:
        return None
    data = os.urandom(16 * 1024)
    key, iv = os.urandom(16), os.urandom(16)
    cipher = sm4.CryptSM4()
    cipher.set_key(key, sm4.SM4_ENCRYPT)
    sealed = cipher.crypt_cbc(iv, data)
    decipher = sm4.CryptSM4()
    decipher.set_key(key, sm4.SM4_DECRYPT)
    from gmalglib.sm2 import SM2
    secret, public = SM2(rnd_fn=os.urandom).generate_keypair()
    crypt = sm2.CryptSM2(private_key=secret.hex(), public_key=public.hex()[2:])
    message = b'receipt of submission 2025-001'
    # Never gmssl's func.random_hex (Mersenne Twister): a CSPRNG nonce
    signature = crypt.sign_with_sm3(message, secrets.token_hex(32))
    return {
        'SM3': rate(lambda: sm3.sm3_hash(list(data)), seconds, len(data)),
        'SM4-CBC enc (no GCM)': rate(
            lambda: cipher.crypt_cbc(iv, data), seconds, len(data)),
        'SM4-CBC dec (no GCM)': rate(
            lambda: decipher.crypt_cbc(iv, sealed), seconds, len(data)),
        'SM2 sign': rate(lambda: crypt.sign_with_sm3(
                message, secrets.token_hex(32)), seconds),
        'SM2 verify': rate(
            lambda: crypt.verify_with_sm3(signature, message), seconds),
        }


def cross_check():
    "The libraries must agree before their numbers mean anything"
    from cryptography.hazmat.primitives import hashes
    from gmalglib.sm2 import SM2
    from gmalglib.sm3 import SM3
    results = []
    message = os.urandom(1000)
    digest = hashes.Hash(hashes.SM3())
    digest.update(message)
    reference = digest.finalize()
    results.append(('SM3 cryptography == gmalglib',
            SM3(message).digest() == reference))
    try:
        from gmssl import sm2, sm3
    except ImportError:
        return results
    results.append(('SM3 cryptography == gmssl',
            sm3.sm3_hash(list(message)) == reference.hex()))
    secret, public = SM2(rnd_fn=os.urandom).generate_keypair()
    crypt = sm2.CryptSM2(private_key=secret.hex(), public_key=public.hex()[2:])
    signature = bytes.fromhex(
        crypt.sign_with_sm3(message, secrets.token_hex(32)))
    results.append(('SM2 gmssl signature verified by gmalglib',
            SM2(pk=public).verify(message, signature)))
    signature = SM2(secret, rnd_fn=os.urandom).sign(message)
    results.append(('SM2 gmalglib signature verified by gmssl',
            crypt.verify_with_sm3(signature.hex(), message)))
    return results


def _timings(func, seconds, minimum=5):
    "Per-call durations (the minimum is the cost on an idle core)"
    durations, start = [], time.perf_counter()
    while (len(durations) < minimum
            or time.perf_counter() - start < seconds):
        begin = time.perf_counter()
        func()
        durations.append(time.perf_counter() - begin)
    durations.sort()
    return durations[0], durations[len(durations) // 2]


def bench_login(seconds):
    from trytond.modules.ct_security.crypto import get_provider
    from trytond.modules.ct_security.password import (
        DEFAULT_ITERATIONS,
        PASSWORD_HASH,
        PBKDF2SM3Hasher,
    )
    get_provider()
    password = 'Shanghai-Trial-2025'
    rows = []
    for iterations in (50_000, DEFAULT_ITERATIONS, 200_000):
        hasher = PBKDF2SM3Hasher(iterations=iterations)
        hash_ = hasher.hash(password)
        rows.append((f'PBKDF2-SM3 {iterations:,} it.', *_timings(
                    lambda h=hasher, x=hash_: h.verify(password, x),
                    seconds)))
    argon = PASSWORD_HASH.hashers[1].hash(password)
    rows.append(('argon2 verify (Tryton default)', *_timings(
                lambda: PASSWORD_HASH.hashers[1].verify(password, argon),
                seconds)))
    rows.append(('argon2 verify + SM3 rehash (upgrade)', *_timings(
                lambda: PASSWORD_HASH.verify_and_update(password, argon),
                seconds)))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--seconds', type=float, default=0.5,
        help="measuring time per operation")
    args = parser.parse_args()

    import logging
    logging.disable(logging.WARNING)
    libraries = [
        ('cryptography', bench_cryptography(args.seconds)),
        ('gmalglib', bench_gmalglib(args.seconds)),
        ('gmssl', bench_gmssl(args.seconds)),
        ]
    versions = {}
    for name in ['cryptography', 'gmalglib', 'gmssl']:
        try:
            from importlib.metadata import version
            versions[name] = version(name)
        except Exception:
            versions[name] = '-'
    operations = []
    for _, results in libraries:
        for op in (results or {}):
            if op not in operations:
                operations.append(op)
    header = f"{'operation':<26}" + ''.join(
        f'{f"{n} {versions[n]}":>24}' for n, _ in libraries)
    print(header)
    print('-' * len(header))
    for op in operations:
        unit = 'ops/s' if ('SM2' in op or 'HMAC' in op or ' B ' in op) \
            else 'MB/s'
        cells = []
        for _, results in libraries:
            value = (results or {}).get(op)
            cells.append(f'{fmt(value, unit):>24}')
        print(f'{op:<26}' + ''.join(cells))
    print()
    for check, ok in cross_check():
        print(f"{'OK  ' if ok else 'FAIL'} {check}")
    print()
    print("Login cost (one password verification; min / median ms, "
        f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs):")
    for name, best, median in bench_login(args.seconds):
        print(f'  {name:<40} {best * 1000:8.1f} {median * 1000:8.1f}')


if __name__ == '__main__':
    main()
