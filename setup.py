"""Packages for setuptools; the project's metadata is in pyproject.toml.

Only what pyproject.toml cannot say lives here: the top-level scheduled/ and dashboards/ directories install as
package data (pf9lib.scheduled, pf9lib.dashboards), so a non-editable install finds its notebooks and jobs
file from any directory (pf9lib.workspace). An editable install reads them from the checkout instead.
"""

from setuptools import find_packages, setup

setup(
    packages=find_packages(include=["pf9lib*", "pf9sim*"]) + ["pf9lib.scheduled", "pf9lib.dashboards"],
    package_dir={"pf9lib.scheduled": "scheduled", "pf9lib.dashboards": "dashboards"},
    package_data={
        "pf9lib": ["analytics/*.yaml", "ui/*.yaml", "ui/*.svg"],
        "pf9lib.scheduled": ["*.ipynb", "*.yaml"],
        "pf9lib.dashboards": ["*.ipynb"],
    },
)
