"""The test cluster does what the Kubernetes half of the deck needs: pods from local images run,
a Service is reached by its DNS name from another pod, pods reach the apiserver through the
`kubernetes` Service, and containers outside the cluster (attendees' workspaces) reach the apiserver
at the docker bridge address.
"""

from __future__ import annotations

import json

import pytest
import yaml

from tests.cluster.helpers import Cluster, cluster_wait_for, pod, pod_ready, web_service

pytestmark = pytest.mark.cluster

DEBIAN = "podium-standin/debian:bookworm"
PYTHON = "podium-standin/python:3.11-slim"


def exec_python(cluster: Cluster, namespace: str, name: str, code: str) -> str:
    return cluster.kubectl("-n", namespace, "exec", name, "--", "python3", "-c", code)


def test_pod_from_local_image_runs_and_execs(cluster: Cluster, cluster_namespace: str) -> None:
    cluster.apply(pod("sleeper", DEBIAN, ["sleep", "3600"]), namespace=cluster_namespace)

    item = pod_ready(cluster, cluster_namespace, "sleeper")

    assert item["status"]["phase"] == "Running"
    assert item["spec"]["nodeName"] == "podium-node"
    # exec goes apiserver -> kubelet -> docker: the path attendees' shell blocks take.
    os_release = cluster.kubectl("-n", cluster_namespace, "exec", "sleeper", "--", "cat", "/etc/os-release")
    assert "bookworm" in os_release


def test_service_is_reached_by_name_from_another_pod(cluster: Cluster, cluster_namespace: str) -> None:
    serving = "mkdir -p /srv && echo podium-cluster-smoke > /srv/index.html && exec python3 -m http.server 8000 -d /srv"
    cluster_ip = web_service(cluster, cluster_namespace, image=PYTHON, command=["sh", "-c", serving]).cluster_ip
    cluster.apply(pod("client", PYTHON, ["sleep", "3600"]), namespace=cluster_namespace)
    pod_ready(cluster, cluster_namespace, "client")

    # The short name, through the pod's search path, as the 12factor app finds "mysql".
    fetch = (
        "import socket, urllib.request; "
        "print(socket.gethostbyname('web')); "
        "print(urllib.request.urlopen('http://web/index.html', timeout=5).read().decode().strip())"
    )
    answer = cluster_wait_for(
        lambda: exec_python(cluster, cluster_namespace, "client", fetch),
        what="the client pod fetching http://web/ through the Service",
        timeout=30,
        diagnose=lambda: cluster.kubectl("-n", cluster_namespace, "get", "endpoints", "web", "-o", "wide", check=False),
    )

    assert answer.split() == [cluster_ip, "podium-cluster-smoke"]
    full_name = f"web.{cluster_namespace}.svc.cluster.local"
    resolve = f"import socket; print(socket.gethostbyname('{full_name}'))"
    assert exec_python(cluster, cluster_namespace, "client", resolve).strip() == cluster_ip


def test_pod_reaches_apiserver_through_kubernetes_service(cluster: Cluster, cluster_namespace: str) -> None:
    cluster.apply(pod("asker", PYTHON, ["sleep", "3600"]), namespace=cluster_namespace)
    pod_ready(cluster, cluster_namespace, "asker")

    # What kubectl inside a workspace pod does: the ServiceAccount token and CA the kubelet mounted,
    # and the in-cluster name of the apiserver.
    ask = (
        "import json, ssl, urllib.request; "
        "sa = '/var/run/secrets/kubernetes.io/serviceaccount/'; "
        "token = open(sa + 'token').read(); "
        "context = ssl.create_default_context(cafile=sa + 'ca.crt'); "
        "request = urllib.request.Request('https://kubernetes.default.svc/version', "
        "headers={'Authorization': 'Bearer ' + token}); "
        "print(json.load(urllib.request.urlopen(request, context=context, timeout=5))['gitVersion'])"
    )
    assert exec_python(cluster, cluster_namespace, "asker", ask).strip() == "v1.20.2"


@pytest.mark.docker
def test_container_outside_cluster_reaches_apiserver(cluster: Cluster, docker_client) -> None:
    # An attendee's Docker workspace gets a kubeconfig naming this address; check a plain
    # container on the default bridge can use it: TLS verified against the cluster CA, token accepted.
    kubeconfig = yaml.safe_load(cluster.kubeconfig.read_text())
    ca_data = kubeconfig["clusters"][0]["cluster"]["certificate-authority-data"]
    token = kubeconfig["users"][0]["user"]["token"]
    ask = (
        "import base64, json, os, ssl, urllib.request; "
        "context = ssl.create_default_context(cadata=base64.b64decode(os.environ['CA']).decode()); "
        "request = urllib.request.Request(os.environ['SERVER'] + '/api/v1/nodes', "
        "headers={'Authorization': 'Bearer ' + os.environ['TOKEN']}); "
        "nodes = json.load(urllib.request.urlopen(request, context=context, timeout=5))['items']; "
        "print(json.dumps([n['metadata']['name'] for n in nodes]))"
    )
    output = docker_client.containers.run(
        PYTHON,
        ["python3", "-c", ask],
        environment={"CA": ca_data, "TOKEN": token, "SERVER": cluster.server},
        remove=True,
    )

    assert json.loads(output) == ["podium-node"]
