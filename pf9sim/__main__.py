"""`python -m pf9sim serve|clouds-yaml|summary|advance|mutate|delete|faults|expire-tokens`: see pf9sim.cli."""

import sys

from pf9sim.cli import main

if __name__ == "__main__":
    sys.exit(main())
