"""`pf9wb config check` (authenticate, list the catalog); `pf9wb config show` (settings, secrets masked)."""

from __future__ import annotations

import argparse
import logging
import warnings

from pf9lib.config import CatalogReport, Settings, check_cloud, decrypt_service_password, load_settings


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("config", help="check and show the cloud and workbench settings")
    commands = parser.add_subparsers(dest="config_command", metavar="ACTION")
    commands.required = True
    check = commands.add_parser("check", help="authenticate and list the services, regions and endpoints")
    show = commands.add_parser("show", help="print the resolved settings (secrets masked)")
    for sub in (check, show):
        sub.add_argument(
            "--cloud", metavar="NAME", help="cloud in clouds.yaml (default: OS_CLOUD, else PF9_*)"
        )
        sub.add_argument(
            "--data-dir", metavar="DIR", help="data directory (default: PF9WB_DATA_DIR, else ./data)"
        )
    check.set_defaults(func=run_check)
    show.set_defaults(func=run_show)


def _quiet_sdk() -> None:
    # keystoneauth logs a warning before every failed discovery and openstacksdk emits deprecation warnings;
    # the one-line error we raise already says what matters, so keep stderr to that line.
    for name in ("keystoneauth", "openstack"):
        logger = logging.getLogger(name)
        if not logger.handlers:
            logger.addHandler(logging.NullHandler())
    warnings.filterwarnings("ignore", module=r"(openstack|keystoneauth1)(\.|$)")


def _settings(args: argparse.Namespace) -> Settings:
    _quiet_sdk()
    return load_settings(cloud=args.cloud, data_dir=args.data_dir)


def run_check(args: argparse.Namespace) -> int:
    settings = _settings(args)
    if settings.snapshot_user_password_encrypted is not None:
        decrypt_service_password(settings)  # a wrong key is a configuration error worth catching now
    report = check_cloud(settings)
    print(format_report(report, settings))
    return 0


def format_report(report: CatalogReport, settings: Settings) -> str:
    lines = [
        f"cloud:    {report.cloud} ({settings.source})",
        f"auth URL: {report.auth_url}",
        f"user:     {report.user_name} ({report.user_id}) in domain {report.user_domain}",
        f"project:  {report.project_name} ({report.project_id}) in domain {report.project_domain}",
        f"roles:    {', '.join(report.roles) or '(none)'}",
        f"regions:  {', '.join(report.regions) or '(none in catalog)'}",
        f"data dir: {settings.data_dir}",
        "",
    ]
    rows = [("SERVICE", "NAME", "REGION", "PUBLIC URL")]
    rows += [(e.service_type, e.service_name, e.region, e.url) for e in report.public_endpoints()]
    widths = [max(len(row[i]) for row in rows) for i in range(3)]
    lines += [
        "  ".join(cell.ljust(width) for cell, width in zip(row[:3], widths, strict=True)) + "  " + row[3]
        for row in rows
    ]
    return "\n".join(lines)


def run_show(args: argparse.Namespace) -> int:
    rows = _settings(args).describe()
    width = max(len(name) for name, _ in rows)
    for name, value in rows:
        print(f"{name.ljust(width)}  {value}")
    return 0
