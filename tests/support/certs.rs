//! Throwaway TLS material for tests: one CA, a server certificate for
//! 127.0.0.1/localhost, and client certificates whose CN is the Koji user
//! name (the hub maps the CN to the user, like Koji's DNUsernameComponent).
//! Made with the `openssl` CLI, which .ci/run installs.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A CA and the files it signed, in one temporary directory.
pub struct Pki {
    dir: PathBuf,
}

/// A certificate and its private key, as separate PEM files.
#[derive(Clone, Debug)]
pub struct CertPair {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl CertPair {
    /// Both in one file, as Koji's `cert` option and builder.conf's
    /// `ssl_cert` accept.
    pub fn combined(&self) -> PathBuf {
        let path = self.cert.with_extension("combined.pem");
        if !path.exists() {
            let mut pem = std::fs::read(&self.cert).expect("read cert");
            pem.extend(std::fs::read(&self.key).expect("read key"));
            std::fs::write(&path, pem).expect("write combined pem");
        }
        path
    }
}

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run openssl (is it installed?)");
    assert!(
        out.status.success(),
        "openssl {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Pki {
    /// Create a CA in `dir`.
    pub fn new(dir: &Path) -> Pki {
        std::fs::create_dir_all(dir).expect("create pki dir");
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=koji-osbuild test CA",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
            ],
        );
        Pki {
            dir: dir.to_path_buf(),
        }
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }

    /// A server certificate for the loopback names.
    pub fn server(&self, name: &str) -> CertPair {
        self.issue(
            name,
            name,
            "subjectAltName=DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth",
            2,
        )
    }

    /// A client certificate with `cn` as its common name.
    pub fn client(&self, cn: &str) -> CertPair {
        self.issue(
            &format!("client-{cn}"),
            cn,
            "extendedKeyUsage=clientAuth",
            2,
        )
    }

    /// A client certificate with `cn` as its common name that expired long
    /// ago (valid during January 2020), signed by this CA.
    pub fn expired_client(&self, cn: &str) -> CertPair {
        let file = format!("expired-{cn}");
        let key = format!("{file}.key");
        let csr = format!("{file}.csr");
        let cert = format!("{file}.pem");
        let ext_file = format!("{file}.ext");
        std::fs::write(self.dir.join(&ext_file), "extendedKeyUsage=clientAuth")
            .expect("write ext file");
        // `openssl x509 -req` of OpenSSL 3.0 cannot set a start date in the
        // past; `openssl ca` can, with a minimal CA configuration.
        std::fs::write(
            self.dir.join("ca.cnf"),
            "[ca]\ndefault_ca = test_ca\n[test_ca]\ndatabase = ca-index.txt\n\
             new_certs_dir = ca-issued\nserial = ca-serial\ndefault_md = sha256\n\
             policy = any\nunique_subject = no\n[any]\ncommonName = supplied\n",
        )
        .expect("write ca.cnf");
        std::fs::create_dir_all(self.dir.join("ca-issued")).expect("create ca-issued");
        let index = self.dir.join("ca-index.txt");
        if !index.exists() {
            std::fs::write(&index, "").expect("write ca-index.txt");
            std::fs::write(self.dir.join("ca-serial"), "1000\n").expect("write ca-serial");
        }
        self.new_key_and_csr(cn, &key, &csr);
        openssl(
            &self.dir,
            &[
                "ca",
                "-batch",
                "-config",
                "ca.cnf",
                "-cert",
                "ca.pem",
                "-keyfile",
                "ca.key",
                "-startdate",
                "20200101000000Z",
                "-enddate",
                "20200201000000Z",
                "-notext",
                "-extfile",
                &ext_file,
                "-in",
                &csr,
                "-out",
                &cert,
            ],
        );
        CertPair {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        }
    }

    /// A new P-256 key and a certificate request for `cn`.
    fn new_key_and_csr(&self, cn: &str, key: &str, csr: &str) {
        openssl(
            &self.dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-subj",
                &format!("/CN={cn}"),
                "-keyout",
                key,
                "-out",
                csr,
            ],
        );
    }

    fn issue(&self, file: &str, cn: &str, extensions: &str, days: u32) -> CertPair {
        let ext_file = format!("{file}.ext");
        std::fs::write(self.dir.join(&ext_file), extensions).expect("write ext file");
        let key = format!("{file}.key");
        let csr = format!("{file}.csr");
        let cert = format!("{file}.pem");
        self.new_key_and_csr(cn, &key, &csr);
        openssl(
            &self.dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                &days.to_string(),
                "-extfile",
                &ext_file,
                "-out",
                &cert,
            ],
        );
        CertPair {
            cert: self.dir.join(cert),
            key: self.dir.join(key),
        }
    }
}
