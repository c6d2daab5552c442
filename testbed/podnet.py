"""The node's pod network: one bridge the node creates, and its addresses (they exist nowhere else).

Pods get addresses from SUBNET on BRIDGE; GATEWAY is the bridge's own address on the host side, where
testbed/relay.py forwards to loopback. The API server's certificate names GATEWAY, so pods verify it.
"""

BRIDGE = "mso0"
SUBNET = "10.211.0.0/24"
GATEWAY = "10.211.0.1"
PREFIX = 24
