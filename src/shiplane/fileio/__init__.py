"""Every read of a user's file and every write into an output directory goes through here.

`reading` (regular files only, size caps, UTF-8 with a located error, stdin), `yamlload`
(PyYAML's C loader with an alias budget, a depth limit and a size limit) and `writing`
(no symlink following, nothing outside the output directory, nothing over a file shiplane
did not write unless forced; atomic replaces). At the bottom of the import layers, so
spec, policy, importing, kube and cli all use the same rules. See docs/input-safety.md.
"""
