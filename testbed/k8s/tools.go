//go:build tools

// Package tools pins the Kubernetes commands that the testbed builds: the control plane, and the node
// (kubelet + kube-scheduler) that runs the operator's image in real pods.
package tools

import (
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
	_ "k8s.io/kubernetes/cmd/kube-scheduler"
	_ "k8s.io/kubernetes/cmd/kubelet"
)
