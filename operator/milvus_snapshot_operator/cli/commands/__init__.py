"""One module per command; each exposes run(args, kube, out) -> exit code."""
