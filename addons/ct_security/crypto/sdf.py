"""Server cipher machine (服务器密码机) through the GM/T 0018 SDF API.

This is the plug-in point for the certified device required by 密评 for
key storage and, where the assessor asks for it, for the operations
themselves.  It is *not* implemented against a real device here: no vendor
library is available on the development machines.  Selecting it without
``[ct_security] sdf_library`` raises ``ProviderError`` at start-up, so a
misconfigured production server refuses to start instead of silently
falling back to software.

Configuration::

    [ct_security]
    provider = trytond.modules.ct_security.crypto.sdf:SDFProvider
    sdf_library = /opt/vendor/lib/libsdf.so
    sdf_kek_index = 1
    sdf_sign_index = 1

Mapping of the interface onto GM/T 0018-2012 (the vendor wrapper must be
written against the vendor's header, since algorithm identifiers for
SM4-GCM and HMAC-SM3 are vendor extensions in GM/T 0018-2012):

``__init__``
    ``SDF_OpenDevice(&hDevice)``, ``SDF_OpenSession(hDevice, &hSession)``;
    ``SDF_GetPrivateKeyAccessRight`` for the signing key index.
``random(n)``
    ``SDF_GenerateRandom(hSession, n, buf)``.
``hash(data)``
    ``SDF_HashInit(hSession, SGD_SM3, NULL, NULL, 0)``,
    ``SDF_HashUpdate``, ``SDF_HashFinal``.
``generate_key(purpose, version, SM4|HMAC_SM3)``
    ``SDF_GenerateKeyWithKEK(hSession, 128, SGD_SM4_ECB, kek_index,
    wrapped, &len, &hKey)``; the wrapped key (under the device KEK) is what
    ``ct.security.key.wrapped_key`` stores; ``SDF_DestroyKey(hKey)``.
``generate_key(purpose, version, SM2)``
    a key pair generated inside the device at an index
    (``SDF_GenerateKeyPair_ECC`` through the vendor's management tool);
    the record stores the index and the public key, never the private
    key.
``encrypt`` / ``decrypt``
    ``SDF_ImportKeyWithKEK(hSession, SGD_SM4_ECB, kek_index, wrapped,
    len, &hKey)`` (cached per session), then ``SDF_Encrypt`` /
    ``SDF_Decrypt`` with the vendor's SM4-GCM identifier (or SM4-CBC plus
    ``SDF_CalculateMAC`` / HMAC-SM3 encrypt-then-MAC if the device has no
    GCM: the envelope version must then change).
``hmac``
    vendor HMAC-SM3 call (``SDF_HMAC`` in most SDKs) with the imported key.
``sign`` / ``verify``
    ``SDF_InternalSign_ECC(hSession, index, digest, 32, &sig)`` over
    ``SM3(Z_A || M)`` (Z_A from ``SDF_HashInit`` with the public key and
    the ID), ``SDF_ExternalVerify_ECC(hSession, SGD_SM2_1, &pub, digest,
    32, &sig)``.
``pbkdf2``
    no SDF call: PBKDF2 is a password-hashing construction, computed with
    the device's HMAC-SM3 or in software over a device-held pepper.
"""
import ctypes
import os

from trytond import config

from .provider import CryptoProvider, ProviderError

__all__ = ['SDFProvider']


class SDFProvider(CryptoProvider):
    "GM/T 0018 server cipher machine (vendor library required)"
    name = 'sdf'
    certified = True

    def __init__(self, keystore=None, library=None):
        super().__init__(keystore)
        library = library or config.get(
            'ct_security', 'sdf_library', default=None)
        if not library:
            raise ProviderError(
                "SDFProvider selected but no [ct_security] sdf_library "
                "(the vendor's GM/T 0018 libsdf) is configured")
        if not os.path.exists(library):
            raise ProviderError(f"SDF library {library} does not exist")
        try:
            self._lib = ctypes.CDLL(library)
        except OSError as exception:
            raise ProviderError(
                f"cannot load SDF library {library}: {exception}")
        for symbol in ['SDF_OpenDevice', 'SDF_OpenSession',
                'SDF_GenerateRandom', 'SDF_HashInit',
                'SDF_InternalSign_ECC', 'SDF_ExternalVerify_ECC',
                'SDF_ImportKeyWithKEK', 'SDF_Encrypt', 'SDF_Decrypt']:
            if not hasattr(self._lib, symbol):
                raise ProviderError(
                    f"SDF library {library} lacks {symbol}")
        # The bindings themselves depend on the vendor's header (structure
        # layouts of ECCrefPublicKey/ECCSignature, algorithm identifiers of
        # SM4-GCM and HMAC-SM3): they are written at integration time.
        raise ProviderError(
            "SDFProvider: the vendor binding of the GM/T 0018 calls is not "
            "written yet (see the module documentation); refusing to start")

    def _not_bound(self, *args, **kwargs):
        raise ProviderError("SDFProvider is not bound to a device")

    random = hash = hmac = hmac_verify = pbkdf2 = _not_bound
    encrypt = decrypt = sign = verify = public_key = _not_bound
    generate_key = _not_bound
