"""The demo checklist catalogue with the structure of the 2023 NMPA
checklist (核查中心通告2023年第9号): 16 sections, 109 items of which 9 key
items (★★), 51 major items (★) and 49 general items.

The wording is a SAMPLE written for the demo, not the official text: import
the official list through 检查要点目录导入 to replace it. Run this file to
regenerate addons/ct_inspection/clause_data.xml.
"""
from pathlib import Path
from xml.sax.saxutils import escape

# (part, section, [(title, class)]) where class is 'key', 'major' or ''
SECTIONS = [
    ('institution', '一、机构资质与条件', [
        ('机构具有医疗机构执业许可证，备案信息真实、完整并及时更新', 'major'),
        ('机构设有药物临床试验管理部门并配备专职管理人员', 'major'),
        ('机构负责人对临床试验质量承担管理责任', ''),
        ('备案专业与实际开展试验的专业一致', 'major'),
        ('机构年度工作报告按时在备案平台提交', ''),
        ('主要研究者具有高级职称并参加过3个以上药物临床试验', 'major'),
        ('机构具备处理受试者急危重症的能力与条件', 'key'),
    ]),
    ('institution', '二、组织管理', [
        ('机构制定临床试验管理制度并覆盖试验全过程', 'major'),
        ('机构对立项、合同、经费实行统一管理', ''),
        ('机构对研究团队的授权与分工有书面记录', 'major'),
        ('机构建立与申办者、合同研究组织的沟通机制', ''),
        ('机构对试验项目的结题进行审核', ''),
        ('机构管理部门定期向负责人报告试验质量情况', ''),
        ('机构设立受试者咨询与投诉渠道', ''),
    ]),
    ('institution', '三、质量管理体系', [
        ('机构建立覆盖各专业的质量管理体系', 'major'),
        ('机构制定并执行内部质量检查计划', 'major'),
        ('质量检查发现的问题有整改及跟踪记录', 'major'),
        ('标准操作规程（SOP）定期审核并受控发放', ''),
        ('机构对偏离与违背方案事件进行评估和报告', 'major'),
        ('机构开展年度质量管理评审', ''),
        ('质量管理人员具备相应资质并接受培训', ''),
    ]),
    ('institution', '四、设施与设备', [
        ('具有与试验规模相适应的受试者接待、筛选场所', ''),
        ('抢救设备、药品配备齐全并处于可用状态', 'key'),
        ('仪器设备有校准、维护和使用记录', 'major'),
        ('资料档案室具备防火、防潮、防盗条件', ''),
        ('计算机化系统经过验证并有权限控制', 'major'),
        ('冷链设备有连续温度监测与报警', 'major'),
        ('试验区域有明显标识和门禁管理', ''),
    ]),
    ('institution', '五、试验用药品管理', [
        ('设立试验用药品管理部门或专人管理', 'major'),
        ('试验用药品的接收、贮存、发放、回收、销毁有完整记录', 'major'),
        ('试验用药品贮存条件符合方案要求并有温湿度记录', 'major'),
        ('试验用药品账物相符，数量可溯源', 'key'),
        ('试验用药品与其他药品分区存放并有明显标识', ''),
        ('药品管理人员经过培训并获得授权', ''),
        ('过期或剩余药品按规定退回或销毁', ''),
    ]),
    ('institution', '六、文件与档案管理', [
        ('临床试验必备文件保存完整', 'major'),
        ('档案借阅、归档有登记记录', ''),
        ('档案保存期限符合法规要求', 'major'),
        ('电子文件有备份并可读取', ''),
        ('文件版本受控，作废文件及时回收', ''),
        ('合同与经费文件归档完整', ''),
    ]),
    ('institution', '七、人员培训', [
        ('研究人员接受GCP培训并有证明', 'major'),
        ('机构制定年度培训计划并组织实施', ''),
        ('新上岗人员接受岗前培训', ''),
        ('培训记录内容完整、可追溯', ''),
        ('研究人员熟悉试验方案及相关SOP', ''),
        ('培训效果有评估', ''),
    ]),
    ('institution', '八、伦理审查衔接', [
        ('试验在获得伦理委员会批准后开始', 'key'),
        ('方案修订在伦理批准后执行', 'major'),
        ('严重不良事件按要求向伦理委员会报告', 'major'),
        ('跟踪审查按伦理委员会要求及时提交', ''),
        ('知情同意书版本与伦理批准版本一致', 'major'),
        ('伦理审查文件在机构存档', ''),
        ('机构与伦理委员会信息沟通顺畅', ''),
    ]),
    ('specialty', '九、专业条件与人员', [
        ('专业负责人具备相应资质和试验经验', 'major'),
        ('研究人员数量与在研项目数量相适应', 'major'),
        ('研究团队成员的授权范围与其资质相符', 'major'),
        ('专业具有开展试验所需的床位和门诊条件', ''),
        ('专业建立本专业的SOP', ''),
        ('专业设有质量控制人员', ''),
        ('研究人员简历、资质证明存档', ''),
    ]),
    ('specialty', '十、受试者权益保护', [
        ('受试者在参加试验前签署知情同意书', 'key'),
        ('知情同意过程规范，签署人员经授权', 'major'),
        ('受试者隐私和个人信息得到保护', 'major'),
        ('受试者补偿、保险符合约定', ''),
        ('出现新的重要信息时及时告知受试者并重新获取同意', 'major'),
        ('弱势受试者的知情同意符合特殊要求', 'major'),
        ('受试者退出试验的处理符合方案', ''),
    ]),
    ('specialty', '十一、试验方案执行', [
        ('受试者入选、排除符合方案规定', 'major'),
        ('试验访视和检查按方案时间窗进行', 'major'),
        ('合并用药记录完整并符合方案', ''),
        ('方案偏离有记录、评估和报告', 'major'),
        ('随机化和盲法按方案实施', 'major'),
        ('紧急揭盲有记录和原因说明', ''),
        ('试验用药品按方案给药并记录', 'major'),
    ]),
    ('specialty', '十二、源数据与记录', [
        ('源数据真实、准确、完整，可溯源', 'key'),
        ('病例报告表数据与源数据一致', 'major'),
        ('原始记录修改规范并保留修改痕迹', 'major'),
        ('检查检验结果由研究者及时判读签字', 'major'),
        ('电子病历系统具有稽查轨迹', 'major'),
        ('受试者日记卡收集和核对及时', ''),
        ('数据录入及时，质疑处理有记录', ''),
    ]),
    ('specialty', '十三、安全性信息管理', [
        ('不良事件识别、记录、随访完整', 'major'),
        ('严重不良事件在规定时限内报告', 'key'),
        ('可疑且非预期严重不良反应及时处理和报告', 'major'),
        ('研究者对不良事件与试验药物的相关性作出判断', 'major'),
        ('安全性信息通报及时传达研究团队', ''),
        ('受试者损害得到及时救治', 'major'),
    ]),
    ('specialty', '十四、专业试验用药品管理', [
        ('专业药柜试验用药品管理规范', 'major'),
        ('药品发放与回收记录与受试者访视一致', 'major'),
        ('受试者用药依从性有评估记录', ''),
        ('专业药品的贮存温度有监测记录', 'major'),
        ('药品使用后的包装、剩余量按规定处理', ''),
        ('特殊管理药品执行相应管理规定', 'major'),
        ('药品标签与方案要求一致', ''),
    ]),
    ('specialty', '十五、生物样本管理', [
        ('生物样本采集、处理、保存、转运有记录', 'major'),
        ('样本标识唯一并可溯源', 'major'),
        ('样本保存条件符合方案要求', 'major'),
        ('样本交接记录完整', ''),
        ('样本销毁或留存符合知情同意约定', 'major'),
        ('样本检测结果的转移有记录', ''),
        ('实验室检测项目有质控记录', ''),
    ]),
    ('specialty', '十六、数据真实性与试验结束', [
        ('不存在编造或篡改试验数据的行为', 'key'),
        ('试验结束后按要求提交总结报告', ''),
        ('结题资料完整并移交机构归档', ''),
        ('监查、稽查发现的问题得到整改', 'major'),
        ('接受检查时提供的资料真实完整', 'key'),
        ('试验经费收支与合同一致', ''),
        ('研究者对试验结果的解释有依据', ''),
    ]),
]


def counts():
    items = [c for _, _, lines in SECTIONS for _, c in lines]
    return {
        'sections': len(SECTIONS), 'items': len(items),
        'key': items.count('key'), 'major': items.count('major'),
        'general': items.count(''),
        }


def xml():
    out = ['<?xml version="1.0"?>', '<!-- Generated by data/sample_checklist.py -->',
        '<tryton>', '    <data noupdate="1">',
        '        <record model="ct.inspection.catalogue" id="catalogue_sample">',
        '            <field name="name">药物临床试验机构监督检查要点（示例，请导入正式版本替换）</field>',
        '            <field name="version">2023-sample</field>',
        '            <field name="is_sample" eval="True"/>',
        '        </record>']
    sequence = 0
    for s_index, (part, section, lines) in enumerate(SECTIONS, 1):
        for i_index, (title, item_class) in enumerate(lines, 1):
            sequence += 1
            code = f'{s_index}.{i_index}'
            out += [
                f'        <record model="ct.inspection.clause" id="clause_sample_{s_index}_{i_index}">',
                '            <field name="catalogue" ref="catalogue_sample"/>',
                f'            <field name="part">{part}</field>',
                f'            <field name="section">{escape(section)}</field>',
                f'            <field name="code">{code}</field>',
                f'            <field name="title">{escape(title)}</field>',
                f'            <field name="item_class">{item_class or "general"}</field>',
                f'            <field name="sequence" eval="{sequence}"/>',
                '        </record>']
    out += ['    </data>', '</tryton>', '']
    return '\n'.join(out)


if __name__ == '__main__':
    c = counts()
    assert c == {'sections': 16, 'items': 109, 'key': 9, 'major': 51,
        'general': 49}, c
    target = (Path(__file__).parent.parent / 'addons' / 'ct_inspection'
        / 'clause_data.xml')
    target.write_text(xml(), encoding='utf-8')
    print(target, c)
