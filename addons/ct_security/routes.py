"""Security headers on every HTTP response of trytond.

``trytond.wsgi.app`` is wrapped once, at the outermost level, so the headers
also cover the static sao files, error pages and routes of other modules.
The Content-Security-Policy is the strictest that sao 8.0 runs under: it
needs ``'unsafe-eval'`` (PYSON is evaluated with ``eval``) and the inline
start-up script of its index.html, allowed by hash rather than by
``'unsafe-inline'``. ``[ct_security] csp`` replaces the policy.
"""
import base64
import hashlib
import os
import re

from trytond import config
from trytond.wsgi import app

_INLINE_SCRIPT = re.compile(
    r'<script(?![^>]*\bsrc=)[^>]*>(.*?)</script>', re.DOTALL | re.IGNORECASE)
# Paths answered with user data: never stored by a browser or a proxy.
_NO_STORE = re.compile(r'^/[^/]+/(rpc|session|rest|user|ct_[a-z_]+)(/|$)|^/$')


def _inline_script_hashes():
    root = config.get('web', 'root')
    if not root:
        return []
    try:
        with open(os.path.join(root, 'index.html'), encoding='utf-8') as f:
            html = f.read()
    except OSError:
        return []
    return ["'sha256-%s'" % base64.b64encode(
            hashlib.sha256(s.encode('utf-8')).digest()).decode('ascii')
        for s in _INLINE_SCRIPT.findall(html)]


def content_security_policy():
    policy = config.get('ct_security', 'csp', default=None)
    if policy:
        return policy
    script = ' '.join(["'self'", "'unsafe-eval'", *_inline_script_hashes()])
    return '; '.join([
            "default-src 'self'",
            f"script-src {script}",
            "style-src 'self' 'unsafe-inline'",
            "img-src 'self' data: blob:",
            "font-src 'self' data:",
            "connect-src 'self'",
            "frame-src 'self' blob: data:",
            "object-src 'none'",
            "base-uri 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            ])


def security_headers(environ, csp):
    "Return the headers to set and those to force for a request."
    headers = {
        'Content-Security-Policy': csp,
        'X-Content-Type-Options': 'nosniff',
        'X-Frame-Options': 'DENY',
        'Referrer-Policy': 'no-referrer',
        'Cross-Origin-Opener-Policy': 'same-origin',
        }
    if environ.get('wsgi.url_scheme') == 'https':
        headers['Strict-Transport-Security'] = (
            'max-age=31536000; includeSubDomains')
    forced = {}
    path = environ.get('PATH_INFO') or '/'
    if (environ.get('REQUEST_METHOD') not in {'GET', 'HEAD'}
            or _NO_STORE.match(path)):
        forced['Cache-Control'] = 'no-store'
        forced['Pragma'] = 'no-cache'
    return headers, forced


class SecurityHeadersMiddleware:
    "WSGI middleware adding the security headers to every response."
    ct_security_headers = True

    def __init__(self, wsgi_app):
        self.app = wsgi_app
        self.csp = content_security_policy()

    def __call__(self, environ, start_response):
        defaults, forced = security_headers(environ, self.csp)

        def _start_response(status, headers, exc_info=None):
            present = {k.lower() for k, _ in headers}
            headers = [(k, v) for k, v in headers
                if k.lower() not in {f.lower() for f in forced}]
            headers.extend(forced.items())
            headers.extend((k, v) for k, v in defaults.items()
                if k.lower() not in present)
            return start_response(status, headers, exc_info)
        return self.app(environ, _start_response)


def install(application=app):
    "Wrap application once (idempotent)."
    if not getattr(application.wsgi_app, 'ct_security_headers', False):
        application.wsgi_app = SecurityHeadersMiddleware(
            application.wsgi_app)


install()
