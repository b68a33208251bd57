"""indexer: .docx -> numbered section tree -> chunks -> embeddings -> store."""
