"""The web chat channel: visitors on the customer's website talk to Heard over a WebSocket.

The HTTP side (widget script, socket endpoint, demo page) lives in `inbox.web.chat`; this
package holds what a channel owns: its config, the visitor tokens, the hub that reaches
connected visitors, and `send`.
"""

from connectors.webchat.config import WebchatConfig
from connectors.webchat.connector import WebchatConnector
from connectors.webchat.hub import VisitorHub

__all__ = ["VisitorHub", "WebchatConfig", "WebchatConnector"]
