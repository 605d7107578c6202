"""One module per verb: deploy, rollback, promote, and the read-only plan/history/status/unlock.

Actions compose spec, rendering, planning, status, kube and releases; they yield
typed events and return results. Only the CLI prints.
"""
