#!/usr/bin/env python3
"""diagnose_cgroup resolving the names people type for containers, from the
runtimes' on-disk state in a fixture tree (--fs-root: the cg-v2 cgroup tree
of test_diagnose_fixture.py plus var/lib/docker, var/lib/containers and
var/log/pods written here): a Docker name, a Podman name, a Kubernetes pod
as namespace/pod and alone, a pod's container, a name two runtimes share
(an error listing both), an id prefix (a guess), a stopped container, an
unknown name (says what was tried), and hostile state refused with the
reason: a symlinked config.v2.json, an oversize one, a group-writable
directory. Then the test-only container_state_root key. Suite 'plugins'."""
import json
import os
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import sltest  # noqa: E402

C = sltest.Checker("sched_latency/cgnames-fixture")

# ids and the pod uid whose cgroups the cg-v2 fixture has
DID = "3f4e5d6c7b8a99887766554433221100ffeeddccbbaa00112233445566778899"  # docker-DID.scope
FID = "ffeeddccbbaa00112233445566778899aabbccddeeff00112233445566778899"  # /docker/FID
PID = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"  # libpod-PID.scope
CID = "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899"  # cri-containerd
UID = "1234abcd-12ab-34cd-56ef-1234567890ab"
GONE = "9" * 64  # a container with no cgroup (stopped)
EVIL = "e" * 64
BIG = "b" * 64
POD = "kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod" + \
    UID.replace("-", "_") + ".slice"


def docker_config(root, cid, name, pad=0):
    d = os.path.join(root, "var/lib/docker/containers", cid)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "config.v2.json"), "w") as f:
        f.write(json.dumps({"ID": cid, "Name": "/" + name, "State": {"Running": True},
                            "Config": {"Image": "nginx"}}) + " " * pad)


def build(root):
    """The runtimes' state for the cgroups of the cg-v2 fixture."""
    docker_config(root, DID, "my-nginx")
    docker_config(root, FID, "twin")
    docker_config(root, GONE, "stopped-one")
    os.makedirs(os.path.join(root, "var/lib/docker/containers/not-an-id"))
    pc = os.path.join(root, "var/lib/containers/storage/overlay-containers")
    os.makedirs(pc)
    with open(os.path.join(pc, "containers.json"), "w") as f:
        json.dump([{"id": PID, "names": ["pm-db", "twin"], "image": "x"},
                   {"id": "not hex", "names": ["pm-db"]}, {"names": 3}, 7], f)
    pods = os.path.join(root, "var/log/pods")
    os.makedirs(os.path.join(pods, f"shop_frontend-7d9f_{UID}/app"))
    os.makedirs(os.path.join(pods, "kube-system_other_99990000-1111-2222-3333-444455556666"))
    os.makedirs(os.path.join(pods, "bad_name"))
    logs = os.path.join(root, "var/log/containers")
    os.makedirs(logs)
    # kubelet's own layout: a symlink into /var/log/pods (its name is all that is read)
    os.symlink(f"/var/log/pods/shop_frontend-7d9f_{UID}/app/0.log",
               os.path.join(logs, f"frontend-7d9f_shop_app-{CID}.log"))


def text_of(e):
    return e["content"][0]["text"] if e.get("content") else str(e)


def cg_of(d, name):
    r = d.structured("diagnose_cgroup", {"cgroup": name, "duration_s": 1})
    return r["cgroup"]


def err_of(d, name):
    e = d.tool("diagnose_cgroup", {"cgroup": name, "duration_s": 1})
    return e.get("isError"), text_of(e)


@C.case
def test_names():
    tmp = tempfile.mkdtemp(prefix="sl-cgn-")
    root = os.path.join(tmp, "root")
    shutil.copytree(os.path.join(os.environ["SL_FIXTURES"], "cg-v2"), root, symlinks=True)
    build(root)
    d = sltest.Daemon(extra_args=["--fs-root", root])
    try:
        cg = cg_of(d, "my-nginx")
        C.check(cg["path"] == f"/system.slice/docker-{DID}.scope" and
                cg.get("resolved_from") == "docker state" and cg.get("name") == "my-nginx" and
                cg["container_id"] == DID and not cg.get("guess") and
                cg["input"] == "my-nginx", f"docker name: {cg}")

        body = d.read_json("stats://cgroup/my-nginx")
        C.check(body.get("cgroup", {}).get("resolved_from") == "docker state" and
                body["cgroup"]["path"] == f"/system.slice/docker-{DID}.scope",
                f"the resource resolves names too: {str(body)[:300]}")

        cg = cg_of(d, "pm-db")
        C.check(cg["path"] == f"/machine.slice/libpod-{PID}.scope" and
                cg.get("resolved_from") == "podman state" and
                cg.get("runtime_kind") == "podman container" and not cg.get("guess"),
                f"podman name: {cg}")

        for name in ("shop/frontend-7d9f", "frontend-7d9f"):
            cg = cg_of(d, name)
            C.check(cg["path"] == "/" + POD and cg["kind"] == "kubernetes pod" and
                    cg["pod_uid"] == UID and cg.get("resolved_from") == "kubelet pod logs" and
                    cg.get("name") == "shop/frontend-7d9f" and not cg.get("guess"),
                    f"pod {name}: {cg}")
        cg = cg_of(d, "shop/frontend-7d9f/app")
        C.check(cg["path"] == f"/{POD}/cri-containerd-{CID}.scope" and
                cg.get("runtime_kind") == "kubernetes container" and
                cg["container_id"] == CID and cg.get("name") == "shop/frontend-7d9f/app",
                f"pod container: {cg}")

        # a static pod: its uid is its manifest's 32-hex hash
        h = "0f1e2d3c4b5a69788796a5b4c3d2e1f0"
        os.makedirs(os.path.join(root, "var/log/pods", f"kube-system_kube-apiserver-n1_{h}"))
        sp = os.path.join(root, "sys/fs/cgroup/kubepods.slice/kubepods-burstable.slice",
                          f"kubepods-burstable-pod{h}.slice")
        os.makedirs(sp)
        open(os.path.join(sp, "cgroup.procs"), "w").close()
        cg = cg_of(d, "kube-system/kube-apiserver-n1")
        C.check(cg["path"].endswith(f"/kubepods-burstable-pod{h}.slice") and
                cg.get("resolved_from") == "kubelet pod logs", f"static pod: {cg}")

        cg = cg_of(d, "3f4e5d6c7b8a")
        C.check(cg["path"] == f"/system.slice/docker-{DID}.scope" and cg.get("guess") is True
                and "prefix" in cg.get("guess_why", "") and "resolved_from" not in cg,
                f"id prefix: a guess: {cg}")

        bad, text = err_of(d, "twin")
        C.check(bad and "2 cgroups match twin" in text and "docker container twin" in text and
                "podman container twin" in text and f"/docker/{FID}" in text and
                f"libpod-{PID}.scope" in text, f"ambiguous: {text}")

        bad, text = err_of(d, "stopped-one")
        C.check(bad and "docker container stopped-one" in text and "is it running" in text,
                f"stopped: {text}")

        bad, text = err_of(d, "nosuchthing")
        C.check(bad and "no cgroup or container named nosuchthing" in text and
                "NAME.service" in text and "docker state: 3 containers read" in text and
                "podman state: 4 containers read" in text and "kubelet pod logs: 3 pods" in text
                and "stats://aggregated/cgroup" in text, f"unknown name: {text}")
        bad, text = err_of(d, "shop/nosuch")
        C.check(bad and "no cgroup or container named shop/nosuch" in text, f"no pod: {text}")
        # a pod entry that is a symlink (the kubelet makes directories) names nothing
        os.symlink(f"shop_frontend-7d9f_{UID}",
                   os.path.join(root, "var/log/pods", f"fake_alias_{UID}"))
        bad, text = err_of(d, "fake/alias")
        C.check(bad and "no cgroup or container named fake/alias" in text,
                f"symlinked pod entry ignored: {text}")
        os.unlink(os.path.join(root, "var/log/pods", f"fake_alias_{UID}"))
        bad, text = err_of(d, "Shop/Upper")
        C.check(bad and "not namespace/pod" in text, f"not a k8s name: {text}")

        # hostile state: a config.v2.json that is a symlink (to a file that
        # would name "sneaky"), one over 1 MiB: refused, and said why
        outside = os.path.join(tmp, "outside.json")
        with open(outside, "w") as f:
            json.dump({"ID": EVIL, "Name": "/sneaky"}, f)
        os.makedirs(os.path.join(root, "var/lib/docker/containers", EVIL))
        os.symlink(outside, os.path.join(root, "var/lib/docker/containers", EVIL,
                                         "config.v2.json"))
        bad, text = err_of(d, "sneaky")
        C.check(bad and "1 refused" in text and "symlink" in text and EVIL[:12] in text,
                f"symlinked config.v2.json refused: {text}")
        shutil.rmtree(os.path.join(root, "var/lib/docker/containers", EVIL))

        docker_config(root, BIG, "huge", pad=(1 << 20) + 1)
        bad, text = err_of(d, "huge")
        C.check(bad and "over the 1048576 bound" in text, f"oversize refused: {text}")
        cg = cg_of(d, "my-nginx")
        C.check(cg.get("resolved_from") == "docker state", f"the rest still read: {cg}")
        shutil.rmtree(os.path.join(root, "var/lib/docker/containers", BIG))

        big = os.path.join(root, "var/lib/containers/storage/overlay-containers/containers.json")
        with open(big, "w") as f:
            f.write("[" + " " * (8 << 20) + "]")
        bad, text = err_of(d, "pm-db")
        C.check(bad and "over the 8388608 bound" in text, f"oversize containers.json: {text}")

        os.chmod(os.path.join(root, "var/lib/docker/containers"), 0o775)
        bad, text = err_of(d, "my-nginx")
        C.check(bad and "writable by its group" in text, f"group-writable refused: {text}")
        os.chmod(os.path.join(root, "var/lib/docker/containers"), 0o755)

        # the state directory itself a symlink: refused too
        os.rename(os.path.join(root, "var/lib/docker"), os.path.join(root, "var/lib/docker.real"))
        os.symlink("docker.real", os.path.join(root, "var/lib/docker"))
        bad, text = err_of(d, "my-nginx")
        C.check(bad and "/var/lib/docker is a symlink" in text, f"symlinked dir: {text}")
    finally:
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)


@C.case
def test_state_root_key():
    """container_state_root (for tests) reads the state from elsewhere than
    the fs root; a relative one is refused at load."""
    tmp = tempfile.mkdtemp(prefix="sl-cgn-")
    os.chmod(tmp, 0o755)  # with a config, the daemon runs as its account after start-up
    root, state = os.path.join(tmp, "root"), os.path.join(tmp, "state")
    shutil.copytree(os.path.join(os.environ["SL_FIXTURES"], "cg-v2"), root, symlinks=True)
    build(state)
    d = sltest.Daemon(extra_args=["--fs-root", root],
                      config=f"[plugin sched_latency]\ncontainer_state_root = {state}\n")
    try:
        cg = cg_of(d, "my-nginx")
        C.check(cg.get("resolved_from") == "docker state" and
                cg["path"] == f"/system.slice/docker-{DID}.scope", f"from the key's root: {cg}")
        # Docker keeps its state for root (0710): the account the daemon
        # switched to cannot read it, and the answer says so
        os.chmod(os.path.join(state, "var/lib/docker"), 0o710)
        pid = d.proc.pid
        uid = os.stat(f"/proc/{pid}").st_uid
        bad, text = err_of(d, "my-nginx")
        if uid != 0:
            C.check(bad and "permission denied to uid" in text and "user = root" in text,
                    f"unreadable state said: {text}")
        else:
            print(f"the daemon stayed uid 0: no permission check ({text[:80]})")
    finally:
        d.close()
    d = sltest.Daemon(extra_args=["--fs-root", root],
                      config="[plugin sched_latency]\ncontainer_state_root = rel/dir\n")
    try:
        st = d.plugin_state()
        C.check(st and st["state"] != "loaded" and
                "container_state_root" in json.dumps(st), f"relative root refused: {st}")
    finally:
        d.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    C.main()
