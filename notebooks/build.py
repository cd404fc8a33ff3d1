"""Writes the notebooks, Spanish (es/) and English (en/), from one source, without outputs.

    python notebooks/build.py

Each notebook follows one section of the activity.  Code cells are the same in
both languages (a test checks it); only the prose differs.  Edit this file, not
the .ipynb files, so the two versions stay in step.
"""

from __future__ import annotations

import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

HERE = Path(__file__).resolve().parent

PARAMETERS = '''backend = "auto"  # auto | lxd | netns
lab = None  # lab name (None: the topology's own)
image = None  # LXD image (None: nslab's offline busybox image)
keep = False  # True: leave the lab up at the end (also when the kernel stops)'''

SETUP = '''import json
from nslab_kernel.lifecycle import session
from nslab_widgets import NetnsInspector, PingMatrixView, TopologyView, progress_bar, snapshot_svg

backend = session.choose_backend(backend)
print("backend:", backend)'''

PRIVILEGES = (
    "> **Privilegios.** Crear *network namespaces* exige ser root. Abre este cuaderno con el kernel "
    "**Python 3 (nslab)** o arranca JupyterLab con `sudo`. Donde no hay privilegios (Binder, un portátil sin root) "
    "la red se simula en Python: el cuaderno lo dice en sus primeras celdas y los comandos `!ip` no pueden ejecutarse.",
    "> **Privileges.** Creating network namespaces needs root. Open this notebook with the **Python 3 (nslab)** "
    "kernel or start JupyterLab with `sudo`. Where there are no privileges (Binder, a laptop without root) the "
    "network is simulated in Python: the notebook says so in its first cells, and `!ip` commands cannot run.",
)


def md(es: str, en: str) -> tuple:
    return ("md", es, en)


def code(source: str, tags: tuple[str, ...] = ()) -> tuple:
    return ("code", source, tags)


NOTEBOOKS: dict[tuple[str, str], list[tuple]] = {}

# --- 1. Preparation ---------------------------------------------------------------------------------
NOTEBOOKS[("01-preparacion", "01-preparation")] = [
    md("# 1. Preparación de la máquina\n\nAntes de empezar comprobamos que la máquina tiene lo necesario: "
       "privilegios para crear *network namespaces*, el demonio LXD con una imagen, y Graphviz para dibujar "
       "la topología. Para cada cosa que falte, la tabla dice exactamente qué hacer.\n\n" + PRIVILEGES[0],
       "# 1. Preparing the machine\n\nBefore starting we check that the machine has what the lab needs: "
       "privileges to create network namespaces, the LXD daemon with an image, and Graphviz to draw the "
       "topology. For each missing thing, the table says exactly what to do.\n\n" + PRIVILEGES[1]),
    code(PARAMETERS, ("parameters",)),
    code("import json\nfrom nslab_kernel.analysis.doctor import examine\n\ndoctor = examine(lxd=backend in (\"auto\", \"lxd\"))\ndoctor"),
    md("Cada fila es una comprobación. **namespaces** es imprescindible; **lxd** solo hace falta para trabajar con "
       "contenedores (sin él, los cuadernos usan *namespaces* sencillos); **graphviz** dibuja los grafos.",
       "Each row is one check. **namespaces** is required; **lxd** is only needed to work with containers "
       "(without it the notebooks use plain namespaces); **graphviz** draws the graphs."),
    code("from nslab_kernel.lifecycle import session\n\nprint(\"backend:\", session.choose_backend(backend))"),
    md("La herramienta de línea de comandos hace lo mismo: `nslab doctor`. Y estas son las versiones de las "
       "herramientas que usaremos a mano:",
       "The command line does the same: `nslab doctor`. And these are the versions of the tools we will use by "
       "hand:"),
    code("!ip -V\n!nslab doctor"),
    code("print(\"NSLAB_RESULT\", json.dumps({\"ready\": doctor.ready, \"checks\": {c.name: c.ok for c in doctor.checks}}))"),
]

# --- 2. Network namespaces -----------------------------------------------------------------------------
NOTEBOOKS[("02-network-namespaces", "02-network-namespaces")] = [
    md("# 2. Network namespaces\n\nCada proceso de Linux pertenece a un *network namespace* (netns): su propia "
       "copia de interfaces, rutas y *sysctls* de red. El enlace `/proc/<PID>/ns/net` indica a cuál. Veremos que "
       "todos los procesos del anfitrión comparten uno, que un contenedor vive en otro, y cómo darle nombre a ese "
       "netns para usarlo con `ip netns exec`.\n\n" + PRIVILEGES[0],
       "# 2. Network namespaces\n\nEvery Linux process belongs to a network namespace (netns): its own copy of "
       "interfaces, routes and network sysctls. The link `/proc/<PID>/ns/net` says which. We will see that all "
       "the host's processes share one, that a container lives in another, and how to give that netns a name to "
       "use it with `ip netns exec`.\n\n" + PRIVILEGES[1]),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    md("## Los procesos y su netns\n\n`ps faxu` muestra los procesos en árbol. Junto a cada uno añadimos el número "
       "(inodo) de su netns: de momento todos deberían tener el mismo.",
       "## Processes and their netns\n\n`ps faxu` shows the processes as a tree. Next to each one we add the number "
       "(inode) of its netns: for now they should all have the same."),
    code("!ps faxu | head -12"),
    code("import os\nfrom collections import Counter\nfrom nslab_kernel.kernel.procs import host_netns, processes, ps_faxu\n\n"
         "print(os.readlink(f\"/proc/{os.getpid()}/ns/net\"))\n"
         "print(Counter(p.netns for p in processes()).most_common(3))"),
    code("!ls -l /proc/self/ns/net"),
    md("## Un contenedor en otro netns\n\nAhora lanzamos `contenedor1`. Con LXD es un contenedor de verdad "
       "(`lxc launch`); sin LXD, un netns con nombre (`ip netns add`). Cada paso muestra el comando equivalente.",
       "## A container in another netns\n\nNow we launch `contenedor1`. With LXD it is a real container "
       "(`lxc launch`); without LXD, a named netns (`ip netns add`). Each step shows the equivalent command."),
    code("lab = session.open_lab(\"two-containers\", backend, lab, image, keep=keep)\nlab.add_node(\"contenedor1\")"),
    code("node = lab.state().nodes[\"contenedor1\"]\ninside = [p for p in processes() if p.netns == node.inode]\n"
         "print(\"host netns:\", host_netns(), \" contenedor1 netns:\", node.inode)\n"
         "for p in inside:\n    print(p.pid, p.user, p.command)"),
    md("Los procesos del contenedor (con LXD: su `init` y sus descendientes) tienen un netns distinto del "
       "anfitrión. Un netns creado con `ip netns add` no tiene procesos hasta que ejecutamos algo en él.",
       "The container's processes (with LXD: its `init` and its descendants) have a netns different from the "
       "host's. A netns made with `ip netns add` has no processes until we run something in it."),
    code("NetnsInspector(lab)"),
    md("## Darle nombre al netns\n\nLXD crea el netns sin nombre. La actividad lo resuelve con un enlace "
       "simbólico en `/var/run/netns` al `/proc/<PID>/ns/net` del `init` del contenedor "
       "(`ln -sf /proc/PID/ns/net /var/run/netns/net-contenedor1`); nslab hizo exactamente eso en el paso "
       "anterior. Con *namespaces* sencillos, `ip netns add` ya le da nombre.",
       "## Naming the netns\n\nLXD creates the netns without a name. The activity solves it with a symbolic link "
       "in `/var/run/netns` to the `/proc/<PID>/ns/net` of the container's `init` "
       "(`ln -sf /proc/PID/ns/net /var/run/netns/net-contenedor1`); nslab did exactly that in the previous step. "
       "With plain namespaces, `ip netns add` names it already."),
    code("!ls -l /var/run/netns/\n!ip netns list"),
    code("lab.check([\"nodes\"], only=[\"contenedor1\"])"),
    md("## Ejecutar en el netns\n\nCon el nombre ya podemos usar `ip netns exec`. Dentro solo hay `lo` "
       "(todavía sin enlaces).",
       "## Running in the netns\n\nWith the name we can now use `ip netns exec`. Inside there is only `lo` "
       "(no links yet)."),
    code("!ip netns exec net-contenedor1 ip addr"),
    code("result = lab.exec(\"contenedor1\", [\"ip\", \"addr\"])\nprint(result.stdout)"),
    code("path = \"/var/run/netns/net-contenedor1\"\nlink = os.readlink(path) if os.path.islink(path) else None\n"
         "named = os.stat(path).st_ino == node.inode if os.path.exists(path) else lab.backend.simulated\n"
         "print(\"NSLAB_RESULT\", json.dumps({\"host_netns\": host_netns(), \"container_netns\": node.inode, "
         "\"named\": named, \"symlink\": link}))"),
    code("if not keep:\n    display(lab.down())  # what was removed"),
]

# --- 3. veth pairs -----------------------------------------------------------------------------------------
NOTEBOOKS[("03-pares-veth", "03-veth-pairs")] = [
    md("# 3. Pares veth\n\nUn *virtual Ethernet device* (veth) se crea por parejas: lo que entra por un extremo "
       "sale por el otro. Uniremos `contenedor1` y `contenedor2` con la pareja `v-1a`/`v-1b`, daremos dirección "
       "a cada extremo y haremos ping de uno a otro.\n\n" + PRIVILEGES[0],
       "# 3. veth pairs\n\nA virtual Ethernet device (veth) is made in pairs: what goes in one end comes out of "
       "the other. We will join `contenedor1` and `contenedor2` with the pair `v-1a`/`v-1b`, address each end and "
       "ping from one to the other.\n\n" + PRIVILEGES[1]),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    code("lab = session.open_lab(\"two-containers\", backend, lab, image, keep=keep)\n"
         "lab.add_node(\"contenedor1\", \"contenedor2\", progress=progress_bar())"),
    code("lab.check([\"nodes\"])"),
    md("## Crear la pareja\n\nLa actividad crea la pareja en el anfitrión y luego mueve cada extremo:\n\n"
       "```\nip link add v-1a type veth peer name v-1b\nip link set dev v-1a netns net-contenedor1\n"
       "ip link set dev v-1b netns net-contenedor2\n```\n\nnslab hace lo mismo en un solo paso, creando cada "
       "extremo directamente en su netns (así nunca queda nada suelto en el anfitrión):",
       "## Making the pair\n\nThe activity creates the pair in the host and then moves each end:\n\n"
       "```\nip link add v-1a type veth peer name v-1b\nip link set dev v-1a netns net-contenedor1\n"
       "ip link set dev v-1b netns net-contenedor2\n```\n\nnslab does the same in one step, creating each end "
       "directly in its netns (so nothing is ever left loose in the host):"),
    code("lab.add_link(\"contenedor1:v-1a\", \"contenedor2:v-1b\")"),
    code("!ip -n net-contenedor1 link show v-1a\n!ip -n net-contenedor2 link show v-1b"),
    code("lab.check([\"links\"])"),
    md("## Direcciones\n\nCada extremo recibe una dirección de la misma subred (`ip addr add ... dev v-1a`) y "
       "se levanta (`ip link set v-1a up`).",
       "## Addresses\n\nEach end gets an address in the same subnet (`ip addr add ... dev v-1a`) and is brought "
       "up (`ip link set v-1a up`)."),
    code("lab.set_address(\"contenedor1:v-1a\")"),
    code("lab.set_address(\"contenedor2:v-1b\")"),
    code("lab.check([\"addresses\"])"),
    md("## Ping\n\nYa hay comunicación entre los contenedores a través de la pareja veth:",
       "## Ping\n\nThe containers can now talk through the veth pair:"),
    code("ping = lab.exec(\"contenedor1\", [\"ping\", \"-c\", \"2\", \"-W\", \"2\", \"192.168.100.2\"])\nprint(ping.stdout)"),
    code("!ip netns exec net-contenedor2 ping -c 1 -W 2 192.168.100.1"),
    code("matrix = lab.ping_matrix()\nprint(matrix)\nPingMatrixView(lab, matrix=matrix)"),
    md("## Borrar la pareja\n\nBasta con borrar un extremo (`ip link del v-1a`): el otro desaparece con él.",
       "## Deleting the pair\n\nDeleting one end is enough (`ip link del v-1a`): the other one goes with it."),
    code("lab.delete_link(\"contenedor1:v-1a\")"),
    code("after = lab.state()\ngone = after.nodes[\"contenedor2\"].interface(\"v-1b\") is None\n"
         "print(\"v-1b gone too:\", gone)\n"
         "print(\"NSLAB_RESULT\", json.dumps({\"ping_ok\": ping.ok, \"reachable\": matrix.reachable, \"peer_gone\": gone}))"),
    code("if not keep:\n    display(lab.down())  # what was removed"),
]

# --- 4. The activity: Figure 1 ------------------------------------------------------------------------------
NOTEBOOKS[("04-actividad-figura1", "04-activity-figure1")] = [
    md("# 4. La actividad: la topología de la Figura 1\n\nCuatro equipos (h1–h4) y tres routers (r1–r3) en "
       "triángulo; todos son contenedores (o *namespaces*) del mismo anfitrión y cada enlace es una pareja veth. "
       "La construimos por etapas: nodos, enlaces, direcciones, reenvío y rutas. Tras cada etapa miramos el "
       "grafo y la matriz de ping: los pings fallan hasta que los routers reenvían y tienen rutas.\n\n"
       + PRIVILEGES[0],
       "# 4. The activity: the topology of Figure 1\n\nFour hosts (h1–h4) and three routers (r1–r3) in a "
       "triangle; all are containers (or namespaces) on the same host and every link is a veth pair. We build it "
       "in stages: nodes, links, addresses, forwarding and routes. After each stage we look at the graph and the "
       "ping matrix: pings fail until the routers forward and have routes.\n\n" + PRIVILEGES[1]),
    code(PARAMETERS, ("parameters",)),
    code(SETUP),
    code("lab = session.open_lab(\"figure1\", backend, lab, image, keep=keep)\nview = TopologyView(lab)\nview"),
    md("## Nodos", "## Nodes"),
    code("lab.up(stages=[\"nodes\"], progress=progress_bar())"),
    code("lab.check([\"nodes\"])"),
    md("## Enlaces\n\nSiete parejas veth. Cada comando es el que escribirías a mano.",
       "## Links\n\nSeven veth pairs. Each command is the one you would type by hand."),
    code("lab.up(stages=[\"links\"])"),
    code("lab.check([\"links\"])"),
    code("snapshot_svg(lab)"),
    md("## Direcciones\n\nCon direcciones, cada nodo alcanza a sus vecinos directos, y nada más: nadie reenvía "
       "todavía y nadie tiene rutas.",
       "## Addresses\n\nWith addresses, each node reaches its direct neighbours and nothing else: nobody forwards "
       "yet and nobody has routes."),
    code("lab.up(stages=[\"addresses\"])"),
    code("lab.check([\"addresses\"])"),
    code("stage = lab.ping_matrix(timeout=0.5)\nprint(stage)\nPingMatrixView(lab, matrix=stage)"),
    md("## Reenvío\n\nEn los routers activamos `net.ipv4.ip_forward`, un *flag* del kernel propio de cada netns "
       "(`ip netns exec NS sysctl -w net.ipv4.ip_forward=1`). Los equipos no reenvían.",
       "## Forwarding\n\nOn the routers we enable `net.ipv4.ip_forward`, a kernel flag of each netns of its own "
       "(`ip netns exec NS sysctl -w net.ipv4.ip_forward=1`). The hosts do not forward."),
    code("lab.up(stages=[\"forwarding\"])"),
    code("lab.check([\"forwarding\"])"),
    code("r1 = lab.topology.netns_name(\"r1\")\n!ip netns exec $r1 sysctl net.ipv4.ip_forward"),
    code("stage = lab.ping_matrix(timeout=0.5)\nprint(stage)\nsnapshot_svg(lab)"),
    md("## Rutas\n\nSin rutas, un router solo conoce sus redes directas. Los equipos usan su router como puerta "
       "de enlace por defecto; los routers reciben rutas estáticas hacia las redes lejanas, prefiriendo el enlace "
       "directo.",
       "## Routes\n\nWithout routes a router only knows its own networks. The hosts use their router as the "
       "default gateway; the routers get static routes towards the far networks, preferring the direct link."),
    code("lab.up(stages=[\"routes\"])"),
    code("lab.check([\"routes\"])"),
    code("!ip -n $r1 route"),
    md("## Resultado\n\nAhora cada nodo alcanza todas las direcciones de todos los demás.",
       "## Result\n\nNow every node reaches every address of every other node."),
    code("final = lab.ping_matrix()\nprint(final)\nPingMatrixView(lab, matrix=final, on_explain=view.show_path)"),
    code("snapshot_svg(lab)"),
    code("lab.check()"),
    code("print(\"NSLAB_RESULT\", json.dumps({\"reachable\": final.reachable, \"failed\": final.failed, "
         "\"pairs\": len(final.pairs), \"probes\": len(final.probes)}))"),
    code("if not keep:\n    display(lab.down())  # what was removed"),
]

# --- 5. Instructor demo ---------------------------------------------------------------------------------------
NOTEBOOKS[("05-demo-profesor", "05-instructor-demo")] = [
    md("# 5. Demostración para clase\n\nLa Figura 1 completa en pocas celdas; después rompemos algo a propósito "
       "(una ruta que falta o un router que no reenvía) y vemos cómo cambia la matriz.\n\n" + PRIVILEGES[0],
       "# 5. Class demo\n\nThe whole of Figure 1 in a few cells; then we break something on purpose (a missing "
       "route or a router that does not forward) and watch the matrix change.\n\n" + PRIVILEGES[1]),
    code(PARAMETERS + "\nbreak_kind = \"route\"  # route | forwarding", ("parameters",)),
    code(SETUP),
    code("lab = session.open_lab(\"figure1\", backend, lab, image, keep=keep)\nlab.up(progress=progress_bar())"),
    code("view = TopologyView(lab)\nview"),
    code("before = lab.ping_matrix()\nprint(before)\nPingMatrixView(lab, matrix=before)"),
    md("## Romper algo\n\n`route`: r1 pierde su ruta hacia 10.0.4.0/24 (la red de h4). `forwarding`: r2 deja de "
       "reenviar.",
       "## Break something\n\n`route`: r1 loses its route to 10.0.4.0/24 (h4's network). `forwarding`: r2 stops "
       "forwarding."),
    code("if break_kind == \"route\":\n    broken = lab.delete_route(\"r1\", \"10.0.4.0/24\")\n"
         "else:\n    broken = lab.set_forwarding(\"r2\", False)\nbroken"),
    code("after = lab.ping_matrix(timeout=0.5)\nprint(after)\nprint(\"NSLAB_BREAK\", json.dumps(after.failed))\n"
         "PingMatrixView(lab, matrix=after, on_explain=view.show_path)"),
    md("Pulsa una celda roja: la explicación dice dónde se rompe y qué comando lo arregla, y el grafo dibuja el "
       "camino. Lo mismo en la terminal: `nslab explain h1 h4`.",
       "Click a red cell: the explanation says where it breaks and which command fixes it, and the graph draws the "
       "path. The same in a terminal: `nslab explain h1 h4`."),
    code("why = lab.explain(\"h1\", \"h4\")\nview.show_path(why)\nwhy"),
    code("lab.check([\"forwarding\", \"routes\"])"),
    md("## Repararlo\n\n`up` vuelve a llevar el lab a la topología: solo cambia lo que falta.",
       "## Repair it\n\n`up` brings the lab back to the topology: it changes only what is missing."),
    code("lab.up()"),
    code("final = lab.ping_matrix()\nprint(final)\n"
         "print(\"NSLAB_RESULT\", json.dumps({\"reachable\": final.reachable, \"failed\": final.failed}))"),
    code("if not keep:\n    display(lab.down())  # what was removed"),
]


def build() -> list[Path]:
    written = []
    for (es_name, en_name), cells in NOTEBOOKS.items():
        for lang, name in (("es", es_name), ("en", en_name)):
            nb = new_notebook()
            nb.metadata["kernelspec"] = {"name": "nslab", "display_name": "Python 3 (nslab)", "language": "python"}
            nb.metadata["language_info"] = {"name": "python"}
            nb.metadata["nslab"] = {"language": lang, "source": "notebooks/build.py"}
            for cell in cells:
                if cell[0] == "md":
                    nb.cells.append(new_markdown_cell(cell[1] if lang == "es" else cell[2]))
                else:
                    c = new_code_cell(cell[1])
                    if cell[2]:
                        c.metadata["tags"] = list(cell[2])
                    nb.cells.append(c)
            for i, c in enumerate(nb.cells):
                c["id"] = f"{name[:2]}-{lang}-{i:02d}"
            path = HERE / lang / f"{name}.ipynb"
            path.parent.mkdir(exist_ok=True)
            nbformat.write(nb, path)
            written.append(path)
    return written


if __name__ == "__main__":
    for p in build():
        print(p.relative_to(HERE.parent))
    sys.exit(0)
