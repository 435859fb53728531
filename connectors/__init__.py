"""Channel connectors: poll or receive each channel, normalize, send.

Connectors see only `inbox.types` and `inbox.errors`; they never touch the store.
"""
