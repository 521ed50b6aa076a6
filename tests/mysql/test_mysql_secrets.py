"""The schema connection's secrets and TLS: the password from a file of mode
0600 or from the environment (never from argv), TLS modes against a harness
MariaDB with a CA and server certificate generated here with the openssl CLI,
and clear errors for a loose password file and a wrong CA."""

import os
import subprocess
import sys

from mysql_testlib import check, done, logcat, wh


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def make_pki(d):
    """A CA, a server certificate it signs (for 127.0.0.1 and localhost), and an
    unrelated second CA. Returns a dict of file paths."""
    with open(os.path.join(d, "san.cnf"), "w") as f:
        f.write("subjectAltName = IP:127.0.0.1, DNS:localhost\n")
    for ca in ("ca", "wrongca"):
        openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=wormhole test %s" % ca, "-keyout", ca + ".key", "-out", ca + ".pem",
                cwd=d)
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr", cwd=d)
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-extfile", "san.cnf", "-out", "server.pem", cwd=d)
    for f in os.listdir(d):
        os.chmod(os.path.join(d, f), 0o644)
    return {k: os.path.join(d, v) for k, v in
            (("ca", "ca.pem"), ("wrongca", "wrongca.pem"), ("cert", "server.pem"),
             ("key", "server.key"))}


def main():
    with wh.Stack() as st:
        pki = make_pki(st.scratch_dir("pki"))
        db = st.mariadb(options={"ssl_ca": pki["ca"], "ssl_cert": pki["cert"],
                                 "ssl_key": pki["key"]})
        have = db.sql("SHOW GLOBAL VARIABLES LIKE 'have_ssl'")
        check(have and have[0][1] == "YES", "the harness MariaDB has TLS on: %s" % have)
        db.sql("CREATE USER 'whs'@'127.0.0.1' IDENTIFIED BY 's3cret pw' REQUIRE SSL;"
               "GRANT SELECT ON *.* TO 'whs'@'127.0.0.1'")
        db.sql("SET GLOBAL binlog_row_metadata = 'MINIMAL'")
        db.flush_logs()
        first = db.binlog_files()[-1].rsplit("/", 1)[1]
        db.sql("CREATE DATABASE wt")
        db.sql("CREATE TABLE sec (a INT PRIMARY KEY, b VARCHAR(10));"
               "INSERT INTO sec VALUES (7, 'x')", db="wt")
        base = ["--from", first + ":4/0", "--option", "host=127.0.0.1",
                "--option", "port=%d" % db.port, "--option", "user=whs"]
        pwdir = st.scratch_dir("pw")
        pwfile = os.path.join(pwdir, "mysql.pw")
        with open(pwfile, "w") as f:
            f.write("s3cret pw\n")

        def names_ok(ups, what):
            ins = [u for u in ups if u["op"] == "insert"]
            return check(len(ins) == 1 and ins[0]["after"] == {"a": 7, "b": "x"},
                         "%s: names from the server: %s" % (what, ins or ups))

        # A password file group or others can read is refused, naming file and mode.
        os.chmod(pwfile, 0o644)
        status, ups, err = logcat(db.binlog_dir, *base, "--password-file", pwfile,
                                  check_status=False)
        check(status == 1 and ("password file %s has mode 0644" % pwfile) in err,
              "loose password file: status %d, %s" % (status, err.strip()))
        os.chmod(pwfile, 0o600)

        # required: TLS, unverified; the user REQUIREs SSL, so TLS really is on.
        status, ups, err = logcat(db.binlog_dir, *base, "--password-file", pwfile,
                                  "--option", "ssl_mode=required", check_status=False)
        check(status == 0, "ssl_mode=required: status %d, %s" % (status, err.strip()))
        names_ok(ups, "required")
        check("s3cret" not in err, "the password is not printed: %s" % err.strip())

        # The default (preferred) takes TLS when offered.
        status, ups, err = logcat(db.binlog_dir, *base, "--password-file", pwfile,
                                  check_status=False)
        check(status == 0, "default ssl_mode: status %d, %s" % (status, err.strip()))
        names_ok(ups, "preferred")

        # disabled: no TLS, so the REQUIRE SSL user is turned away.
        status, ups, err = logcat(db.binlog_dir, *base, "--password-file", pwfile,
                                  "--option", "ssl_mode=disabled", check_status=False)
        check(status == 1 and "Access denied" in err,
              "ssl_mode=disabled against REQUIRE SSL: status %d, %s" % (status, err.strip()))

        # verify_identity with the right CA; the password from the environment.
        env = dict(os.environ, WH_MYSQL_PASSWORD="s3cret pw")
        argv = [a for a in base]
        r = subprocess.run([os.environ.get("WH_LOGCAT") or os.path.join(
                               os.environ.get("WH_BUILD_ROOT", "build"), "tools",
                               "wormhole-logcat"),
                            "--mapper", "mysql", "--binlog-dir", db.binlog_dir] + argv +
                           ["--option", "ssl_mode=verify_identity", "--option",
                            "ssl_ca=" + pki["ca"]],
                           env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=wh.scaled(120))
        err = r.stderr.decode("utf-8", "replace")
        check(r.returncode == 0 and b'"a":7' in r.stdout,
              "verify_identity + WH_MYSQL_PASSWORD: status %d, %s" % (r.returncode, err.strip()))

        # A wrong CA fails, naming the server.
        for mode in ("verify_ca", "verify_identity"):
            status, ups, err = logcat(db.binlog_dir, *base, "--password-file", pwfile,
                                      "--option", "ssl_mode=" + mode,
                                      "--option", "ssl_ca=" + pki["wrongca"],
                                      check_status=False)
            check(status == 1 and ("cannot connect to the MySQL server at 127.0.0.1:%d"
                                   % db.port) in err,
                  "%s with a wrong CA: status %d, %s" % (mode, status, err.strip()))

        # verify_ca without ssl_ca is a configuration error.
        status, ups, err = logcat(db.binlog_dir, *base, "--option", "ssl_mode=verify_ca",
                                  check_status=False)
        check(status == 1 and "needs ssl_ca" in err,
              "verify_ca without ssl_ca: status %d, %s" % (status, err.strip()))

        # Never on argv: --option password=... is refused before anything runs.
        status, ups, err = logcat(db.binlog_dir, *base, "--option", "password=s3cret pw",
                                  check_status=False)
        check(status == 2 and "--password-file" in err,
              "--option password refused: status %d, %s" % (status, err.strip()))
        db.sql("SET GLOBAL binlog_row_metadata = 'FULL'")
    return done("test_mysql_secrets")


if __name__ == "__main__":
    sys.exit(main())
