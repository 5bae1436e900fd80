"""Keystone part of the generated estate: domains, projects, users, groups, roles and who may do what.

Realistic layout: the Default domain (id "default") with the "admin" and "service" projects, the bootstrap
admin (admin on the admin project and on the system), service users, the snapshot service user (admin on a
few projects only: the product grants more as it needs them); customer domains with prod/dev/lab (and team)
projects, users with member/reader roles, and groups.
"""

from __future__ import annotations

from datetime import timedelta

from pf9sim.generator.base import START, Ctx, Project
from pf9sim.generator.catalog import CUSTOMERS, FIRST_NAMES, LAST_NAMES, TEAMS
from pf9sim.model.identity import (
    make_domain,
    make_group,
    make_group_member,
    make_project,
    make_role,
    make_role_assignment,
    make_user,
)

SERVICE_USERS = ("nova", "cinder", "neutron", "glance", "placement")


def build_identity(ctx: Ctx) -> None:
    est, rng = ctx.est, ctx.rng
    regions = list(ctx.spec.regions)
    for name in ("admin", "member", "reader"):
        ctx.roles[name] = make_role(est, name, immutable=True)  # `keystone-manage bootstrap` locks them
    admin_role = ctx.roles["admin"]["id"]

    default = make_domain(est, "Default", "The default domain", domain_id="default")
    admin_p = make_project(est, "admin", "default", "Bootstrap project for initializing the cloud.")
    service_p = make_project(est, "service", "default", "Service users of the control plane")
    ctx.admin_project = Project(admin_p, "admin", default, "admin", regions=regions)
    ctx.projects.append(ctx.admin_project)
    ctx.projects.append(Project(service_p, "service", default, "service", regions=[]))

    admin = make_user(est, "admin", "default", ctx.admin_password, default_project_id=admin_p["id"])
    ctx.admin_user_id = admin["id"]
    ctx.admin_project.members.append(admin["id"])
    make_role_assignment(est, admin_role, user_id=admin["id"], project_id=admin_p["id"])
    make_role_assignment(est, admin_role, user_id=admin["id"], system=True)
    for svc in SERVICE_USERS:
        user = make_user(est, svc, "default", f"{svc}-{rng.getrandbits(48):012x}")
        make_role_assignment(est, admin_role, user_id=user["id"], project_id=service_p["id"])
    snap = make_user(
        est,
        ctx.service_user_email,
        "default",
        ctx.service_user_password,
        email=ctx.service_user_email,
        description="Automatic snapshot service account",
    )
    ctx.service_user_id = snap["id"]
    est.secrets["snapshot_service_user_id"] = snap["id"]  # evolution's snapshot job acts as this user

    # Customers arrive over the first ~40 days: their resources start then.
    for index in range(ctx.spec.customers):
        short, title = CUSTOMERS[index % len(CUSTOMERS)]
        if index >= len(CUSTOMERS):
            short = f"{short}{index // len(CUSTOMERS) + 1}"
        onboard = START + timedelta(
            days=3 + 40 * index / max(1, ctx.spec.customers), hours=rng.randint(8, 18)
        )
        _customer(ctx, short, title, onboard, regions)

    # The snapshot service user starts with admin on a couple of prod projects only.
    prods = [p for p in ctx.projects if p.kind == "prod"]
    for project in prods[: max(1, min(3, len(prods) // 2))]:
        make_role_assignment(est, admin_role, user_id=snap["id"], project_id=project.id)


def _customer(ctx: Ctx, short: str, title: str, onboard, regions: list[str]) -> None:
    est, rng, spec = ctx.est, ctx.rng, ctx.spec
    domain = make_domain(est, short, f"{title} tenant domain")
    kinds = [("prod", "prod"), ("dev", "dev"), ("lab", "lab")]
    teams = list(TEAMS)
    rng.shuffle(teams)
    kinds += [(team, "team") for team in teams[: spec.extra_envs]]
    projects: list[Project] = []
    for offset, (suffix, kind) in enumerate(kinds):
        tags = [f"env:{kind if kind != 'team' else 'prod'}", f"customer:{short}"]
        obj = make_project(est, f"{short}-{suffix}", domain["id"], f"{title} {suffix} environment", tags=tags)
        if kind == "prod":
            where = list(regions)
        elif kind == "dev":
            where = regions[:1]
        elif kind == "lab":
            where = regions[-1:]
        else:
            where = [regions[rng.randrange(len(regions))]]
        project = Project(obj, kind, domain, f"{short}-{suffix}", regions=where)
        project.onboard = onboard + timedelta(days=offset * rng.uniform(0.5, 4))
        projects.append(project)
    ctx.projects.extend(projects)

    admin_role, member, reader = (ctx.roles[n]["id"] for n in ("admin", "member", "reader"))
    # Users: a pool per domain; each project gets a few members and readers from it.
    count = max(3, round(spec.users_per_project * len(projects) / 1.6))
    users = []
    taken: set[str] = set()
    for _ in range(count):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        name = f"{first}.{last}"
        number = 2
        while name in taken:
            name, number = f"{first}.{last}{number}", number + 1
        taken.add(name)
        home = projects[rng.randrange(len(projects))]
        users.append(
            make_user(
                est,
                name,
                domain["id"],
                f"{first.capitalize()}-{rng.getrandbits(32):08x}!",
                email=f"{name}@{short}.example.com",
                default_project_id=home.id,
                enabled=rng.random() > 0.05,
            )
        )
    domain_admin = make_user(
        est, f"{short}-admin", domain["id"], f"{short}-Admin-1!", email=f"it@{short}.example.com"
    )
    make_role_assignment(est, admin_role, user_id=domain_admin["id"], domain_id=domain["id"])
    for project in projects:
        picked = rng.sample(users, min(len(users), spec.users_per_project))
        for position, user in enumerate(picked):
            role = member if position < max(1, len(picked) - 1) else reader
            make_role_assignment(est, role, user_id=user["id"], project_id=project.id)
            if role == member and user["enabled"]:
                project.members.append(user["id"])
        if not project.members:
            project.members.append(domain_admin["id"])
            make_role_assignment(est, member, user_id=domain_admin["id"], project_id=project.id)

    groups = {
        "developers": make_group(est, f"{short}-developers", domain["id"], "Developers"),
        "operators": make_group(est, f"{short}-operators", domain["id"], "Production operators"),
        "auditors": make_group(est, f"{short}-auditors", domain["id"], "Read-only auditors"),
    }
    for user in users:
        for group in groups.values():
            if rng.random() < 0.35:
                make_group_member(est, group["id"], user["id"])
    for project in projects:
        if project.kind in ("dev", "lab", "team"):
            make_role_assignment(est, member, group_id=groups["developers"]["id"], project_id=project.id)
        if project.kind in ("prod", "team"):
            make_role_assignment(est, member, group_id=groups["operators"]["id"], project_id=project.id)
        make_role_assignment(est, reader, group_id=groups["auditors"]["id"], project_id=project.id)
