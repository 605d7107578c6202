"""The release lifecycle's decisions (releases/history.py), and actions executing them on a MemoryStore."""

import pytest

from shiplane import planning
from shiplane.actions.rollback import Rollback
from shiplane.actions.runner import Options, open_history, settle, start_release
from shiplane.actions.target import Target
from shiplane.errors import InputError
from shiplane.events import result
from shiplane.releases import MemoryStore, MigrationRun, Outcome, Release, history

D, S, F, INT, P, RB = (
    Outcome.DEPLOYED,
    Outcome.SUPERSEDED,
    Outcome.FAILED,
    Outcome.INTERRUPTED,
    Outcome.PENDING,
    Outcome.ROLLED_BACK,
)


def rel(revision, outcome, **fields):
    return Release("shop", "dev", revision, float(revision), outcome=outcome, **fields)


def hist(*outcomes):
    return [rel(i + 1, o) for i, o in enumerate(outcomes)]


@pytest.mark.parametrize(
    ("outcomes", "good"),
    [
        ((), None),
        ((F,), None),
        ((S, D), 2),
        ((S, D, F), 2),  # a failed deploy left without rollback: the last good one still counts
        ((S, RB, D), 3),  # the rollback release is what runs
        ((S, S), 2),  # a run that died between superseding and recording: still the newest good one
        ((D, INT, P), 1),
    ],
)
def test_one_definition_of_the_last_good_release(outcomes, good):
    found = history.last_good(hist(*outcomes))
    assert (found.revision if found else None) == good


def test_interrupted_runs_are_closed_except_our_own():
    h = [rel(1, D), rel(2, P, holder="dead run"), rel(3, P, holder="me")]
    writes = history.close_interrupted(h, "me")
    assert [(r.revision, r.outcome) for r in writes.put] == [(2, INT)]
    assert "without finishing" in writes.put[0].message
    assert [r.outcome for r in history.updated(h, writes)] == [D, INT, P]


def test_effective_outcome_of_a_pending_record():
    pending = rel(4, P, holder="alice")
    assert history.effective_outcome(pending, "alice", False) is P
    assert history.effective_outcome(pending, "alice", True) is INT  # the lease expired
    assert history.effective_outcome(pending, "bob", False) is INT
    assert history.effective_outcome(pending, None, True) is INT
    assert history.effective_outcome(rel(4, F), None, True) is F


def test_retention_keeps_the_newest_and_the_last_good_one():
    h = hist(D, F, F, F, F)
    assert history.retention(h, 2).delete == (2, 3)  # revision 1 is what a failure returns to
    assert history.retention(hist(S, S, D), 1).delete == (1, 2)
    assert history.retention(h, 0).delete == ()


def test_settle_supersedes_marks_rolled_back_failures_and_applies_retention():
    h = hist(S, D, F, F)
    done = rel(5, D, rollback_of=2)
    writes = history.settle(h, done, keep=4)
    after = history.updated(h, writes)
    assert [(r.revision, r.outcome) for r in after] == [(2, S), (3, RB), (4, RB), (5, D)]
    # a plain deploy marks no failure rolled back
    plain = history.updated(h, history.settle(h, rel(5, D), keep=20))
    assert [r.outcome for r in plain] == [S, S, F, F, D]


def test_rollback_target_and_its_errors():
    assert history.rollback_target(hist(S, S, D)).revision == 2
    assert history.rollback_target(hist(S, D, F)).revision == 2  # the newest failed: restore the good one
    assert history.rollback_target(hist(S, S, D), 1).revision == 1
    with pytest.raises(InputError, match="no revision 9 in the history \\(revisions: 1, 2\\)"):
        history.rollback_target(hist(S, D), 9)
    with pytest.raises(InputError, match="revision 2 did not deploy successfully \\(failed\\)"):
        history.rollback_target(hist(D, F), 2)
    with pytest.raises(InputError, match="nothing to roll back to"):
        history.rollback_target(hist(D))
    # Rollback(...).choose is the same decision
    assert Rollback(None, revision=1).choose(hist(S, S, D)).revision == 1


def test_rollback_across_a_contract_migration_is_unsafe_but_expand_is_not():
    contract = MigrationRun("db", "db-migrate-2", "contract", "succeeded")
    expand = MigrationRun("db", "db-migrate-3", "expand", "succeeded")
    failed = MigrationRun("db", "db-migrate-4", "irreversible", "failed")
    h = [rel(1, S), rel(2, S, migrations=[contract]), rel(3, S, migrations=[expand]), rel(4, D, migrations=[failed])]
    assert history.unsafe_migrations(h, after=1) == [contract]
    assert history.unsafe_migrations(h, after=2) == []


def test_the_applied_baseline_excludes_what_later_runs_may_have_changed():
    web1 = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns"}, "x": 1}
    web2 = {**web1, "x": 2}
    cfg = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg", "namespace": "ns"}}
    h = [rel(1, D, objects=[web1, cfg], managed={"apps/Deployment/ns/web": "h1"}), rel(2, F, objects=[web2, cfg])]
    base = history.applied(h)
    assert set(base.objects) == {"apps/Deployment/ns/web", "/ConfigMap/ns/cfg"}
    assert base.managed == {"apps/Deployment/ns/web": "h1"}
    assert base.unsettled == {"apps/Deployment/ns/web"}  # the failed run may have applied web2
    assert history.applied([]) == history.Applied({}, {})


def test_actions_execute_the_decisions_on_an_injected_store():
    store = MemoryStore()
    target = Target(None, "shop", "dev", "ns", stores=lambda _t: store)
    assert target.store() is store
    for r in [rel(1, D), rel(2, P, holder="dead run")]:
        store.put(r)
    h = open_history(target.store(), "me")
    assert [r.outcome for r in store.list()] == [D, INT]
    release = start_release(store, h, target, holder="me")
    assert release.revision == 3 and store.list()[-1].outcome is P
    plan = planning.make([], {}, history=h)
    done = result(settle(target, store, h, release, plan, Options(retention=20)))
    assert done.outcome is D
    assert [(r.revision, r.outcome) for r in store.list()] == [(1, S), (2, INT), (3, D)]
