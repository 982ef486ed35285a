"""Host setup for the workshop, outside the request path: run by `manage.py sandbox prepare` and `kind-up`.

- images.py: the base images the deck's material builds on (pulled, or local stand-ins);
- workspace/: the attendee's workspace image (its Dockerfile, the in-sandbox runner, the build);
- registry.py: the local registry mirror the sandboxes' inner engines pull through;
- firewall.py: the iptables rules isolating the Docker sandboxes' networks;
- kind.py: the plan that makes a local kind cluster for the Kubernetes half of the deck.

Nothing in the request path (`sandbox/`) imports this package: what a backend needs from the
setup at run time (the mirror's address, the subnet pool) comes through its configuration.
"""
