"""The running Heard: settings, store, and the configured channels, passed down explicitly.

There is no settings singleton; one `Heard` is made by the CLI (or a test) and handed to the
web app, the worker actors and the connector loops.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from connectors.base import ChannelConfig, Connector
from connectors.registry import connector_class
from inbox.config import Settings
from inbox.store import make_engine, session_factory

log = logging.getLogger(__name__)


class Heard:
    def __init__(self, settings: Settings, engine: Engine | None = None) -> None:
        self.settings = settings
        self.engine = engine or make_engine(settings.store.url)
        self.sessions: sessionmaker[Session] = session_factory(self.engine)
        self._connectors: dict[str, Connector] = {}
        # Filled by the rules engine (rules.runtime) when the app starts; None = no rules.
        self.rules: Any = None
        # Filled by inbox.queue.start_queue: the broker/worker and the connectors' event loop.
        self.queue: Any = None
        self.channels: Any = None

    @property
    def attachments_dir(self) -> Path:
        path = Path(self.settings.store.attachments_dir)
        return path if path.is_absolute() else self.settings.base_dir / path

    def channel_config(self, name: str) -> ChannelConfig:
        return self.settings.channel(name)

    def connector(self, name: str) -> Connector:
        """The (unopened) connector for a channel account, made once per process."""
        if name not in self._connectors:
            config = self.channel_config(name)
            self._connectors[name] = connector_class(config.type)(
                config,
                max_attachment_size=self.settings.store.max_attachment_size,
                public_url=self.settings.web.public_url,
                # lets a channel hand a send to another one (web chat → email when offline)
                channel_lookup=self.connector,
            )
        return self._connectors[name]

    def enabled_channels(self) -> list[ChannelConfig]:
        return [c for c in self.settings.channels if c.enabled]

    def dispose(self) -> None:
        self.engine.dispose()
