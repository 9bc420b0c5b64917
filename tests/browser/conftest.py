"""The browser tests' folder. Why they were skipped, if they were, is said in the one-line skip
summary at the end of every run (the repository's conftest.py)."""
