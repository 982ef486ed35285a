"""Fixtures for the test cluster's own tests; see tests/cluster/helpers.py."""

from tests.cluster.helpers import cluster, cluster_namespace  # noqa: F401 - fixtures used by name
