"""The comparison that decides what an incremental deploy sends and what `plan` dry-runs."""

import copy

from shiplane.kube import Ref
from shiplane.planning.compare import Verdict, compare, compare_one, managed_digest
from shiplane.releases import Outcome, Release, history
from shiplane.releases.record import key_of, strip_secret, with_digest


def deployment(image="web:1"):
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web", "namespace": "ns"},
        "spec": {"template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
    }


KEY = b"k" * 32  # the stage's digest key


def secret(name, value):
    """A Secret as a deploy sends it: carrying the keyed digest of its values."""
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "namespace": "ns"}, "data": {"k": value}}
    return with_digest(plain, KEY)


SHIPLANE_FIELDS = {"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {"f:image": {}}}}}}}


def live_of(obj, *entries):
    """The object as the server holds it: server noise plus the given managedFields entries."""
    out = copy.deepcopy(obj)
    out["metadata"] |= {"resourceVersion": "42", "uid": "u-1", "managedFields": list(entries)}
    out["status"] = {"replicas": 2}
    return out


def entry(manager="shiplane", fields=SHIPLANE_FIELDS, operation="Apply", **more):
    return {"manager": manager, "operation": operation, "apiVersion": "apps/v1", "fieldsV1": fields, "time": "t"} | more


def deployed(*objects, managed):
    """A history whose last good release applied `objects`, recording shiplane's fields."""
    return [
        Release(
            "shop",
            "dev",
            1,
            0.0,
            Outcome.DEPLOYED,
            objects=[strip_secret(o) for o in objects],
            managed={key_of(o): managed_digest(m) for o, m in zip(objects, managed, strict=True)},
        )
    ]


def test_equal_to_what_was_applied_and_fields_intact_is_not_sent():
    web = deployment()
    live = live_of(web, entry(), entry("kube-controller-manager", {"f:metadata": {}}, "Update"))
    base = history.applied(deployed(web, managed=[live]))
    # a status update or another manager's own field does not count: only shiplane's entry does
    later = live_of(web, entry(time="later"), entry("kube-controller-manager", {"f:x": {}}, "Update"))
    result = compare_one(web, base, later)
    assert result.verdict is Verdict.UNCHANGED and not result.send


def test_a_changed_image_is_sent():
    web = deployment()
    live = live_of(web, entry())
    base = history.applied(deployed(web, managed=[live]))
    result = compare_one(deployment("web:2"), base, live)
    assert result.verdict is Verdict.CHANGED and result.send
    assert "differs from what the last successful release applied" in result.reason


def test_drifted_managed_fields_are_sent_again():
    """Someone edited a field shiplane set (kubectl edit): the write moved its ownership."""
    web = deployment()
    base = history.applied(deployed(web, managed=[live_of(web, entry())]))
    edited = live_of(
        deployment("web:hotfix"),
        entry(fields={"f:spec": {"f:template": {"f:spec": {"f:containers": {'k:{"name":"web"}': {}}}}}}),
        entry("kubectl-edit", SHIPLANE_FIELDS, "Update"),
    )
    result = compare_one(web, base, edited)
    assert result.verdict is Verdict.DRIFTED and "kubectl-edit" in result.reason


def test_fields_taken_over_by_another_manager_are_sent_again():
    """Another applier forced ownership: shiplane's entry lost the field (or is gone)."""
    web = deployment()
    base = history.applied(deployed(web, managed=[live_of(web, entry())]))
    taken = live_of(web, entry("hpa-tuner", SHIPLANE_FIELDS))
    result = compare_one(web, base, taken)
    assert result.verdict is Verdict.DRIFTED and "hpa-tuner" in result.reason


def test_a_secret_whose_hash_name_changed_is_new_and_its_user_changed():
    old, new = secret("api-key-aaaa", "b2xk"), secret("api-key-bbbb", "bmV3")
    web_old, web_new = deployment(), deployment()
    web_new["spec"]["template"]["spec"]["containers"][0]["env"] = [{"name": "K", "secretKeyRef": "api-key-bbbb"}]
    live_old, live_web = live_of(old, entry()), live_of(web_old, entry())
    base = history.applied(deployed(old, web_old, managed=[live_old, live_web]))
    verdicts = compare([new, web_new], base, {Ref.of(old): live_old, Ref.of(web_old): live_web})
    assert verdicts[Ref.of(new)].verdict is Verdict.NEW
    assert verdicts[Ref.of(web_new)].verdict is Verdict.CHANGED
    # the old one unchanged, had it stayed desired; its values never reach the record
    assert compare_one(old, base, live_old).verdict is Verdict.UNCHANGED
    assert "b2xk" not in str(base.objects)


def test_a_secret_value_change_under_the_same_name_is_a_change():
    s1, s2 = secret("plain", "b2xk"), secret("plain", "bmV3")
    live = live_of(s1, entry())
    base = history.applied(deployed(s1, managed=[live]))
    assert compare_one(s2, base, live).verdict is Verdict.CHANGED


def test_a_secret_without_a_keyed_digest_is_always_sent():
    # Its values cannot be compared (a caller rendered it without the stage's key): sending is safe.
    plain = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "plain", "namespace": "ns"}}
    plain["data"] = {"k": "b2xk"}
    live = live_of(plain, entry())
    base = history.applied(deployed(plain, managed=[live]))
    assert compare_one(plain, base, live).verdict is Verdict.CHANGED


def test_missing_live_unknown_fields_or_an_unfinished_later_run_mean_send():
    web = deployment()
    live = live_of(web, entry())
    h = deployed(web, managed=[live])
    base = history.applied(h)
    assert compare_one(web, base, None).verdict is Verdict.NEW  # deleted by someone
    no_record = history.applied([h[0].with_(managed={})])  # recorded by an older shiplane
    assert compare_one(web, no_record, live).verdict is Verdict.CHANGED
    failed = Release("shop", "dev", 2, 1.0, Outcome.FAILED, objects=[deployment("web:2")])
    # revision 2 failed and may have applied web:2: going back to web:1 must send it
    result = compare_one(web, history.applied([*h, failed]), live)
    assert result.verdict is Verdict.CHANGED and "did not succeed" in result.reason
    assert compare_one(web, history.applied([]), live).verdict is Verdict.CHANGED


def test_managed_digest_ignores_time_and_other_managers():
    web = deployment()
    a = live_of(web, entry(time="1"), entry("other", {"f:a": {}}, "Update"))
    b = live_of(web, entry(time="2"))
    assert managed_digest(a) == managed_digest(b)
    assert managed_digest(live_of(web, entry(subresource="status"))) is None
    assert managed_digest(live_of(web, entry(fields={"f:spec": {}}))) != managed_digest(b)
