"""The command a student would type for each step: ``ip``, ``sysctl``, ``lxc``, ``ln``.

Students are here to learn these commands: every Step nslab takes, every fix
the checker and ``explain`` suggest, and every step of the simulation shows the
command that does the same by hand.  They are all written here, once, so that
they never drift apart (a test replays them with ``ip -batch`` on the kernel).
"""

from __future__ import annotations

from typing import Protocol

NETNS_RUN_DIR = "/var/run/netns"  # where iproute2 looks for names (nsfs may be told otherwise for tests)


class RouteLike(Protocol):
    """A static route as the model has it (``nslab_kernel.model.topology.Route``)."""

    @property
    def destination(self) -> str: ...  # "default" or a prefix, as ip writes it

    via: object
    dev: str | None


# --- namespaces -------------------------------------------------------------------------------------------

def netns_add(ns: str) -> str:
    return f"ip netns add {ns}"


def netns_del(ns: str) -> str:
    return f"ip netns del {ns}"


def netns_dir(run_dir: str = NETNS_RUN_DIR) -> str:
    """The folder of netns names, which ``ip netns add`` creates and a symlink needs first."""
    return f"mkdir -p {run_dir}"


def netns_link(pid: int | str, path: str) -> str:
    """Name a process's netns the activity's way: a symlink to its ``/proc/PID/ns/net``."""
    return f"ln -sf /proc/{pid}/ns/net {path}"


def remove(*paths: str, force: bool = False) -> str:
    return f"rm {'-f ' if force else ''}{' '.join(paths)}"


def show_netns_link(pid: int | str) -> str:
    """The link that is a process's network namespace (what a name in /var/run/netns points to)."""
    return f"ls -l /proc/{pid}/ns/net"


def netns_exec(ns: str, command: str) -> str:
    return f"ip netns exec {ns} {command}"


def as_netns_exec(command: str) -> str:
    """``ip -n NS rest`` as the activity writes it: ``ip netns exec NS ip rest`` (other commands unchanged)."""
    words = command.split(" ", 3)
    if len(words) == 4 and words[:2] == ["ip", "-n"]:
        return netns_exec(words[2], f"ip {words[3]}")
    return command


def nsenter_net(path: str, command: str) -> str:
    """Run a command in the netns at ``path`` (a namespace without a name in /var/run/netns)."""
    return f"nsenter --net={path} {command}"


# --- links and addresses ----------------------------------------------------------------------------------

def veth(ifname: str, ns: str, peer_ifname: str, peer_ns: str) -> str:
    """A veth pair with each end created directly in its namespace."""
    return f"ip link add {ifname} netns {ns} type veth peer name {peer_ifname} netns {peer_ns}"


def veth_in_host(ifname: str, peer_ifname: str) -> str:
    """A veth pair made in the host, as the activity does before moving each end (:func:`link_move`)."""
    return f"ip link add {ifname} type veth peer name {peer_ifname}"


def link_move(ifname: str, ns: str, from_ns: str | None = None) -> str:
    """Move an interface into namespace ``ns`` (from the host, or from namespace ``from_ns``)."""
    where = f"-n {from_ns} " if from_ns else ""
    return f"ip {where}link set dev {ifname} netns {ns}"


def link_del_host(ifname: str) -> str:
    return f"ip link del {ifname}"


def ip_show(ns: str, what: str) -> str:
    """``ip -n NS addr`` / ``link`` / ``route``: what a namespace has."""
    return f"ip -n {ns} {what}"


def ping(ns: str, address: str, count: int = 1) -> str:
    return netns_exec(ns, f"ping -c {count} {address}")


def link_up(ns: str, ifname: str) -> str:
    return f"ip -n {ns} link set {ifname} up"


def link_del(ns: str, ifname: str) -> str:
    return f"ip -n {ns} link del {ifname}"


def link_rename(ns: str, ifname: str, new_name: str) -> str:
    return f"ip -n {ns} link set {ifname} name {new_name}"


def addr_add(ns: str, address: object, ifname: str) -> str:
    return f"ip -n {ns} addr add {address} dev {ifname}"


def addr_del(ns: str, address: object, ifname: str) -> str:
    return f"ip -n {ns} addr del {address} dev {ifname}"


# --- routes and forwarding --------------------------------------------------------------------------------

def route(ns: str, route: RouteLike, verb: str = "add") -> str:
    """``ip -n NS route add|replace DEST via GW [dev IF]``."""
    return route_text(ns, route.destination, route.via, route.dev, verb)


def route_text(ns: str, destination: str, via: object, dev: str | None = None, verb: str = "add") -> str:
    """The same from its words (a hint's shape: ``route_text("NETNS", "PREFIX", "GATEWAY")``)."""
    return f"ip -n {ns} route {verb} {destination} via {via}" + (f" dev {dev}" if dev else "")


def route_del(ns: str, route: RouteLike) -> str:
    return f"ip -n {ns} route del {route.destination}"


def forwarding(ns: str, enabled: bool | str) -> str:
    """``net.ipv4.ip_forward`` is per namespace: set inside it (a str value: a hint's shape, like "1|0")."""
    return netns_exec(ns, f"sysctl -w net.ipv4.ip_forward={enabled if isinstance(enabled, str) else int(enabled)}")


# --- LXD --------------------------------------------------------------------------------------------------

def lxc_init(image: str, container: str) -> str:
    return f"lxc init {image} {container}"


def lxc_launch(image: str, container: str) -> str:
    return f"lxc launch {image} {container}"


def lxc_start(container: str) -> str:
    return f"lxc start {container}"


def lxc_info(container: str) -> str:
    """Shows the container's init PID, the one whose /proc/PID/ns/net is its netns."""
    return f"lxc info {container}"


def lxc_info_pid(container: str) -> str:
    return f"{lxc_info(container)} | grep PID"


def lxc_exec(container: str, command: str) -> str:
    return f"lxc exec {container} -- {command}"


def lxc_delete(*containers: str) -> str:
    return f"lxc delete --force {' '.join(containers)}"


# --- nslab's own, and putting commands together -------------------------------------------------------------

def nslab_up() -> str:
    return "nslab up"


def nslab_explain(source: str, destination: str) -> str:
    return f"nslab explain {source} {destination}"


def then(*commands: str) -> str:
    """Commands to run one after the other, each only if the one before worked."""
    return " && ".join(commands)


def alternatively(first: str, other: str) -> str:
    """A command, with another way of doing the same as a shell comment."""
    return f"{first}  # or: {other}"
