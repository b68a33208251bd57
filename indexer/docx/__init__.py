"""Low-level .docx reading: package safety checks, styles, numbering, text and tables.

The parser works on the raw WordprocessingML with lxml (not python-docx objects) so
that it can stream `word/document.xml` body block by block: a 46 MB document.xml
is never held as one tree, which keeps memory bounded on very large specs.
"""
