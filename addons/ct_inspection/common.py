"Selections shared by the inspection models (keys are the public contract)."

SOURCES = [
    ('center', "Center"),
    ('nmpa', "NMPA"),
    ('city', "City Administration"),
    ]
INSPECTION_TYPES = [
    ('first', "First"),
    ('routine', "Routine"),
    ('for_cause', "For Cause"),
    ('special', "Special"),
    ('other', "Other"),
    ]
CONCLUSIONS = [
    (None, ""),
    ('compliant', "Compliant"),
    ('rectify', "Assess after Rectification"),
    ('non_compliant', "Non-compliant"),
    ]
SEVERITIES = [
    ('critical', "Critical"),
    ('major', "Major"),
    ('minor', "Minor"),
    ]
ITEM_CLASSES = [
    ('key', "Key Item ★★"),
    ('major', "Major Item ★"),
    ('general', "General Item"),
    ]
# A clause's class gives the default severity of a defect against it.
CLASS_SEVERITY = {
    'key': 'critical',
    'major': 'major',
    'general': 'minor',
    }


def propose_conclusion(critical, major, minor, config):
    """Return the conclusion the defect counts suggest.

    符合要求 only without critical and major defects and with fewer minor
    defects than the configured limit; any critical defect suggests
    不符合要求; everything else 待整改后评定.
    """
    if critical > config.non_compliant_max_critical:
        return 'non_compliant'
    if (major <= config.compliant_max_major
            and minor < config.compliant_minor_limit):
        return 'compliant'
    return 'rectify'
