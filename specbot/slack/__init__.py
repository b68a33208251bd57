"""Slack code shared by bot/ and workers/: Web API client, message formatting,
the Redis keys that link answers to their messages, posting and editing.

Below both roles: it imports neither.
"""
