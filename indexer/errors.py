"""Errors the indexer reports by file name, with a reason a person can act on.

Each class names one kind of bad input; the message says what to do about it.
They all derive from `IndexError_`, so the pipeline can report them per file and
carry on with the rest.
"""


class IndexError_(Exception):  # noqa: N801 - avoid shadowing the builtin IndexError
    """A file could not be indexed; the message says why."""


class UnsupportedFile(IndexError_):
    """Not a Word 2007+ document at all (wrong type, not a zip)."""


class LegacyWordFile(UnsupportedFile):
    """A Word 97-2003 `.doc` (OLE compound file)."""


class EncryptedFile(UnsupportedFile):
    """A password-protected Office file: the package is encrypted inside an OLE container."""


class UnsafeArchive(IndexError_):
    """The zip would expand beyond the size or ratio limits (zip bomb)."""


class BrokenDocument(IndexError_):
    """A required part is missing or is not well-formed XML."""


class EmptyDocument(IndexError_):
    """The file holds no text to index."""
