"""The embedded local Nosana."""
