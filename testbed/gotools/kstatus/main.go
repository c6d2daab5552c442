// kstatus computes the kstatus result (what Flux's health checks, `kubectl wait`-like tools and cli-utils'
// appliers use) of every object of a Kubernetes List read from stdin, with the real
// sigs.k8s.io/cli-utils/pkg/kstatus/status library, and prints [{kind, name, status, message}] as JSON.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/cli-utils/pkg/kstatus/status"
)

type result struct {
	Kind    string `json:"kind"`
	Name    string `json:"name"`
	Status  string `json:"status"`
	Message string `json:"message"`
}

func main() {
	data, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: reading stdin:", err)
		os.Exit(2)
	}
	// As the API machinery decodes objects: integers stay int64 (kstatus reads metadata.generation as one).
	var list unstructured.UnstructuredList
	if err := list.UnmarshalJSON(data); err != nil {
		fmt.Fprintln(os.Stderr, "kstatus: stdin is not a Kubernetes List:", err)
		os.Exit(2)
	}
	out := []result{}
	for i := range list.Items {
		obj := &list.Items[i]
		res, err := status.Compute(obj)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kstatus: %s/%s: %v\n", obj.GetKind(), obj.GetName(), err)
			os.Exit(1)
		}
		out = append(out, result{obj.GetKind(), obj.GetName(), res.Status.String(), res.Message})
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		os.Exit(1)
	}
}
