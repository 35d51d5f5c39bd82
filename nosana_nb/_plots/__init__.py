"""Private modules behind ``nosana_nb.plots``; import the public names from there."""
