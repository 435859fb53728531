"""`heard rules check` and `heard rules explain` as an admin runs them."""

from __future__ import annotations

import json
from pathlib import Path

from inbox.app import Heard
from tests.conftest import MakeHeard, RunCli
from tests.inbox.routekit import TEAM_CONFIG, arrive, route

ROOT = Path(__file__).resolve().parents[2]


def test_check_accepts_the_shipped_example(run_cli: RunCli) -> None:
    code, out, err = run_cli("rules", "check", "--config", str(ROOT / "config.example.toml"))
    assert code == 0, err
    assert "rules OK" in out and "6 rules, 2 teams, 4 agents, 3 SLA policies" in out


def test_check_lists_every_problem_and_fails(tmp_path: Path, run_cli: RunCli) -> None:
    (tmp_path / "rules.toml").write_text(
        '[teams.billing]\n[teams.support]\n\n[[rules]]\nname = "a"\nthen.team = "biling"\n'
        '\n[[rules]]\nname = "b"\nwhen.text_any = "refund"\nthen.priority = "asap"\n'
    )
    (tmp_path / "heard.toml").write_text('[rules]\nfiles = ["rules.toml"]\n')
    code, _, err = run_cli("rules", "check", "--config", str(tmp_path / "heard.toml"))
    assert code == 1
    assert "2 problems in the configuration:" in err
    assert (
        f"{tmp_path / 'rules.toml'}:6: rules[0].then.team: unknown team 'biling' (did you mean 'billing'?)"
        " — known teams: billing, support"
    ) in err
    assert f"{tmp_path / 'rules.toml'}:11: rules[1].then.priority:" in err


def explain(run_cli: RunCli, config: str, *args: str) -> str:
    code, out, err = run_cli("rules", "explain", "--config", config, *args)
    assert code == 0, err
    return out


def test_explain_a_json_message(make_heard: MakeHeard, run_cli: RunCli, tmp_path: Path) -> None:
    heard = make_heard(TEAM_CONFIG, queue=False)
    message = tmp_path / "m.json"
    message.write_text(
        json.dumps({"channel": "webhook", "sender": "jo@example.com", "text": "Refund please!"})
    )
    out = explain(
        run_cli, heard.settings.path, "--json", str(message), "--now", "2026-11-24T10:00+01:00"
    )
    assert "MATCH 1. Refunds go to billing" in out
    assert "yes: text_any refund, возврат (message: found refund)" in out
    assert "skip  2. Casino spam" in out and "'Refunds go to billing' stopped evaluation" in out
    assert "  team: billing" in out and "  priority: high" in out and "  tags: refund" in out


def test_explain_an_eml_file(make_heard: MakeHeard, run_cli: RunCli, tmp_path: Path) -> None:
    heard = make_heard(TEAM_CONFIG, queue=False)
    eml = tmp_path / "m.eml"
    eml.write_bytes(
        b"From: Jo <jo@example.com>\r\nTo: support@shop.example\r\nSubject: Casino\r\n"
        b"Message-ID: <1@example.com>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n"
        b"Your casino bonus is waiting\r\n"
    )
    out = explain(run_cli, heard.settings.path, "--eml", str(eml))
    assert "no    1. Refunds go to billing" in out
    assert "MATCH 2. Casino spam" in out and "  spam: yes" in out


def test_explain_a_stored_message_as_a_follow_up(make_heard: MakeHeard, run_cli: RunCli) -> None:
    heard: Heard = make_heard(TEAM_CONFIG, queue=False)
    cid = arrive(heard, "m1", "Please forward this to the desk")
    route(heard, cid)
    out = explain(run_cli, heard.settings.path, "--message", "1", "--follow-up")
    assert "first=false" in out and "MATCH 4. Desk" in out and "  team: desk" in out


def test_explain_bad_input_is_a_clear_error(
    make_heard: MakeHeard, run_cli: RunCli, tmp_path: Path
) -> None:
    heard = make_heard(TEAM_CONFIG, queue=False)
    bad = tmp_path / "bad.json"
    bad.write_text("[1, 2]")
    code, _, err = run_cli("rules", "explain", "--config", heard.settings.path, "--json", str(bad))
    assert code == 2 and 'must be an object with at least "channel"' in err
    code, _, err = run_cli("rules", "explain", "--config", heard.settings.path, "--message", "999")
    assert code == 2 and "no message 999" in err
    code, _, err = run_cli(
        "rules", "explain", "--config", heard.settings.path, "--json", str(bad), "--now", "noon"
    )
    assert code == 2 and "--now must be an ISO 8601 time" in err
