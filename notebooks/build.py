"""Writes every notebook from this one source, Spanish and English, without outputs.

    python notebooks/build.py

Two tracks come out of it:

- the guided notebooks (``es/01-...`` .. ``es/05-...``, ``en/...``): nslab does each step and shows its
  command; the instructor's demo;
- the student track (``es/ejercicios/``, ``en/exercises/``): each step of the activity is an exercise the
  student does with ``!ip``/``!lxc`` commands, checked live; and the same notebooks as nbgrader source
  notebooks with the solutions (``nbgrader/source/nslab-es/``, ``nbgrader/source/nslab-en/``).

Cell sources are code here (a test compiles each one, IPython ``!`` lines included); the prose is
written in es and en.  Facts (node, namespace and interface names, subnets) are read from the topology
files, never typed in.  Test plumbing is not in the notebooks: :func:`probes` gives the cells a test
inserts before running a notebook.  Edit this file, not the .ipynb files.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from textwrap import dedent

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

from nslab_kernel import load
from nslab_kernel.backends.images import DEFAULT_IMAGE

HERE = Path(__file__).resolve().parent

# --- facts, from the topology files -------------------------------------------------------------------
TWO = load("two-containers")
C1, C2 = TWO.node_names[:2]
NS1, NS2 = TWO.netns_name(C1), TWO.netns_name(C2)
PAIR = TWO.links[0]
V_A, V_B = PAIR.a.ifname, PAIR.b.ifname
FIG = load("figure1")
ROUTERS = [n.name for n in FIG.nodes if n.forwarding]
HOSTS = [n.name for n in FIG.nodes if not n.forwarding]
LAST_HOST = HOSTS[-1]
LAST_NET = str(FIG.addresses_of(LAST_HOST)[0].network)
FIRST_ROUTER = ROUTERS[0]
# the route the demo deletes: the first router's route towards the last host's network
BROKEN_ROUTE = next(str(r.dst) for r in FIG.node(FIRST_ROUTER).routes if str(r.dst) == LAST_NET)
SILENT_ROUTER = ROUTERS[1]  # the router the demo stops forwarding


def _span(names: list[str]) -> str:
    return f"{names[0]}–{names[-1]}" if len(names) > 2 else ", ".join(names)


# --- cells -------------------------------------------------------------------------------------------
@dataclass
class Cell:
    kind: str  # "md" | "code"
    es: str
    en: str = ""
    tags: tuple[str, ...] = ()
    probe: str = ""  # test plumbing run right after this cell (never written into the notebook)
    solution: str = ""  # student track: the commands that solve the exercise (nbgrader's solution region)
    grade: float = 0  # student track: an autograded cell worth these points
    locked: bool = False  # student track: read-only under nbgrader
    gid: str = ""  # nbgrader grade_id


def text(s: str) -> str:
    return dedent(s).strip("\n")


def md(es: str, en: str) -> Cell:
    return Cell("md", text(es), text(en))


def code(source: str, tags: tuple[str, ...] = (), probe: str = "", locked: bool = False, gid: str = "") -> Cell:
    return Cell("code", text(source), tags=tags, probe=text(probe), locked=locked, gid=gid)


def task(gid: str, solution: str) -> Cell:
    """An empty cell for the student's commands; ``solution`` is what nbgrader's source notebook holds."""
    return Cell("code", "", solution=text(solution), gid=gid)


def check(step: str) -> Cell:
    return Cell("code", f'ex.check("{step}")', locked=True, gid=f"check-{step.replace('.', '-')}")


def grade(section: str, points: float) -> Cell:
    return Cell("code", f'ex.grade("{section}", {points:g})', locked=True, grade=points, gid=f"grade-{section}")


PARAMETERS = '''
backend = "auto"  # auto | lxd | netns
lab = None  # lab name (None: the topology's own)
image = None  # LXD image (None: nslab's offline busybox image)
keep = False  # True: leave the lab up at the end (also when the kernel stops)
'''

DEMO_PARAMETERS = PARAMETERS + '''break_kind = "route"  # route | forwarding
'''

SETUP = '''
import nslab_kernel
from nslab_kernel.lifecycle import session
from nslab_widgets import NetnsInspector, PingMatrixView, TopologyView, progress_bar, snapshot_svg

nslab_kernel.set_language("{lang}")
backend = session.choose_backend(backend)
print("backend:", backend)
'''

PRIVILEGES = md(
    """
    > **Privilegios.** No hace falta ser root. Con el kernel **Python 3 (nslab)**:
    >
    > - cada estudiante trabaja en su propio espacio aislado (un espacio de nombres de usuario), donde es root;
    > - ese espacio tiene su propio "host" de red: `!ip link add ...` actúa sobre él, nunca sobre la máquina;
    > - `!ip netns list` solo muestra sus laboratorios, y la terminal de JupyterLab (Archivo > Nuevo > Terminal)
    >   se abre en ese mismo host;
    > - LXD no se usa ahí, porque equivale a ser root: úselo como root o en una máquina virtual propia, como
    >   recomienda la actividad.
    >
    > Si la máquina no permite ni eso (Binder, o espacios de nombres de usuario bloqueados: `nslab doctor` dice
    > cómo permitirlos), la red se simula en Python; el cuaderno lo dice en sus primeras celdas y los comandos
    > `!ip` no pueden ejecutarse.
    """,
    """
    > **Privileges.** No root needed. With the **Python 3 (nslab)** kernel:
    >
    > - each student works in their own sandbox (a user namespace), where they are root;
    > - that sandbox has its own network "host": `!ip link add ...` acts on it, never on the machine;
    > - `!ip netns list` shows only their labs, and JupyterLab's terminal (File > New > Terminal) opens in that
    >   same host;
    > - LXD is not used there, as it is root-equivalent: use it as root or in a VM of your own, as the activity
    >   recommends.
    >
    > Where the machine does not allow even that (Binder, or user namespaces blocked: `nslab doctor` says how to
    > allow them), the network is simulated in Python; the notebook says so in its first cells, and `!ip`
    > commands cannot run.
    """)


def with_privileges(cell: Cell) -> Cell:
    return Cell("md", cell.es + "\n\n" + PRIVILEGES.es, cell.en + "\n\n" + PRIVILEGES.en)


TEARDOWN = code('''
if not keep:
    display(lab.down())  # what was removed
''')

NOTEBOOKS: dict[tuple[str, str], list[Cell]] = {}

# === the guided notebooks (the instructor's demo) =======================================================

# --- 1. Preparation ------------------------------------------------------------------------------------
NOTEBOOKS[("01-preparacion", "01-preparation")] = [
    with_privileges(md(
        """
        # 1. Preparación de la máquina

        Antes de empezar comprobamos que la máquina tiene lo necesario: privilegios para crear
        *network namespaces*, el demonio LXD con una imagen, y Graphviz para dibujar la topología. Para cada
        cosa que falte, la tabla dice exactamente qué hacer.
        """,
        """
        # 1. Preparing the machine

        Before starting we check that the machine has what the lab needs: privileges to create network
        namespaces, the LXD daemon with an image, and Graphviz to draw the topology. For each missing thing,
        the table says exactly what to do.
        """)),
    code(PARAMETERS, ("parameters",)),
    code('''
        import nslab_kernel
        from nslab_kernel.analysis.doctor import examine

        nslab_kernel.set_language("{lang}")
        doctor = examine(lxd=backend in ("auto", "lxd"))
        doctor
        ''', probe='''
        import json
        print("NSLAB_RESULT", json.dumps({"ready": doctor.ready, "checks": {c.name: c.ok for c in doctor.checks}}))
        '''),
    md(
        """
        Cada fila es una comprobación. **namespaces** es imprescindible; **lxd** solo hace falta para trabajar
        con contenedores (sin él, los cuadernos usan *namespaces* sencillos); **graphviz** dibuja los grafos.
        """,
        """
        Each row is one check. **namespaces** is required; **lxd** is only needed to work with containers
        (without it the notebooks use plain namespaces); **graphviz** draws the graphs.
        """),
    code('''
        from nslab_kernel.lifecycle import session

        print("backend:", session.choose_backend(backend))
        '''),
    md(
        """
        La herramienta de línea de comandos hace lo mismo: `nslab doctor` (habla el idioma de la variable
        `NSLAB_LANG`, o el de `LANG`). Y estas son las versiones de las herramientas que usaremos a mano:
        """,
        """
        The command line does the same: `nslab doctor` (it speaks the language of the variable `NSLAB_LANG`, or
        of `LANG`). And these are the versions of the tools we will use by hand:
        """),
    code('''
        %env NSLAB_LANG={lang}
        !ip -V
        !nslab doctor
        '''),
]

# --- 2. Network namespaces -----------------------------------------------------------------------------
NOTEBOOKS[("02-network-namespaces", "02-network-namespaces")] = [
    with_privileges(md(
        """
        # 2. Network namespaces

        Cada proceso de Linux pertenece a un *network namespace* (netns): su propia copia de interfaces, rutas
        y *sysctls* de red. El enlace `/proc/<PID>/ns/net` indica a cuál. Veremos que todos los procesos del
        anfitrión comparten uno, que un contenedor vive en otro, y cómo darle nombre a ese netns para usarlo
        con `ip netns exec`.
        """,
        """
        # 2. Network namespaces

        Every Linux process belongs to a network namespace (netns): its own copy of interfaces, routes and
        network sysctls. The link `/proc/<PID>/ns/net` says which. We will see that all the host's processes
        share one, that a container lives in another, and how to give that netns a name to use it with
        `ip netns exec`.
        """)),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    md(
        """
        ## Los procesos y su netns

        `ps faxu` muestra los procesos en árbol. Junto a cada uno añadimos el número (inodo) de su netns: de
        momento todos deberían tener el mismo.
        """,
        """
        ## Processes and their netns

        `ps faxu` shows the processes as a tree. Next to each one we add the number (inode) of its netns: for
        now they should all have the same.
        """),
    code('''
        !ps faxu | head -5
        '''),
    code('''
        import os
        from collections import Counter
        from nslab_kernel.kernel.procs import host_netns, processes

        print(os.readlink(f"/proc/{os.getpid()}/ns/net"))
        print(Counter(p.netns for p in processes()).most_common(3))
        '''),
    code('''
        !ls -l /proc/self/ns/net
        '''),
    md(
        f"""
        ## Un contenedor en otro netns

        Ahora lanzamos `{C1}`. Con LXD es un contenedor de verdad (`lxc launch`); sin LXD, un netns con nombre
        (`ip netns add`). Cada paso muestra el comando equivalente.
        """,
        f"""
        ## A container in another netns

        Now we launch `{C1}`. With LXD it is a real container (`lxc launch`); without LXD, a named netns
        (`ip netns add`). Each step shows the equivalent command.
        """),
    code(f'''
        lab = session.open_lab("{TWO.name}", backend, lab, image, keep=keep)
        lab.add_node("{C1}")
        '''),
    md(
        """
        `ps faxu` otra vez, pero solo lo que importa: el `init` del contenedor y sus descendientes (con LXD,
        colgando del monitor de LXD), cada uno con el inodo de su netns, distinto del del anfitrión.
        """,
        """
        `ps faxu` again, but only what matters: the container's `init` and its descendants (with LXD, under
        LXD's monitor), each with the inode of its netns, which differs from the host's.
        """),
    code(f'''
        from nslab_kernel.analysis.exercises import ps_tree

        node = lab.state().nodes["{C1}"]
        print(ps_tree(node.inode))
        ''', probe='''
        inside = [p for p in processes() if p.netns == node.inode]
        '''),
    md(
        """
        Los procesos del contenedor (con LXD: su `init` y sus descendientes) tienen un netns distinto del
        anfitrión. Un netns creado con `ip netns add` no tiene procesos hasta que ejecutamos algo en él.
        """,
        """
        The container's processes (with LXD: its `init` and its descendants) have a netns different from the
        host's. A netns made with `ip netns add` has no processes until we run something in it.
        """),
    code('''
        NetnsInspector(lab)
        '''),
    md(
        f"""
        ## Darle nombre al netns

        LXD crea el netns sin nombre. La actividad lo resuelve con un enlace simbólico en `/var/run/netns` al
        `/proc/<PID>/ns/net` del `init` del contenedor (`ln -sf /proc/PID/ns/net /var/run/netns/{NS1}`); nslab
        hizo exactamente eso en el paso anterior. Con *namespaces* sencillos, `ip netns add` ya le da nombre.
        """,
        f"""
        ## Naming the netns

        LXD creates the netns without a name. The activity solves it with a symbolic link in `/var/run/netns`
        to the `/proc/<PID>/ns/net` of the container's `init` (`ln -sf /proc/PID/ns/net /var/run/netns/{NS1}`);
        nslab did exactly that in the previous step. With plain namespaces, `ip netns add` names it already.
        """),
    code('''
        !ls -l /var/run/netns/
        !ip netns list
        '''),
    code(f'''
        lab.check(["nodes"], only=["{C1}"])
        '''),
    md(
        """
        ## Ejecutar en el netns

        Con el nombre ya podemos usar `ip netns exec`. Dentro solo hay `lo` (todavía sin enlaces).
        """,
        """
        ## Running in the netns

        With the name we can now use `ip netns exec`. Inside there is only `lo` (no links yet).
        """),
    code(f'''
        ns1 = lab.topology.netns_name("{C1}")
        !ip netns exec $ns1 ip addr
        '''),
    code(f'''
        result = lab.exec("{C1}", ["ip", "addr"])
        print(result.stdout)
        ''', probe='''
        import json
        path = "/var/run/netns/" + ns1
        link = os.readlink(path) if os.path.islink(path) else None
        named = os.stat(path).st_ino == node.inode if os.path.exists(path) else lab.backend.simulated
        print("NSLAB_RESULT", json.dumps({"host_netns": host_netns(), "container_netns": node.inode, "named": named,
                                          "symlink": link, "processes": len(inside)}))
        '''),
    TEARDOWN,
]

# --- 3. veth pairs -------------------------------------------------------------------------------------
NOTEBOOKS[("03-pares-veth", "03-veth-pairs")] = [
    with_privileges(md(
        f"""
        # 3. Pares veth

        Un *virtual Ethernet device* (veth) se crea por parejas: lo que entra por un extremo sale por el otro.
        Uniremos `{C1}` y `{C2}` con la pareja `{V_A}`/`{V_B}`, daremos dirección a cada extremo y haremos ping
        de uno a otro.
        """,
        f"""
        # 3. veth pairs

        A virtual Ethernet device (veth) is made in pairs: what goes in one end comes out of the other. We will
        join `{C1}` and `{C2}` with the pair `{V_A}`/`{V_B}`, address each end and ping from one to the other.
        """)),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    code(f'''
        lab = session.open_lab("{TWO.name}", backend, lab, image, keep=keep)
        lab.add_node("{C1}", "{C2}", progress=progress_bar())
        '''),
    code('''
        lab.check(["nodes"])
        '''),
    md(
        f"""
        ## Crear la pareja

        La actividad crea la pareja en el anfitrión y luego mueve cada extremo:

        ```
        ip link add {V_A} type veth peer name {V_B}
        ip link set dev {V_A} netns {NS1}
        ip link set dev {V_B} netns {NS2}
        ```

        nslab hace lo mismo en un solo paso, creando cada extremo directamente en su netns (así nunca queda
        nada suelto en el anfitrión):
        """,
        f"""
        ## Making the pair

        The activity creates the pair in the host and then moves each end:

        ```
        ip link add {V_A} type veth peer name {V_B}
        ip link set dev {V_A} netns {NS1}
        ip link set dev {V_B} netns {NS2}
        ```

        nslab does the same in one step, creating each end directly in its netns (so nothing is ever left
        loose in the host):
        """),
    code(f'''
        lab.add_link("{PAIR.a}", "{PAIR.b}")
        '''),
    code(f'''
        ns1, ns2 = lab.topology.netns_name("{C1}"), lab.topology.netns_name("{C2}")
        !ip -n $ns1 link show {V_A}
        !ip -n $ns2 link show {V_B}
        '''),
    code('''
        lab.check(["links"])
        '''),
    md(
        f"""
        ## Direcciones

        Cada extremo recibe una dirección de la misma subred (`ip addr add ... dev {V_A}`) y se levanta
        (`ip link set {V_A} up`).
        """,
        f"""
        ## Addresses

        Each end gets an address in the same subnet (`ip addr add ... dev {V_A}`) and is brought up
        (`ip link set {V_A} up`).
        """),
    code(f'''
        lab.set_address("{PAIR.a}")
        '''),
    code(f'''
        lab.set_address("{PAIR.b}")
        '''),
    code('''
        lab.check(["addresses"])
        '''),
    md(
        """
        ## Ping

        Ya hay comunicación entre los contenedores a través de la pareja veth:
        """,
        """
        ## Ping

        The containers can now talk through the veth pair:
        """),
    code(f'''
        far = lab.topology.addresses_of("{C2}")[0].ip
        near = lab.topology.addresses_of("{C1}")[0].ip
        ping = lab.exec("{C1}", ["ping", "-c", "2", "-W", "2", str(far)])
        print(ping.stdout)
        '''),
    code('''
        !ip netns exec $ns2 ping -c 1 -W 2 $near
        '''),
    code('''
        matrix = lab.ping_matrix()
        print(matrix)
        PingMatrixView(lab, matrix=matrix)
        '''),
    md(
        f"""
        ## Borrar la pareja

        Basta con borrar un extremo (`ip link del {V_A}`): el otro desaparece con él.
        """,
        f"""
        ## Deleting the pair

        Deleting one end is enough (`ip link del {V_A}`): the other one goes with it.
        """),
    code(f'''
        lab.delete_link("{PAIR.a}")
        '''),
    code(f'''
        after = lab.state()
        gone = after.nodes["{C2}"].interface("{V_B}") is None
        print("{V_B}:", "✘" if gone else "✔")
        ''', probe='''
        import json
        print("NSLAB_RESULT", json.dumps({"ping_ok": ping.ok, "reachable": matrix.reachable, "peer_gone": gone}))
        '''),
    TEARDOWN,
]

# --- 4. The activity: Figure 1 ----------------------------------------------------------------------------
NOTEBOOKS[("04-actividad-figura1", "04-activity-figure1")] = [
    with_privileges(md(
        f"""
        # 4. La actividad: la topología de la Figura 1

        {len(HOSTS)} equipos ({_span(HOSTS)}) y {len(ROUTERS)} routers ({_span(ROUTERS)}); todos son contenedores
        (o *namespaces*) del mismo anfitrión y cada enlace es una pareja veth. La construimos por etapas: nodos,
        enlaces, direcciones, reenvío y rutas. Tras cada etapa miramos el grafo y la matriz de ping: los pings
        fallan hasta que los routers reenvían y tienen rutas.
        """,
        f"""
        # 4. The activity: the topology of Figure 1

        {len(HOSTS)} hosts ({_span(HOSTS)}) and {len(ROUTERS)} routers ({_span(ROUTERS)}); all are containers (or
        namespaces) on the same host and every link is a veth pair. We build it in stages: nodes, links,
        addresses, forwarding and routes. After each stage we look at the graph and the ping matrix: pings fail
        until the routers forward and have routes.
        """)),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    code(f'''
        lab = session.open_lab("{FIG.name}", backend, lab, image, keep=keep)
        view = TopologyView(lab)
        view
        '''),
    md("## Nodos", "## Nodes"),
    code('''
        lab.up(stages=["nodes"], progress=progress_bar())
        '''),
    code('''
        lab.check(["nodes"])
        '''),
    md(
        f"""
        ## Enlaces

        {len(FIG.links)} parejas veth. Cada comando es el que escribiría usted a mano.
        """,
        f"""
        ## Links

        {len(FIG.links)} veth pairs. Each command is the one you would type by hand.
        """),
    code('''
        lab.up(stages=["links"])
        '''),
    code('''
        lab.check(["links"])
        '''),
    code('''
        snapshot_svg(lab)
        '''),
    md(
        """
        ## Direcciones

        Con direcciones, cada nodo alcanza a sus vecinos directos, y nada más: nadie reenvía todavía y nadie
        tiene rutas.
        """,
        """
        ## Addresses

        With addresses, each node reaches its direct neighbours and nothing else: nobody forwards yet and
        nobody has routes.
        """),
    code('''
        lab.up(stages=["addresses"])
        '''),
    code('''
        lab.check(["addresses"])
        '''),
    code('''
        stage = lab.ping_matrix(timeout=0.5)
        print(stage)
        PingMatrixView(lab, matrix=stage)
        '''),
    md(
        """
        ## Reenvío

        En los routers activamos `net.ipv4.ip_forward`, un *flag* del kernel propio de cada netns
        (`ip netns exec NS sysctl -w net.ipv4.ip_forward=1`). Los equipos no reenvían.
        """,
        """
        ## Forwarding

        On the routers we enable `net.ipv4.ip_forward`, a kernel flag of each netns of its own
        (`ip netns exec NS sysctl -w net.ipv4.ip_forward=1`). The hosts do not forward.
        """),
    code('''
        lab.up(stages=["forwarding"])
        '''),
    code('''
        lab.check(["forwarding"])
        '''),
    code(f'''
        router = lab.topology.netns_name("{FIRST_ROUTER}")
        !ip netns exec $router sysctl net.ipv4.ip_forward
        '''),
    code('''
        stage = lab.ping_matrix(timeout=0.5)
        print(stage)
        snapshot_svg(lab)
        '''),
    md(
        """
        ## Rutas

        Sin rutas, un router solo conoce sus redes directas. Los equipos usan su router como puerta de enlace
        por defecto; los routers reciben rutas estáticas hacia las redes lejanas, prefiriendo el enlace directo.
        """,
        """
        ## Routes

        Without routes a router only knows its own networks. The hosts use their router as the default
        gateway; the routers get static routes towards the far networks, preferring the direct link.
        """),
    code('''
        lab.up(stages=["routes"])
        '''),
    code('''
        lab.check(["routes"])
        '''),
    code('''
        !ip -n $router route
        '''),
    md(
        """
        ## Resultado

        Ahora cada nodo alcanza todas las direcciones de todos los demás.
        """,
        """
        ## Result

        Now every node reaches every address of every other node.
        """),
    code('''
        final = lab.ping_matrix()
        print(final)
        PingMatrixView(lab, matrix=final, on_explain=view.show_path)
        '''),
    code('''
        snapshot_svg(lab)
        '''),
    code('''
        lab.check()
        ''', probe='''
        import json
        print("NSLAB_RESULT", json.dumps({"reachable": final.reachable, "failed": final.failed,
                                          "pairs": len(final.pairs), "probes": len(final.probes)}))
        '''),
    TEARDOWN,
]

# --- 5. Instructor demo -----------------------------------------------------------------------------------
NOTEBOOKS[("05-demo-profesor", "05-instructor-demo")] = [
    with_privileges(md(
        """
        # 5. Demostración para clase

        La Figura 1 completa en pocas celdas; después rompemos algo a propósito (una ruta que falta o un router
        que no reenvía) y vemos cómo cambia la matriz.
        """,
        """
        # 5. Class demo

        The whole of Figure 1 in a few cells; then we break something on purpose (a missing route or a router
        that does not forward) and watch the matrix change.
        """)),
    code(DEMO_PARAMETERS, ("parameters",)),
    code(SETUP),
    code(f'''
        lab = session.open_lab("{FIG.name}", backend, lab, image, keep=keep)
        lab.up(progress=progress_bar())
        '''),
    code('''
        view = TopologyView(lab)
        view
        '''),
    code('''
        before = lab.ping_matrix()
        print(before)
        PingMatrixView(lab, matrix=before)
        '''),
    md(
        f"""
        ## Romper algo

        `route`: {FIRST_ROUTER} pierde su ruta hacia {BROKEN_ROUTE} (la red de {LAST_HOST}). `forwarding`:
        {SILENT_ROUTER} deja de reenviar.
        """,
        f"""
        ## Break something

        `route`: {FIRST_ROUTER} loses its route to {BROKEN_ROUTE} ({LAST_HOST}'s network). `forwarding`:
        {SILENT_ROUTER} stops forwarding.
        """),
    code(f'''
        if break_kind == "route":
            broken = lab.delete_route("{FIRST_ROUTER}", "{BROKEN_ROUTE}")
        else:
            broken = lab.set_forwarding("{SILENT_ROUTER}", False)
        broken
        '''),
    code('''
        after = lab.ping_matrix(timeout=0.5)
        print(after)
        PingMatrixView(lab, matrix=after, on_explain=view.show_path)
        '''),
    md(
        """
        Pulse una celda roja: la explicación dice dónde se rompe y qué comando lo arregla, y el grafo dibuja el
        camino. Aquí, el primer par que la avería corta de verdad; lo mismo en la terminal:
        `nslab explain ORIGEN DESTINO`.
        """,
        """
        Click a red cell: the explanation says where it breaks and which command fixes it, and the graph draws
        the path. Here, the first pair the break really cuts; the same in a terminal:
        `nslab explain SOURCE DESTINATION`.
        """),
    code('''
        source, address = after.failed[0]
        why = lab.explain(source, address)
        view.show_path(why)
        why
        ''', probe='''
        import json
        print("NSLAB_BREAK", json.dumps({"failed": after.failed, "explained": [source, address]}))
        '''),
    code('''
        lab.check(["forwarding", "routes"])
        '''),
    md(
        """
        ## Repararlo

        `up` vuelve a llevar el lab a la topología: solo cambia lo que falta.
        """,
        """
        ## Repair it

        `up` brings the lab back to the topology: it changes only what is missing.
        """),
    code('''
        lab.up()
        '''),
    code('''
        final = lab.ping_matrix()
        print(final)
        ''', probe='''
        import json
        print("NSLAB_RESULT", json.dumps({"reachable": final.reachable, "failed": final.failed}))
        '''),
    TEARDOWN,
]

# === the student track =================================================================================

EX_PARAMETERS = '''
backend = "auto"  # auto | lxd | netns
lab = None  # NAMES
image = None  # IMAGE
'''
EX_PARAMETER_NOTES = {"es": {"NAMES": "prefijo de los nombres (None: los de la actividad)",
                             "IMAGE": "imagen de LXD (None: la de nslab, busybox sin red)"},
                      "en": {"NAMES": "prefix for the names (None: the activity's own names)",
                             "IMAGE": "LXD image (None: nslab's, busybox without network)"}}


def how(node: str) -> Cell:
    """How the student track works; ``node``: the node its terminal example opens."""
    return md(
        f"""
        **Cómo funciona.** Cada paso de la actividad es un ejercicio: lea la tarea, escriba sus comandos en la
        celda vacía que la sigue (con `!` delante: `!ip link`, `!lxc list`) y ejecute la celda de comprobación.
        Esta lee el estado real del kernel y de LXD: dice qué está bien, qué falta y una pista; si vuelve a
        fallar, la pista se concreta (la idea, la forma del comando, el comando exacto). Si se atasca,
        `ex.solve("paso")` hace ese paso por usted y muestra sus comandos. También puede trabajar en una shell
        dentro del nodo: `ex.terminal("{node}")` abre aquí, bajo la celda, una terminal dentro de ese nodo
        (su contenedor o, sin LXD, su *network namespace*; si aún no existe, le dice qué crear antes), y
        `ex.terminal()`, una en su equipo, donde funciona `ip link add {V_A} type veth peer name {V_B}`. Puede abrir
        varias; cada una termina con `exit` o Ctrl-D, con su botón «Cerrar» o al apagar el kernel. Es la misma
        shell que `lxc exec NOMBRE -- sh` o `ip netns exec NETNS bash` en una terminal de JupyterLab.

        Sin LXD, cada contenedor es un *network namespace* con nombre: donde la actividad lanza un contenedor y
        enlaza su netns, usted escribe `ip netns add NOMBRE`. La primera celda dice cuál es su caso y qué nombres
        usa este cuaderno.
        """,
        f"""
        **How it works.** Each step of the activity is an exercise: read the task, type your commands into the
        empty cell after it (with a leading `!`: `!ip link`, `!lxc list`) and run the check cell. It reads the
        real state of the kernel and LXD: it says what is right, what is missing and a hint; if it fails again,
        the hint gets more concrete (the idea, the shape of the command, the exact command). If you get stuck,
        `ex.solve("step")` does that step for you and shows its commands. You may also work in a shell inside
        the node: `ex.terminal("{node}")` opens a terminal inside that node right here, under the cell (its
        container or, without LXD, its network namespace; if it does not exist yet, it tells you what to create
        first), and `ex.terminal()` one in your host, where `ip link add {V_A} type veth peer name {V_B}` works.
        Open as many as you like; each ends with `exit` or Ctrl-D, with its "Close" button, or when the kernel
        shuts down. It is the same shell as `lxc exec NAME -- sh` or `ip netns exec NETNS bash` in a JupyterLab terminal.

        Without LXD, each container is a named network namespace: where the activity launches a container and
        links its netns, you type `ip netns add NAME`. The first cell says which case is yours and which names
        this notebook uses.
        """)


def ex_setup(topology: str, names: str) -> Cell:
    """The first cell: the exercises of this notebook (names from the topology file, the backend)."""
    source = text('''
        from nslab_kernel.analysis import exercises

        ex = exercises.start("TOPOLOGY", backend, lab, image, lang="{lang}")
        NAMES
        ex
        ''').replace("TOPOLOGY", topology).replace("NAMES", text(names))
    return Cell("code", source, locked=True, gid="setup")


FINISH = md(
    """
    ## Al terminar

    La última celda deja su laboratorio tal cual (para que pueda seguir mirándolo) y dice cómo borrarlo.
    """,
    """
    ## When you are done

    The last cell leaves your lab as it is (so you can keep looking at it) and says how to remove it.
    """)


def finish() -> Cell:
    return Cell("code", "ex.finish()", locked=True, gid="finish")


SCORE = md(
    """
    ## Puntuación

    La comprobación de toda la sección (la usa también la corrección automática):
    """,
    """
    ## Score

    The check of the whole section (automatic grading uses it too):
    """)


def ending(section: str, points: float) -> list[Cell]:
    """The last cells of a student notebook: the section's score (nbgrader's graded cell), then the end."""
    return [SCORE, grade(section, points), FINISH, finish()]


EXERCISES: dict[tuple[str, str], list[Cell]] = {}

EXERCISES[("02-network-namespaces", "02-network-namespaces")] = [
    with_privileges(md(
        """
        # Ejercicios 2. Network namespaces

        El objetivo de esta actividad es profundizar un poco más en el uso de *network namespaces*, en concreto
        en el contexto de LXD. En esta parte lanzará un contenedor, encontrará su netns y le dará un nombre.
        """,
        """
        # Exercises 2. Network namespaces

        The goal of this activity is to go a bit deeper into network namespaces, in the context of LXD. In
        this part you launch a container, find its netns and give it a name.
        """)),
    how(C1),
    Cell("code", text(EX_PARAMETERS), tags=("parameters",), locked=True, gid="parameters"),
    ex_setup(TWO.name, f'c1, ns1 = ex.container("{C1}"), ex.netns("{C1}")\npid = None'),
    md(
        """
        ## 2.1 Los procesos

        Emplee el siguiente comando para ver el listado de procesos corriendo en Linux: `ps faxu`. Se muestran
        los procesos en forma de árbol, donde puede ver qué procesos son descendientes de otros. En el
        directorio `/proc` hay un directorio por proceso; dentro, `ns/net` hace referencia a su *network
        namespace*. En este momento todos los procesos deberían estar haciendo referencia al mismo netns. Si
        trabaja como usuario normal (no root), su cuaderno corre en su propio espacio aislado, que hace de su
        «anfitrión»: los procesos de su espacio aislado comparten un netns, distinto del de la máquina; los
        procesos de otros usuarios aparecen como `nobody` y no puede mirar su `/proc/PID/ns/net`. Mire el suyo
        con `ls -l /proc/self/ns/net`.
        """,
        """
        ## 2.1 Processes

        Use this command to list the processes running in Linux: `ps faxu`. The processes are shown as a tree,
        where you can see which processes descend from others. In `/proc` there is a folder per process;
        inside it, `ns/net` refers to its network namespace. Right now every process should refer to the same
        netns. If you work as a normal user (not root), your notebook runs in your own sandbox, which is your
        "host": the processes of your own sandbox share one netns, different from the machine's; other users'
        processes show as `nobody` and you cannot look at their `/proc/PID/ns/net`. Look at yours with
        `ls -l /proc/self/ns/net`.
        """),
    task("task-2-1", '''
        !ps faxu | head -15
        !ls -l /proc/self/ns/net
        '''),
    md(
        f"""
        ## 2.2 Un contenedor

        A continuación cree un contenedor, `{C1}` (con LXD: `lxc launch {DEFAULT_IMAGE} {C1}`; la imagen
        `{DEFAULT_IMAGE}` es la de nslab, sin red). Sin LXD, cree en su lugar el netns `{NS1}`
        (`ip netns add {NS1}`). Si la primera celda usa otros nombres (parámetro `lab`), use los suyos:
        están en las variables `c1` y `ns1` (`!lxc launch {DEFAULT_IMAGE} $c1`).
        """,
        f"""
        ## 2.2 A container

        Now create a container, `{C1}` (with LXD: `lxc launch {DEFAULT_IMAGE} {C1}`; the image
        `{DEFAULT_IMAGE}` is nslab's, without network). Without LXD, create the netns `{NS1}` instead
        (`ip netns add {NS1}`). If the first cell uses other names (parameter `lab`), use those: they are in
        the variables `c1` and `ns1` (`!lxc launch {DEFAULT_IMAGE} $c1`).
        """),
    task("task-2-2", '''
        if ex.lxd:
            !lxc launch {ex.image} {c1}
        else:
            !ip netns add {ns1}
        '''),
    check("2.launch"),
    md(
        """
        Repita el listado de procesos. Verá ahora también los procesos del contenedor, todos ellos descendientes
        de un nuevo proceso `init`. Esta celda muestra solo esa parte del árbol, con el netns de cada proceso:
        """,
        """
        List the processes again. Now you also see the container's processes, all of them descendants of a
        new `init` process. This cell shows only that part of the tree, with each process's netns:
        """),
    Cell("code", "ex.processes()", locked=True, gid="processes"),
    md(
        f"""
        ## 2.3 El `init` del contenedor

        Puede averiguar el PID del proceso `init` de un contenedor con el comando `lxc info {C1}`. Guárdelo en
        la variable `pid` (`pid = 1995`, con su número) y mire el netns de ese proceso con
        `ls -l /proc/$pid/ns/net`: debería hacer referencia a un valor distinto del anfitrión. (Sin LXD no hay
        `init`: este paso no cuenta.)
        """,
        f"""
        ## 2.3 The container's `init`

        You can find the PID of a container's `init` with `lxc info {C1}`. Store it in the variable `pid`
        (`pid = 1995`, with your number) and look at that process's netns with `ls -l /proc/$pid/ns/net`: it
        should refer to a value different from the host's. (Without LXD there is no `init`: this step does not
        count.)
        """),
    task("task-2-3", '''
        if ex.lxd:
            !lxc info {c1} | grep PID
            found = !lxc list ^{c1}$ -c p -f csv
            pid = int(found[0])
            !ls -l /proc/{pid}/ns/net /proc/self/ns/net
        '''),
    check("2.pid"),
    md(
        f"""
        ## 2.4 Un nombre para el netns

        Muchos comandos requieren el nombre del netns para hacerle referencia pero LXD los crea sin asignarles
        nombre. Para ello necesita que exista el directorio `/var/run/netns` (créelo si no existe) y dentro de
        él debe crear un link a cada netns al que quiera hacer referencia:

        ```
        mkdir -p /var/run/netns
        ln -sf /proc/1995/ns/net /var/run/netns/{NS1}
        ```

        (con el PID de su `init` en lugar de 1995). A partir de ahí podrá hacer referencia al *network
        namespace* con el nombre `{NS1}`. Sin LXD, `ip netns add` ya le dio nombre: no hay `init` ni PID 1995
        que enlazar, y `ln -sf` sobre ese nombre falla con `Device or resource busy` (`ip netns add` montó allí
        el netns); en este paso no tiene que hacer nada.
        """,
        f"""
        ## 2.4 A name for the netns

        Many commands need the netns's name to refer to it, but LXD creates them without a name. You need the
        folder `/var/run/netns` (create it if it does not exist) and inside it a link to each netns you want to
        refer to:

        ```
        mkdir -p /var/run/netns
        ln -sf /proc/1995/ns/net /var/run/netns/{NS1}
        ```

        (with your `init`'s PID instead of 1995). From then on you can refer to the network namespace by the
        name `{NS1}`. Without LXD, `ip netns add` named it already: there is no `init` or PID 1995 to link,
        and `ln -sf` onto that name fails with `Device or resource busy` (`ip netns add` mounted the netns
        there); there is nothing to do in this step.
        """),
    task("task-2-4", '''
        if ex.lxd:
            !mkdir -p /var/run/netns
            !ln -sf /proc/{pid}/ns/net /var/run/netns/{ns1}
        '''),
    check("2.name"),
    md(
        f"""
        ## 2.5 `ip netns exec`

        Puede ejecutar un proceso que corra en un netns concreto empleando opciones del comando ip. Por ejemplo,
        para lanzar ifconfig en el namespace anterior: `ip netns exec {NS1} ifconfig -a`. ¿Qué interfaces ve?
        (Este paso solo mira: no hay nada que comprobar ni cuenta para la puntuación.)
        """,
        f"""
        ## 2.5 `ip netns exec`

        You can run a process in a given netns with options of the ip command. For example, to run ifconfig in
        the namespace above: `ip netns exec {NS1} ifconfig -a`. Which interfaces do you see? (This step only
        looks: there is nothing to check, and it does not count for the score.)
        """),
    task("task-2-5", '''
        !ip netns exec {ns1} ifconfig -a
        '''),
    *ending("2", 3),
]

EXERCISES[("03-pares-veth", "03-veth-pairs")] = [
    with_privileges(md(
        """
        # Ejercicios 3. Virtual Ethernet devices

        Lo que emplea LXD para comunicar a los contenedores con el host son *Virtual Ethernet devices*, o veth.
        Los veth se crean por pares y lo que se envía por uno se lee por el otro. Veamos cómo usarlos creando un
        link entre dos contenedores.
        """,
        """
        # Exercises 3. Virtual Ethernet devices

        What LXD uses to connect containers with the host are Virtual Ethernet devices, or veth. veths are made
        in pairs and what is sent into one is read from the other. Let us see how to use them by making a link
        between two containers.
        """)),
    how(C1),
    Cell("code", text(EX_PARAMETERS), tags=("parameters",), locked=True, gid="parameters"),
    ex_setup(TWO.name, f'c1, ns1 = ex.container("{C1}"), ex.netns("{C1}")\n'
                                 f'c2, ns2 = ex.container("{C2}"), ex.netns("{C2}")'),
    md(
        f"""
        ## 3.1 Dos contenedores

        Lance 2 contenedores, que llamaremos `{C1}` y `{C2}` (si `{C1}` sigue de la sección anterior, basta con
        el segundo). Enlace el netns de cada contenedor a `/var/run/netns` siguiendo el procedimiento de la
        sección anterior, con nombres `{NS1}` y `{NS2}`. Sin LXD: `ip netns add` para cada uno.
        """,
        f"""
        ## 3.1 Two containers

        Launch 2 containers, which we call `{C1}` and `{C2}` (if `{C1}` is still there from the previous
        section, the second one is enough). Link each container's netns into `/var/run/netns` as in the
        previous section, with the names `{NS1}` and `{NS2}`. Without LXD: `ip netns add` for each.
        """),
    task("task-3-1", '''
        for c, ns in ((c1, ns1), (c2, ns2)):
            if ex.lxd:
                !lxc launch {ex.image} {c}
                found = !lxc list ^{c}$ -c p -f csv
                !mkdir -p /var/run/netns
                !ln -sf /proc/{found[0]}/ns/net /var/run/netns/{ns}
            else:
                !ip netns add {ns}
        '''),
    check("3.launch"),
    md(
        f"""
        ## 3.2 La pareja veth

        Cree un par de veths con el siguiente comando: `ip link add {V_A} type veth peer name {V_B}`. Hemos
        indicado los nombres de ambos extremos, que serán `{V_A}` y `{V_B}`. (Puede borrar la pareja borrando
        uno cualquiera de ellos, por ejemplo con `ip link del {V_A}`.) Podrá ver ambos interfaces en el
        namespace del host (`ip link` o `ifconfig -a` en el host).
        """,
        f"""
        ## 3.2 The veth pair

        Create a pair of veths with this command: `ip link add {V_A} type veth peer name {V_B}`. We named both
        ends, `{V_A}` and `{V_B}`. (You can delete the pair by deleting either end, for example with
        `ip link del {V_A}`.) You can see both interfaces in the host's namespace (`ip link` or `ifconfig -a`
        on the host).
        """),
    task("task-3-2", f'''
        !ip link add {V_A} type veth peer name {V_B}
        !ip link show type veth
        '''),
    check("3.veth"),
    md(
        f"""
        ## 3.3 Cada extremo a su contenedor

        A continuación asigne cada veth a uno de los dos contenedores:
        `ip link set dev {V_A} netns {NS1}` y `ip link set dev {V_B} netns {NS2}`. Dejará de ver los interfaces
        en el host y los verá en cada contenedor.
        """,
        f"""
        ## 3.3 Each end into its container

        Now give each veth to one of the two containers: `ip link set dev {V_A} netns {NS1}` and
        `ip link set dev {V_B} netns {NS2}`. You will stop seeing the interfaces on the host and see them in
        each container.
        """),
    task("task-3-3", f'''
        !ip link set dev {V_A} netns {{ns1}}
        !ip link set dev {V_B} netns {{ns2}}
        '''),
    check("3.move"),
    md(
        f"""
        ## 3.4 Direcciones

        Ahora simplemente configure dirección IP a cada uno de esos interfaces (desde una shell en el contenedor
        o usando `ip netns exec`), y levántelos. Las direcciones las elige usted: dos de la misma subred, por
        ejemplo `ip netns exec {NS1} ip addr add 10.1.1.1/24 dev {V_A}` y
        `ip netns exec {NS1} ip link set {V_A} up`, y lo mismo en `{NS2}`.
        """,
        f"""
        ## 3.4 Addresses

        Now simply give an IP address to each of those interfaces (from a shell in the container or with
        `ip netns exec`), and bring them up. You choose the addresses: two of the same subnet, for example
        `ip netns exec {NS1} ip addr add 10.1.1.1/24 dev {V_A}` and `ip netns exec {NS1} ip link set {V_A} up`,
        and the same in `{NS2}`.
        """),
    task("task-3-4", f'''
        near, far = "10.1.1.1", "10.1.1.2"
        !ip netns exec {{ns1}} ip addr add {{near}}/24 dev {V_A}
        !ip netns exec {{ns1}} ip link set {V_A} up
        !ip netns exec {{ns2}} ip addr add {{far}}/24 dev {V_B}
        !ip netns exec {{ns2}} ip link set {V_B} up
        '''),
    check("3.addresses"),
    md(
        """
        ## 3.5 Ping

        Compruebe que los contenedores tienen comunicación entre ellos a través de esos interfaces: un ping
        desde cada uno a la dirección del otro.
        """,
        """
        ## 3.5 Ping

        Check that the containers can talk to each other through those interfaces: a ping from each one to the
        other's address.
        """),
    task("task-3-5", '''
        !ip netns exec {ns1} ping -c 2 -W 2 {far}
        !ip netns exec {ns2} ping -c 2 -W 2 {near}
        '''),
    check("3.ping"),
    *ending("3", 4),
]

_LINKS_ES = "\n".join(f"- `{l.a}` — `{l.b}`" for l in FIG.links)
EXERCISES[("04-actividad-figura1", "04-activity-figure1")] = [
    with_privileges(md(
        f"""
        # Ejercicios 4. La actividad: la Figura 1

        Cree la topología de la Figura 1 empleando contenedores. Esto quiere decir que todos los equipos que se
        muestran son en realidad contenedores en el mismo host. Esto incluye a los equipos representados con un
        símbolo de router IP ({_span(ROUTERS)}). En los router IP tendrá que activar el reenvío de paquetes (es
        un flag del kernel local a cada netns que puede modificar con sysctl). Los links que aparecen en la
        figura son todos parejas de veth.
        """,
        f"""
        # Exercises 4. The activity: Figure 1

        Build the topology of Figure 1 with containers. This means that every machine shown is in fact a
        container on the same host, including those drawn as IP routers ({_span(ROUTERS)}). On the IP routers
        you have to enable packet forwarding (a kernel flag local to each netns, which you can change with
        sysctl). The links in the figure are all veth pairs.
        """)),
    how(HOSTS[0]),
    Cell("code", text(EX_PARAMETERS), tags=("parameters",), locked=True, gid="parameters"),
    ex_setup(FIG.name, "names = ex.names()"),
    md(
        """
        ## La Figura 1 y su plan de direcciones

        El grafo y la tabla salen del fichero de la topología. Los nombres de la tabla son los de sus
        contenedores y netns en este cuaderno.
        """,
        """
        ## Figure 1 and its addressing plan

        The graph and the table come from the topology file. The names in the table are those of your
        containers and namespaces in this notebook.
        """),
    Cell("code", text('''
        from IPython.display import SVG, display
        from nslab_widgets.graph import topology_svg

        display(SVG(topology_svg(ex.topology)))
        ex.plan()
        '''), locked=True, gid="figure"),
    md(
        f"""
        ## 4.1 Los nodos

        Un contenedor por nodo ({len(FIG.nodes)}), cada uno con su netns enlazado en `/var/run/netns`
        (`lxc launch`, `lxc info`, `ln -sf`, como en la sección 2). Sin LXD: `ip netns add` por nodo.
        Un bucle de Python con `!` dentro le ahorra escribir: `for n in ex.nodes: ...` (`ex.container(n)`,
        `ex.netns(n)` dan los nombres).
        """,
        f"""
        ## 4.1 The nodes

        One container per node ({len(FIG.nodes)}), each with its netns linked in `/var/run/netns` (`lxc launch`,
        `lxc info`, `ln -sf`, as in section 2). Without LXD: `ip netns add` per node. A Python loop with `!`
        inside saves typing: `for n in ex.nodes: ...` (`ex.container(n)`, `ex.netns(n)` give the names).
        """),
    task("task-4-1", '''
        for n in ex.nodes:
            c, ns = ex.container(n), ex.netns(n)
            if ex.lxd:
                !lxc launch {ex.image} {c}
                found = !lxc list ^{c}$ -c p -f csv
                !mkdir -p /var/run/netns
                !ln -sf /proc/{found[0]}/ns/net /var/run/netns/{ns}
            else:
                !ip netns add {ns}
        '''),
    check("4.nodes"),
    md(
        f"""
        ## 4.2 Los enlaces

        {len(FIG.links)} parejas veth, con los nombres de interfaz de la tabla:

        {_LINKS_ES}

        Como en la sección 3, puede crear cada pareja en el host y mover sus extremos; como varios extremos se
        llaman igual (`eth0`), es más cómodo crear cada extremo directamente en su netns:
        `ip link add eth0 netns NS1 type veth peer name eth0 netns NS2`.
        """,
        f"""
        ## 4.2 The links

        {len(FIG.links)} veth pairs, with the interface names of the table:

        {_LINKS_ES}

        As in section 3, you may create each pair on the host and move its ends; since several ends have the
        same name (`eth0`), it is easier to create each end directly in its netns:
        `ip link add eth0 netns NS1 type veth peer name eth0 netns NS2`.
        """),
    task("task-4-2", '''
        for l in ex.links:
            !ip link add {l.a_if} netns {l.a_ns} type veth peer name {l.b_if} netns {l.b_ns}
        '''),
    check("4.links"),
    md(
        """
        ## 4.3 Las direcciones

        Cada extremo con la dirección del plan, y levantado (`ip netns exec NS ip addr add ... dev ...`,
        `ip netns exec NS ip link set ... up`; o con `ip -n NS ...`, que es lo mismo).
        """,
        """
        ## 4.3 The addresses

        Each end with its address from the plan, and up (`ip netns exec NS ip addr add ... dev ...`,
        `ip netns exec NS ip link set ... up`; or with `ip -n NS ...`, which is the same).
        """),
    task("task-4-3", '''
        for l in ex.links:
            for ns, ifname, address in ((l.a_ns, l.a_if, l.a_addr), (l.b_ns, l.b_if, l.b_addr)):
                !ip netns exec {ns} ip addr add {address} dev {ifname}
                !ip netns exec {ns} ip link set {ifname} up
        '''),
    check("4.addresses"),
    md(
        f"""
        ## 4.4 El reenvío

        En los routers ({_span(ROUTERS)}) active el reenvío de paquetes:
        `ip netns exec NS sysctl -w net.ipv4.ip_forward=1`. Los equipos no reenvían.
        """,
        f"""
        ## 4.4 Forwarding

        On the routers ({_span(ROUTERS)}) enable packet forwarding:
        `ip netns exec NS sysctl -w net.ipv4.ip_forward=1`. The hosts do not forward.
        """),
    task("task-4-4", '''
        for r in ex.routers:
            !ip netns exec {ex.netns(r)} sysctl -w net.ipv4.ip_forward=1
        '''),
    check("4.forwarding"),
    md(
        """
        ## 4.5 Las rutas

        Elija usted las rutas: cada equipo necesita una ruta por defecto hacia su router, y cada router rutas
        hacia las redes que no tiene conectadas (`ip netns exec NS ip route add RED via PASARELA`). Cuentan si
        funcionan: que cada dirección responda, sin bucles y sin usar un equipo como router.
        """,
        """
        ## 4.5 The routes

        You choose the routes: each host needs a default route to its router, and each router routes to the
        networks it is not connected to (`ip netns exec NS ip route add NETWORK via GATEWAY`). They count if
        they work: every address answers, no loops, no host used as a router.
        """),
    task("task-4-5", '''
        for n in ex.nodes:
            for destination, gateway in ex.routes(n):
                !ip netns exec {ex.netns(n)} ip route add {destination} via {gateway}
        '''),
    check("4.routes"),
    md(
        f"""
        ## 4.6 Todos alcanzan a todos

        Compruebe con ping que cada nodo alcanza todas las direcciones de los demás
        (`ip netns exec NS ping -c 1 DIRECCIÓN`). Si un ping falla, `ex.explain("{HOSTS[0]}", "{LAST_HOST}")`
        sigue el paquete salto a salto y dice dónde se pierde.
        """,
        f"""
        ## 4.6 Everyone reaches everyone

        Check with ping that every node reaches every address of the others
        (`ip netns exec NS ping -c 1 ADDRESS`). If a ping fails, `ex.explain("{HOSTS[0]}", "{LAST_HOST}")`
        follows the packet hop by hop and says where it is lost.
        """),
    task("task-4-6", f'''
        !ip netns exec {{ex.netns("{HOSTS[0]}")}} ping -c 1 -W 2 {FIG.addresses_of(LAST_HOST)[0].ip}
        '''),
    check("4.ping"),
    *ending("4", 6),
]

# --- names on disk ---------------------------------------------------------------------------------------
EXERCISE_DIRS = {"es": "ejercicios", "en": "exercises"}
ASSIGNMENTS = {"es": "nslab-es", "en": "nslab-en"}
NBGRADER_CONFIG = '''\
# nbgrader course folder for the nslab student track (written by notebooks/build.py).
#   cd notebooks/nbgrader && nbgrader generate_assignment nslab-es && nbgrader autograde nslab-es
c = get_config()  # noqa: F821 - nbgrader's config loader provides it
c.CourseDirectory.course_id = "nslab"
c.ClearSolutions.code_stub = {"python": ""}  # the student's cell is empty, as in notebooks/es/ejercicios
c.ExecutePreprocessor.timeout = 300  # building Figure 1 with LXD takes a while
c.Execute.timeout = 300
'''


def _nbgrader_meta(cell: Cell, source: bool) -> dict | None:
    if cell.solution:
        return {"grade": False, "grade_id": cell.gid, "locked": False, "schema_version": 3, "solution": True,
                "task": False}
    if cell.grade:
        return {"grade": True, "grade_id": cell.gid, "locked": True, "points": cell.grade, "schema_version": 3,
                "solution": False, "task": False}
    if cell.locked:
        return {"grade": False, "grade_id": cell.gid, "locked": True, "schema_version": 3, "solution": False,
                "task": False}
    return None


def notebook(cells: list[Cell], lang: str, name: str, *, solutions: bool = False, nbgrader: bool = False,
             prefix: str = "") -> nbformat.NotebookNode:
    """One notebook in one language.  ``solutions``: the student cells hold their solution (between
    nbgrader's markers when ``nbgrader``)."""
    nb = new_notebook()
    nb.metadata["kernelspec"] = {"name": "nslab", "display_name": "Python 3 (nslab)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    nb.metadata["nslab"] = {"language": lang, "source": "notebooks/build.py"}
    for cell in cells:
        if cell.kind == "md":
            nb.cells.append(new_markdown_cell(cell.es if lang == "es" else cell.en))
            continue
        source = cell.es.replace("{lang}", lang)  # the notebook's language: a build parameter
        if source == text(EX_PARAMETERS):
            for key, note in EX_PARAMETER_NOTES[lang].items():
                source = source.replace(f"# {key}", f"# {note}")
        if cell.solution and solutions:
            source = (f"### BEGIN SOLUTION\n{cell.solution}\n### END SOLUTION" if nbgrader else cell.solution)
        c = new_code_cell(source)
        if cell.tags:
            c.metadata["tags"] = list(cell.tags)
        meta = _nbgrader_meta(cell, nbgrader)
        if meta is not None and (nbgrader or prefix):
            c.metadata["nbgrader"] = meta
        nb.cells.append(c)
    for i, c in enumerate(nb.cells):
        c["id"] = f"{prefix}{name[:2]}-{lang}-{i:02d}"
    return nb


def probes(name: str) -> list[tuple[int, str]]:
    """Test plumbing of a guided notebook: (index of the cell to insert it at, code), in order."""
    for (es, en), cells in NOTEBOOKS.items():
        if name in (es, en):
            out, shift = [], 0
            for i, cell in enumerate(cells):
                if cell.probe:
                    shift += 1
                    out.append((i + shift, cell.probe))
            return out
    raise KeyError(name)


def exercise_cells(name: str) -> list[Cell]:
    for (es, en), cells in EXERCISES.items():
        if name in (es, en):
            return cells
    raise KeyError(name)


def student_notebook(lang: str, name: str, solutions: bool = False, nbgrader: bool = False) -> nbformat.NotebookNode:
    """A student notebook (``name`` in its language): empty command cells, or with the solutions."""
    return notebook(exercise_cells(name), lang, name, solutions=solutions, nbgrader=nbgrader, prefix="x")


def build() -> list[Path]:
    written = []

    def write(nb: nbformat.NotebookNode, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(nb, path)
        written.append(path)

    for (es_name, en_name), cells in NOTEBOOKS.items():
        for lang, name in (("es", es_name), ("en", en_name)):
            write(notebook(cells, lang, name), HERE / lang / f"{name}.ipynb")
    for (es_name, en_name), cells in EXERCISES.items():
        for lang, name in (("es", es_name), ("en", en_name)):
            write(notebook(cells, lang, name, prefix="x"), HERE / lang / EXERCISE_DIRS[lang] / f"{name}.ipynb")
            write(notebook(cells, lang, name, solutions=True, nbgrader=True, prefix="x"),
                  HERE / "nbgrader" / "source" / ASSIGNMENTS[lang] / f"{name}.ipynb")
    config = HERE / "nbgrader" / "nbgrader_config.py"
    config.write_text(NBGRADER_CONFIG)
    written.append(config)
    return written


def code_sources() -> list[tuple[str, str]]:
    """(where, source) of every code cell and solution: what the syntax test compiles."""
    out = []
    for group in (NOTEBOOKS, EXERCISES):
        for (es, _en), cells in group.items():
            for i, cell in enumerate(cells):
                if cell.kind == "code":
                    out.append((f"{es}[{i}]", cell.es.replace("{lang}", "es")))
                    if cell.probe:
                        out.append((f"{es}[{i}] probe", cell.probe))
                    if cell.solution:
                        out.append((f"{es}[{i}] solution", cell.solution))
    return out


if __name__ == "__main__":
    for p in build():
        print(p.relative_to(HERE.parent))
    sys.exit(0)
