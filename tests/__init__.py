"""The tests are a package so that what they share is imported as tests.helpers.* (no sys.path edits)."""
