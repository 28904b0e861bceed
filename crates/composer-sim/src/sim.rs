//! The simulator's shared state: configuration, faults, counters, the
//! compose table and issued OAuth tokens. Every lock is held only for a
//! few field updates, never across an await.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::time::Instant;
use uuid::Uuid;

use crate::compose::Compose;
use crate::faults::{Faults, Stats};
use crate::kojiside::CgConnector;

/// OAuth2 client credentials the token endpoint accepts.
#[derive(Clone)]
pub struct OAuthClient {
    pub client_id: String,
    pub client_secret: String,
}

pub struct Config {
    pub oauth: Option<OAuthClient>,
    /// The faults given on the command line (what `reset` restores).
    pub initial_faults: Faults,
}

pub struct Sim {
    pub config: Config,
    pub connector: Arc<dyn CgConnector>,
    faults: Mutex<Faults>,
    stats: Mutex<Stats>,
    composes: Mutex<HashMap<Uuid, Arc<Compose>>>,
    /// Compose ids in creation order, for the admin listing.
    order: Mutex<Vec<Uuid>>,
    /// access token → expiry
    tokens: Mutex<HashMap<String, Instant>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these locks leaves plain data behind
    // (counters, maps); keep serving rather than poisoning every request.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

impl Sim {
    pub fn new(config: Config, connector: Arc<dyn CgConnector>) -> Arc<Sim> {
        Arc::new(Sim {
            faults: Mutex::new(config.initial_faults.clone()),
            config,
            connector,
            stats: Mutex::new(Stats::default()),
            composes: Mutex::new(HashMap::new()),
            order: Mutex::new(Vec::new()),
            tokens: Mutex::new(HashMap::new()),
        })
    }

    pub fn faults(&self) -> MutexGuard<'_, Faults> {
        lock(&self.faults)
    }

    pub fn stats(&self) -> MutexGuard<'_, Stats> {
        lock(&self.stats)
    }

    pub fn insert_compose(&self, compose: Arc<Compose>) {
        lock(&self.order).push(compose.id);
        lock(&self.composes).insert(compose.id, compose);
    }

    pub fn compose(&self, id: &Uuid) -> Option<Arc<Compose>> {
        lock(&self.composes).get(id).cloned()
    }

    pub fn all_composes(&self) -> Vec<Arc<Compose>> {
        let composes = lock(&self.composes);
        lock(&self.order)
            .iter()
            .filter_map(|id| composes.get(id).cloned())
            .collect()
    }

    /// Issues a new access token valid for the current token lifetime.
    pub fn issue_token(&self) -> (String, std::time::Duration) {
        let lifetime = self.faults().token_lifetime;
        let token = format!("sim-{}", Uuid::new_v4().simple());
        lock(&self.tokens).insert(token.clone(), Instant::now() + lifetime);
        (token, lifetime)
    }

    /// Whether `token` was issued here and has not expired.
    pub fn token_valid(&self, token: &str) -> bool {
        let now = Instant::now();
        let mut tokens = lock(&self.tokens);
        tokens.retain(|_, exp| *exp > now);
        tokens.contains_key(token)
    }

    /// Expires every token issued so far (fault: "token expiry").
    pub fn expire_tokens(&self) {
        lock(&self.tokens).clear();
    }
}
