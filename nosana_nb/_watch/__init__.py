"""Internals of :mod:`nosana_nb.watch`: rows, dedupe state, journal, stream sessions."""
