from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec

from shiplane.localcluster import pki


def test_serving_cert_is_signed_by_the_ca_and_names_the_loopback(tmp_path):
    pki.make_pki(tmp_path, cluster="t")
    ca = x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes())
    server = x509.load_pem_x509_certificate((tmp_path / "apiserver.crt").read_bytes())
    server.verify_directly_issued_by(ca)  # raises if the signature or issuer is wrong
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in sans.get_values_for_type(x509.DNSName)
    assert next(str(ip) for ip in sans.get_values_for_type(x509.IPAddress)) == "127.0.0.1"
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    assert isinstance(ca.public_key(), ec.EllipticCurvePublicKey)


def test_private_material_is_owner_only(tmp_path):
    pki.make_pki(tmp_path, cluster="t")
    token = pki.make_token_file(tmp_path / "tokens.csv")
    for name in ("ca.key", "apiserver.key", "sa.key", "tokens.csv"):
        assert (tmp_path / name).stat().st_mode & 0o077 == 0, name
    line = (tmp_path / "tokens.csv").read_text().strip()
    assert line.startswith(token + ",") and line.endswith('"system:masters"')


def test_fresh_token_every_time(tmp_path):
    assert pki.make_token_file(tmp_path / "a") != pki.make_token_file(tmp_path / "b")


def test_kubeconfig_points_at_the_server_with_the_ca(tmp_path):
    cfg = pki.kubeconfig(cluster="dev", server="https://127.0.0.1:1234", ca=tmp_path / "ca.crt", token="tok")
    assert cfg["current-context"] == "shiplane-dev"
    assert cfg["clusters"][0]["cluster"] == {
        "server": "https://127.0.0.1:1234",
        "certificate-authority": str(tmp_path / "ca.crt"),
    }
    assert cfg["users"][0]["user"] == {"token": "tok"}
