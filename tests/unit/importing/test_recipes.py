"""VM services get an image recipe: Debian's own units of redis, memcached and nginx with the VM's
package listing → one Dockerfile each that passes shiplane's own Dockerfile lint."""

from __future__ import annotations

from pathlib import Path

from shiplane import rendering, spec
from shiplane.importing import systemd as sd
from shiplane.importing import writing
from shiplane.policy.dockerfile import lint_text
from shiplane.spec.inputs import gather

DEBIAN = Path(__file__).parents[2] / "data" / "import-cases-vm" / "debian"
UNITS = [DEBIAN / n for n in ("redis-server.service", "memcached.service", "nginx.service")]


def _import(tmp_path: Path, listing: str | None):
    imported = sd.convert(sd.load(UNITS), "cache", [u.name for u in UNITS], listing)
    return imported, writing.write(
        tmp_path, imported.spec, imported.report, imported.secret_values, recipes=imported.recipes
    )


def test_each_unit_gets_a_dockerfile_that_passes_the_lint(tmp_path: Path) -> None:
    imported, written = _import(tmp_path, (DEBIAN / "packages.txt").read_text())
    assert set(imported.recipes) == {"redis-server", "memcached", "nginx"}
    for name, text in imported.recipes.items():
        assert (tmp_path / "images" / name / "Dockerfile").read_text() == text
        findings = lint_text(text, f"images/{name}/Dockerfile").findings
        assert not findings, (name, [f.rule for f in findings])
        assert "USER 10001:10001" in text and "FROM debian:12-slim" in text
        assert imported.spec["services"][name]["build"] == {"context": f"images/{name}"}
        assert imported.spec["services"][name]["security"]["runAsUser"] == 10001
    # the lint can fail: the same recipe running as root is flagged
    as_root = imported.recipes["memcached"].replace("USER 10001:10001\n", "")
    assert lint_text(as_root, "Dockerfile").findings
    redis = imported.recipes["redis-server"]
    assert "'redis-server=5:7.0.15-1~deb12u10'" in redis
    assert "COPY etc/redis/redis.conf /etc/redis/redis.conf" in redis
    assert "RUN install -d -o 10001 -g 10001 /run/redis" in redis
    assert redis.endswith(
        'CMD ["/usr/bin/redis-server", "/etc/redis/redis.conf", "--supervised", "no", "--daemonize", "no"]\n'
    )
    nginx = imported.recipes["nginx"]
    assert "nginx=1.22.1-9+deb12u11" in nginx
    assert nginx.endswith('CMD ["/usr/sbin/nginx", "-g", "daemon off; master_process on;"]\n')
    assert imported.spec["services"]["nginx"]["command"] == ["/usr/sbin/nginx", "-g", "daemon off; master_process on;"]
    report = imported.report.to_text()
    assert "Type=forking: the process daemonizes" not in report  # the recipe runs it in the foreground
    assert "image: a VM has none" not in report
    assert "config files to copy from the VM beside the Dockerfile: /etc/memcached.conf" in report
    assert "nginx: to build from images/nginx" in report
    assert imported.spec["services"]["nginx"]["terminationGracePeriodSeconds"] == 5  # TimeoutStopSec=5
    assert "TimeoutStopSec=0: no limit in systemd" in report
    stage = spec.load([written]).stage("dev")
    rendering.render(stage, gather(stage, {}))


def test_without_a_listing_or_an_owner_the_report_says_what_to_run(tmp_path: Path) -> None:
    imported, _ = _import(tmp_path, None)
    assert imported.recipes == {}
    assert "image: a VM has none" in imported.report.to_text()
    imported, _ = _import(tmp_path / "b", "nginx: /usr/sbin/nginx\n")
    assert set(imported.recipes) == {"nginx"}
    assert "run `dpkg -S /usr/bin/redis-server` on the VM" in imported.report.to_text()
    assert "package nginx: no version in the listing" in imported.report.to_text()
