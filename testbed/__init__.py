"""Local Kubernetes testbed: a real etcd + kube-apiserver + kube-controller-manager on loopback.

`python -m testbed up|down|status` for interactive use; `testbed.controlplane.ControlPlane` for pytest.
Binaries: testbed/install-tools.sh (see testbed.tools for where they live).
"""
