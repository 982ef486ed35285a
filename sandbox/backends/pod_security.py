"""Whether the cluster keeps attendees' pods off the node, found out rather than assumed.

PODIUM_K8S_POLICY_ENGINE "auto" picks Pod Security Admission from 1.23 on,
PodSecurityPolicy before when the cluster serves its API
(pod_security_spec.policy_engine_expected). Then it is checked: in a probe
namespace made exactly like an attendee's, a pod that baseline refuses on every
count is created with dryRun, as that namespace's ServiceAccount (impersonated:
Podium's own identity may use every policy, so a probe as Podium proves
nothing). It must be refused and a plain pod admitted. A cluster that fails
gets a sentence saying why and what to change; "none" is the operator's
explicit opt-out, with a warning in the log.

The answer is cached for CACHE_SECONDS per cluster configuration (a failure is
not: the operator may be fixing it). Every call blocks; callers use threads.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass

import kubernetes.client
import kubernetes.dynamic
import urllib3.exceptions
from kubernetes.client import ApiClient, ApiException

from sandbox.backends import kubernetes_spec as kspec
from sandbox.backends import namespace_spec
from sandbox.backends import pod_security_spec as psec
from sandbox.backends.base import SandboxSpec
from sandbox.backends.config import ClusterConfig
from sandbox.backends.kube_client import POLL, api_client, api_client_as, api_message, apply_object, reason
from sandbox.errors import SandboxError

log = logging.getLogger(__name__)

CACHE_SECONDS = 300.0
PROBE_ID = "policyprobe"  # the namespace <prefix>policyprobe, where the policy is checked
_HOW = {"psa": "Pod Security Admission", "psp": "the PodSecurityPolicy admission plugin"}


@dataclass(frozen=True)
class PodSecurity:
    """How the cluster guards attendees' namespaces: `engine` "psa", "psp" or "none", and `problem`, None or the
    sentence saying why Podium must not give attendees a namespace there."""

    engine: str
    problem: str | None


_lock = threading.Lock()
_cache: dict[ClusterConfig, tuple[float, PodSecurity]] = {}


def pod_security_check(config: ClusterConfig, *, fresh: bool = False) -> PodSecurity:
    """How the cluster `config` names enforces its pod security level (cached; `fresh` looks again)."""
    if config.policy_engine not in psec.ENGINES:
        return PodSecurity(
            engine="none",
            problem=f"PODIUM_K8S_POLICY_ENGINE={config.policy_engine!r} is not one of {', '.join(psec.ENGINES)}.",
        )
    try:
        psec.level_check(config.pod_security)
    except ValueError as error:
        return PodSecurity(engine="none", problem=f"{error}.")
    if config.policy_engine == "none":
        log.warning(
            "PODIUM_K8S_POLICY_ENGINE=none: attendees' namespaces are not guarded; their kubectl can run privileged "
            "and hostPath pods, i.e. take the node. For trusted rooms only."
        )
        return PodSecurity(engine="none", problem=None)
    with _lock:
        cached = _cache.get(config)
        if cached and not fresh and time.monotonic() - cached[0] < CACHE_SECONDS:
            return cached[1]
        found = _detect(config)
        if found.problem is None:
            _cache[config] = (time.monotonic(), found)
        else:
            _cache.pop(config, None)
            log.error("pod security: %s", found.problem)
        return found


def server_version(api: ApiClient, timeout: float) -> tuple[int, int]:
    """The API server's (major, minor); a minor like "20+" (GKE, EKS) counts as 20."""
    info = kubernetes.client.VersionApi(api).get_code(_request_timeout=timeout)
    return int(info.major.rstrip("+")), int("".join(ch for ch in info.minor if ch.isdigit()) or 0)


def psp_served(api: ApiClient) -> bool:
    """Whether the cluster serves policy/v1beta1 PodSecurityPolicies (1.3-1.24); not whether the plugin is on."""
    try:
        kubernetes.dynamic.DynamicClient(api).resources.get(api_version="policy/v1beta1", kind="PodSecurityPolicy")
    except kubernetes.dynamic.exceptions.ResourceNotFoundError:
        return False
    return True


def _detect(config: ClusterConfig) -> PodSecurity:
    try:
        api = api_client(config)
        version = server_version(api, config.api_timeout)
        served = psp_served(api)
    except SandboxError as error:
        return PodSecurity(engine="none", problem=error.user_message)
    except (ApiException, urllib3.exceptions.HTTPError, OSError) as error:
        return PodSecurity(engine="none", problem=f"The Kubernetes cluster did not say its version ({reason(error)}).")
    engine = config.policy_engine
    if engine == "auto":
        engine = psec.policy_engine_expected(version=version, psp_served=served)
    shown = f"{version[0]}.{version[1]}"
    if engine == "none":
        return PodSecurity(
            engine="none",
            problem=f"This Kubernetes {shown} cluster has neither Pod Security Admission (1.23 on) nor "
            "PodSecurityPolicy, so nothing would stop an attendee's kubectl from running a privileged or hostPath "
            "pod and taking the node. Use a cluster from 1.23 on, or enable the PodSecurityPolicy admission plugin; "
            "or set PODIUM_K8S_POLICY_ENGINE=none to serve attendees anyway (trusted rooms only).",
        )
    if engine == "psp" and not served:
        return PodSecurity(
            engine="psp",
            problem=f"PODIUM_K8S_POLICY_ENGINE=psp, but this Kubernetes {shown} serves no PodSecurityPolicy API.",
        )
    try:
        if engine == "psp":
            for item in psec.cluster_policy_objects(level=config.pod_security, prefix=config.namespace_prefix):
                apply_object(api, config.api_timeout, item, doing=f"installing the {item['kind']} of pod security")
        namespace = _probe_namespace(config, api, engine)
        problem = _probe(config, namespace=namespace, engine=engine, shown=shown)
    except SandboxError as error:
        problem = f"Podium could not check the cluster's pod security: {error}"
        return PodSecurity(engine=engine, problem=problem)
    if problem is None:
        log.info("pod security: %s enforces %s (Kubernetes %s)", _HOW[engine], config.pod_security, shown)
    return PodSecurity(engine=engine, problem=problem)


def _probe_namespace(config: ClusterConfig, api: ApiClient, engine: str) -> str:
    """A namespace made exactly like an attendee's (backend "probe", so no backend lists it as a sandbox)."""
    namespace = kspec.namespace_name(sandbox_id=PROBE_ID, prefix=config.namespace_prefix)
    spec = SandboxSpec(sandbox_id=PROBE_ID, attendee_id="podium", talk="policy-probe")
    for item in namespace_spec.namespace_objects(
        spec=spec,
        namespace=namespace,
        backend="probe",
        limits=config.quota,
        level=config.pod_security,
        version=config.pod_security_version,
        engine=engine,
        prefix=config.namespace_prefix,
    ):
        apply_object(api, config.api_timeout, item, doing=f"preparing the policy probe's {item['kind']}")
    return namespace


def _probe(config: ClusterConfig, *, namespace: str, engine: str, shown: str) -> str | None:
    """None when a hostile pod is refused and a plain one admitted in `namespace`; else what is wrong."""
    with api_client_as(config, f"system:serviceaccount:{namespace}:{kspec.WORKSPACE}") as api:
        core = kubernetes.client.CoreV1Api(api)
        hostile = _dry_run(config, core, psec.policy_probe_pod(namespace=namespace, hostile=True))
        plain = _dry_run(config, core, psec.policy_probe_pod(namespace=namespace, hostile=False))
    if hostile is None:
        fix = (
            "Enable the PodSecurityPolicy admission plugin (kube-apiserver --enable-admission-plugins=…,"
            "PodSecurityPolicy)"
            if engine == "psp"
            else "Check that the PodSecurity admission plugin is not disabled"
        )
        return (
            f"On this Kubernetes {shown} cluster, {_HOW[engine]} does not refuse a privileged hostPath pod in an "
            f"attendee's namespace ({namespace}, probed with a dry run), so an attendee's kubectl could take the "
            f"node. {fix}, or set PODIUM_K8S_POLICY_ENGINE=none to serve attendees anyway (trusted rooms only)."
        )
    if plain is not None:
        return (
            f"On this Kubernetes {shown} cluster, an attendee's namespace ({namespace}) refuses even a plain pod: "
            + plain
        )
    return None


def _dry_run(config: ClusterConfig, core, pod: dict) -> str | None:
    """Create `pod` with dryRun: None when admitted, else the refusal. Retries while a new namespace's
    ServiceAccounts are still being made; raises SandboxError when the probe itself may not create pods."""
    deadline = time.monotonic() + config.api_timeout
    while True:
        try:
            core.create_namespaced_pod(
                pod["metadata"]["namespace"], pod, dry_run="All", _request_timeout=config.api_timeout
            )
            return None
        except ApiException as error:
            message = api_message(error)
            if error.status == 403 and "serviceaccount" in message.lower() and time.monotonic() < deadline:
                time.sleep(POLL)
                continue
            if error.status in (401, 403) and 'cannot create resource "pods"' in message:
                raise SandboxError(f"policy probe: {message}", user_message=message) from None
            return message
        except (urllib3.exceptions.HTTPError, OSError) as error:
            why = reason(error)
            raise SandboxError(f"policy probe: {why}", user_message=f"the cluster did not answer ({why})") from None
