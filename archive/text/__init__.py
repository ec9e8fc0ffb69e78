"""Text: Arabic normalization, the analysis every index shares (terms, stems, grams), passages."""
