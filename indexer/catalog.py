"""What is indexed, for readers outside the indexer (the bot's `/spec sources`).

They ask here instead of opening a store themselves, so the choice of backend
(LanceDB or Weaviate) and how to open it stays inside indexer/.
"""

from __future__ import annotations

from indexer.store import DocInfo, open_index
from specbot.settings import Settings


def indexed_documents(settings: Settings | None = None) -> list[DocInfo]:
    return open_index(settings).list_documents()
