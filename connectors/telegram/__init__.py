"""Telegram bot channel: polling or webhook in, Bot API out, through python-telegram-bot."""
