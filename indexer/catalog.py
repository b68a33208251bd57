"""What is indexed, for readers outside the indexer (the bot's `/spec sources`).

They ask here instead of opening a store themselves, so the choice of backend
(LanceDB or Weaviate) and how to open it stays inside indexer/.
"""

from __future__ import annotations

from indexer.store import DocInfo, open_index
from specbot.settings import Settings


def indexed_documents(settings: Settings | None = None) -> list[DocInfo]:
    return open_index(settings).list_documents()


def section_text(doc: str, section: str, title: str = "", settings: Settings | None = None) -> str | None:
    """The whole text of one section (all its chunks, in order), for the bot's "Sources"
    button; None when the index does not have it. An unnumbered section is found by title."""
    index = open_index(settings)
    if section:
        chunks = index.exact_lookup([section], [], doc=doc, k=200)
        chunks = [c for c in chunks if c.doc == doc and c.section == section]
    else:
        chunks = [c for c in index.keyword_search(title, 50, doc=doc) if c.title == title and not c.section]
    if not chunks:
        return None
    chunks.sort(key=lambda c: c.ordinal)
    return "\n\n".join(dict.fromkeys(c.text.strip() for c in chunks if c.text.strip()))
