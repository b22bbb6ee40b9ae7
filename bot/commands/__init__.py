"""The `pitcrew` command groups, one module each; `bot.cli` registers them."""
