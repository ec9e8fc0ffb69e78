"""One index generation on disk: its layout and manifest, the store, the term index and filter
columns, Whoosh, the vectors, and the checks that they agree on one numbering of the articles."""
