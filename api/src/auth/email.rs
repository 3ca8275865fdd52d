//! Email addresses: validation and normalization.

use unicode_normalization::UnicodeNormalization;

use crate::error::{AppError, AppResult};

/// The longest address SMTP can carry.
const MAX_LENGTH: usize = 254;

/// Trims an email address and checks its shape; the domain is lower-cased (the local part is
/// kept as typed; uniqueness ignores its case too).
pub fn normalize(email: &str) -> AppResult<String> {
    let email = email.trim();
    let invalid = || AppError::bad_input("`email` is not a valid email address");
    if email.len() > MAX_LENGTH {
        return Err(invalid());
    }
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let parsed = email_address::EmailAddress::parse_with_options(
        email,
        email_address::Options::default().without_display_text(),
    )
    .map_err(|_| invalid())?;
    if local.is_empty() || !domain.contains('.') || parsed.as_str() != email {
        return Err(invalid());
    }
    Ok(format!("{local}@{}", domain.to_lowercase()))
}

/// The form of an email that tells accounts apart: two emails with the same fold are one
/// account.
pub fn fold(email: &str) -> String {
    email.trim().nfkc().collect::<String>().to_lowercase()
}

/// What names the account of an email where the address itself is not kept (login attempts,
/// invitations): the digest of its fold, the same whether or not an account has it.
pub fn key(email: &str) -> String {
    super::tokens::digest(&fold(email))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_lowercases_the_domain() {
        assert_eq!(
            normalize(" Ann@Example.COM ").ok().as_deref(),
            Some("Ann@example.com")
        );
        for bad in [
            "",
            "plain",
            "a@",
            "@example.com",
            "a b@example.com",
            "a@localhost",
            "a@b.c\u{0}",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
    }
}
