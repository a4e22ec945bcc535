"""The index: the vector store (the only code that speaks Chroma), the BM25 index, ingestion."""
