"""The class-server files (deploy/): what can be checked without a cluster or a running hub.

- deploy/kubernetes/values.yaml parses, uses only keys Zero to JupyterHub 4.x knows in the places we
  touch, and asks for user-namespaced pods (hostUsers: false) with what nslab's sandbox needs;
- deploy/image/Containerfile starts FROM scratch (no registry) and runs as a non-root user;
- deploy/jupyterhub/jupyterhub_config.py loads in JupyterHub's own config loader and spawns every
  student as their own Unix user, on the ports it is given;
- start.sh and build.sh are valid bash and refuse to run without root, changing nothing.
The hub itself runs in tests/integration/test_class_hub.py; the image is built in test_image_build.py.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.support import ROOT, need

DEPLOY = ROOT / "deploy"

# Keys of the Zero to JupyterHub chart (4.x, values.schema.yaml) in the sections these values set.
Z2JH_TOP = {"fullnameOverride", "nameOverride", "enabled", "imagePullSecrets", "imagePullSecret", "custom",
            "hub", "proxy", "singleuser", "scheduling", "prePuller", "ingress", "httpRoute", "cull", "debug",
            "rbac", "global"}
Z2JH_HUB = {"config", "services", "image", "db", "extraConfig", "extraEnv", "extraFiles", "networkPolicy",
            "resources", "baseUrl", "cookieSecret", "concurrentSpawnLimit", "activeServerLimit",
            "allowNamedServers", "namedServerLimitPerUser", "loadRoles", "shutdownOnLogout", "templatePaths",
            "templateVars", "livenessProbe", "readinessProbe", "consecutiveFailureLimit", "pdb", "nodeSelector",
            "tolerations", "extraVolumes", "extraVolumeMounts", "initContainers", "extraContainers", "args",
            "command", "containerSecurityContext", "podSecurityContext", "labels", "annotations", "deploymentStrategy",
            "service", "serviceAccount", "lifecycle", "revisionHistoryLimit", "existingSecret", "authenticatePrometheus",
            "redirectToServer", "extraPodSpec", "fsGid", "uid"}
Z2JH_SINGLEUSER = {"image", "uid", "fsGid", "cmd", "defaultUrl", "startTimeout", "cpu", "memory", "storage",
                   "extraEnv", "lifecycleHooks", "extraPodConfig", "extraContainerConfig", "extraFiles",
                   "networkPolicy", "cloudMetadata", "podNameTemplate", "extraAnnotations", "extraLabels",
                   "extraNodeAffinity", "extraPodAffinity", "extraPodAntiAffinity", "extraTolerations",
                   "extraContainers", "initContainers", "extraResource", "nodeSelector", "serviceAccountName",
                   "profileList", "networkTools", "events", "allowPrivilegeEscalation", "args", "imagePullSecrets"}
Z2JH_SERVICE = {"url", "apiToken", "admin", "name", "oauth_no_confirm", "oauth_client_id", "oauth_redirect_uri",
                "command", "display", "info", "oauth_client_allowed_scopes", "oauth_roles"}


@pytest.fixture(scope="module")
def values() -> dict:
    return yaml.safe_load((DEPLOY / "kubernetes" / "values.yaml").read_text())


def test_values_use_only_keys_the_chart_knows(values):
    assert set(values) <= Z2JH_TOP, set(values) - Z2JH_TOP
    assert set(values["hub"]) <= Z2JH_HUB, set(values["hub"]) - Z2JH_HUB
    assert set(values["singleuser"]) <= Z2JH_SINGLEUSER, set(values["singleuser"]) - Z2JH_SINGLEUSER
    for name, service in values["hub"]["services"].items():
        assert set(service) <= Z2JH_SERVICE, (name, set(service) - Z2JH_SERVICE)
    assert set(values["singleuser"]["image"]) <= {"name", "tag", "pullPolicy", "pullSecrets"}
    assert set(values["singleuser"]["storage"]) <= {"type", "capacity", "homeMountPath", "dynamic", "static",
                                                    "extraVolumes", "extraVolumeMounts", "extraLabels"}


def test_pods_are_user_namespaced_with_what_the_sandbox_needs(values):
    single = values["singleuser"]
    assert single["extraPodConfig"]["hostUsers"] is False
    container = single["extraContainerConfig"]["securityContext"]
    assert container["procMount"] == "Unmasked"  # `ip netns exec` mounts a fresh /sys
    assert container["runAsNonRoot"] is True and container["runAsUser"] == single["uid"] != 0
    assert container["allowPrivilegeEscalation"] is False
    assert "privileged" not in container and "capabilities" not in container
    # a privileged init container (the chart's iptables metadata block) cannot run in a user-namespaced pod
    assert single["cloudMetadata"]["blockWithIptables"] is False
    assert single["networkPolicy"]["egressAllowRules"]["cloudMetadataServer"] is False
    assert single["extraEnv"]["NSLAB_ROOTLESS"] == "1"
    assert single["cmd"] == "jupyterhub-singleuser"


def test_nbgrader_exchange_goes_through_ngshare(values):
    service = values["hub"]["services"]["ngshare"]
    assert service["url"].startswith("http://") and service["apiToken"]
    config = values["singleuser"]["extraFiles"]["nbgrader-exchange"]
    assert config["mountPath"] == "/etc/jupyter/nbgrader_config.py"
    compile(config["stringData"], "nbgrader_config.py", "exec")
    assert "configureExchange" in config["stringData"]


def test_the_versions_needed_are_written_down():
    text = (DEPLOY / "kubernetes" / "values.yaml").read_text() + (DEPLOY / "README.md").read_text()
    for needed in ("1.33", "containerd", "2.0", "CRI-O", "6.3", "hostUsers"):
        assert needed in text, needed


def test_containerfile_starts_from_scratch_and_runs_as_a_student():
    lines = [ln.strip() for ln in (DEPLOY / "image" / "Containerfile").read_text().splitlines()
             if ln.strip() and not ln.lstrip().startswith("#")]
    assert lines[0] == "FROM scratch"
    assert "ADD rootfs.tar /" in lines
    user = next(ln.split()[1] for ln in lines if ln.startswith("USER "))
    assert not user.startswith("0") and not user.startswith("root")
    assert any(ln.startswith("CMD") and "jupyterhub-singleuser" in ln for ln in lines)


def load_hub_config(env: dict) -> object:
    try:
        import jupyterhub  # noqa: F401
    except ImportError:
        need(False, "jupyterhub is needed (pip install -e '.[dev]')")
    from traitlets.config.loader import PyFileConfigLoader
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        loader = PyFileConfigLoader("jupyterhub_config.py", path=str(DEPLOY / "jupyterhub"))
        return loader.load_config()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def test_hub_config_spawns_each_student_as_their_own_user_on_the_given_ports(tmp_path):
    config = load_hub_config({"NSLAB_HUB_PREFIX": str(tmp_path / "prefix"), "NSLAB_HUB_STATE": str(tmp_path / "state"),
                              "NSLAB_HUB_IP": "127.0.0.1", "NSLAB_HUB_PORT": "18790", "NSLAB_HUB_API_PORT": "18791",
                              "NSLAB_HUB_HUB_PORT": "18792", "NSLAB_HUB_USER_PORTS": "18793-18799",
                              "NSLAB_HUB_GROUP": "h7nobody"})
    from jupyterhub.spawner import LocalProcessSpawner
    hub = config.JupyterHub
    assert hub.bind_url == "http://127.0.0.1:18790"
    assert hub.hub_bind_url == "http://127.0.0.1:18792"
    assert config.ConfigurableHTTPProxy.api_url == "http://127.0.0.1:18791"
    assert hub.authenticator_class == "pam"
    assert config.PAMAuthenticator.allowed_groups == {"h7nobody"}
    assert issubclass(hub.spawner_class, LocalProcessSpawner)  # runs the server as the student's Unix user
    assert config.NslabSpawner.port_range == "18793-18799"
    assert hub.db_url == f"sqlite:///{tmp_path / 'state' / 'jupyterhub.sqlite'}"
    assert config.Spawner.cmd == [str(tmp_path / "prefix" / "venv" / "bin" / "jupyterhub-singleuser")]
    assert "--MultiKernelManager.default_kernel_name=nslab" in config.Spawner.args


def test_hub_config_defaults_are_jupyterhubs_own_ports():
    config = load_hub_config({})
    assert config.JupyterHub.bind_url == "http://0.0.0.0:8000"
    assert config.PAMAuthenticator.allowed_groups == {"nslab-students"}


@pytest.mark.parametrize("script", ["jupyterhub/start.sh", "image/build.sh"])
def test_scripts_are_valid_bash_and_refuse_without_root(script, tmp_path):
    path = DEPLOY / script
    assert os.access(path, os.X_OK), f"{script} is not executable"
    subprocess.run(["bash", "-n", str(path)], check=True)
    need(shutil.which("setpriv") is not None, "setpriv (util-linux) is needed to run as nobody")
    if os.geteuid() != 0:
        pytest.skip("needs root to drop to nobody")
    env = {"PATH": "/usr/bin:/bin", "NSLAB_HUB_PREFIX": str(tmp_path / "p"), "NSLAB_HUB_STATE": str(tmp_path / "s"),
           "NSLAB_IMAGE_WORK": str(tmp_path / "w")}
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "bash", str(path)],
                          capture_output=True, text=True, env=env, cwd="/")
    assert proc.returncode == 1
    assert "run as root" in proc.stderr
    assert not any((tmp_path / d).exists() for d in ("p", "s", "w"))
