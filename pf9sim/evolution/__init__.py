"""The estate over time: plausible changes as the clock advances, and exact mutations for tests."""
