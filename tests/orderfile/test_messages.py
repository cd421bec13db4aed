import re

from ordersync.orderfile.messages import MESSAGES, WARNING_CODES, render


def test_every_code_has_the_same_placeholders_in_both_languages():
    for code, (en, ru) in MESSAGES.items():
        assert set(re.findall(r"{(\w+)}", en)) <= set(re.findall(r"{(\w+)}", ru)) | {
            "how"
        }, code


def test_warning_codes_have_messages():
    assert set(MESSAGES) >= WARNING_CODES


def test_long_values_are_shortened_in_messages():
    text = render("email_invalid", "en", {"row": 2, "column": "E", "value": "x" * 500})
    assert len(text) < 200
