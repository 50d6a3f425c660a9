//! Settings from the environment, as the vendors' own tools read them.

use stowage_core::Credentials;

/// The first of `names` that is set and not empty.
pub fn env_first(names: &[&str]) -> Option<String> {
    names
        .iter()
        .find_map(|n| std::env::var(n).ok().filter(|v| !v.is_empty()))
}

/// Credentials from the first `[id, secret, token]` set of variables whose id and secret
/// are both set (the token is optional: STS).
pub fn credentials_from_env(sets: &[[&str; 3]]) -> Option<Credentials> {
    sets.iter().find_map(|[id, secret, token]| {
        let id = env_first(&[id])?;
        let secret = env_first(&[secret])?;
        Some(Credentials::new(id, secret).with_session_token(env_first(&[token])))
    })
}
