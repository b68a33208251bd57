"""Errors the indexer reports by file name, with a reason a person can act on."""


class IndexError_(Exception):  # noqa: N801 - avoid shadowing the builtin IndexError
    """A file could not be indexed; the message says why."""


class UnsupportedFile(IndexError_):
    pass
