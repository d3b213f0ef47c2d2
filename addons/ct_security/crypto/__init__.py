"""Cryptographic providers of the platform (national algorithms).

``get_provider()`` returns the process-wide provider, created on first use
from ``[ct_security] provider = module:Class`` (default: the software
provider) and *self-tested before it is returned*: a failing known-answer
test raises ``SelfTestError`` and nothing gets encrypted, hashed or signed.
"""
import importlib
import threading

from trytond import config

from .provider import (
    DEFAULT_UID,
    HMAC_SM3,
    SM2,
    SM4,
    CryptoProvider,
    Envelope,
    KeyRecord,
    KeyStore,
    ProviderError,
    SelfTestError,
)

__all__ = ['CryptoProvider', 'Envelope', 'KeyRecord', 'KeyStore',
    'ProviderError', 'SelfTestError', 'DEFAULT_UID', 'SM4', 'SM2',
    'HMAC_SM3', 'get_provider', 'set_provider', 'load_provider_class']

DEFAULT_PROVIDER = 'trytond.modules.ct_security.crypto.software:SoftwareProvider'

_provider = None
_lock = threading.Lock()


def load_provider_class(path=None):
    "Return the provider class named by path or the configuration"
    if path is None:
        path = config.get(
            'ct_security', 'provider', default=DEFAULT_PROVIDER)
    module_name, sep, class_name = path.partition(':')
    if not sep:
        raise ProviderError(
            f"[ct_security] provider must be 'module:Class', not {path!r}")
    module = importlib.import_module(module_name)
    cls = getattr(module, class_name)
    if not (isinstance(cls, type) and issubclass(cls, CryptoProvider)):
        raise ProviderError(f"{path} is not a CryptoProvider")
    return cls


def get_provider(keystore=None):
    """Return the self-tested provider

    keystore is installed on the first call (the Tryton key model installs
    its own store, see ``key.py``)."""
    global _provider
    if _provider is None:
        with _lock:
            if _provider is None:
                provider = load_provider_class()(keystore)
                provider.self_test()
                _provider = provider
    if keystore is not None and _provider.keystore is None:
        _provider.keystore = keystore
    return _provider


def set_provider(provider):
    "Install provider (self-tested) or reset with None; returns the old one"
    global _provider
    if provider is not None:
        provider.self_test()
    old, _provider = _provider, provider
    return old
