"""PF9 Workbench: inventory, history and analytics for Platform9 / OpenStack clouds."""

__version__ = "0.1.0"
