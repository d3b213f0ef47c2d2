"""Upload controls on ir.attachment (size, file type by content, links)

Every attachment a user adds over RPC (to a rectification, a signal, an
inspection...) is checked *before* its bytes reach the filestore:

* the name: no path separator (``/``, ``\\``), no control or bidirectional
  override character, not ``.``/``..``;
* the size: not empty, at most ``[ct] attachment_max_size`` MB;
* the content, by its magic bytes (never by the name alone): executables
  (MZ, ELF, Mach-O, ``#!`` scripts), HTML/SVG/script in the first KB and
  Office documents with macros are refused whatever their name; otherwise
  the extension must be in ``ALLOWED_TYPES`` and the content must be what
  the extension says;
* links (type ``link``): only ``http://`` and ``https://``.

The controls apply when ``Transaction().check_access`` is true, i.e. to
requests of users (RPC sets ``_check_access``, and it stays set in the
buttons and methods they call).  Server code running as root or under
``without_check_access()`` (reports stored by Tryton, imports, jobs) is not
checked: it decides itself what it stores.

Configuration (trytond.conf)::

    [ct]
    # largest attachment in MB (1 MB = 1024 * 1024 bytes); default 20
    attachment_max_size = 20

Trytond's own ``[request] max_size_authenticated`` (2 GB by default) still
bounds the whole RPC request; a reverse proxy should use a similar cap
(e.g. nginx ``client_max_body_size 30m`` for 20 MB once base64 encoded).
"""
import io
import math
import unicodedata
import urllib.parse
import zipfile
from collections import defaultdict

import trytond.config as config
from trytond.i18n import gettext
from trytond.model import fields
from trytond.pool import Pool, PoolMeta
from trytond.transaction import Transaction

from .exceptions import AttachmentError

MB = 1024 * 1024
DEFAULT_MAX_SIZE = 20  # MB, see [ct] attachment_max_size
SNIFF_WINDOW = 1024  # bytes searched for active content

# Allow-list of uploads: lower-case extension -> content kinds (as found by
# ``sniff``) accepted under that name.  A file is accepted only when its
# extension is listed here AND its content is of one of the listed kinds.
# Extend with care: every type added here is served back to other users.
ALLOWED_TYPES = {
    'pdf': {'pdf'},
    'png': {'png'},
    'jpg': {'jpeg'},
    'jpeg': {'jpeg'},
    'gif': {'gif'},
    'bmp': {'bmp'},
    'tif': {'tiff'},
    'tiff': {'tiff'},
    # Office Open XML: a zip with [Content_Types].xml and the main part
    'docx': {'docx'},
    'xlsx': {'xlsx'},
    'pptx': {'pptx'},
    # legacy Office (OLE2 compound file)
    'doc': {'ole2'},
    'xls': {'ole2'},
    # OFD (GB/T 33190 electronic document): a zip with OFD.xml at its root
    'ofd': {'ofd'},
    # plain text: UTF-8 or GB18030, no NUL or other control bytes
    'txt': {'text'},
    'csv': {'text'},
    }

# Kinds refused whatever the name of the file
DANGEROUS_KINDS = {'exe', 'elf', 'macho', 'script', 'active', 'macro'}

# Markers of active content (HTML, SVG, script) in the first KB
ACTIVE_MARKERS = (b'<script', b'<html', b'<svg', b'javascript:')

LINK_SCHEMES = {'http', 'https'}

_MACHO_MAGICS = (
    b'\xfe\xed\xfa\xce', b'\xfe\xed\xfa\xcf',
    b'\xce\xfa\xed\xfe', b'\xcf\xfa\xed\xfe',
    b'\xca\xfe\xba\xbe',  # universal binary (also Java class files)
    )
_OLE2_MAGIC = b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1'
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}
_TEXT_CONTROLS = {0x09, 0x0a, 0x0b, 0x0c, 0x0d}
# Bidirectional controls used to disguise extensions ("txt.exe" shown as
# "exe.txt")
_BIDI_CONTROLS = set(map(chr, [
            0x200e, 0x200f, 0x202a, 0x202b, 0x202c, 0x202d, 0x202e,
            0x2066, 0x2067, 0x2068, 0x2069]))


def max_size():
    "Return the largest attachment accepted, in bytes"
    return config.getfloat(
        'ct', 'attachment_max_size', default=DEFAULT_MAX_SIZE) * MB


def _sniff_zip(data):
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
    except (zipfile.BadZipFile, ValueError, OSError, EOFError):
        return 'zip'
    lower = [n.lower() for n in names]
    if '[content_types].xml' in lower:
        if any(n.endswith('vbaproject.bin') for n in lower):
            return 'macro'
        for prefix, kind in [
                ('word/', 'docx'), ('xl/', 'xlsx'), ('ppt/', 'pptx')]:
            if any(n.startswith(prefix) for n in lower):
                return kind
    elif 'ofd.xml' in lower:
        return 'ofd'
    return 'zip'


def _is_text(data):
    if any(b < 0x20 and b not in _TEXT_CONTROLS for b in data):
        return False
    for encoding in ['utf-8-sig', 'gb18030']:
        try:
            data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return True
    return False


def sniff(data):
    "Return the kind of content of data (bytes) from its magic bytes"
    head = data[:SNIFF_WINDOW]
    bare = head.removeprefix(b'\xef\xbb\xbf')
    if head.startswith(b'MZ'):
        return 'exe'
    if head.startswith(b'\x7fELF'):
        return 'elf'
    if head.startswith(_MACHO_MAGICS):
        return 'macho'
    if bare.startswith(b'#!'):
        return 'script'
    lowered = head.lower()
    if any(m in lowered for m in ACTIVE_MARKERS):
        return 'active'
    if head.startswith(b'%PDF-'):
        return 'pdf'
    if head.startswith(b'\x89PNG\r\n\x1a\n'):
        return 'png'
    if head.startswith(b'\xff\xd8\xff'):
        return 'jpeg'
    if head.startswith((b'GIF87a', b'GIF89a')):
        return 'gif'
    if (head.startswith(b'BM') and len(head) >= 18
            and head[6:10] == b'\0\0\0\0'
            and int.from_bytes(head[14:18], 'little') in _BMP_HEADER_SIZES):
        return 'bmp'
    if head.startswith((b'II*\x00', b'MM\x00*')):
        return 'tiff'
    if head.startswith(_OLE2_MAGIC):
        return 'ole2'
    if head.startswith((b'PK\x03\x04', b'PK\x05\x06')):
        return _sniff_zip(data)
    if _is_text(data):
        return 'text'
    return 'unknown'


def kind_label(kind):
    return gettext(f'ct_base.msg_attachment_kind_{kind}')


def display_name(name):
    "Name safe to show in a message (control characters escaped)"
    return ''.join(
        c if unicodedata.category(c) not in {'Cc', 'Cf'}
        else repr(c)[1:-1] if c.isascii() else f'\\u{ord(c):04x}'
        for c in name)


def _format_mb(value):
    return format(value, 'g')


def check_name(name):
    if not name:
        return
    if ('/' in name or '\\' in name or name.strip() in {'.', '..'}
            or any(unicodedata.category(c) == 'Cc'
                or c in _BIDI_CONTROLS for c in name)):
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_name_invalid',
                name=display_name(name)))


def check_data(name, data):
    "Raise AttachmentError unless data may be uploaded as name"
    data = fields.Binary.cast(data)
    name = name or ''
    shown = display_name(name)
    if not data:
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_empty', name=shown))
    limit = max_size()
    if len(data) > limit:
        size = math.ceil(len(data) / MB * 100) / 100
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_too_large', name=shown,
                size=_format_mb(size), limit=_format_mb(limit / MB)))
    kind = sniff(data)
    if kind in DANGEROUS_KINDS:
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_dangerous', name=shown,
                kind=kind_label(kind)))
    extension = name.rsplit('.', 1)[1].lower() if '.' in name else ''
    if extension not in ALLOWED_TYPES:
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_type_not_allowed', name=shown,
                kind=kind_label(kind),
                allowed=', '.join(sorted(ALLOWED_TYPES))))
    if kind not in ALLOWED_TYPES[extension]:
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_type_mismatch', name=shown,
                extension=extension, kind=kind_label(kind)))


def check_link(name, link):
    "Raise AttachmentError unless link is an http(s) URL"
    if not link:
        return
    stripped = link.strip()
    try:
        url = urllib.parse.urlsplit(stripped)
    except ValueError:
        url = None
    if (url is None
            or url.scheme.lower() not in LINK_SCHEMES
            or not url.netloc
            or any(unicodedata.category(c) == 'Cc' for c in stripped)):
        raise AttachmentError(gettext(
                'ct_base.msg_attachment_link_scheme',
                name=display_name(name or ''),
                scheme=display_name((url.scheme if url else '') or '-')))


class Attachment(metaclass=PoolMeta):
    __name__ = 'ir.attachment'

    @classmethod
    def _upload_controlled(cls):
        return Transaction().check_access

    @classmethod
    def check_upload(cls, name, type_, data, link):
        "Raise AttachmentError if the values may not be stored by a user"
        check_name(name)
        if data is not None:
            check_data(name, data)
        if type_ == 'link':
            check_link(name, link)

    @classmethod
    def _check_resources_access(cls, vlist):
        """Check the access to the resources before looking at the content
        (same checks as ResourceAccessMixin does after the creation), so
        that a foreign record gets an access error, not a content error"""
        pool = Pool()
        ModelAccess = pool.get('ir.model.access')
        Rule = pool.get('ir.rule')
        ModelAccess.check(cls.__name__, 'create')
        resources = defaultdict(set)
        for values in vlist:
            resource = values.get('resource', cls.default_resource())
            if isinstance(resource, str) and ',' in resource:
                model, id_ = resource.split(',', 1)
            elif isinstance(resource, (list, tuple)) and len(resource) == 2:
                model, id_ = resource
            else:
                continue
            try:
                id_ = int(id_)
                pool.get(model)
            except (TypeError, ValueError, KeyError):
                continue
            if id_ >= 0:
                resources[model].add(id_)
        for model, ids in resources.items():
            for model_name, mode in cls._convert_check_access(
                    model, 'create'):
                ModelAccess.check(model_name, mode=mode)
                Rule.check(model_name, list(ids), mode=mode)

    @classmethod
    def create(cls, vlist):
        if cls._upload_controlled():
            cls._check_resources_access(vlist)
            for values in vlist:
                cls.check_upload(
                    values.get('name'),
                    values.get('type', cls.default_type()),
                    values.get('data'),
                    values.get('link'))
        return super().create(vlist)

    @classmethod
    def write(cls, *args):
        if cls._upload_controlled():
            actions = iter(args)
            for records, values in zip(actions, actions, strict=True):
                if not values.keys() & {'name', 'type', 'data', 'link'}:
                    continue
                cls.check_access([r.id for r in records], mode='write')
                for record in records:
                    if 'data' in values:
                        data = values['data']
                    elif 'name' in values and values['name'] != record.name:
                        # Renamed: its content must match the new name
                        data = record.data
                    else:
                        data = None
                    cls.check_upload(
                        values.get('name', record.name),
                        values.get('type', record.type),
                        data,
                        values.get('link', record.link))
        super().write(*args)
