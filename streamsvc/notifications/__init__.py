"""Mail to buyers: ticket mails in Dutch or English, sent over SMTP or to an outbox."""
