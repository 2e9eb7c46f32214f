//! The bearer token every endpoint but `/healthz` requires.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use subtle::ConstantTimeEq;

use crate::error::ServeError;

/// The name of the token file goshawk creates in its state directory.
pub const TOKEN_FILE: &str = "token";

/// A shared secret compared in constant time, so response timing does not reveal how many
/// leading characters of a guess were right.
#[derive(Clone)]
pub struct Token {
    secret: String,
}

/// Where the token came from; a new one is shown to the operator exactly once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenOrigin {
    /// Read from `--token-file` or from the state directory of an earlier start.
    Existing(PathBuf),
    /// Created now and written to this file.
    Created(PathBuf),
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// What an `Authorization` header amounts to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthCheck {
    Ok,
    Missing,
    NotBearer,
    Wrong,
}

impl Token {
    pub fn new(secret: impl Into<String>) -> Token {
        Token {
            secret: secret.into(),
        }
    }

    pub fn secret(&self) -> &str {
        &self.secret
    }

    /// Reads `token_file` when given; otherwise the token in `state_dir`, created there (mode
    /// 0600) on the first start.
    pub fn load_or_create(
        token_file: Option<&Path>,
        state_dir: &Path,
    ) -> Result<(Token, TokenOrigin), ServeError> {
        if let Some(path) = token_file {
            return Ok((read_token(path)?, TokenOrigin::Existing(path.to_path_buf())));
        }
        let path = state_dir.join(TOKEN_FILE);
        if path.exists() {
            return Ok((read_token(&path)?, TokenOrigin::Existing(path)));
        }
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes).map_err(|e| ServeError::Random(e.to_string()))?;
        let secret: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        write_private(&path, &secret)?;
        Ok((Token::new(secret), TokenOrigin::Created(path)))
    }

    /// Checks an `Authorization` header value (`Bearer <token>`).
    pub fn check(&self, header: Option<&[u8]>) -> AuthCheck {
        let Some(header) = header else {
            return AuthCheck::Missing;
        };
        let header = header.trim_ascii();
        let Some(scheme_end) = header.iter().position(|b| *b == b' ') else {
            return AuthCheck::NotBearer;
        };
        let (scheme, rest) = header.split_at(scheme_end);
        if !scheme.eq_ignore_ascii_case(b"bearer") {
            return AuthCheck::NotBearer;
        }
        // `ct_eq` on slices of different lengths is false without looking at the bytes; the
        // length of the token is not a secret (it is always 64 hex digits when goshawk made it).
        if bool::from(rest.trim_ascii().ct_eq(self.secret.as_bytes())) {
            AuthCheck::Ok
        } else {
            AuthCheck::Wrong
        }
    }
}

fn read_token(path: &Path) -> Result<Token, ServeError> {
    let text = fs::read_to_string(path).map_err(|e| ServeError::io(path, e))?;
    let secret = text.trim();
    if secret.is_empty() {
        return Err(ServeError::BadFile {
            path: path.to_path_buf(),
            message: "the token file is empty".into(),
        });
    }
    if secret.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(ServeError::BadFile {
            path: path.to_path_buf(),
            message: "the token must be one line without spaces".into(),
        });
    }
    Ok(Token::new(secret))
}

fn write_private(path: &Path, secret: &str) -> Result<(), ServeError> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(|e| ServeError::io(path, e))?;
    file.write_all(secret.as_bytes())
        .and_then(|()| file.write_all(b"\n"))
        .and_then(|()| file.sync_all())
        .map_err(|e| ServeError::io(path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_created_token_is_reused_on_the_next_start() {
        let dir = tempfile::tempdir().expect("tempdir");
        let (first, origin) = Token::load_or_create(None, dir.path()).expect("create");
        assert!(matches!(origin, TokenOrigin::Created(_)));
        assert_eq!(first.secret().len(), 64);
        let (second, origin) = Token::load_or_create(None, dir.path()).expect("reload");
        assert!(matches!(origin, TokenOrigin::Existing(_)));
        assert_eq!(first.secret(), second.secret());
    }

    #[test]
    fn headers_are_checked() {
        let token = Token::new("s3cret");
        assert_eq!(token.check(None), AuthCheck::Missing);
        assert_eq!(token.check(Some(b"Basic s3cret")), AuthCheck::NotBearer);
        assert_eq!(token.check(Some(b"s3cret")), AuthCheck::NotBearer);
        assert_eq!(token.check(Some(b"Bearer s3cre")), AuthCheck::Wrong);
        assert_eq!(token.check(Some(b"Bearer s3cret!")), AuthCheck::Wrong);
        assert_eq!(token.check(Some(b"bearer s3cret")), AuthCheck::Ok);
        assert_eq!(token.check(Some(b"Bearer  s3cret ")), AuthCheck::Ok);
    }

    #[test]
    fn an_empty_token_file_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("t");
        fs::write(&path, "\n").expect("write");
        let err = Token::load_or_create(Some(&path), dir.path()).expect_err("empty");
        assert!(err.to_string().contains("empty"), "{err}");
    }
}
