"""X (Twitter) channel: public @mentions and DMs through tweepy's v2 AsyncClient."""
