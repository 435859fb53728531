"""Each routing strategy, sticky owners, availability, skills and languages, and escalation targets."""

from __future__ import annotations

from inbox.app import Heard
from inbox.models import Conversation
from tests.conftest import MakeHeard, RunCli
from tests.inbox.routekit import TEAM_CONFIG, arrive, conversation, events, route


def team(make_heard: MakeHeard, store_url: str, config: str = TEAM_CONFIG) -> Heard:
    return make_heard(config, store_url=store_url, queue=False)


def owners(heard: Heard, texts: list[str], prefix: str = "c") -> list[str | None]:
    ids = [
        arrive(heard, f"{prefix}{i}", text, handle=f"{prefix}{i}") for i, text in enumerate(texts)
    ]
    for cid in ids:
        route(heard, cid)
    return [conversation(heard, cid).assignee for cid in ids]


PARCEL = "My parcel never arrived, please help"


def test_round_robin_takes_turns(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    assert owners(heard, [PARCEL] * 4) == ["ann", "boris", "ann", "boris"]


def test_round_robin_turns_survive_a_restart(make_heard: MakeHeard, store_url: str) -> None:
    first = team(make_heard, store_url)
    assert owners(first, [PARCEL]) == ["ann"]
    second = make_heard(TEAM_CONFIG, store_url=store_url, queue=False, name="again.toml")
    assert owners(second, [PARCEL], prefix="d") == ["boris"]


def test_least_loaded_respects_capacity_then_queues(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    got = owners(heard, ["refund please"] * 5)
    assert got[:4].count("ann") == 2 and got[:4].count("boris") == 2
    assert got[0] != got[1]  # the less loaded one is picked each time
    assert got[4] is None
    queued = events(heard, 5, "queued")
    assert queued and queued[0].data == {"agent": None, "team": "billing", "how": "queued"}


def test_sticky_owner_for_a_returning_customer(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    first = arrive(heard, "a1", PARCEL, handle="jo", keys=("t1",))
    route(heard, first)
    other = arrive(heard, "b1", PARCEL, handle="someone", keys=("t2",))
    route(heard, other)
    again = arrive(
        heard, "a2", "Me again, another question about returns", handle="jo", keys=("t3",)
    )
    route(heard, again)
    assert conversation(heard, first).assignee == "ann"
    assert conversation(heard, other).assignee == "boris"
    assert conversation(heard, again).assignee == "ann"
    assert events(heard, again, "assigned")[0].data["how"] == "sticky"


def test_sticky_yields_when_the_previous_owner_is_away(
    make_heard: MakeHeard, store_url: str, run_cli: RunCli
) -> None:
    heard = team(make_heard, store_url)
    first = arrive(heard, "a1", PARCEL, handle="jo", keys=("t1",))
    route(heard, first)
    code, out, _ = run_cli("agents", "away", "ann", "--config", heard.settings.path)
    assert code == 0 and "ann is away" in out
    again = arrive(
        heard, "a2", "Me again, another question about returns", handle="jo", keys=("t3",)
    )
    route(heard, again)
    assert conversation(heard, again).assignee == "boris"


def test_away_agents_get_nothing_and_back_takes_the_queue(
    make_heard: MakeHeard, store_url: str, run_cli: RunCli
) -> None:
    heard = team(make_heard, store_url)
    path = heard.settings.path
    assert run_cli("availability", "away", "ann", "--config", path)[0] == 0
    assert run_cli("availability", "away", "boris", "--config", path)[0] == 0
    assert owners(heard, [PARCEL]) == [None]
    code, out, _ = run_cli("availability", "back", "boris", "--config", path)
    assert code == 0 and "1 waiting conversation(s) assigned" in out
    assert conversation(heard, 1).assignee == "boris"
    code, out, _ = run_cli("availability", "list", "--config", path)
    assert "ann              away       0/2" in out and "boris            available  1/2" in out
    code, _, err = run_cli("availability", "away", "zed", "--config", path)
    assert code == 2 and "no agent 'zed'; known agents: ann, boris, lead" in err


def test_language_and_skills_pick_the_agent(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    russian = "Здравствуйте, моя посылка так и не пришла, помогите пожалуйста"
    german = "Hallo, mein Paket ist leider nie angekommen. Können Sie helfen?"
    assert owners(heard, [russian, russian, german, german]) == ["boris", "boris", "ann", "ann"]


def test_skills_pick_the_agent(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    wire = "wire transfer missing, where is my money"
    assert owners(heard, [wire, wire, wire]) == ["boris", "boris", None]


def test_named_agent_and_over_capacity(make_heard: MakeHeard, store_url: str) -> None:
    config = TEAM_CONFIG + (
        '\n[[rules.list]]\nname = "Boss"\nwhen.text_any = ["boss"]\nthen.agent = "ann"\n'
        '\n[[rules.list]]\nname = "Public"\nwhen.public = true\nthen.team = "support"\nthen.over_capacity = true\n'
    )
    heard = team(make_heard, store_url, config)
    assert owners(heard, ["ask the boss", "ask the boss"]) == ["ann", "ann"]
    # ann is full: the next named one falls back to the team (boris)
    assert owners(heard, ["ask the boss"], prefix="b") == ["boris"]
    assert owners(heard, [PARCEL], prefix="p") == ["boris"]
    # everybody full: public mentions are still assigned, to the least loaded
    ids = [
        arrive(heard, f"x{i}", "hey @shop where is my parcel", handle=f"x{i}", is_public=True)
        for i in range(2)
    ]
    for cid in ids:
        route(heard, cid)
    got = [conversation(heard, cid) for cid in ids]
    assert all(c.assignee in ("ann", "boris") for c in got)
    assert events(heard, ids[0], "assigned")[0].data["how"] == "over_capacity"


def test_resolved_conversations_free_capacity(make_heard: MakeHeard, store_url: str) -> None:
    heard = team(make_heard, store_url)
    assert sorted(str(o) for o in owners(heard, ["refund please"] * 5)) == [
        "None",
        "ann",
        "ann",
        "boris",
        "boris",
    ]
    with heard.sessions() as session, session.begin():
        row = session.get(Conversation, 1)
        assert row is not None
        row.status = "resolved"
        freed = row.assignee
    assert owners(heard, ["refund please"], prefix="r") == [freed]
