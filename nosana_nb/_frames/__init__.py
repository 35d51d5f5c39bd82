"""Private modules behind ``nosana_nb.frames``; import the public names from there."""
