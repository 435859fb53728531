"""Static map of channel kinds to connector classes, imported lazily.

Lazy imports keep `heard` starting fast and let a deployment without, say, Telegram never load
python-telegram-bot.
"""

from __future__ import annotations

import importlib

from connectors.base import Connector

KINDS: dict[str, str] = {
    "webhook": "connectors.webhook:WebhookConnector",
    "email": "connectors.email.connector:EmailConnector",
    "telegram": "connectors.telegram.connector:TelegramConnector",
    "x": "connectors.x.connector:XConnector",
    "webchat": "connectors.webchat:WebchatConnector",
}


def connector_class(kind: str) -> type[Connector]:
    try:
        target = KINDS[kind]
    except KeyError:
        raise KeyError(
            f"unknown channel type {kind!r}; known: {', '.join(sorted(KINDS))}"
        ) from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"{target} is not a Connector")
    return cls
