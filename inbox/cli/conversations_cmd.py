"""`heard conversations list|show|reply`: the queue from a terminal or a script."""

from __future__ import annotations

import argparse
import json
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from inbox.actions import reply as reply_action
from inbox.cli.common import add_config, load_heard
from inbox.errors import BadInput
from inbox.models import Conversation, Outbound
from inbox.outbox import flush_enqueues
from inbox.queries import conversation_json
from inbox.queue import start_queue, stop_queue


def register(commands: Any) -> None:
    group = commands.add_parser("conversations", help="list, show and answer conversations")
    sub = group.add_subparsers(dest="conversations_command", required=True, metavar="ACTION")
    ls = sub.add_parser("list", help="list conversations, newest activity first")
    add_config(ls)
    ls.add_argument("--status", choices=["open", "pending", "snoozed", "resolved"])
    ls.add_argument("--channel", help="channel type or channel name")
    ls.add_argument("--limit", type=int, default=50)
    ls.add_argument("--json", action="store_true")
    ls.set_defaults(handler=list_conversations)
    show = sub.add_parser("show", help="one conversation with its messages and events")
    add_config(show)
    show.add_argument("id", help="conversation id or reference (R-1042)")
    show.add_argument("--json", action="store_true")
    show.set_defaults(handler=show_conversation)
    rep = sub.add_parser("reply", help="queue an agent reply through the outbox")
    add_config(rep)
    rep.add_argument("id")
    rep.add_argument("text")
    rep.add_argument("--as", dest="author", default=None, help="agent key to reply as")
    rep.add_argument("--no-wait", action="store_true", help="queue only; `heard run` sends it")
    rep.set_defaults(handler=reply)


def find(session: Session, ident: str) -> Conversation:
    if ident.isdigit():
        conversation = session.get(Conversation, int(ident))
    else:
        conversation = session.scalars(
            select(Conversation).where(Conversation.reference == ident.upper())
        ).first()
    if conversation is None:
        raise BadInput(f"no conversation {ident!r}")
    return conversation


def list_conversations(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    with heard.sessions() as session:
        query = select(Conversation).where(Conversation.merged_into_id.is_(None))
        if args.status:
            query = query.where(Conversation.status == args.status)
        if args.channel:
            query = query.where(
                (Conversation.channel == args.channel) | (Conversation.account == args.channel)
            )
        query = query.order_by(Conversation.last_activity_at.desc(), Conversation.id.desc())
        rows = session.scalars(query.limit(args.limit)).all()
        if args.json:
            print(
                json.dumps(
                    [conversation_json(session, c) for c in rows], indent=2, ensure_ascii=False
                )
            )
        else:
            for c in rows:
                print(conversation_summary(c))
    heard.dispose()
    return 0


def show_conversation(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    with heard.sessions() as session:
        conversation = find(session, args.id)
        data = conversation_json(session, conversation)
    heard.dispose()
    if args.json:
        print(json.dumps(data, indent=2, ensure_ascii=False))
        return 0
    print(f"{data['reference']}  {data['subject'] or '(no subject)'}")
    print(
        f"  {data['channel']}/{data['account']}  status={data['status']}  priority={data['priority']}"
    )
    print(
        f"  customer: {data['contact']['name']}  owner: {data['assignee'] or data['team'] or '-'}"
    )
    print(
        f"  first response due: {data['first_response_due'] or '-'}  resolution due: {data['resolution_due'] or '-'}"
    )
    for m in data["messages"]:
        arrow = "<-" if m["direction"] == "in" else "->"
        print(f"\n{arrow} [{m['kind']}] {m['created_at']}")
        print("   " + (m["text"] or "").replace("\n", "\n   "))
    if data.get("events"):
        print("\nhistory:")
        for e in data["events"]:
            print(
                f"  {e['created_at']}  {e['type']}  by {e['actor']}  {json.dumps(e['data'], ensure_ascii=False)}"
            )
    return 0


def reply(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    start_queue(heard, worker=not args.no_wait)
    try:
        with heard.sessions() as session:
            with session.begin():
                conversation = find(session, args.id)
                outbound = reply_action(session, conversation, args.text, args.author)
                outbound_id = outbound.id
            flush_enqueues(session, heard)
        if not args.no_wait:
            heard.queue.drain()
        with heard.sessions() as session:
            row = session.get(Outbound, outbound_id)
            assert row is not None
            status, error = row.status, row.last_error
    finally:
        stop_queue(heard)
        heard.dispose()
    print(f"reply {outbound_id}: {status}{' (' + error + ')' if error else ''}")
    return 0 if status in ("sent", "pending") else 1


def conversation_summary(conversation: Conversation) -> str:
    owner = conversation.assignee or conversation.team or "unassigned"
    subject = conversation.subject or conversation.preview or ""
    return (
        f"{conversation.reference:<9} {conversation.status:<8} {conversation.channel:<8} "
        f"{owner:<14} {subject[:60]}"
    )
