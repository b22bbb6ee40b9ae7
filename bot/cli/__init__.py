"""The `pitcrew` console script and its commands; nothing else imports this package."""
