"""The local control plane: real etcd, kube-apiserver, kube-controller-manager and
kube-scheduler built from the official Go modules, with kwok as the kubelet."""
