"""specbot: grounded answers about Word specs, in Slack."""

__version__ = "0.1.0"
