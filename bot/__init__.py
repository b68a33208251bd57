"""bot: the Slack face of specbot (slack-bolt)."""
