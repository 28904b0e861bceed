//! Kerberos (GSSAPI) for Koji's `gssapi_login`: the client's credentials
//! (the user's ccache after `kinit`, or a keytab and principal) and the
//! SPNEGO token for the hub's `HTTP/<host>` service, through MIT krb5's
//! GSSAPI (the `libgssapi` crate). Nothing here talks HTTP; the session
//! sends the token (see `ClientSession::gssapi_login`).
//!
//! The calls block (they may ask the KDC), so callers run them off the
//! async threads. Tokens and keys never leave this module except as the
//! token handed to the session, which never logs it.

use std::ffi::CString;
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::ptr;

use libgssapi::context::{ClientCtx, CtxFlags};
use libgssapi::credential::Cred;
use libgssapi::error::MajorFlags;
use libgssapi::name::Name;
use libgssapi::oid::{GSS_MECH_SPNEGO, GSS_NT_HOSTBASED_SERVICE, GSS_NT_KRB5_PRINCIPAL};

/// Where the client's credentials come from: Koji's `gssapi_login(principal,
/// keytab, ccache)`. All unset: the default ccache and its principal.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct KerberosLogin {
    /// The client principal (`user@REALM`, `compile/host@REALM`).
    pub principal: Option<String>,
    /// A client keytab holding `principal`'s key: tickets are obtained from
    /// it whenever needed (MIT's client-keytab mechanism), so they never
    /// run out.
    pub keytab: Option<PathBuf>,
    /// The credentials cache to use (and, with a keytab, to keep the
    /// tickets in); default: `KRB5CCNAME` or krb5.conf's, or, with a
    /// keytab, a private in-memory one.
    pub ccache: Option<String>,
}

impl KerberosLogin {
    /// "principal X" or "the default principal", for messages.
    pub fn who(&self) -> String {
        match &self.principal {
            Some(p) => format!("principal {p}"),
            None => "the default principal".to_string(),
        }
    }
}

/// How the hub's service principal is named, from koji.conf's `krb_rdns`,
/// `krb_canon_host` and `krb_server_realm`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceOptions {
    /// Use the host name the hub's address reverse-resolves to.
    pub rdns: bool,
    /// Use the canonical name DNS gives for the hub's host (CNAMEs followed).
    pub canon_host: bool,
    /// The service principal's realm; unset: the realm krb5.conf maps the
    /// host to.
    pub server_realm: Option<String>,
}

/// What went wrong getting a Kerberos ticket or token. Each says what to do.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum KerberosError {
    #[error("no Kerberos ticket for {who}: run `kinit` (or log in with a keytab and principal) ({detail})")]
    NoTicket { who: String, detail: String },
    #[error("the Kerberos ticket of {who} has expired: run `kinit` again ({detail})")]
    Expired { who: String, detail: String },
    #[error("cannot get a Kerberos ticket for {principal} from keytab {}: {detail}; check that the keytab holds that principal's current key (klist -k -t {})", keytab.display(), keytab.display())]
    Keytab {
        keytab: PathBuf,
        principal: String,
        detail: String,
    },
    #[error("Kerberos keytab {}: {detail}", keytab.display())]
    KeytabFile { keytab: PathBuf, detail: String },
    #[error("cannot get a Kerberos service ticket for the hub ({service}) as {who}: {detail}; check the hub's host name (krb_canon_host, krb_rdns, krb_server_realm) and that the KDC knows HTTP/<hub host>")]
    Service {
        service: String,
        who: String,
        detail: String,
    },
    #[error("the hub {url} does not offer Kerberos (GSSAPI) logins: {why}; log in another way (authtype ssl or password) or ask the hub's admins to enable Negotiate on /ssllogin")]
    NoNegotiate { url: String, why: String },
    #[error("the hub {url} refused the Kerberos login of {who} (HTTP 401 after the Negotiate token): check that the hub's service keytab matches the KDC and that clocks agree")]
    Refused { url: String, who: String },
    #[error("Kerberos (GSSAPI): {0}")]
    Other(String),
}

/// The hub's service name: `HTTP@<host>` (host-based, realm from krb5.conf)
/// or `HTTP/<host>@<krb_server_realm>`; the host as the URL names it,
/// canonicalized or reverse-resolved on request.
pub fn service_name(host: &str, opts: &ServiceOptions) -> String {
    let mut host = host.trim_matches(['[', ']']).to_string();
    if opts.canon_host {
        if let Some(name) = canonical_name(&host) {
            host = name;
        }
    }
    if opts.rdns {
        if let Some(name) = reverse_name(&host) {
            host = name;
        }
    }
    match &opts.server_realm {
        Some(realm) => format!("HTTP/{host}@{realm}"),
        None => format!("HTTP@{host}"),
    }
}

/// The canonical name of `host` (getaddrinfo's AI_CANONNAME), without the
/// trailing dot Koji strips too.
fn canonical_name(host: &str) -> Option<String> {
    let hints = dns_lookup::AddrInfoHints {
        flags: libc::AI_CANONNAME,
        ..Default::default()
    };
    let mut found = dns_lookup::getaddrinfo(Some(host), None, Some(hints)).ok()?;
    let first = found.next()?.ok()?;
    first.canonname.map(|n| n.trim_end_matches('.').to_string())
}

/// This machine's fully qualified name, as Python's `socket.getfqdn()`
/// (kojid fills `host_principal_format` with it).
pub fn local_fqdn() -> String {
    let short = dns_lookup::get_hostname().unwrap_or_else(|_| "localhost".to_string());
    canonical_name(&short).unwrap_or(short)
}

/// The name the first address of `host` reverse-resolves to.
fn reverse_name(host: &str) -> Option<String> {
    let addr: IpAddr = match host.parse() {
        Ok(a) => a,
        Err(_) => dns_lookup::lookup_host(host).ok()?.next()?,
    };
    let name = dns_lookup::lookup_addr(&addr).ok()?;
    Some(name.trim_end_matches('.').to_string())
}

/// The SPNEGO token for the first `Authorization: Negotiate` of a login to
/// `service` (see [`service_name`]), with credentials from `login`.
/// Blocking.
pub fn negotiate_token(login: &KerberosLogin, service: &str) -> Result<Vec<u8>, KerberosError> {
    let cred = acquire(login)?;
    let who = login.who();
    let service_err = |e: libgssapi::error::Error| {
        classify(login, &e).unwrap_or_else(|| KerberosError::Service {
            service: service.to_string(),
            who: who.clone(),
            detail: one_line(&e),
        })
    };
    let name_type = if service.contains('/') {
        GSS_NT_KRB5_PRINCIPAL
    } else {
        GSS_NT_HOSTBASED_SERVICE
    };
    let target = Name::new(service.as_bytes(), Some(name_type)).map_err(service_err)?;
    // requests-gssapi's defaults, which Koji uses: SPNEGO, out-of-sequence
    // detection, no delegation, no mutual authentication.
    let mut ctx = ClientCtx::new(
        Some(cred),
        target,
        CtxFlags::GSS_C_SEQUENCE_FLAG,
        Some(GSS_MECH_SPNEGO),
    );
    match ctx.step(None, None).map_err(service_err)? {
        Some(token) => Ok(token.to_vec()),
        None => Err(KerberosError::Other(
            "GSSAPI gave no initial token for the hub".into(),
        )),
    }
}

/// The initiator credentials `login` names, checked to be usable now.
/// Blocking (with a keytab and an empty ccache it asks the KDC).
pub fn acquire(login: &KerberosLogin) -> Result<Cred, KerberosError> {
    if let Some(keytab) = &login.keytab {
        check_keytab_file(keytab)?;
    }
    let mut store: Vec<(&str, String)> = Vec::new();
    if let Some(keytab) = &login.keytab {
        store.push(("client_keytab", keytab.display().to_string()));
        // Tickets from the keytab go into a private in-memory cache unless
        // one is named: never into the user's own.
        let ccache = login
            .ccache
            .clone()
            .unwrap_or_else(|| format!("MEMORY:koji-osbuild-{}", std::process::id()));
        store.push(("ccache", ccache));
    } else if let Some(ccache) = &login.ccache {
        store.push(("ccache", ccache.clone()));
    }
    let cred = acquire_from(login.principal.as_deref(), &store)
        .map_err(|e| classify(login, &e).unwrap_or_else(|| other(login, &e)))?;
    // An expired TGT in the ccache still "acquires"; its lifetime says.
    match cred.lifetime() {
        Ok(left) if left.is_zero() => Err(expired(login, "the ticket's end time has passed")),
        Ok(_) => Ok(cred),
        Err(e) => Err(classify(login, &e).unwrap_or_else(|| other(login, &e))),
    }
}

/// The principals a keytab holds keys for (MIT's keytab file format,
/// version 0x502 or 0x501), in file order, without repeats; for doctor's
/// "the keytab holds the principal". The keys themselves are skipped.
pub fn keytab_principals(keytab: &Path) -> Result<Vec<String>, KerberosError> {
    check_keytab_file(keytab)?;
    let bad = |detail: &str| KerberosError::KeytabFile {
        keytab: keytab.to_path_buf(),
        detail: detail.to_string(),
    };
    let data = std::fs::read(keytab).map_err(|e| bad(&format!("cannot read it: {e}")))?;
    let mut r = Reader {
        data: &data,
        pos: 0,
    };
    let version = r.u16().ok_or_else(|| bad("empty, not a keytab"))?;
    if version != 0x0502 && version != 0x0501 {
        return Err(bad("not a Kerberos keytab (unknown format)"));
    }
    let mut found: Vec<String> = Vec::new();
    while let Some(size) = r.u32() {
        let size = size as i32;
        if size <= 0 {
            // a hole left by a removed entry
            r.skip(size.unsigned_abs() as usize)
                .ok_or_else(|| bad("truncated"))?;
            continue;
        }
        let entry = r.take(size as usize).ok_or_else(|| bad("truncated"))?;
        let mut e = Reader {
            data: entry,
            pos: 0,
        };
        let mut count = e.u16().ok_or_else(|| bad("truncated entry"))?;
        if version == 0x0501 {
            count = count.saturating_sub(1);
        }
        let realm = e.string().ok_or_else(|| bad("truncated entry"))?;
        let parts: Option<Vec<String>> = (0..count).map(|_| e.string()).collect();
        let parts = parts.ok_or_else(|| bad("truncated entry"))?;
        let principal = format!("{}@{realm}", parts.join("/"));
        if !found.contains(&principal) {
            found.push(principal);
        }
    }
    Ok(found)
}

/// Big-endian reads over a keytab.
struct Reader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let out = self.data.get(self.pos..self.pos.checked_add(n)?)?;
        self.pos += n;
        Some(out)
    }
    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }
    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
    fn u32(&mut self) -> Option<u32> {
        self.take(4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn string(&mut self) -> Option<String> {
        let n = self.u16()? as usize;
        self.take(n)
            .map(|b| String::from_utf8_lossy(b).into_owned())
    }
}

/// A keytab that is not there or not readable, said before GSSAPI's
/// vaguer "no key table entry".
pub fn check_keytab_file(keytab: &Path) -> Result<(), KerberosError> {
    std::fs::File::open(keytab)
        .map(|_| ())
        .map_err(|e| KerberosError::KeytabFile {
            keytab: keytab.to_path_buf(),
            detail: format!("cannot read it: {e}"),
        })
}

fn expired(login: &KerberosLogin, detail: &str) -> KerberosError {
    match &login.keytab {
        // With a keytab an expired ticket is renewed from it; failing that
        // is a keytab problem, not one kinit would fix.
        Some(keytab) => KerberosError::Keytab {
            keytab: keytab.clone(),
            principal: login.principal.clone().unwrap_or_default(),
            detail: detail.to_string(),
        },
        None => KerberosError::Expired {
            who: login.who(),
            detail: detail.to_string(),
        },
    }
}

/// The GSSAPI errors that have a fix of their own: no ticket, an expired
/// one, a keytab that cannot give one.
fn classify(login: &KerberosLogin, e: &libgssapi::error::Error) -> Option<KerberosError> {
    let detail = one_line(e);
    if e.major.contains(MajorFlags::GSS_S_CREDENTIALS_EXPIRED) || detail.contains("expired") {
        return Some(expired(login, &detail));
    }
    if let Some(keytab) = &login.keytab {
        if e.major.contains(MajorFlags::GSS_S_NO_CRED) || detail.contains("eytab") {
            return Some(KerberosError::Keytab {
                keytab: keytab.clone(),
                principal: login.principal.clone().unwrap_or_default(),
                detail,
            });
        }
    }
    if e.major.contains(MajorFlags::GSS_S_NO_CRED) {
        return Some(KerberosError::NoTicket {
            who: login.who(),
            detail,
        });
    }
    None
}

fn other(login: &KerberosLogin, e: &libgssapi::error::Error) -> KerberosError {
    KerberosError::Other(format!("{} ({})", one_line(e), login.who()))
}

fn one_line(e: &libgssapi::error::Error) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// `gss_acquire_cred_from`: initiator credentials for `principal` (or the
/// default one) from the cred store `store` (MIT's `client_keytab`,
/// `ccache`). libgssapi wraps `gss_acquire_cred` only, and setting
/// `KRB5_CLIENT_KTNAME` instead would change the whole (threaded) process.
fn acquire_from(
    principal: Option<&str>,
    store: &[(&str, String)],
) -> Result<Cred, libgssapi::error::Error> {
    use libgssapi_sys as sys;
    let gss_err = |major: u32, minor: u32| libgssapi::error::Error {
        major: MajorFlags::from_bits_retain(major),
        minor,
    };
    // The C strings live until the end of this function, past every use.
    let c_store: Vec<(CString, CString)> = store
        .iter()
        .map(|(k, v)| {
            let bad = || gss_err(sys::_GSS_S_FAILURE, 0);
            Ok((
                CString::new(*k).map_err(|_| bad())?,
                CString::new(v.as_str()).map_err(|_| bad())?,
            ))
        })
        .collect::<Result<_, _>>()?;
    let mut elements: Vec<sys::gss_key_value_element_desc> = c_store
        .iter()
        .map(|(k, v)| sys::gss_key_value_element_desc {
            key: k.as_ptr(),
            value: v.as_ptr(),
        })
        .collect();
    let set = sys::gss_key_value_set_desc {
        count: elements.len() as u32,
        elements: elements.as_mut_ptr(),
    };
    // GSS_KRB5_NT_PRINCIPAL_NAME, 1.2.840.113554.1.2.2.1
    let mut principal_oid_bytes = *b"\x2a\x86\x48\x86\xf7\x12\x01\x02\x02\x01";
    let mut principal_oid = sys::gss_OID_desc {
        length: principal_oid_bytes.len() as u32,
        elements: principal_oid_bytes.as_mut_ptr().cast(),
    };
    let mut minor: u32 = 0;
    let mut name: sys::gss_name_t = ptr::null_mut();
    if let Some(p) = principal {
        let mut buf = sys::gss_buffer_desc {
            length: p.len(),
            value: p.as_ptr() as *mut std::ffi::c_void,
        };
        // SAFETY: buf and the OID point at live memory for the call; MIT
        // copies both into the new name.
        let major =
            unsafe { sys::gss_import_name(&mut minor, &mut buf, &mut principal_oid, &mut name) };
        if major != sys::GSS_S_COMPLETE {
            return Err(gss_err(major, minor));
        }
    }
    let mut cred: sys::gss_cred_id_t = ptr::null_mut();
    // SAFETY: name is null or the name imported above; the store points at
    // the C strings above; the out-pointers are valid or null (not wanted).
    let major = unsafe {
        sys::gss_acquire_cred_from(
            &mut minor,
            name,
            sys::_GSS_C_INDEFINITE,
            ptr::null_mut(),
            sys::GSS_C_INITIATE as sys::gss_cred_usage_t,
            if set.count == 0 { ptr::null() } else { &set },
            &mut cred,
            ptr::null_mut(),
            ptr::null_mut(),
        )
    };
    if !name.is_null() {
        let mut release_minor = 0;
        // SAFETY: name was imported above and is released once.
        unsafe { sys::gss_release_name(&mut release_minor, &mut name) };
    }
    if major != sys::GSS_S_COMPLETE {
        return Err(gss_err(major, minor));
    }
    // SAFETY: a credential handle gss_acquire_cred_from just gave us;
    // Cred owns and releases it.
    Ok(unsafe { Cred::from_c(cred) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_names() {
        let plain = ServiceOptions::default();
        assert_eq!(
            service_name("koji.example.com", &plain),
            "HTTP@koji.example.com"
        );
        let realm = ServiceOptions {
            server_realm: Some("EXAMPLE.COM".into()),
            ..plain.clone()
        };
        assert_eq!(
            service_name("koji.example.com", &realm),
            "HTTP/koji.example.com@EXAMPLE.COM"
        );
        // canonicalization of a name that does not resolve keeps the name
        let canon = ServiceOptions {
            canon_host: true,
            rdns: true,
            ..plain
        };
        assert_eq!(
            service_name("no-such-host.invalid", &canon),
            "HTTP@no-such-host.invalid"
        );
    }

    #[test]
    fn keytab_principals_are_listed() {
        // two entries of one principal (two enctypes) and one of another,
        // and a hole, as MIT's ktutil writes them
        fn entry(parts: &[&str], realm: &str) -> Vec<u8> {
            let mut e = Vec::new();
            e.extend((parts.len() as u16).to_be_bytes());
            for s in std::iter::once(&realm).chain(parts) {
                e.extend((s.len() as u16).to_be_bytes());
                e.extend(s.as_bytes());
            }
            e.extend(1u32.to_be_bytes()); // name type
            e.extend(0u32.to_be_bytes()); // timestamp
            e.push(2); // kvno
            e.extend(17u16.to_be_bytes());
            e.extend(16u16.to_be_bytes());
            e.extend([0u8; 16]);
            let mut out = (e.len() as u32).to_be_bytes().to_vec();
            out.extend(e);
            out
        }
        let mut kt = vec![5u8, 2];
        kt.extend(entry(&["compile", "b1.example.com"], "EXAMPLE.COM"));
        kt.extend((-8i32).to_be_bytes());
        kt.extend([0u8; 8]);
        kt.extend(entry(&["compile", "b1.example.com"], "EXAMPLE.COM"));
        kt.extend(entry(&["alice"], "EXAMPLE.COM"));
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keytab");
        std::fs::write(&path, &kt).unwrap();
        assert_eq!(
            keytab_principals(&path).unwrap(),
            ["compile/b1.example.com@EXAMPLE.COM", "alice@EXAMPLE.COM"]
        );
        std::fs::write(&path, &kt[..kt.len() - 3]).unwrap();
        assert!(keytab_principals(&path)
            .unwrap_err()
            .to_string()
            .contains("truncated"));
        std::fs::write(&path, b"hello").unwrap();
        assert!(keytab_principals(&path)
            .unwrap_err()
            .to_string()
            .contains("not a Kerberos keytab"));
    }

    #[test]
    fn missing_keytab_is_named() {
        let login = KerberosLogin {
            principal: Some("compile/h@EXAMPLE.COM".into()),
            keytab: Some("/nonexistent/kojid.keytab".into()),
            ccache: None,
        };
        let e = acquire(&login).unwrap_err().to_string();
        assert!(
            e.contains("/nonexistent/kojid.keytab") && e.contains("cannot read"),
            "{e}"
        );
    }
}
