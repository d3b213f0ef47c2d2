"""SM2 signatures of approved documents: signed at approval, verified
later; a changed row is reported as tampered by the verification."""
import unittest

from trytond.modules.ct_base.signature import get_signer
from trytond.modules.ct_security.signing import ProviderSigner, verify_all
from trytond.pool import Pool
from trytond.tests.test_tryton import (
    activate_module,
    drop_db,
    with_transaction,
)
from trytond.transaction import Transaction


class SigningTestCase(unittest.TestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        drop_db()
        activate_module(['ct_security', 'ct_inspection'])

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        drop_db()

    def evaluation(self):
        pool = Pool()
        Institution = pool.get('ct.institution')
        Evaluation = pool.get('ct.evaluation')
        institution, = Institution.create([{
                    'name': '签名医院', 'code': 'SIG-1', 'kind': 'clinical'}])
        evaluation, = Evaluation.create([{
                    'institution': institution.id, 'evaluators': '张三',
                    'conclusion': 'compliant', 'summary': '符合要求。'}])
        return evaluation

    @with_transaction()
    def test_signer_installed(self):
        "ct_security plugs its SM2 signer into ct_base"
        self.assertIsInstance(get_signer(), ProviderSigner)

    @with_transaction()
    def test_approval_signs_and_tamper_detected(self):
        "An approved evaluation is SM2-signed; an edited row is tampered"
        pool = Pool()
        Evaluation = pool.get('ct.evaluation')
        evaluation = self.evaluation()
        self.assertEqual(evaluation.signature_state, 'unsigned')
        Evaluation.approve([evaluation])
        evaluation = Evaluation(evaluation.id)
        self.assertEqual(evaluation.signature_algorithm, 'SM2-SM3')
        self.assertTrue(evaluation.signature_key.startswith(
                'document.signing:'))
        self.assertEqual(evaluation.signature_state, 'valid')
        report = {m: (valid, tampered)
            for m, _, valid, tampered in verify_all()}
        self.assertEqual(report['ct.evaluation'], (1, []))

        # Someone with database access changes the conclusion
        table = Evaluation.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.conclusion], ['non_compliant'],
                where=table.id == evaluation.id))
        Transaction().cache.clear()
        evaluation = Evaluation(evaluation.id)
        self.assertEqual(Evaluation.verify_documents([evaluation]),
            {evaluation.id: 'tampered'})
        report = {m: (valid, tampered)
            for m, _, valid, tampered in verify_all()}
        valid, tampered = report['ct.evaluation']
        self.assertEqual((valid, [r.id for r in tampered]),
            (0, [evaluation.id]))

    @with_transaction()
    def test_concluded_inspection_signed_with_defects(self):
        "A concluded inspection's signature covers its defects' text"
        pool = Pool()
        Inspection = pool.get('ct.inspection')
        Defect = pool.get('ct.inspection.defect')
        evaluation = self.evaluation()
        inspection, = Inspection.create([{
                    'institution': evaluation.institution.id,
                    'date_start': evaluation.date, 'date_end': evaluation.date,
                    'conclusion': 'rectify', 'judgement': '整改后评定',
                    }])
        Inspection.start([inspection])
        defect, = Defect.create([{
                    'inspection': inspection.id, 'severity': 'major',
                    'description': '原始记录修改未留痕'}])
        Inspection.conclude([inspection])
        self.assertEqual(
            Inspection.verify_documents([inspection]),
            {inspection.id: 'valid'})
        table = Defect.__table__()
        cursor = Transaction().connection.cursor()
        cursor.execute(*table.update([table.description], ['无缺陷'],
                where=table.id == defect.id))
        self.assertEqual(
            Inspection.verify_documents([Inspection(inspection.id)]),
            {inspection.id: 'tampered'})

    @with_transaction()
    def test_signature_fields_not_writable(self):
        "Users cannot forge a signature over RPC (fields are read-only)"
        pool = Pool()
        Evaluation = pool.get('ct.evaluation')
        evaluation = self.evaluation()
        Evaluation.approve([evaluation])
        from trytond.exceptions import UserError
        with self.assertRaises(UserError):
            Evaluation.write([evaluation], {'signature': 'AAAA'})
