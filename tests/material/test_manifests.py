"""The k8s/ manifests: valid for Kubernetes 1.20 and later, and wired together.

Schema validation is offline with kubernetes-validate's bundled OpenAPI
schemas (strict: unknown fields are errors). The rest checks what the schema
cannot: names the API server would refuse, selectors against pod labels,
ConfigMap/Secret references against the keys that exist, and that the images
are the ones sample_app/ builds.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
import yaml
from kubernetes_validate import utils as kubernetes_validate

from tests.material.conftest import K8S, SAMPLE_APP

# The oldest Kubernetes the workshop supports (the test cluster) and the newest
# schema set kubernetes-validate 1.28.3 ships.
KUBERNETES_VERSIONS = ["1.20.0", "1.28.0"]
MANIFEST_FILES = sorted(K8S.glob("*.yaml"))
DNS_1035_LABEL = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")
DNS_1123_SUBDOMAIN = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]{0,61})?[A-Za-z0-9])?$")


def documents(path: Path) -> list[dict]:
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc]


def all_objects() -> list[dict]:
    return [doc for path in MANIFEST_FILES for doc in documents(path)]


def objects_of(kind: str) -> dict[str, dict]:
    return {obj["metadata"]["name"]: obj for obj in all_objects() if obj["kind"] == kind}


def workloads() -> list[dict]:
    return [obj for obj in all_objects() if obj["kind"] in ("Deployment", "Job")]


def containers() -> list[dict]:
    return [c for obj in workloads() for c in obj["spec"]["template"]["spec"]["containers"]]


def schema_check(obj: dict, version: str) -> str:
    with warnings.catch_warnings():
        # kubernetes-validate uses jsonschema's RefResolver, deprecated but working.
        warnings.simplefilter("ignore", DeprecationWarning)
        return kubernetes_validate.validate(obj, version, strict=True)


def test_the_workshop_objects_are_all_there():
    found = {(obj["kind"], obj["metadata"]["name"]) for obj in all_objects()}

    assert found == {
        ("ConfigMap", "db-config"),
        ("Secret", "db-secret"),
        ("Service", "mysql"),
        ("Deployment", "mysql"),
        ("Deployment", "12factor"),
        ("Service", "twelvefactor"),
        ("Job", "12factor-dbinit"),
    }


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("path", MANIFEST_FILES, ids=lambda path: path.name)
def test_every_manifest_validates_against_the_kubernetes_schema(path, version):
    objects = documents(path)
    assert objects, f"{path.name} holds no object"
    for obj in objects:
        # Raises ValidationError, or SchemaNotFoundError for an apiVersion/kind
        # that version does not serve (like the seed's extensions/v1beta1).
        assert schema_check(obj, version) == version.rsplit(".", 1)[0]


def test_the_validator_rejects_what_the_seed_deck_got_wrong():
    seed_deployment = {"apiVersion": "extensions/v1beta1", "kind": "Deployment", "metadata": {"name": "mysql"}}
    seed_service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "mysql", "labels": {"version": 1}},
        "spec": {"ports": [{"port": 3306}], "selector": {"provider": "mysql"}},
    }

    with pytest.raises(kubernetes_validate.SchemaNotFoundError):
        schema_check(seed_deployment, "1.20.0")
    with pytest.raises(kubernetes_validate.ValidationError):
        schema_check(seed_service, "1.20.0")


def test_names_and_labels_are_ones_the_api_server_accepts():
    for obj in all_objects():
        name = obj["metadata"]["name"]
        # The schema cannot say it: a Service name must start with a letter.
        pattern = DNS_1035_LABEL if obj["kind"] == "Service" else DNS_1123_SUBDOMAIN
        assert pattern.match(name), f"{obj['kind']} name {name!r}"
        labels = dict(obj["metadata"].get("labels", {}))
        if obj["kind"] in ("Deployment", "Job"):
            labels.update(obj["spec"]["template"]["metadata"]["labels"])
        for key, value in labels.items():
            assert isinstance(value, str) and LABEL_VALUE.match(value), f"{name}: label {key}={value!r}"
    for container in containers():
        assert DNS_1035_LABEL.match(container["name"]) or DNS_1123_SUBDOMAIN.match(container["name"])


def test_deployment_selectors_match_their_pod_template_labels():
    for name, deployment in objects_of("Deployment").items():
        selector = deployment["spec"]["selector"]["matchLabels"]
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        assert selector, name
        assert selector.items() <= pod_labels.items(), name
        # The seed's labels: who provides it, which environment, which version.
        assert {"provider", "environ", "version"} <= pod_labels.keys(), name


def test_every_service_selects_pods_of_a_deployment_on_a_port_they_have():
    deployments = objects_of("Deployment")
    for name, service in objects_of("Service").items():
        selector = service["spec"]["selector"]
        selected = [
            d for d in deployments.values() if selector.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        ]
        assert len(selected) == 1, f"Service {name} selects {len(selected)} Deployments"
        pod_containers = selected[0]["spec"]["template"]["spec"]["containers"]
        ports = {p.get("name") for c in pod_containers for p in c["ports"]} | {
            p["containerPort"] for c in pod_containers for p in c["ports"]
        }
        for port in service["spec"]["ports"]:
            assert port.get("targetPort", port["port"]) in ports, f"Service {name} port {port}"


def test_every_config_map_and_secret_reference_names_an_existing_key():
    config_maps = {name: set(obj.get("data", {})) for name, obj in objects_of("ConfigMap").items()}
    secrets = {
        name: set(obj.get("data", {})) | set(obj.get("stringData", {})) for name, obj in objects_of("Secret").items()
    }
    references = 0
    for container in containers():
        for variable in container.get("env", []):
            source = variable.get("valueFrom", {})
            for ref_kind, known in (("configMapKeyRef", config_maps), ("secretKeyRef", secrets)):
                if ref_kind in source:
                    ref = source[ref_kind]
                    references += 1
                    assert ref["name"] in known, f"{variable['name']}: no {ref_kind} object {ref['name']!r}"
                    assert ref["key"] in known[ref["name"]], f"{variable['name']}: no key {ref['key']!r}"
    assert references >= 10


def test_the_password_is_in_the_secret_and_nowhere_in_a_config_map():
    for config_map in objects_of("ConfigMap").values():
        assert not any("password" in key for key in config_map.get("data", {}))
    for container in containers():
        for variable in container.get("env", []):
            if "PASSWORD" in variable["name"]:
                assert variable["valueFrom"]["secretKeyRef"] == {"name": "db-secret", "key": "database.password"}


def test_app_and_dbinit_get_every_setting_the_app_reads():
    wanted = {"DATABASE_HOST", "DATABASE_PORT", "DATABASE_USER", "DATABASE_PASSWORD", "DATABASE_NAME"}
    app_source = (SAMPLE_APP / "app.py").read_text()
    assert all(name in app_source for name in wanted)
    for name in ("12factor", "12factor-dbinit"):
        workload = objects_of("Deployment").get(name) or objects_of("Job")[name]
        (container,) = workload["spec"]["template"]["spec"]["containers"]
        assert wanted <= {variable["name"] for variable in container["env"]}, name


def test_images_are_the_locally_built_ones_with_pinned_tags():
    compose = yaml.safe_load((SAMPLE_APP / "docker-compose.yml").read_text())["services"]
    built = {compose["app"]["image"], compose["dbinit"]["image"]}
    mysql_default = re.fullmatch(r"\$\{MYSQL_IMAGE:-(.+)\}", compose["mysql"]["image"]).group(1)

    images = {container["image"] for container in containers()}

    assert images == built | {mysql_default} == {"12factor:1.0", "12factor-dbinit:1.0", "mysql:8"}
    for container in containers():
        # Never pulled when the image is already on the node (locally built ones never could be).
        assert container["imagePullPolicy"] == "IfNotPresent", container["name"]


def test_every_container_has_requests_and_limits():
    for container in containers():
        resources = container["resources"]
        assert {"cpu", "memory"} <= resources["requests"].keys(), container["name"]
        assert {"cpu", "memory"} <= resources["limits"].keys(), container["name"]


def test_the_app_is_ready_only_when_healthz_answers_and_mysql_is_probed():
    app = objects_of("Deployment")["12factor"]["spec"]["template"]["spec"]
    (app_container,) = app["containers"]
    assert app_container["readinessProbe"]["httpGet"]["path"] == "/healthz"
    assert app_container["readinessProbe"]["httpGet"]["port"] in {p["name"] for p in app_container["ports"]}
    assert "httpGet" in app_container["livenessProbe"]
    assert app["securityContext"]["runAsNonRoot"] is True

    (mysql,) = objects_of("Deployment")["mysql"]["spec"]["template"]["spec"]["containers"]
    assert "mysqladmin ping" in " ".join(mysql["readinessProbe"]["exec"]["command"])
    assert mysql["livenessProbe"]["tcpSocket"]["port"] == "mysql"


def test_the_dbinit_job_retries_a_bounded_number_of_times():
    job = objects_of("Job")["12factor-dbinit"]["spec"]
    (container,) = job["template"]["spec"]["containers"]
    env = {variable["name"]: variable.get("value") for variable in container["env"]}

    assert 0 < job["backoffLimit"] <= 10
    assert job["template"]["spec"]["restartPolicy"] in ("Never", "OnFailure")
    assert int(env["DB_WAIT_ATTEMPTS"]) > 0


def test_kubernetes_and_compose_configure_the_same_database():
    compose_env = dict(
        line.split("=", 1)
        for line in (SAMPLE_APP / "compose.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    config = objects_of("ConfigMap")["db-config"]["data"]
    secret = objects_of("Secret")["db-secret"]["stringData"]

    assert config["database.host"] == compose_env["DATABASE_HOST"] == "mysql"
    assert config["database.port"] == compose_env["DATABASE_PORT"]
    assert config["database.user"] == compose_env["DATABASE_USER"]
    assert config["database.name"] == compose_env["DATABASE_NAME"] == compose_env["MYSQL_DATABASE"]
    assert secret["database.password"] == compose_env["DATABASE_PASSWORD"] == compose_env["MYSQL_ROOT_PASSWORD"]
    # The Service the app reaches is named what database.host says.
    assert config["database.host"] in objects_of("Service")
