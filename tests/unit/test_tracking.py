"""Watch expiry: a 410 Gone makes the informer list again and resume from the new version.

The real API server only answers 410 after etcd compaction, which a test cannot wait
for; this fake stands at the client seam and plays exactly that sequence.
"""

import queue

from kubernetes.client.exceptions import ApiException

from shiplane.kube.tracking import Informer, Seen


class Listing:
    def __init__(self, version, names):
        self.data = {"metadata": {"resourceVersion": version}, "items": [{"metadata": {"name": n}} for n in names]}

    def to_dict(self):
        return self.data


class FakeKube:
    def __init__(self):
        self.lists = [Listing("1", ["a"]), Listing("5", ["a", "b"])]
        self.watched_from = []
        self.informer = None

    def resource(self, api_version, kind):
        kube = self

        class Res:
            def get(self, namespace=None, label_selector=None):
                return kube.lists.pop(0)

        return Res()

    def watch(self, res, watcher, **kw):
        self.watched_from.append(kw["resource_version"])
        if len(self.watched_from) == 1:
            raise ApiException(status=410, reason="Gone: too old resource version")
        yield "MODIFIED", {"metadata": {"name": "b"}, "status": {"x": 1}}
        self.informer.stop()
        yield "DELETED", {"metadata": {"name": "a"}}


def test_410_relists_and_resumes_from_the_fresh_version():
    kube, out = FakeKube(), queue.Queue()
    informer = Informer(kube, "v1", "ConfigMap", "ns", out)
    kube.informer = informer
    informer.start().thread.join(timeout=5)
    seen = []
    while not out.empty():
        seen.append(out.get())
    assert kube.watched_from == ["1", "5"]  # watched again from the relisted version
    assert [(s.name, s.obj is not None) for s in seen if isinstance(s, Seen)] == [
        ("a", True),
        ("a", True),
        ("b", True),
        ("b", True),
    ]
    assert not any(isinstance(s, Exception) for s in seen)  # a 410 is not reported as an error


def test_a_stream_cut_short_is_skipped_not_crashed_on():
    from shiplane.kube import Kube

    class Watcher:
        def stream(self, func, **kw):
            assert kw["serialize"] is False and kw["resource_version"] == "7"
            yield None  # what the client yields for a partial line when a stream is cut
            yield {"type": "ADDED", "raw_object": {"metadata": {"name": "a"}}}

    class Res:
        get = None

    got = list(Kube(None).watch(Res(), Watcher(), namespace="ns", resource_version="7", timeout=5))
    assert got == [("ADDED", {"metadata": {"name": "a"}})]
