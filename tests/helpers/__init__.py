"""What several test directories share: a running simulated cloud (sim.py) and the small history that the
UI, notebook, scheduling and summary tests read (workbench_history.py)."""
