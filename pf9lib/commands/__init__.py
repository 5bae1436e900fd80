"""`pf9wb` sub-commands: one module per command group, each exposing `register(subparsers)`."""
