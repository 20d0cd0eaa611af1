"""`python -m service.cli ...` runs the `matcher` command line."""

from .matching import main

main()
