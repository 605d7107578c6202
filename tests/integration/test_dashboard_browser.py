"""The dashboard in a real browser: Playwright driving Debian's chromium against `shiplane dashboard`
started as a user starts it (no secret value in its environment) over a local-cluster deploy.

Clicks overview → stage → release diff → status; scales a Deployment and sees the status page update
through server-sent events; reads the pages with JavaScript off; needs the printed token for a
rollback. With SHIPLANE_SCREENSHOTS=DIR it also saves a screenshot of each page there (docs/img).
"""

from __future__ import annotations

import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from shiplane.kube import Ref
from tests.conftest import IN_CI
from tests.integration.deploying import SECRET_VALUE
from tests.integration.test_dashboard import deployed  # noqa: F401 (the fixture: two deploys of dev, one of qa)

pytestmark = pytest.mark.integration
CHROMIUM = "/usr/bin/chromium"
SHOTS = os.environ.get("SHIPLANE_SCREENSHOTS")


def _unavailable(reason: str) -> None:
    if IN_CI:
        pytest.fail(f"browser tests cannot run in CI: {reason}", pytrace=False)
    pytest.skip(f"browser tests need it: {reason}")


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        _unavailable(f"no {CHROMIUM} (apt-get install chromium; ./dev test installs it)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[test]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=["--headless=new", "--no-sandbox"])
        yield chromium
        chromium.close()


@contextmanager
def dashboard(spec: Path, kubeconfig: Path, *args: str) -> Iterator[tuple[str, str]]:
    """`shiplane dashboard` on a free port: (its URL, its token); stopped with Ctrl-C (SIGINT)."""
    env = {k: v for k, v in os.environ.items() if k != "SHOP_API_KEY"} | {"KUBECONFIG": str(kubeconfig)}
    command = [sys.executable, "-m", "shiplane", "dashboard", "-f", str(spec), "--port", "0", *args]
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue = queue.Queue()
    threading.Thread(target=lambda: [lines.put(line) for line in proc.stdout], daemon=True).start()
    seen, finished = [], False
    try:
        deadline = time.monotonic() + 60
        while not seen or "Ctrl-C stops it" not in seen[-1]:
            assert proc.poll() is None, f"dashboard exited {proc.returncode}: {proc.stderr.read()}"
            try:
                seen.append(lines.get(timeout=max(0.1, deadline - time.monotonic())))
            except queue.Empty:
                raise AssertionError(f"dashboard printed no URL in 60 s: {seen}") from None
        out = "".join(seen)
        url = re.search(r"(http://127\.0\.0\.1:\d+/)", out).group(1)
        token = re.search(r"actions token \(rollback, unlock\): (\S+)", out)
        yield url, token.group(1) if token else ""
        finished = True
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            code = proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise AssertionError("the dashboard did not stop on Ctrl-C within 15 s") from None
        if finished:  # a failure inside the block is the one to report
            assert code == 0, proc.stderr.read()


def shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"dashboard-{name}.png"))


def scale(kube, namespace: str, replicas: int) -> None:
    kube.resource("apps/v1", "Deployment").patch(
        name="web", namespace=namespace, body={"spec": {"replicas": replicas}},
        content_type="application/merge-patch+json",
    )  # fmt: skip


def test_click_through_and_live_updates(browser, local_cluster, namespace, deployed):  # noqa: F811
    from playwright.sync_api import expect

    with dashboard(deployed, local_cluster.kubeconfig) as (url, token):
        assert token == ""  # read-only: no token, no buttons
        page = browser.new_page(viewport={"width": 1200, "height": 720})
        page.goto(url)
        dev = page.locator('td.cell[data-stage="dev"]')
        expect(dev.locator(".health")).to_have_text("healthy")
        expect(dev.locator(".revision")).to_have_text("2")
        shot(page, "overview")

        dev.get_by_role("link", name="timeline").click()
        expect(page).to_have_url(re.compile(r"/stages/dev$"))
        expect(page.locator('tr[data-revision="2"] td.outcome')).to_have_text("deployed")
        expect(page.locator('tr[data-revision="1"] td.outcome')).to_have_text("superseded")
        assert page.get_by_role("button", name=re.compile("roll back")).count() == 0
        shot(page, "timeline")

        page.locator('tr[data-revision="2"]').get_by_role("link", name="2", exact=True).click()
        expect(page.locator("h2#diff")).to_have_text("diff: revision 1 → revision 2")
        expect(page.locator(".diff")).to_contain_text(
            "spec.template.spec.containers[0].image: nginx:1.27 -> nginx:1.28"
        )
        shot(page, "release-diff")

        page.get_by_role("link", name="compare stages").click()
        page.locator('select[name="left"]').select_option("qa")
        page.locator('select[name="right"]').select_option("dev")
        page.get_by_role("button", name="compare").click()
        expect(page.locator(".diff")).to_contain_text("~ spec.replicas: 1 -> 2")
        shot(page, "compare-stages")

        page.get_by_role("link", name="DORA").click()
        expect(page.locator('section.dora[data-stage="dev"] svg')).to_have_count(3)
        shot(page, "dora")

        page.goto(url + "stages/dev/status")
        expect(page.locator("#live")).to_have_text("live")  # the event stream is open
        web = page.locator('li[data-workload="Deployment/web"]')
        expect(web.locator(".ready")).to_have_text("2/2")
        shot(page, "status")
        scale(local_cluster.kube, namespace, 3)
        expect(web.locator(".ready")).to_have_text(re.compile(r"^\d/3$"), timeout=30_000)  # pushed, not reloaded
        expect(web.locator(".ready")).to_have_text("3/3", timeout=60_000)
        expect(web.locator("li.revision.current .figures")).to_have_text("3/3")  # the ReplicaSet's row
        expect(web.locator("li.pod")).to_have_count(3)
        expect(web.locator(".drifted")).to_have_text("drifted")  # replicas changed outside a deploy
        assert int(page.locator("#live").get_attribute("data-updates")) >= 1
        assert SECRET_VALUE not in page.content()
        # The status page stays open (its event stream connected) while the dashboard is stopped below:
        # Ctrl-C must still end it promptly, with exit 0.

        # Read-only pages work without JavaScript: plain links and forms.
        context = browser.new_context(java_script_enabled=False)
        plain = context.new_page()
        plain.goto(url)
        plain.locator('td.cell[data-stage="dev"]').get_by_role("link", name="timeline").click()
        plain.locator('tr[data-revision="2"]').get_by_role("link", name="2", exact=True).click()
        plain.locator('select[name="against"]').select_option("1")
        plain.get_by_role("button", name="diff").click()
        expect(plain.locator(".diff")).to_contain_text("nginx:1.27 -> nginx:1.28")
        plain.get_by_role("link", name="dev", exact=True).first.click()
        plain.get_by_role("link", name="live status").click()
        expect(plain.locator('li[data-workload="Deployment/web"] .ready')).to_have_text("3/3")
        expect(plain.locator('li[data-workload="Deployment/web"] details')).to_have_attribute("open", "")
        expect(plain.locator('li[data-workload="Deployment/web"] li.container')).to_have_count(3)
        context.close()
        expect(page.locator("#live")).to_have_text("live")


def test_a_rollback_needs_the_printed_token(browser, local_cluster, namespace, deployed):  # noqa: F811
    from playwright.sync_api import expect

    with dashboard(deployed, local_cluster.kubeconfig, "--allow-actions") as (url, token):
        assert len(token) >= 24
        page = browser.new_page()
        page.goto(url + "stages/dev")
        assert token not in page.content()
        row = page.locator('tr[data-revision="1"]')
        row.locator('input[name="token"]').fill("not-the-token")
        row.get_by_role("button", name="roll back to 1").click()
        expect(page.locator("#error")).to_contain_text("wrong or missing token")
        page.go_back()
        row = page.locator('tr[data-revision="1"]')
        row.locator('input[name="token"]').fill(token)
        row.get_by_role("button", name="roll back to 1").click()
        expect(page.locator("#result")).to_have_text(
            "rolled back shop/dev to revision 1: revision 3, deployed", timeout=120_000
        )
        page.get_by_role("link", name="back to dev").click()
        expect(page.locator('tr[data-revision="3"] td.outcome')).to_contain_text("rollback to 1")
        page.close()
    deployment = local_cluster.kube.get(Ref("apps/v1", "Deployment", "web", namespace))
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "nginx:1.27"
