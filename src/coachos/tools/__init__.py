"""Developer tools that are run by hand, never by the app (they may need the dev extra)."""
