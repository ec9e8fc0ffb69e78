"""Article files in and out: readers of every source format, their dates, and export."""
