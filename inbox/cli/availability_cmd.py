"""`heard availability away|back|list NAME`: who takes new conversations right now.

An agent marked away gets no new conversations (their open ones stay theirs); coming back hands
them queued conversations at once, up to their capacity.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from inbox.cli.common import add_config, load_heard
from inbox.models import Agent, utcnow
from inbox.rulebook import rules_for
from routing.agents import set_away
from routing.assign import assign_waiting
from routing.capacity import open_load


def register(commands: Any) -> None:
    group = commands.add_parser("availability", help="mark agents away or back")
    sub = group.add_subparsers(dest="availability_command", required=True, metavar="ACTION")
    add_away_back(sub)
    ls = sub.add_parser("list", help="agents with availability and load")
    add_config(ls)
    ls.set_defaults(handler=list_agents)


def add_away_back(sub: Any) -> None:
    """`away NAME` and `back NAME`, under `heard availability` and under `heard agents`."""
    for name, text in (
        ("away", "stop giving NAME new conversations"),
        ("back", "NAME takes conversations again"),
    ):
        parser = sub.add_parser(name, help=text)
        add_config(parser)
        parser.add_argument("name", help="agent key, e.g. ann")
        parser.set_defaults(handler=change, away=name == "away")


def change(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    with heard.sessions() as session, session.begin():
        ruleset = rules_for(heard, session)
        changed = set_away(session, args.name, args.away, actor="cli")
        assigned = 0 if args.away else assign_waiting(session, ruleset, utcnow())
    state = "away" if args.away else "back"
    print(f"{args.name} is {state}" + ("" if changed else " (already)"))
    if assigned:
        print(f"{assigned} waiting conversation(s) assigned from team queues")
    return 0


def list_agents(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    with heard.sessions() as session, session.begin():
        rules_for(heard, session)
        agents = list(session.scalars(select(Agent).order_by(Agent.key)))
        load = open_load(session, [a.key for a in agents])
    for agent in agents:
        state = "away" if agent.away else ("inactive" if not agent.active else "available")
        print(f"{agent.key:<16} {state:<10} {load[agent.key]}/{agent.capacity}  {agent.name}")
    return 0
