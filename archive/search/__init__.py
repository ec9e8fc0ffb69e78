"""Searching a generation: checked arguments, query parsing, ranking and fusion, hits and snippets."""
