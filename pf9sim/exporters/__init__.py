"""Simulated Prometheus exporter pages for the estate's hypervisors, in the text exposition format.

node_exporter_page mimics Debian's prometheus-node-exporter (1.5) and libvirt_exporter_page Debian's
prometheus-libvirt-exporter (0.2, --libvirt.export-nova-metadata): same metric names, HELP/TYPE lines, label
names, family and series order, and Go's float formatting. style="tinkoff" renders the per-domain metrics the
way the newer Tinkoff/AlexZzz exporter does instead (a libvirt_domain_info_meta series carrying instance name,
flavor, user and project names and ids, root type and id; other series labelled by domain only).

Values are consistent with the estate (vCPUs and memory from flavors, only ACTIVE servers of the host, their
ports and volumes) and counters are closed-form integrals of smooth load curves over time: deterministic
functions of (seed, host or server, simulated clock), so they grow with the clock without any stored state.
A host's CPU load level is set by the generator from the VMs placed on it (the busiest hosts run above 85 %)
and then stays fixed, so that counters never go back; the gauges (memory, load, disks, the VMs' tap devices)
follow the VMs placed on it now.
"""
