// nodeenv builds the kubelet (and kube-proxy) for shiplane's opt-in real node,
// from the same k8s.io/kubernetes module graph as k8senv (its go.mod/go.sum are a
// copy), in a module of its own so the control plane's build key does not change.
// `nodeenv kube-proxy [flags]` runs kube-proxy; anything else runs the kubelet.
package main

import (
	"context"
	"os"

	"k8s.io/component-base/cli"
	_ "k8s.io/component-base/logs/json/register"
	_ "k8s.io/component-base/metrics/prometheus/clientgo"
	_ "k8s.io/component-base/metrics/prometheus/version"
	proxy "k8s.io/kubernetes/cmd/kube-proxy/app"
	"k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "kube-proxy" {
		c := proxy.NewProxyCommand()
		c.SetArgs(os.Args[2:])
		os.Exit(cli.Run(c))
	}
	os.Exit(cli.Run(app.NewKubeletCommand(context.Background())))
}
