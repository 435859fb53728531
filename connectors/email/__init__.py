"""The email channel: IMAP in, SMTP out, real-world MIME normalized into Heard's values."""
