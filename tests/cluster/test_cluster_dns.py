"""The names the test cluster's DNS feeder serves, from Service and Endpoints objects (no cluster needed)."""

from __future__ import annotations

from pathlib import Path

from tests.cluster.cluster_dns import dns_records, hosts_write


def service(name: str, namespace: str = "default", **spec: object) -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": spec}


def endpoints(name: str, addresses: list[dict], namespace: str = "default") -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "subsets": [{"addresses": addresses}]}


def test_cluster_ip_service_gets_its_full_name() -> None:
    records = dns_records(
        services=[service("mysql", "attendee-a", type="ClusterIP", clusterIP="10.96.0.42")],
        endpoints=[endpoints("mysql", [{"ip": "172.17.0.5"}], "attendee-a")],
        domain="cluster.local",
    )

    assert records == [("10.96.0.42", "mysql.attendee-a.svc.cluster.local")]


def test_headless_service_names_its_ready_pods() -> None:
    records = dns_records(
        services=[service("db", type="ClusterIP", clusterIP="None")],
        endpoints=[endpoints("db", [{"ip": "172.17.0.7", "hostname": "db-0"}, {"ip": "172.17.0.8"}])],
        domain="cluster.local",
    )

    assert records == [
        ("172.17.0.7", "db-0.db.default.svc.cluster.local"),
        ("172.17.0.7", "db.default.svc.cluster.local"),
        ("172.17.0.8", "db.default.svc.cluster.local"),
    ]


def test_external_name_and_headless_without_endpoints_serve_nothing() -> None:
    records = dns_records(
        services=[
            service("outside", type="ExternalName", externalName="example.org"),
            service("empty", type="ClusterIP", clusterIP="None"),
        ],
        endpoints=[{"metadata": {"name": "empty", "namespace": "default"}, "subsets": None}],
        domain="cluster.local",
    )

    assert records == []


def test_hosts_file_is_replaced_whole(tmp_path: Path) -> None:
    hosts_dir = tmp_path / "hosts"
    hosts_dir.mkdir()
    hosts_write(hosts_dir=hosts_dir, text="10.96.0.1 kubernetes.default.svc.cluster.local\n")
    hosts_write(hosts_dir=hosts_dir, text="10.96.0.9 web.default.svc.cluster.local\n")

    assert [p.name for p in hosts_dir.iterdir()] == ["services.hosts"]
    assert (hosts_dir / "services.hosts").read_text() == "10.96.0.9 web.default.svc.cluster.local\n"
