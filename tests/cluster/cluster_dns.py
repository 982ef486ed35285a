"""Feed the test cluster's DNS (dnsmasq) with the cluster's Service names.

CoreDNS, the usual cluster DNS, is not packaged by Debian and cannot be downloaded on these
machines, so up.sh runs Debian's dnsmasq on the node address and this small loop beside it: it
lists Services and Endpoints from the apiserver and writes one hosts file into the folder that
dnsmasq watches (`--hostsdir`), which dnsmasq re-reads on its own when the file is replaced.

Records written, as a cluster DNS would answer them:
- `<service>.<namespace>.svc.<domain>` -> the ClusterIP, for ordinary Services;
- for headless Services (clusterIP None): the same name -> every ready endpoint address, and
  `<hostname>.<service>.<namespace>.svc.<domain>` for endpoints that carry a hostname
  (StatefulSet pods).
ExternalName Services are not served (a hosts file cannot express a CNAME).

It polls once a second rather than watching: two small lists a second cost nothing on a
one-node test cluster, and polling needs no resync logic. Standard library only, so it runs on
the system python3 with no virtualenv.
"""

from __future__ import annotations

import argparse
import json
import os
import ssl
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path


def api_get(*, server: str, path: str, token: str, context: ssl.SSLContext) -> dict:
    """GET one apiserver path and return its decoded JSON body."""
    request = urllib.request.Request(
        server + path, headers={"Authorization": f"Bearer {token}", "Accept": "application/json"}
    )
    with urllib.request.urlopen(request, context=context, timeout=10) as response:
        return json.load(response)


def dns_records(*, services: list[dict], endpoints: list[dict], domain: str) -> list[tuple[str, str]]:
    """The (address, name) pairs a cluster DNS would serve for these Services and Endpoints."""
    ready_addresses: dict[tuple[str, str], list[dict]] = {}
    for item in endpoints:
        key = (item["metadata"]["namespace"], item["metadata"]["name"])
        for subset in item.get("subsets") or []:
            ready_addresses.setdefault(key, []).extend(subset.get("addresses") or [])

    records: set[tuple[str, str]] = set()
    for service in services:
        namespace, name = service["metadata"]["namespace"], service["metadata"]["name"]
        spec = service.get("spec") or {}
        fqdn = f"{name}.{namespace}.svc.{domain}"
        cluster_ip = spec.get("clusterIP") or ""
        if spec.get("type") == "ExternalName":
            continue
        if cluster_ip and cluster_ip != "None":
            records.add((cluster_ip, fqdn))
            continue
        for address in ready_addresses.get((namespace, name), []):
            records.add((address["ip"], fqdn))
            if address.get("hostname"):
                records.add((address["ip"], f"{address['hostname']}.{fqdn}"))
    return sorted(records, key=lambda record: (record[1], record[0]))


def hosts_write(*, hosts_dir: Path, text: str) -> None:
    """Replace the hosts file atomically, so dnsmasq never reads half of it."""
    staging = hosts_dir.parent / "services.hosts.tmp"
    staging.write_text(text)
    staging.chmod(0o644)  # dnsmasq reads it after dropping root
    os.replace(staging, hosts_dir / "services.hosts")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--server", required=True, help="apiserver URL, e.g. https://172.17.0.1:6443")
    parser.add_argument("--ca", required=True, help="the cluster CA certificate file")
    parser.add_argument("--token-file", required=True, help="file holding a bearer token allowed to list services")
    parser.add_argument("--hosts-dir", required=True, type=Path, help="dnsmasq's --hostsdir")
    parser.add_argument("--domain", default="cluster.local")
    parser.add_argument("--interval", type=float, default=1.0, help="seconds between two polls")
    args = parser.parse_args()

    token = Path(args.token_file).read_text().strip()
    context = ssl.create_default_context(cafile=args.ca)
    written = None
    failing = False
    while True:
        try:
            services = api_get(server=args.server, path="/api/v1/services", token=token, context=context)["items"]
            endpoints = api_get(server=args.server, path="/api/v1/endpoints", token=token, context=context)["items"]
        except (urllib.error.URLError, OSError, ValueError, KeyError) as error:
            if not failing:  # say it once per outage, not once a second
                print(f"cluster-dns: cannot list services from {args.server}: {error}", file=sys.stderr, flush=True)
            failing = True
            time.sleep(args.interval)
            continue
        if failing:
            print("cluster-dns: apiserver answers again", flush=True)
            failing = False
        records = dns_records(services=services, endpoints=endpoints, domain=args.domain)
        text = "".join(f"{address} {name}\n" for address, name in records)
        if text != written:
            hosts_write(hosts_dir=args.hosts_dir, text=text)
            written = text
            print(f"cluster-dns: serving {len(records)} names", flush=True)
        time.sleep(args.interval)


if __name__ == "__main__":
    sys.exit(main())
