"""Exceptions the library raises; the CLI and dashboards print them as one line naming problem and fix."""

from __future__ import annotations


class Pf9Error(Exception):
    """Base of every expected failure. The message says what is wrong and how to fix it."""

    exit_code = 1


class ConfigError(Pf9Error):
    """Settings are missing, malformed or name something that does not exist."""

    exit_code = 2


class CloudError(Pf9Error):
    """The cloud could not be reached or refused us (auth, TLS, network)."""

    exit_code = 1


class PermissionDenied(Pf9Error):
    """The acting user's role does not allow the action: one line: who, what is needed, how to get it."""

    exit_code = 4
