"""Templates in a sandbox, per language with fallback; `due` readable in the customer's language."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from jinja2.exceptions import SecurityError

from rules.language import detect_language
from rules.templates import BUILTIN, check_template, human_due, pick_language, render

TEMPLATES = {
    "ack": {
        "en": "Hi {{ customer_name }}, {{ owner_name }} will reply by {{ due }} ({{ reference }}).",
        "de": "Hallo {{ customer_name }}, {{ owner_name }} antwortet bis {{ due }} ({{ reference }}).",
        "ru": "Здравствуйте, {{ customer_name }}! {{ owner_name }} ответит до {{ due }}.",
    }
}
DUE = datetime(2026, 11, 24, 14, tzinfo=UTC)


def variables(language: str) -> dict[str, str]:
    return {
        "customer_name": "Jo",
        "owner_name": "Ann",
        "reference": "R-1042",
        "due": human_due(DUE, language, "Europe/Berlin"),
    }


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "Hi Jo, Ann will reply by Tue, Nov 24, 3:00\u202fPM CET (R-1042)."),
        ("de", "Hallo Jo, Ann antwortet bis Di., 24. Nov., 15:00 CET (R-1042)."),
        ("ru", "Здравствуйте, Jo! Ann ответит до вт, 24 нояб., 15:00 CET."),
    ],
)
def test_each_language_renders_with_its_own_due(language: str, expected: str) -> None:
    assert render(TEMPLATES, "ack", language, "en", variables(language)) == (expected, language)


def test_unknown_language_falls_back_to_default() -> None:
    text, used = render(TEMPLATES, "ack", "fr", "de", variables("de")) or ("", "")
    assert used == "de" and text.startswith("Hallo")
    assert pick_language({"en": "x"}, "de-AT", "ru") == "en"
    assert pick_language({"de": "x", "en": "y"}, "de-AT", "en") == "de"


def test_builtin_templates_exist_and_missing_ones_are_none() -> None:
    text, _ = render(
        {}, "update", None, "en", {"reference": "R-1", "due": "soon", "owner_name": "Ann"}
    ) or ("", "")
    assert text == "Hi there, we are still working on R-1. Expect an answer by soon from Ann."
    assert render({}, "nonexistent", "en", "en", {}) is None
    assert all(check_template(t) is None for texts in BUILTIN.values() for t in texts.values())


def test_sandbox_blocks_python_internals() -> None:
    evil = {"ack": {"en": "{{ customer_name.__class__.__mro__[1].__subclasses__() }}"}}
    with pytest.raises(SecurityError):
        render(evil, "ack", "en", "en", {"customer_name": "x"})


def test_missing_due_renders_empty() -> None:
    assert human_due(None, "en", "UTC") == ""


def test_language_detection_is_deterministic_and_cautious() -> None:
    german = "Hallo, ich brauche bitte eine Rückerstattung für meine letzte Rechnung."
    assert [detect_language(german) for _ in range(5)] == ["de"] * 5
    assert detect_language("Здравствуйте, прошу вернуть деньги за счёт") == "ru"
    assert detect_language("I need a refund for my last invoice, please") == "en"
    assert detect_language("ok thx") is None
