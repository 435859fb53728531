"""`heard contacts link`: tell Heard two handles belong to one customer.

`heard contacts link email:ann@example.com telegram:12345` makes the second identity (and its
whole contact, with every conversation) part of the first one's contact, so agents see the
customer's history across channels in one place.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy import select

from inbox import actions
from inbox.cli.common import add_config, load_heard
from inbox.errors import BadInput
from inbox.models import Contact, Identity


def register(commands: Any) -> None:
    group = commands.add_parser("contacts", help="customers and their identities")
    sub = group.add_subparsers(dest="contacts_command", required=True, metavar="ACTION")
    link = sub.add_parser("link", help="make several channel handles one customer")
    add_config(link)
    link.add_argument("identity", help="CHANNEL:HANDLE of the customer to keep, or contact id")
    link.add_argument("others", nargs="+", metavar="CHANNEL:HANDLE", help="handles to add")
    link.add_argument("--as", dest="actor", default="cli", help="who did it, for the history")
    link.set_defaults(handler=link_identities)


def split(value: str) -> tuple[str, str]:
    channel, sep, handle = value.partition(":")
    if not sep or not channel or not handle:
        raise BadInput(f"{value!r} is not CHANNEL:HANDLE (e.g. email:ann@example.com)")
    return channel, handle


def link_identities(args: argparse.Namespace) -> int:
    heard = load_heard(args)
    try:
        with heard.sessions() as session, session.begin():
            contact = _contact(session, args.identity)
            for other in args.others:
                actions.link_identity(session, contact, *split(other), actor=args.actor)
            session.refresh(contact)
            handles = ", ".join(f"{i.channel}:{i.handle}" for i in contact.identities)
            print(f"contact {contact.id} ({contact.name or 'no name'}): {handles}")
    finally:
        heard.dispose()
    return 0


def _contact(session: Any, ident: str) -> Contact:
    if ident.isdigit():
        contact = session.get(Contact, int(ident))
    else:
        channel, handle = split(ident)
        identity = session.scalar(
            select(Identity).where(Identity.channel == channel, Identity.handle == handle)
        )
        contact = identity.contact if identity else None
    if contact is None:
        raise BadInput(f"no customer {ident!r}")
    while contact.merged_into_id is not None:
        contact = session.get(Contact, contact.merged_into_id)
    return contact  # type: ignore[no-any-return]
