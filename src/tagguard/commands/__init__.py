"""Subcommands other than ``scan`` and ``explain``, imported only when invoked (see ``cli.LAZY_COMMANDS``)."""
