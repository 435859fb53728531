"""The aiohttp application: channel webhooks, the REST API, the agents' UI and the web chat."""
