"""`python -m bot.cli`: the same as the `pitcrew` console script."""

from bot.cli.main import main

main()
