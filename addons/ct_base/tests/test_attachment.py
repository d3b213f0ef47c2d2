"""ir.attachment upload controls: size, type by content, names, links

Users (``_check_access``) get a clear error naming the file and nothing is
stored; root / server code is not blocked.
"""
import io
import os
import struct
import unittest
import zipfile
import zlib
from contextlib import contextmanager

import trytond.config as config
import xlsxwriter
from trytond.model.exceptions import AccessError
from trytond.modules.ct_base.attachment import ALLOWED_TYPES, check_data, sniff
from trytond.modules.ct_base.exceptions import AttachmentError
from trytond.pool import Pool
from trytond.tests.test_tryton import activate_module, with_transaction
from trytond.transaction import Transaction

PDF = b'%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer\n%%EOF\n'
EXE = b'MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff' + b'\0' * 64
HTML = b'<!DOCTYPE html>\n<html><body><script>alert(1)</script></body></html>'
SVG = (b'<?xml version="1.0"?>\n<svg xmlns="http://www.w3.org/2000/svg">'
    b'<script>alert(document.cookie)</script></svg>')
OLE2 = b'\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1' + b'\0' * 504


def png():
    "A real 1x1 PNG"
    def chunk(kind, data):
        return (struct.pack('>I', len(data)) + kind + data
            + struct.pack('>I', zlib.crc32(kind + data)))
    return (b'\x89PNG\r\n\x1a\n'
        + chunk(b'IHDR', struct.pack('>IIBBBBB', 1, 1, 8, 2, 0, 0, 0))
        + chunk(b'IDAT', zlib.compress(b'\x00\xff\x00\x00'))
        + chunk(b'IEND', b''))


def xlsx():
    "A real workbook written by xlsxwriter in memory"
    output = io.BytesIO()
    workbook = xlsxwriter.Workbook(output, {'in_memory': True})
    sheet = workbook.add_worksheet('整改')
    sheet.write_row(0, 0, ['机构', '缺陷数'])
    sheet.write_row(1, 0, ['第一医院', 3])
    workbook.close()
    return output.getvalue()


def zip_of(members):
    output = io.BytesIO()
    with zipfile.ZipFile(output, 'w') as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return output.getvalue()


CSV_GB18030 = '机构,缺陷数\r\n第一医院,3\r\n'.encode('gb18030')


def make_user(login, group_xml_id):
    pool = Pool()
    User = pool.get('res.user')
    ModelData = pool.get('ir.model.data')
    user, = User.create([{
                'name': login, 'login': login,
                'groups': [('add', [ModelData.get_id(*group_xml_id)])],
                }])
    return user


class AttachmentTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        activate_module('ct_base')

    def setUp(self):
        super().setUp()
        # Each test runs in its own transaction: nothing set up here
        self.user = self.resource = None

    def prepare(self):
        pool = Pool()
        Institution = pool.get('ct.institution')
        institution, = Institution.create([{
                    'name': '第一医院', 'code': 'ATT-1',
                    'kind': 'clinical'}])
        self.user = make_user('regulator', ('ct_base', 'group_regulator'))
        self.resource = str(institution)

    @contextmanager
    def as_user(self):
        "A user request over RPC: access (and upload) checks on"
        with Transaction().set_user(self.user.id), \
                Transaction().set_context(_check_access=True):
            yield

    def set_limit(self, value):
        if not config.has_section('ct'):
            config.add_section('ct')
        config.set('ct', 'attachment_max_size', value)

        def restore():
            config._config.remove_option('ct', 'attachment_max_size')
            config._cache_clear()
        self.addCleanup(restore)

    def count(self):
        Attachment = Pool().get('ir.attachment')
        with Transaction().set_user(0), \
                Transaction().set_context(_check_access=False):
            return Attachment.search_count([])

    def upload(self, name, data=None, **values):
        Attachment = Pool().get('ir.attachment')
        values.setdefault('resource', self.resource)
        values['name'] = name
        if data is not None:
            values['data'] = data
        attachment, = Attachment.create([values])
        return attachment

    def assertRefused(self, name, data=None, contains=(), **values):
        "The upload is refused with a message naming the file"
        before = self.count()
        with self.as_user():
            with self.assertRaises(AttachmentError) as cm:
                self.upload(name, data, **values)
        message = cm.exception.message
        self.assertIn(name, message)
        for text in contains:
            self.assertIn(text, message)
        self.assertEqual(self.count(), before, "stored after a refusal")
        return message

    @with_transaction()
    def test_accepted_uploads(self):
        "Real PDF, PNG, XLSX, GB18030 CSV, legacy Office, OFD are accepted"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        self.prepare()
        files = {
            '整改证明.pdf': PDF,
            '现场照片.PNG': png(),
            '缺陷统计.xlsx': xlsx(),
            '缺陷清单.csv': CSV_GB18030,
            '说明.txt': '整改说明：已完成。'.encode('utf-8'),
            '旧版报告.doc': OLE2,
            '电子证照.ofd': zip_of({
                    'OFD.xml': '<ofd:OFD xmlns:ofd="http://www.ofdspec.org/'
                    '2016"/>', 'Doc_0/Document.xml': '<x/>'}),
            }
        with self.as_user():
            for name, data in files.items():
                with self.subTest(name=name):
                    attachment = self.upload(name, data)
                    self.assertEqual(attachment.data, data)
            link = self.upload(
                '整改公示', type='link',
                link='https://www.nmpa.gov.cn/index.html')
        self.assertEqual(link.link, 'https://www.nmpa.gov.cn/index.html')
        self.assertEqual(Attachment.search_count([
                    ('resource', '=', self.resource)]), len(files) + 1)

    @with_transaction()
    def test_oversized(self):
        "Files over [ct] attachment_max_size (MB) are refused"
        self.prepare()
        self.set_limit('0.001')  # 1048 bytes
        data = PDF + b'0' * 2000
        message = self.assertRefused('大文件.pdf', data,
            contains=['0.001', '0.01'])
        self.assertIn('MB', message)
        with self.as_user():
            self.upload('小文件.pdf', PDF)

    @with_transaction()
    def test_default_limit(self):
        "The default limit is 20 MB"
        self.prepare()
        big = PDF + b'0' * (20 * 1024 * 1024)
        self.assertRefused('扫描件.pdf', big, contains=['20.01', '20'])
        # exactly 20 MB passes (checked without storing 20 MB)
        check_data('扫描件.pdf', big[:20 * 1024 * 1024])

    @with_transaction()
    def test_empty(self):
        "A 0-byte file is refused"
        self.prepare()
        self.assertRefused('空白.pdf', b'')

    @with_transaction()
    def test_executable_renamed(self):
        "An executable is refused whatever its name"
        self.prepare()
        for name, data in [
                ('整改报告.pdf', EXE),
                ('tool.exe', EXE),
                ('run.txt', b'#!/bin/sh\nrm -rf /\n'),
                ('lib.pdf', b'\x7fELF\x02\x01\x01' + b'\0' * 32),
                ('app.png', b'\xcf\xfa\xed\xfe' + b'\0' * 32),
                ]:
            with self.subTest(name=name):
                self.assertRefused(name, data)

    @with_transaction()
    def test_active_content(self):
        "HTML/SVG with script is refused whatever its extension"
        self.prepare()
        self.assertRefused('说明.txt', HTML)
        self.assertRefused('图示.svg', SVG)
        self.assertRefused('图示.png', SVG)
        self.assertRefused(
            '数据.csv', b'a,b\r\n1,"<a href=\'JavaScript:alert(1)\'>"\r\n')

    @with_transaction()
    def test_extension_mismatch(self):
        "The content must be what the extension says"
        self.prepare()
        self.assertRefused('缺陷统计.xlsx', CSV_GB18030)
        self.assertRefused('报告.pdf', png())
        self.assertRefused('照片.jpg', png())
        self.assertRefused('数据.txt', png())
        self.assertRefused('报告.docx', xlsx())
        self.assertRefused('归档.xlsx', zip_of({'a.txt': 'x'}))
        self.assertRefused('损坏.xlsx', b'PK\x03\x04' + b'\0' * 40)
        self.assertRefused('二进制.csv', b'\x01\x02\x03binary\x00')

    @with_transaction()
    def test_type_not_allowed(self):
        "Extensions outside the allow-list are refused"
        self.prepare()
        self.assertRefused('归档.zip', zip_of({'a.txt': 'x'}))
        self.assertRefused('页面.html', b'hello')
        self.assertRefused('无扩展名', PDF)
        self.assertRefused('宏.xlsm', xlsx())

    @with_transaction()
    def test_macro(self):
        "Office documents carrying macros are refused"
        self.prepare()
        data = zip_of({
                '[Content_Types].xml': '<Types/>',
                'word/document.xml': '<w:document/>',
                'word/vbaProject.bin': 'macro'})
        self.assertRefused('整改方案.docx', data)

    @with_transaction()
    def test_bad_names(self):
        "Path separators and control characters in names are refused"
        self.prepare()
        for name in ['../整改证明.pdf', '..\\整改证明.pdf', '/etc/passwd.txt',
                '..']:
            with self.subTest(name=name):
                self.assertRefused(name, PDF)
        for name, shown in [
                ('整改\n证明.pdf', '整改\\n证明.pdf'),
                ('证明\u202efdp.exe', '证明\\u202efdp.exe'),
                ]:
            before = self.count()
            with self.assertRaises(AttachmentError) as cm, self.as_user():
                self.upload(name, PDF)
            self.assertIn(shown, cm.exception.message)
            self.assertEqual(self.count(), before)

    @with_transaction()
    def test_links(self):
        "Only http(s) links are accepted"
        self.prepare()
        for link in ['javascript:alert(document.cookie)',
                ' JavaScript:alert(1)', 'data:text/html;base64,PHNjcmlwdD4=',
                'file:///etc/passwd', 'ftp://example.com/x', 'https://',
                'http://exa\nmple.com']:
            with self.subTest(link=link):
                self.assertRefused('公示链接', type='link', link=link)

    @with_transaction()
    def test_write_checked(self):
        "New data, new names and new links on existing attachments"
        pool = Pool()
        Attachment = pool.get('ir.attachment')
        self.prepare()
        with self.as_user():
            attachment = self.upload('整改证明.pdf', PDF)
            link = self.upload('公示', type='link', link='https://a.cn/')
            for values in [
                    {'data': EXE},
                    {'data': HTML},
                    {'data': b''},
                    {'name': '整改证明.png'},
                    {'name': '整改证明.exe'},
                    {'name': '../整改证明.pdf'},
                    {'name': '截图.png', 'data': PDF},
                    ]:
                with self.subTest(values=values):
                    with self.assertRaises(AttachmentError) as cm:
                        Attachment.write([attachment], values)
                    self.assertIn(
                        values.get('name', '整改证明.pdf'),
                        cm.exception.message)
            with self.assertRaises(AttachmentError):
                Attachment.write([link], {'link': 'javascript:alert(1)'})
            # Accepted changes
            Attachment.write([attachment], {'data': PDF + b'%v2\n'})
            Attachment.write([attachment], {
                    'name': '照片.png', 'data': png()})
            Attachment.write([attachment], {'description': '第二版'})
            Attachment.write([link], {'link': 'http://b.cn/x?y=1'})
        attachment = Attachment(attachment.id)
        self.assertEqual(
            (attachment.name, attachment.data), ('照片.png', png()))
        self.assertEqual(Attachment(link.id).link, 'http://b.cn/x?y=1')

    @with_transaction()
    def test_server_code_not_blocked(self):
        "Root and code without access checks store what they need"
        self.prepare()
        attachment = self.upload('report.html', HTML)
        self.assertEqual(attachment.data, HTML)
        with Transaction().set_user(self.user.id), \
                Transaction().set_context(_check_access=False):
            self.upload('导出.bin', b'\x00\x01')
        with Transaction().set_user(0), \
                Transaction().set_context(_check_access=True):
            # root with the flag: still server code
            self.upload('empty.pdf', b'')
            self.upload('tool.pdf', EXE)

    @with_transaction()
    def test_foreign_resource_access_first(self):
        "A record the user may not write gets an access error"
        self.prepare()
        user = make_user('institution', ('ct_base', 'group_institution'))
        with Transaction().set_user(user.id), \
                Transaction().set_context(_check_access=True):
            with self.assertRaises(AccessError):
                self.upload('x.pdf', EXE)

    @with_transaction()
    def test_chinese_messages(self):
        "Messages are in Chinese for zh_CN users"
        pool = Pool()
        Lang = pool.get('ir.lang')
        Translation = pool.get('ir.translation')
        self.prepare()
        lang, = Lang.search([('code', '=', 'zh_CN')])
        Lang.write([lang], {'translatable': True})
        Translation.translation_import('zh_CN', 'ct_base', os.path.join(
                os.path.dirname(os.path.dirname(__file__)), 'locale',
                'zh_CN.po'))
        with Transaction().set_context(language='zh_CN'):
            message = self.assertRefused('整改报告.pdf', EXE)
            self.assertIn('Windows 可执行程序', message)
            message = self.assertRefused('统计.xlsx', CSV_GB18030)
            self.assertIn('纯文本', message)
            self.assertIn('与扩展名不符', message)
            self.set_limit('0.001')
            message = self.assertRefused('大文件.pdf', PDF + b'0' * 2000)
            self.assertIn('上限', message)

    def test_allow_list(self):
        "Every allowed extension maps to content kinds sniff can return"
        kinds = {sniff(d) for d in [
                PDF, png(), xlsx(), CSV_GB18030, OLE2, EXE, HTML,
                b'\xff\xd8\xff\xe0', b'GIF89a', b'II*\x00', b'MM\x00*',
                b'BM' + b'\0' * 8 + b'\x36\0\0\0' + b'\x28\0\0\0']}
        self.assertLessEqual(
            {'pdf', 'png', 'xlsx', 'text', 'ole2', 'jpeg', 'gif', 'tiff',
                'bmp'}, kinds)
        self.assertFalse(set().union(*ALLOWED_TYPES.values())
            & {'exe', 'elf', 'macho', 'script', 'active', 'macro', 'zip',
                'unknown'})
        self.assertEqual(sniff(b'BMW,3\r\n'), 'text')
