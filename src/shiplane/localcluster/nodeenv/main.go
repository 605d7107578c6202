// nodeenv builds the kubelet for shiplane's opt-in real node, from the same
// k8s.io/kubernetes module graph as k8senv (its go.mod/go.sum are a copy), in a
// module of its own so the control plane's build key does not change.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
