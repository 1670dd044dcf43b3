# SPDX-License-Identifier: Apache-2.0
"""Integration tests of ovsec-pki: the real binary on real files, with what
it makes cross-checked by the tools that will consume it:

- OpenSSL: "openssl verify" and "openssl x509 -text";
- strongSwan: "pki --print" and "pki --verify" (package strongswan-pki);
- Libreswan's NSS database: certutil and pk12util import and validate the
  certificates for IPsec use (package libnss3-tools), the way
  ovs-monitor-ipsec loads them for Libreswan;
- upstream Open vSwitch's ovs-pki (package openvswitch-common or
  openvswitch-pki): each tool works with a PKI made by the other.

These tests need no network namespaces and no daemons.  The binary is
$OVSEC_PKI, else pki/ovsec-pki beside $OVSEC_MONITOR's build directory,
else build-test/pki/ovsec-pki or build/pki/ovsec-pki.
"""

import json
import os
import pty
import re
import select
import shutil
import stat
import subprocess
import time

import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(
    os.path.abspath(__file__))))

# Cross-check tools and the Debian packages that provide them.
TOOLS = {
    "openssl": "openssl",
    "pki": "strongswan-pki",
    "certutil": "libnss3-tools",
    "pk12util": "libnss3-tools",
    "ovs-pki": "openvswitch-common",
}


def find_ovsec_pki():
    env = os.environ.get("OVSEC_PKI")
    if env:
        return env
    candidates = []
    monitor = os.environ.get("OVSEC_MONITOR")
    if monitor:
        candidates.append(os.path.join(os.path.dirname(os.path.dirname(
            monitor)), "pki", "ovsec-pki"))
    for d in ("build-test", "build"):
        candidates.append(os.path.join(REPO, d, "pki", "ovsec-pki"))
    for c in candidates:
        if os.access(c, os.X_OK):
            return c
    return None


@pytest.fixture(scope="module")
def binary():
    path = find_ovsec_pki()
    if path is None:
        pytest.fail("ovsec-pki binary not found: build it with meson, or "
                    "set OVSEC_PKI")
    return path


def need(tool):
    if shutil.which(tool) is None:
        pytest.fail("%s not found: install Debian package %s"
                    % (tool, TOOLS[tool]))


def run(args, cwd, check=True, input=None, timeout=60):
    """Runs 'args' in 'cwd' with no terminal; returns CompletedProcess."""
    p = subprocess.run(args, cwd=cwd, input=input, capture_output=True,
                       text=True, timeout=timeout,
                       stdin=None if input is not None else subprocess.DEVNULL)
    if check and p.returncode != 0:
        pytest.fail("%s exited %d\nstdout:\n%s\nstderr:\n%s"
                    % (" ".join(args), p.returncode, p.stdout, p.stderr))
    return p


class Pki:
    """ovsec-pki in a directory of its own: PKI in DIR/pki, log in
    DIR/log, NAME-*.pem in DIR."""

    def __init__(self, binary, directory):
        self.binary = binary
        self.cwd = str(directory)
        self.dir = os.path.join(self.cwd, "pki")
        self.log = os.path.join(self.cwd, "log")

    def __call__(self, *args, check=True, input=None):
        return run([self.binary, "-d", self.dir, "-l", self.log] + list(args),
                   self.cwd, check=check, input=input)

    def path(self, name):
        return os.path.join(self.cwd, name)

    def upstream(self, *args, check=True):
        need("ovs-pki")
        return run(["ovs-pki", "-d", self.dir, "-l", self.log + ".upstream"]
                   + list(args), self.cwd, check=check)

    def cacert(self, kind="switch"):
        return os.path.join(self.dir, kind + "ca", "cacert.pem")

    def listing(self):
        out = []
        for root, dirs, files in os.walk(self.cwd):
            for f in files:
                if os.path.join(root, f) != self.log:
                    out.append(os.path.relpath(os.path.join(root, f),
                                               self.cwd))
        return sorted(out)


@pytest.fixture
def pki(binary, tmp_path):
    return Pki(binary, tmp_path)


def x509_text(path):
    need("openssl")
    return run(["openssl", "x509", "-noout", "-text", "-in", path],
               "/").stdout


def cert_cn(path):
    out = run(["openssl", "x509", "-noout", "-subject", "-nameopt",
               "multiline", "-in", path], "/").stdout
    m = re.search(r"^\s*commonName\s*=\s*(.*)$", out, re.M)
    assert m, out
    return m.group(1).strip()


def cert_sans(path):
    out = run(["openssl", "x509", "-noout", "-ext", "subjectAltName", "-in",
               path], "/").stdout
    return re.findall(r"DNS:([^,\n]*)", out)


def openssl_verify(ca, cert):
    need("openssl")
    p = run(["openssl", "verify", "-CAfile", ca, cert], "/", check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert p.stdout.strip() == "%s: OK" % cert


def strongswan_print(cert):
    need("pki")
    p = run(["pki", "--print", "--type", "x509", "--in", cert], "/")
    return p.stdout


def strongswan_verify(ca, cert):
    need("pki")
    p = run(["pki", "--verify", "--in", cert, "--cacert", ca], "/",
            check=False)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "certificate trusted, lifetimes valid" in p.stdout


class NssDb:
    """An NSS database like Libreswan's /etc/ipsec.d, filled the way
    ovs-monitor-ipsec fills it."""

    def __init__(self, directory):
        need("certutil")
        need("pk12util")
        self.dir = "sql:" + str(directory)
        os.makedirs(str(directory), exist_ok=True)
        run(["certutil", "-N", "-d", self.dir, "--empty-password"], "/")

    def add_cert(self, nick, path, trust):
        run(["certutil", "-A", "-d", self.dir, "-n", nick, "-t", trust,
             "-a", "-i", path], "/")

    def add_key_cert(self, nick, cert, key, tmp):
        need("openssl")
        p12 = os.path.join(str(tmp), nick + ".p12")
        run(["openssl", "pkcs12", "-export", "-in", cert, "-inkey", key,
             "-name", nick, "-out", p12, "-passout", "pass:"], "/")
        run(["pk12util", "-i", p12, "-d", self.dir, "-W", ""], "/")

    def validate(self, nick, usage):
        """certutil -V: usage I (IPsec), V (TLS server), C (TLS client)."""
        p = run(["certutil", "-V", "-d", self.dir, "-n", nick, "-u", usage],
                "/", check=False)
        assert p.returncode == 0 and "certificate is valid" in p.stdout, \
            "NSS refuses %s for usage %s: %s%s" % (nick, usage, p.stdout,
                                                   p.stderr)


def mode(path):
    return stat.S_IMODE(os.lstat(path).st_mode)


# Command line.

def test_usage_and_version(pki):
    out = pki("--help").stdout
    for cmd in ("init", "req NAME", "sign NAME [TYPE]",
                "req+sign NAME [TYPE]", "verify NAME [TYPE]",
                "fingerprint FILE", "self-sign NAME", "print FILE"):
        assert "  " + cmd in out
    assert max(len(line) for line in out.splitlines()) <= 79
    assert re.match(r"ovsec-pki \(ovsec\) \d+\.\d+", pki("-V").stdout)


@pytest.mark.parametrize("args,message", [
    ([], "missing command name; use --help for help"),
    (["frob"], "frob command unknown; use --help for help"),
    (["req"], "req must have exactly one argument"),
    (["sign", "a", "b", "c"], "sign must have one or two arguments"),
    (["-k", "dsa", "req", "h"], "-k dsa: DSA keys are not supported: "
     "RFC 8247 says IKEv2 SHOULD NOT use DSA"),
    (["-k", "rsa", "-B", "1024", "req", "h"],
     "argument to -B or --bits must be at least 2048"),
    (["-k", "ec", "-B", "521", "req", "h"],
     "must be 256 (P-256) or 384 (P-384) for ec"),
    (["--days", "0", "init"], "argument to --days must be a number of days"),
    (["--frob", "init"], "unrecognized option --frob"),
    (["req", "../h"], "NAME must start with a letter or a digit"),
    (["req", "a/b"], "NAME may not contain '/'"),
    (["-u", "req", "a,b"], "NAME may not contain ','"),
    (["sign", "h", "router"], "type argument must be 'switch' or "
     "'controller'"),
])
def test_bad_command_lines(pki, args, message):
    p = pki(*args, check=False)
    assert p.returncode == 1
    assert p.stderr.startswith("ovsec-pki: "), p.stderr
    assert message in p.stderr
    assert pki.listing() == []


def test_options_after_the_command(pki):
    """As upstream (and its IPsec tutorial: "ovs-pki req -u host_1")."""
    pki("req", "-u", "host_1", "-k", "ec")
    assert cert_cn_of_req(pki.path("host_1-req.pem")) == "host_1"


def cert_cn_of_req(path):
    out = run(["openssl", "req", "-noout", "-subject", "-nameopt",
               "multiline", "-in", path], "/").stdout
    m = re.search(r"^\s*commonName\s*=\s*(.*)$", out, re.M)
    return m.group(1).strip()


# What it makes, cross-checked.

def test_init(pki):
    pki("init")
    for ca in ("switchca", "controllerca"):
        d = os.path.join(pki.dir, ca)
        for f in ("cacert.pem", "careq.pem", "ca.cnf", "index.txt",
                  "serial", "crlnumber"):
            assert os.path.isfile(os.path.join(d, f)), f
        for sub in ("certs", "crl", "newcerts"):
            assert os.path.isdir(os.path.join(d, sub))
        assert mode(os.path.join(d, "private")) == 0o700
        assert mode(os.path.join(d, "private", "cakey.pem")) == 0o600
        cacert = os.path.join(d, "cacert.pem")
        openssl_verify(cacert, cacert)
        text = x509_text(cacert)
        assert re.search(r"Basic Constraints: critical\s+CA:TRUE", text)
        assert "Certificate Sign, CRL Sign" in text
        assert "Public-Key: (3072 bit)" in text
        assert "sha256WithRSAEncryption" in text
        assert "OU = %s, CN = OVS %s CA Certificate (" % (ca, ca) in text
        assert re.search(r"flags:\s+CA CRLSign self-signed",
                         strongswan_print(cacert))

    p = pki("init", check=False)
    assert p.returncode == 1
    assert "%s already exists and --force not specified" % pki.dir \
        in p.stderr


KEY_TYPES = [
    (["-k", "rsa"], "RSA 3072 bits", "sha256WithRSAEncryption", True),
    (["-k", "ec"], "EC P-256 (256 bits)", "ecdsa-with-SHA256", True),
    (["-k", "ec", "-B", "384"], "EC P-384 (384 bits)", "ecdsa-with-SHA384",
     True),
    # NSS 3.87 (Debian 12) cannot import Ed25519 certificates at all, so
    # Libreswan there cannot use them; strongSwan and OpenSSL can.
    (["-k", "ed25519"], "Ed25519 (256 bits)", "ED25519", False),
]


@pytest.mark.parametrize("key_args,key_desc,sig,nss", KEY_TYPES,
                         ids=["rsa", "ec", "ec384", "ed25519"])
def test_req_sign_cross_checked(pki, tmp_path, key_args, key_desc, sig,
                                nss):
    pki(*(key_args + ["init"]))
    out = pki(*(key_args + ["-u", "req+sign", "host1"])).stdout
    assert out.startswith("host1-req.pem\t")
    cert = pki.path("host1-cert.pem")
    key = pki.path("host1-privkey.pem")
    assert mode(key) == 0o600
    assert mode(cert) == 0o644

    openssl_verify(pki.cacert(), cert)
    text = x509_text(cert)
    assert "Version: 3 (0x2)" in text
    assert re.search(r"Basic Constraints: critical\s+CA:FALSE", text)
    assert re.search(r"Key Usage: critical\s+Digital Signature", text)
    assert "ipsec Internet Key Exchange" in text
    assert "Signature Algorithm: " + sig in text
    assert cert_cn(cert) == "host1"
    assert cert_sans(cert) == ["host1"]
    serial = re.search(r"Serial Number:\s*\n\s*([0-9a-f:]+)", text).group(1)
    assert len(serial.replace(":", "")) * 4 >= 64

    printed = strongswan_print(cert)
    assert "altNames:  host1" in printed
    assert 'CN=host1"' in printed
    strongswan_verify(pki.cacert(), cert)

    shown = pki("print", "host1-cert.pem").stdout
    assert "  key:                 %s\n" % key_desc in shown
    assert "  subjectAltName:      DNS:host1\n" in shown

    if nss:
        db = NssDb(tmp_path / "nss")
        db.add_cert("ca", pki.cacert(), "CT,,")
        db.add_key_cert("host1", cert, key, tmp_path)
        for usage in ("I", "V", "C"):
            db.validate("host1", usage)

    # The controller CA did not sign it.
    p = pki("verify", "host1", "controller", check=False)
    assert p.returncode == 1
    assert "verification failed against the controller CA" in p.stderr
    assert pki("verify", "host1").stdout == "host1-cert.pem: OK\n"


def test_self_signed_tutorial(pki, tmp_path):
    """The IPsec tutorial's self-signed setup, without -u: upstream's
    self-sign puts NAME in the subjectAltName but "NAME id:UUID" in the
    CN; here they are equal, and every consumer accepts the result."""
    pki("req", "host_1")
    pki("self-sign", "host_1")
    cert = pki.path("host_1-cert.pem")
    cn = cert_cn(cert)
    assert re.fullmatch(r"host_1 id:[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-"
                        r"[89ab][0-9a-f]{3}-[0-9a-f]{12}", cn)
    assert cert_sans(cert) == [cn]
    openssl_verify(cert, cert)
    assert re.search(r"Basic Constraints: critical\s+CA:FALSE",
                     x509_text(cert))
    strongswan_verify(cert, cert)

    # Libreswan: the peer's certificate is imported as a trusted peer.
    db = NssDb(tmp_path / "nss")
    db.add_cert("peer", cert, "P,,")
    for usage in ("I", "V", "C"):
        db.validate("peer", usage)


def test_upstream_self_sign_mismatch(pki):
    """What the fix above is about: upstream's own result."""
    pki.upstream("req", "host_1")
    pki.upstream("self-sign", "host_1")
    cert = pki.path("host_1-cert.pem")
    assert cert_cn(cert).startswith("host_1 id:")
    assert cert_sans(cert) == ["host_1"]


# Working with upstream's ovs-pki.

def test_upstream_pki_signed_by_ovsec(pki):
    """A PKI made by upstream's ovs-pki init: ovsec-pki signs requests of
    both tools with it, and upstream verifies the result."""
    pki.upstream("init")
    pki("-k", "ec", "-u", "req", "mine")
    pki("-b", "sign", "mine")
    pki.upstream("req", "theirs")           # CN "theirs id:UUID".
    pki("-b", "sign", "theirs", "switch")
    for name in ("mine", "theirs"):
        cert = pki.path(name + "-cert.pem")
        openssl_verify(pki.cacert(), cert)
        assert pki.upstream("verify", name).stdout.strip() == \
            "%s-cert.pem: OK" % name
        assert cert_sans(cert) == [cert_cn(cert)]
        strongswan_verify(pki.cacert(), cert)
    assert cert_cn(pki.path("theirs-cert.pem")).startswith("theirs id:")

    # ovsec-pki init does not touch an existing PKI.
    p = pki("init", check=False)
    assert p.returncode == 1


def test_ovsec_pki_signed_by_upstream(pki):
    """A PKI made by ovsec-pki init works with upstream's ovs-pki: its
    "openssl ca" configuration and database are complete."""
    pki("-k", "ec", "init")
    pki("-u", "req+sign", "first")              # Recorded in index.txt.
    pki.upstream("-u", "req", "host2")
    pki.upstream("-b", "sign", "host2")
    cert = pki.path("host2-cert.pem")
    openssl_verify(pki.cacert(), cert)
    assert pki("verify", "host2").stdout == "host2-cert.pem: OK\n"
    assert pki.upstream("verify", "first").stdout.strip() == \
        "first-cert.pem: OK"
    text = x509_text(cert)
    assert "ipsec Internet Key Exchange" in text
    assert cert_sans(cert) == ["host2"]
    with open(os.path.join(pki.dir, "switchca", "index.txt")) as f:
        index = f.read().splitlines()
    assert len(index) == 3      # The CA, "first" and "host2".
    assert all(line.startswith("V\t") for line in index)


def test_fingerprints_match_upstream(pki):
    """Operators compare the fingerprint "req" printed on one host with
    the one "sign" prints on the CA: both tools print the same."""
    pki("-k", "ec", "init")
    pki("-k", "ec", "-u", "req+sign", "h")
    for f in ("h-req.pem", "h-cert.pem"):
        ours = pki("fingerprint", f).stdout.splitlines()
        theirs = pki.upstream("fingerprint", f).stdout.splitlines()
        assert ours[:2] == theirs[:2]
        assert re.fullmatch(r"\tsha256 ([0-9a-f]{64}|[0-9A-F]{64})", ours[2])


# sign's question.

def run_on_terminal(args, cwd, answer, timeout=30):
    """Runs 'args' with a pseudo-terminal as stdin and stdout; writes
    'answer' after the question.  Returns (status, output, stderr)."""
    master, slave = pty.openpty()
    p = subprocess.Popen(args, cwd=cwd, stdin=slave, stdout=slave,
                         stderr=subprocess.PIPE, text=False)
    os.close(slave)
    output = b""
    deadline = time.monotonic() + timeout
    answered = False
    try:
        while time.monotonic() < deadline:
            r, _, _ = select.select([master], [], [], 0.1)
            if r:
                try:
                    data = os.read(master, 4096)
                except OSError:
                    break
                if not data:
                    break
                output += data
            if not answered and b"(yes/no)" in output:
                os.write(master, answer.encode() + b"\n")
                answered = True
            if p.poll() is not None and not r:
                break
        status = p.wait(timeout=max(1, deadline - time.monotonic()))
    finally:
        os.close(master)
        if p.poll() is None:
            p.kill()
    return status, output.decode(errors="replace"), p.stderr.read().decode()


def test_sign_asks(pki):
    pki("-k", "ec", "init")
    pki("-k", "ec", "-u", "req", "h")
    req_fp = pki("fingerprint", "h-req.pem").stdout.splitlines()[1]
    args = [pki.binary, "-d", pki.dir, "-l", pki.log, "sign", "h"]

    status, out, err = run_on_terminal(args, pki.cwd, "no")
    assert status == 1
    assert req_fp in out
    assert "Does fingerprint match? (yes/no)" in out
    assert "Match failure, aborting" in err
    assert not os.path.exists(pki.path("h-cert.pem"))

    status, out, err = run_on_terminal(args, pki.cwd, "yes")
    assert status == 0, err
    openssl_verify(pki.cacert(), pki.path("h-cert.pem"))


def test_sign_without_terminal_refuses(pki):
    pki("-k", "ec", "init")
    pki("-k", "ec", "-u", "req", "h")
    start = time.monotonic()
    p = pki("sign", "h", check=False)           # stdin is /dev/null.
    assert time.monotonic() - start < 10
    assert p.returncode == 1
    assert "\tfingerprint " in p.stdout
    assert ("not signing h-req.pem: standard input is not a terminal"
            in p.stderr)
    assert "-b (--batch)" in p.stderr
    assert not os.path.exists(pki.path("h-cert.pem"))
    # A pipe is not a terminal either, even one that says yes.
    p = pki("sign", "h", check=False, input="yes\n")
    assert p.returncode == 1
    assert not os.path.exists(pki.path("h-cert.pem"))


# Files and bad input.

def test_no_overwrite_without_force(pki):
    pki("-k", "ec", "-u", "req", "h")
    with open(pki.path("h-privkey.pem")) as f:
        key = f.read()
    p = pki("-k", "ec", "-u", "req", "h", check=False)
    assert p.returncode == 1
    assert "h-privkey.pem already exists and --force not supplied" \
        in p.stderr
    with open(pki.path("h-privkey.pem")) as f:
        assert f.read() == key
    pki("-k", "ec", "-u", "-f", "req", "h")
    with open(pki.path("h-privkey.pem")) as f:
        assert f.read() != key
    assert mode(pki.path("h-privkey.pem")) == 0o600


def test_private_key_mode_ignores_umask(binary, tmp_path):
    pki = Pki(binary, tmp_path)
    p = subprocess.run(["sh", "-c", 'umask 0 && exec "$@"', "sh",
                        binary, "-d", pki.dir, "-l", pki.log, "-k", "ec",
                        "init"], cwd=pki.cwd, capture_output=True)
    assert p.returncode == 0, p.stderr
    subprocess.run(["sh", "-c", 'umask 0 && exec "$@"', "sh", binary,
                    "-k", "ec", "-l", pki.log, "-u", "req", "h"],
                   cwd=pki.cwd, check=True, capture_output=True)
    assert mode(pki.path("h-privkey.pem")) == 0o600
    assert mode(os.path.join(pki.dir, "switchca", "private",
                             "cakey.pem")) == 0o600
    assert mode(pki.log) == 0o640


def test_bad_input_writes_nothing(pki):
    pki("-k", "ec", "-u", "req", "h")
    before = pki.listing()

    p = pki("-b", "sign", "h", check=False)
    assert p.returncode == 1
    assert ("%s does not exist (need to run 'init' or use '--dir'?)"
            % pki.dir) in p.stderr

    pki("-k", "ec", "init")
    before = pki.listing()
    with open(pki.path("bad-req.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n"
                "-----END CERTIFICATE REQUEST-----\n")
    before = pki.listing()
    cases = [
        (["-b", "sign", "bad"], "bad-req.pem: no valid PEM certificate "
         "request"),
        (["-b", "sign", "none"], "none-req.pem: No such file or directory"),
        (["self-sign", "none"], "none-req.pem: No such file or directory"),
        (["verify", "none"], "none-cert.pem: No such file or directory"),
        (["print", "none.pem"], "none.pem: No such file or directory"),
        (["-d", "/nonexistent", "-b", "sign", "h"],
         "/nonexistent does not exist"),
    ]
    for args, message in cases:
        p = pki(*args, check=False)
        assert p.returncode == 1, args
        assert message in p.stderr, (args, p.stderr)
        assert pki.listing() == before, args


def test_tampered_request_refused(pki):
    pki("-k", "ec", "init")
    pki("-k", "rsa", "-u", "req", "h")
    need("openssl")
    # Change the CN from "h" to "x" in the DER, leaving the signature.
    der_bytes = subprocess.run(["openssl", "req", "-in", "h-req.pem",
                                "-outform", "DER"], cwd=pki.cwd,
                               capture_output=True, check=True).stdout
    i = der_bytes.find(b"\x0c\x01h")        # UTF8String "h".
    assert i > 0
    tampered = der_bytes[:i] + b"\x0c\x01x" + der_bytes[i + 3:]
    pem = subprocess.run(["openssl", "req", "-inform", "DER"],
                         input=tampered, capture_output=True,
                         check=True).stdout
    with open(pki.path("h-req.pem"), "wb") as f:
        f.write(pem)
    p = pki("-b", "sign", "h", check=False)
    assert p.returncode == 1
    assert "h-req.pem: signature does not verify" in p.stderr
    assert not os.path.exists(pki.path("h-cert.pem"))


def test_print(pki):
    pki("-k", "ec", "init")
    pki("-k", "ec", "-u", "--days", "30", "req+sign", "h")
    out = pki("print", "h-cert.pem").stdout
    for field in ("subject:", "subjectAltName:      DNS:h", "issuer:",
                  "validity:", "status:              valid, expires in 30 "
                  "days", "key:                 EC P-256 (256 bits)",
                  "SHA-256 fingerprint:", "SHA-1 fingerprint:"):
        assert field in out, out
    out = pki("print", "h-privkey.pem").stdout
    assert out == "h-privkey.pem: private key\n" \
        "  key:                 EC P-256 (256 bits)\n"


def test_log(pki):
    pki("-k", "ec", "init")
    pki("-k", "ec", "-u", "req+sign", "h")
    with open(pki.log) as f:
        log = f.read()
    assert re.search(r"Z init: created .*/switchca: CN \"OVS switchca CA "
                     r"Certificate \(", log)
    assert "req+sign: wrote h-privkey.pem and h-req.pem for CN \"h\"" in log
    assert "PRIVATE KEY" not in log


# The IPsec tutorial end to end: ovsec-monitor and charon on two hosts
# authenticate an IKE SA with what ovsec-pki made.  The lab and its
# helpers are those of test_monitor_ike.py.

import test_monitor_ike as ike  # noqa: E402

two_hosts = ike.two_hosts


def host_pki(binary, host):
    """ovsec-pki working in HOSTDIR/keys, with the PKI in HOSTDIR/pki."""
    d = host.path("keys")
    os.makedirs(d, mode=0o700, exist_ok=True)
    return Pki(binary, d)


def self_signed_pair(binary, hosts, unique, tool="ovsec"):
    """Each host makes a key and a self-signed certificate for its own
    name, with ovsec-pki or upstream's ovs-pki.  Returns {host name:
    (cert, key, CN)}."""
    made = {}
    for h in hosts:
        p = host_pki(binary, h)
        run_tool = p if tool == "ovsec" else p.upstream
        args = ["-u"] if unique else []
        run_tool("req", *(args + [h.name]))
        run_tool("self-sign", h.name)
        cert = p.path(h.name + "-cert.pem")
        made[h.name] = (cert, p.path(h.name + "-privkey.pem"),
                        cert_cn(cert))
    return made


def test_ike_self_signed(binary, two_hosts):
    """Tutorial setup (b), as written: "ovs-pki req -u host_1" and
    "ovs-pki self-sign host_1" on each host, certificates swapped."""
    left, right = two_hosts()
    made = self_signed_pair(binary, (left, right), unique=True)
    for h, peer in ((left, right), (right, left)):
        ike.set_global(h, certificate=made[h.name][0],
                       private_key=made[h.name][1])
        peer_copy = ike.copy_file(made[peer.name][0],
                                  h.path("keys", peer.name + "-peer.pem"))
        ike.add_tunnel(h, "gen", "geneve", peer.ipv4, remote_cert=peer_copy)
    ike.wait_up([left, right], "gen")
    ike.wait_states([left, right], "gen", "CONFIGURED")
    for h, peer in ((left, right), (right, left)):
        j = ike.show_json(h)["gen"]
        assert j["local_name"] == h.name
        assert j["remote_name"] == peer.name


def test_ike_self_signed_without_unique(binary, two_hosts):
    """Tutorial setup (b) without -u: the CN is "NAME id:UUID".  See
    test_charon_self_signed_without_unique for charon alone."""
    left, right = two_hosts()
    made = self_signed_pair(binary, (left, right), unique=False)
    for h, peer in ((left, right), (right, left)):
        ike.set_global(h, certificate=made[h.name][0],
                       private_key=made[h.name][1])
        peer_copy = ike.copy_file(made[peer.name][0],
                                  h.path("keys", peer.name + "-peer.pem"))
        ike.add_tunnel(h, "gen", "geneve", peer.ipv4, remote_cert=peer_copy)
    ike.wait_up([left, right], "gen")


def load_swanctl_conn(host, cert, key, peer_ip, peer_cert, local_id,
                      remote_id):
    """Loads connection "t" into 'host''s charon with swanctl: public key
    authentication with 'cert' and 'key', the peer pinned to
    'peer_cert'."""
    d = host.path("swanctl")
    os.makedirs(os.path.join(d, "private"), mode=0o700, exist_ok=True)
    shutil.copy(key, os.path.join(d, "private", "key.pem"))
    conf = os.path.join(d, "swanctl.conf")
    with open(conf, "w") as f:
        f.write("connections {\n t {\n  local_addrs = %s\n"
                "  remote_addrs = %s\n"
                "  local {\n   auth = pubkey\n   certs = %s\n   id = %s\n"
                "  }\n"
                "  remote {\n   auth = pubkey\n   certs = %s\n   id = %s\n"
                "  }\n"
                "  children {\n   c {\n    mode = transport\n   }\n  }\n"
                " }\n}\n"
                % (host.ipv4, peer_ip, cert, json.dumps(local_id),
                   peer_cert, json.dumps(remote_id)))
    host.swanctl("--load-all", "--file", conf)


@pytest.mark.parametrize("tool,works", [("ovsec", True),
                                        ("upstream", False)])
def test_charon_self_signed_without_unique(binary, left, right, charon,
                                           tool, works):
    """charon alone, each side identified by its CN "NAME id:UUID" (as an
    FQDN): ovsec-pki's self-signed certificates carry the CN in their
    subjectAltName and authenticate; upstream's carry only NAME there and
    charon finds no trusted key for the CN."""
    for h in (left, right):
        charon(h)
    made = self_signed_pair(binary, (left, right), unique=False, tool=tool)
    for h, peer in ((left, right), (right, left)):
        load_swanctl_conn(h, made[h.name][0], made[h.name][1], peer.ipv4,
                          made[peer.name][0], "fqdn:" + made[h.name][2],
                          "fqdn:" + made[peer.name][2])
    left.swanctl("--initiate", "--ike", "t", check=False)
    sas = left.swanctl("--list-sas")
    if works:
        assert "t: #1, ESTABLISHED" in sas, sas
        assert "remote '%s' @ %s" % (made["right"][2], right.ipv4) in sas
    else:
        assert "ESTABLISHED" not in sas, sas


def test_ike_ca_signed(binary, two_hosts):
    """Tutorial setup (c): left hosts the PKI and signs both requests;
    right's request and certificate travel by copy."""
    left, right = two_hosts()
    ca_pki = host_pki(binary, left)
    ca_pki("init")
    ca_pki("req", "-u", left.name)
    right_pki = host_pki(binary, right)
    right_pki("req", "-u", right.name)
    ike.copy_file(right_pki.path(right.name + "-req.pem"),
                  ca_pki.path(right.name + "-req.pem"))
    for name in (left.name, right.name):
        ca_pki("-b", "sign", name, "switch")
    ike.copy_file(ca_pki.path(right.name + "-cert.pem"),
                  right_pki.path(right.name + "-cert.pem"))
    for h, p in ((left, ca_pki), (right, right_pki)):
        cacert = ike.copy_file(ca_pki.cacert(), h.path("keys", "cacert.pem"))
        ike.set_global(h, certificate=p.path(h.name + "-cert.pem"),
                       private_key=p.path(h.name + "-privkey.pem"),
                       ca_cert=cacert)
    for h, peer in ((left, right), (right, left)):
        ike.add_tunnel(h, "gen", "geneve", peer.ipv4, remote_name=peer.name)
    ike.wait_up([left, right], "gen")
    ike.wait_states([left, right], "gen", "CONFIGURED")
    for h, peer in ((left, right), (right, left)):
        assert ike.show_json(h)["gen"]["remote_name"] == peer.name
