"""Static catalogues the estate generator draws from: sizes, flavors, images, volume types, names, policies.

Kept apart from the generator's logic so that the shape of an estate (how many of what) can be read at a
glance.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SizeSpec:
    """How big an estate is. Counts are targets: the generator hits them within a few percent."""

    regions: tuple[str, ...]
    customers: int  # customer domains (besides Default)
    extra_envs: int  # projects per customer beyond prod/dev/lab (named after teams)
    users_per_project: int
    servers: int
    hypervisors_per_region: int
    azs: tuple[str, ...]
    project_net_prefix: int  # prefix length of project subnets
    external_prefix: int  # prefix length of the shared external subnet
    nics: tuple[float, float, float]  # share of servers with 1, 2, 3 NICs
    data_volumes: tuple[float, ...]  # share of servers with 0, 1, 2, 3 data volumes
    spare_volumes: float  # detached volumes per server
    manual_snapshots: float  # manual snapshots per volume
    spare_ports: float  # unbound ports per server
    fip_share: float  # servers with a floating IP


SIZES: dict[str, SizeSpec] = {
    "tiny": SizeSpec(
        regions=("RegionOne",),
        customers=1,
        extra_envs=0,
        users_per_project=2,
        servers=12,
        hypervisors_per_region=3,
        azs=("nova",),
        project_net_prefix=24,
        external_prefix=24,
        nics=(0.75, 0.25, 0.0),
        data_volumes=(0.4, 0.4, 0.2),
        spare_volumes=0.25,
        manual_snapshots=0.3,
        spare_ports=0.1,
        fip_share=0.35,
    ),
    "small": SizeSpec(
        regions=("RegionOne", "RegionTwo"),
        customers=2,
        extra_envs=2,
        users_per_project=3,
        servers=200,
        hypervisors_per_region=6,
        azs=("az1", "az2"),
        project_net_prefix=24,
        external_prefix=23,
        nics=(0.6, 0.3, 0.1),
        data_volumes=(0.45, 0.35, 0.15, 0.05),
        spare_volumes=0.2,
        manual_snapshots=0.25,
        spare_ports=0.05,
        fip_share=0.3,
    ),
    "large": SizeSpec(
        regions=("RegionOne", "RegionTwo"),
        customers=6,
        extra_envs=3,
        users_per_project=4,
        servers=1000,
        hypervisors_per_region=22,
        azs=("az1", "az2", "az3"),
        project_net_prefix=22,
        external_prefix=21,
        nics=(0.45, 0.4, 0.15),
        data_volumes=(0.45, 0.35, 0.15, 0.05),
        spare_volumes=0.25,
        manual_snapshots=0.2,
        spare_ports=0.05,
        fip_share=0.3,
    ),
    "xl": SizeSpec(
        regions=("RegionOne", "RegionTwo", "RegionThree"),
        customers=24,
        extra_envs=4,
        users_per_project=3,
        servers=10000,
        hypervisors_per_region=120,
        azs=("az1", "az2", "az3"),
        project_net_prefix=21,
        external_prefix=18,
        nics=(0.25, 0.45, 0.3),
        data_volumes=(0.45, 0.35, 0.15, 0.05),
        spare_volumes=0.3,
        manual_snapshots=0.5,
        spare_ports=0.2,
        fip_share=0.4,
    ),
}

# name, vcpus, ram MB, disk GB, weight (how often it is picked for a VM)
FLAVORS: tuple[tuple[str, int, int, int, int], ...] = (
    ("m1.tiny", 1, 512, 1, 3),
    ("m1.small", 1, 2048, 20, 20),
    ("m1.medium", 2, 4096, 40, 26),
    ("m1.large", 4, 8192, 80, 16),
    ("m1.xlarge", 8, 16384, 160, 6),
    ("c1.large", 4, 4096, 40, 6),
    ("c1.xlarge", 8, 8192, 80, 4),
    ("c1.2xlarge", 16, 16384, 160, 2),
    ("r1.large", 2, 16384, 40, 5),
    ("r1.xlarge", 4, 32768, 80, 4),
    ("r1.2xlarge", 8, 65536, 160, 2),
)

# name, os_distro, os_version, size GB (image file), min_disk, weight for Linux-ish roles
IMAGES: tuple[tuple[str, str, str, float, int, int], ...] = (
    ("ubuntu-22.04-server-cloudimg", "ubuntu", "22.04", 0.65, 0, 30),
    ("ubuntu-24.04-server-cloudimg", "ubuntu", "24.04", 0.6, 0, 25),
    ("rhel-8.10-x86_64-kvm", "rhel", "8", 0.9, 10, 10),
    ("rhel-9.4-x86_64-kvm", "rhel", "9", 0.95, 10, 14),
    ("debian-12-genericcloud-amd64", "debian", "12", 0.35, 0, 10),
    ("CentOS-7-x86_64-GenericCloud-2211", "centos", "7", 0.9, 0, 5),
    ("rocky-9.4-GenericCloud", "rocky", "9", 0.6, 0, 4),
    ("cirros-0.6.2-x86_64-disk", "cirros", "0.6.2", 0.02, 0, 1),
    ("windows-server-2019-std", "windows", "2019", 9.8, 40, 0),
    ("windows-server-2022-std", "windows", "2022", 10.5, 40, 0),
)

# name, description, backend, weight for new volumes
VOLUME_TYPES: tuple[tuple[str, str, str, int], ...] = (
    ("__DEFAULT__", "Default Volume Type", "lvmdriver-1", 2),
    ("standard", "Replicated HDD pool", "ceph-hdd", 10),
    ("ssd", "All-flash pool", "ceph-ssd", 6),
    ("nvme-ultra", "Local NVMe, low latency", "nvme-1", 1),
)

# Server roles: name stem, Windows?, flavors that fit, data volume sizes (GB)
ROLES: tuple[tuple[str, bool, tuple[str, ...], tuple[int, ...]], ...] = (
    ("web", False, ("m1.small", "m1.medium", "c1.large"), (20, 50)),
    ("app", False, ("m1.medium", "m1.large", "c1.large", "c1.xlarge"), (50, 100)),
    ("api", False, ("m1.small", "m1.medium", "c1.large"), (20, 40)),
    ("db", False, ("m1.large", "r1.large", "r1.xlarge", "r1.2xlarge"), (100, 250, 500, 1000)),
    ("cache", False, ("r1.large", "m1.medium", "r1.xlarge"), (20, 50)),
    ("worker", False, ("m1.medium", "c1.xlarge", "c1.2xlarge", "m1.large"), (50, 100)),
    ("k8s-node", False, ("m1.xlarge", "m1.large", "c1.xlarge"), (100, 200)),
    ("jenkins", False, ("m1.large", "m1.medium"), (200,)),
    ("bastion", False, ("m1.tiny", "m1.small"), (10,)),
    ("mq", False, ("m1.medium", "m1.large"), (50, 100)),
    ("win-app", True, ("m1.large", "m1.xlarge"), (100, 200)),
    ("win-sql", True, ("r1.xlarge", "r1.2xlarge"), (250, 500)),
    ("win-ad", True, ("m1.medium", "m1.large"), (40,)),
)

CUSTOMERS: tuple[tuple[str, str], ...] = (
    ("acme", "Acme Corporation"),
    ("globex", "Globex Industries"),
    ("initech", "Initech Software"),
    ("umbrella", "Umbrella Health"),
    ("hooli", "Hooli Search"),
    ("stark", "Stark Manufacturing"),
    ("wayne", "Wayne Logistics"),
    ("wonka", "Wonka Foods"),
    ("tyrell", "Tyrell Robotics"),
    ("cyberdyne", "Cyberdyne Systems"),
    ("soylent", "Soylent Nutrition"),
    ("oscorp", "Oscorp Labs"),
    ("aperture", "Aperture Science"),
    ("blackmesa", "Black Mesa Research"),
    ("vandelay", "Vandelay Imports"),
    ("dunder", "Dunder Paper"),
    ("gringotts", "Gringotts Banking"),
    ("monarch", "Monarch Energy"),
    ("massive", "Massive Dynamic"),
    ("nakatomi", "Nakatomi Trading"),
    ("pied", "Pied Piper"),
    ("prestige", "Prestige Worldwide"),
    ("sterling", "Sterling Cooper"),
    ("virtucon", "Virtucon Holdings"),
    ("zorg", "Zorg Industries"),
    ("bluth", "Bluth Company"),
)

TEAMS = ("analytics", "payments", "platform", "mobile", "data", "ml", "search", "billing")

FIRST_NAMES = (
    "alice",
    "bob",
    "carol",
    "dave",
    "erin",
    "frank",
    "grace",
    "heidi",
    "ivan",
    "judy",
    "mallory",
    "niaj",
    "olivia",
    "peggy",
    "rupert",
    "sybil",
    "trent",
    "victor",
    "walter",
    "yara",
    "zoe",
    "omar",
    "priya",
    "chen",
)
LAST_NAMES = (
    "smith",
    "jones",
    "garcia",
    "miller",
    "davis",
    "lopez",
    "wilson",
    "taylor",
    "moore",
    "martin",
    "lee",
    "walker",
    "hall",
    "young",
    "king",
    "wright",
    "scott",
    "green",
    "baker",
    "adams",
    "nelson",
    "hill",
)

# Snapshot policy sets (DOMAIN.md §4) with the retention count of each policy.
POLICY_SETS: tuple[tuple[tuple[tuple[str, int], ...], int], ...] = (
    ((("daily_5", 5),), 30),
    ((("daily_3", 3),), 12),
    ((("daily_7", 7),), 8),
    ((("daily_5", 5), ("monthly_1st", 1)), 20),
    ((("daily_3", 3), ("monthly_1st", 2)), 8),
    ((("daily_7", 7), ("monthly_1st", 1), ("monthly_15th", 1)), 6),
    ((("monthly_1st", 3),), 4),
)
# Share of volumes enrolled in a policy, per kind of project.
ENROLL_SHARE = {"prod": 0.7, "dev": 0.35, "lab": 0.15, "team": 0.5, "admin": 0.5}
SNAPSHOT_SERVICE_NAME = "pf9-snapshot-service"
