"""Errors that the CLI turns into one clear line instead of a traceback."""


class SpecbotError(Exception):
    pass
