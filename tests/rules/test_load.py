"""Loading rules: merging files, and errors that name the file, line and key."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from inbox.errors import ConfigError
from rules.load import load_ruleset
from rules.tomlsource import parse_toml

TEAMS = """
[agents.ann]
name = "Ann Smith"
email = "ann@example.com"
capacity = 2
languages = ["en", "de"]

[agents.boris]
name = "Boris"

[teams.support]
agents = ["ann", "boris"]

[teams.billing]
agents = ["ann"]
strategy = "least_loaded"
escalate_to = "boris"
"""


def problems(text: str, *files: Path, **kwargs: object) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_ruleset(parse_toml(text, "heard.toml"), files, **kwargs)  # type: ignore[arg-type]
    return [str(p) for p in caught.value.problems]


def test_sections_from_main_and_files_are_merged(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        '[sla.standard]\nfirst_response = "12h"\n\n[[rules]]\nname = "r1"\nthen.team = "support"\n'
    )
    main = (
        TEAMS
        + '[rules]\nfiles = ["rules.toml"]\n\n[[rules.list]]\nname = "inline"\nthen.priority = "high"\n'
    )
    ruleset = load_ruleset(parse_toml(main, str(tmp_path / "heard.toml")), [rules_file])
    assert [r.name for r in ruleset.rules] == ["inline", "r1"]
    assert ruleset.slas["standard"].first_response == timedelta(hours=12)
    assert set(ruleset.teams) == {"support", "billing"}
    assert ruleset.origins[1] == f"{rules_file}:4"


def test_unknown_team_names_file_line_key_and_known_teams(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text(
        '[[rules]]\nname = "a"\n\n[[rules]]\nname = "b"\n\n[[rules]]\nname = "c"\n\n'
        '[[rules]]\nname = "Refunds"\nwhen.text_any = ["refund"]\nthen.team = "biling"\n'
    )
    found = problems(TEAMS, rules_file)
    assert found == [
        f"{rules_file}:13: rules[3].then.team: unknown team 'biling' (did you mean 'billing'?)"
        " — known teams: billing, support"
    ]


def test_a_name_defined_twice_is_an_error_pointing_at_both(tmp_path: Path) -> None:
    rules_file = tmp_path / "more.toml"
    rules_file.write_text('[teams.support]\nagents = ["ann"]\n')
    (found,) = problems(TEAMS, rules_file)
    assert found.startswith(f"{rules_file}:1: teams.support: teams 'support' is defined twice")
    assert "first at heard.toml:" in found


def test_every_problem_is_listed_at_once() -> None:
    text = (
        TEAMS
        + """
[sla.fast]
first_response = "soon"
business_hours = "office"

[business_hours.office]
timezone = "Mars/Olympus"
days = ["mon", "funday"]
hours = "9-5"

[[rules.list]]
name = "x"
when.text_ayn = ["a"]
when.text_regex = "("
then.agent = "zed"
then.ack = "welcome"
then.priority = "extreme"

[[rules.list]]
then.team = "support"

[templates.ack]
en = "Hi {{ customer_name }"
de = "Hallo {{ kunde }}"
"""
    )
    found = "\n".join(problems(text))
    for expected in [
        "heard.toml:20: sla.fast.first_response: expected a duration like '12h'",
        "business_hours.office.timezone: unknown timezone 'Mars/Olympus'",
        "business_hours.office.days: unknown day 'funday'",
        "heard.toml:26: business_hours.office.hours: expected a time like '09:00'",
        "rules.list[0].when.text_ayn: unknown key; expected one of: account, business_hours",
        "rules.list[0].when.text_regex: invalid regular expression",
        "rules.list[0].then.priority: Input should be 'low', 'normal', 'high' or 'urgent'",
        "rules.list[1].name: required key is missing",
        "templates.ack.en: template syntax error",
        "templates.ack.de: template cannot render: 'kunde' is undefined; known variables: customer_name",
    ]:
        assert expected in found, f"{expected!r} not in:\n{found}"


def test_references_are_checked_after_the_shapes_are_valid() -> None:
    text = (
        TEAMS
        + """
[[rules.list]]
name = "x"
then.agent = "zed"
then.ack = "welcome"
then.sla = "gold"
when.in_business_hours = true
"""
    )
    found = "\n".join(problems(text))
    assert "rules.list[0].then.agent: unknown agent 'zed' — known agents: ann, boris" in found
    assert (
        "rules.list[0].then.ack: unknown template 'welcome' — known templates: ack, update" in found
    )
    assert "then.sla: unknown SLA policy 'gold' — no SLA policies are defined" in found
    assert "when.in_business_hours: no [business_hours.NAME] is defined" in found


def test_team_references_and_escalation_targets() -> None:
    text = (
        '[agents.ann]\n[teams.support]\nagents = ["ann", "anne"]\nescalate_to = "leed"\nsla = "x"\n'
    )
    found = "\n".join(problems(text))
    assert (
        "heard.toml:3: teams.support.agents[1]: unknown agent 'anne' (did you mean 'ann'?)" in found
    )
    assert "teams.support.escalate_to: unknown agent or team 'leed'" in found
    assert "teams.support.sla: unknown SLA policy 'x'" in found


def test_channels_and_accounts_are_checked_when_known() -> None:
    text = '[[rules.list]]\nname = "x"\nwhen.channel = ["emial"]\nwhen.account = ["support-mail"]\n'
    found = "\n".join(problems(text, known_channels=["email", "webhook"], known_accounts=["mail"]))
    assert "rules.list[0].when.channel[0]: unknown channel 'emial' (did you mean 'email'?)" in found
    assert "when.account[0]: unknown account 'support-mail'" in found


def test_unknown_section_in_a_rules_file(tmp_path: Path) -> None:
    rules_file = tmp_path / "rules.toml"
    rules_file.write_text('[store]\nurl = "x"\n')
    (found,) = problems("", rules_file)
    assert found.startswith(f"{rules_file}:1: store: unknown section")


def test_missing_rules_file_and_bad_toml(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text("[[rules]\nname = 1\n")
    found = problems("", tmp_path / "nope.toml", broken)
    assert found[0] == f"{tmp_path / 'nope.toml'}: file not found"
    assert found[1].startswith(f"{broken}:1: invalid TOML")


def test_numbers_without_units_are_rejected() -> None:
    (found,) = problems("[sla.s]\nfirst_response = 3600\n")
    assert "write durations with a unit" in found


def test_defaults_and_language() -> None:
    text = TEAMS + '[defaults]\nteam = "support"\nlanguage = "de"\nack = false\n'
    ruleset = load_ruleset(parse_toml(text, "heard.toml"))
    assert ruleset.default_language == "de"
    assert ruleset.defaults.team == "support"


def test_main_rules_table_keys_are_checked() -> None:
    (found,) = problems('[rules]\nfils = ["rules.toml"]\n')
    assert (
        found
        == "heard.toml:2: rules.fils: unknown key; expected one of: default_language, files, list"
    )


def test_plain_rules_array_in_the_main_file() -> None:
    ruleset = load_ruleset(
        parse_toml('[[rules]]\nname = "a"\n[[rules]]\nname = "b"\n', "heard.toml")
    )
    assert [r.name for r in ruleset.rules] == ["a", "b"]
    assert ruleset.origins == ("heard.toml:1", "heard.toml:3")
