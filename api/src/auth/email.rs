//! Email addresses: which are accepted, the form they are kept in, and the key that tells
//! accounts apart.
//!
//! An address is trimmed and put in NFKC (full-width `ａnn` is `ann`); its domain goes through
//! IDNA (UTS 46 with the STD3 rules, hyphen checks and DNS lengths) and is kept in Unicode form;
//! its local part must be a dot-atom. Refused: invisible, control, format and bidi characters
//! (`text::invisible`) and white space anywhere; characters beyond ASCII that UTS 39 does not
//! allow in identifiers (symbols, emoji, letters only some orthographies use); a local part or
//! domain label mixing scripts (`text::mixes_scripts`: `аnn` with a Cyrillic `а`, `exаmple`);
//! and one that, not being ASCII, looks exactly like ASCII text (`text::passes_for_ascii`: an
//! all-Cyrillic `асе`, `ı` for `i`).
//! Accounts are told apart by `entity::folded::email_key`: `Émile@` and `émile@` are one.

use idna::uts46::{AsciiDenyList, DnsLength, Hyphens, Uts46};
use unicode_normalization::UnicodeNormalization;
use unicode_security::GeneralSecurityProfile;

use crate::{
    error::{AppError, AppResult},
    text,
};

/// The longest address SMTP can carry, in bytes.
const MAX_LENGTH: usize = 254;

/// An accepted email address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Email {
    /// The address as kept and shown: NFKC, the domain in Unicode form, lower-cased.
    pub address: String,
    /// What tells it from other accounts' (`key`).
    pub key: String,
}

/// Checks an email address typed to create an account, and puts it in the form it is kept in.
pub fn normalize(email: &str) -> AppResult<Email> {
    let email = email.trim();
    // NFKC makes text at most four times shorter in bytes (a mathematical `𝐚` becomes `a`):
    // longer input cannot normalize to an acceptable length, and the bound caps the work.
    if email.len() > 4 * MAX_LENGTH {
        return Err(invalid());
    }
    if let Some(hidden) = email.chars().find(|c| text::invisible(*c)) {
        return Err(text::hidden_character("email", hidden));
    }
    let email: String = email.nfkc().collect();
    let (local, domain) = email.rsplit_once('@').ok_or_else(invalid)?;
    let (ascii, unicode) = domain_forms(domain)?;
    check_local_part(local, &ascii)?;
    for word in std::iter::once(local).chain(unicode.split('.')) {
        check_disguise(word)?;
    }
    let address = format!("{local}@{unicode}");
    if address.len() > MAX_LENGTH {
        return Err(invalid());
    }
    Ok(Email {
        key: key(&address),
        address,
    })
}

fn invalid() -> AppError {
    AppError::bad_input("`email` is not a valid email address")
}

/// The ASCII (punycode) and Unicode forms of a domain, mapped by IDNA (UTS 46 with the STD3
/// rules, hyphen checks and DNS lengths); it must have two labels or more.
fn domain_forms(domain: &str) -> AppResult<(String, String)> {
    let uts46 = Uts46::new();
    let ascii = uts46
        .to_ascii(
            domain.as_bytes(),
            AsciiDenyList::STD3,
            Hyphens::Check,
            DnsLength::Verify,
        )
        .map_err(|_| invalid())?;
    let (unicode, mapped) = uts46.to_unicode(ascii.as_bytes(), AsciiDenyList::STD3, Hyphens::Check);
    if mapped.is_err() || !ascii.contains('.') {
        return Err(invalid());
    }
    let unicode = unicode.into_owned();
    Ok((ascii.into_owned(), unicode))
}

/// Checks that `local` is an unquoted local part (a dot-atom) of at most 64 bytes.
fn check_local_part(local: &str, ascii_domain: &str) -> AppResult<()> {
    // Quoted local parts hold anything, the same mailbox written many ways.
    if local.is_empty() || local.starts_with('"') || local.chars().any(char::is_whitespace) {
        return Err(invalid());
    }
    let parsed = email_address::EmailAddress::parse_with_options(
        &format!("{local}@{ascii_domain}"),
        email_address::Options::default().without_display_text(),
    )
    .map_err(|_| invalid())?;
    if parsed.local_part() != local {
        return Err(invalid());
    }
    Ok(())
}

/// Refuses a local part or domain label that holds characters outside identifiers, mixes
/// scripts or passes for ASCII.
fn check_disguise(word: &str) -> AppResult<()> {
    if let Some(odd) = word
        .chars()
        .find(|c| !c.is_ascii() && !c.identifier_allowed())
    {
        return Err(AppError::bad_input(format!(
            "`email` must not contain U+{:04X}, which UTS 39 does not allow in identifiers",
            u32::from(odd)
        )));
    }
    if text::mixes_scripts(word) {
        return Err(text::mixed_scripts("email", word));
    }
    if text::passes_for_ascii(word) {
        return Err(AppError::bad_input(format!(
            "`email` has a part written in letters that look like ASCII ones (`{word}`), as \
             look-alike spoofs do: write it in ASCII"
        )));
    }
    Ok(())
}

/// The key of the account an email names, for any text, valid or not (`entity::folded`):
/// what logins look accounts up by, and count their attempts by.
pub fn key(email: &str) -> String {
    entity::folded::email_key(email)
}

/// What names the account of an email where the address itself is not kept (login attempts,
/// invitations): the digest of its key, the same whether or not an account has it.
pub fn digest(email: &str) -> String {
    super::tokens::digest(&key(email))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(email: &str) -> Option<(String, String)> {
        normalize(email)
            .ok()
            .map(|email| (email.address, email.key))
    }

    #[test]
    fn addresses_are_kept_in_nfkc_with_unicode_domains_and_folded_keys() {
        for (typed, address, key) in [
            (" Ann@Example.COM ", "Ann@example.com", "ann@example.com"),
            (
                "ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ",
                "ann@example.com",
                "ann@example.com",
            ),
            ("JOSÉ@example.com", "JOSÉ@example.com", "josé@example.com"),
            (
                "Jose\u{301}@example.com",
                "José@example.com",
                "josé@example.com",
            ),
            (
                "Émile@example.com",
                "Émile@example.com",
                "émile@example.com",
            ),
            (
                "Straße@example.com",
                "Straße@example.com",
                "strasse@example.com",
            ),
            ("𝐚𝐧𝐧@example.com", "ann@example.com", "ann@example.com"),
            ("ann@Bücher.DE", "ann@bücher.de", "ann@bücher.de"),
            ("ann@xn--bcher-kva.de", "ann@bücher.de", "ann@bücher.de"),
            ("田中taro@例え.jp", "田中taro@例え.jp", "田中taro@例え.jp"),
            ("иван@пример.рф", "иван@пример.рф", "иван@пример.рф"),
            (
                "a.b+tag@sub.example.co.uk",
                "a.b+tag@sub.example.co.uk",
                "a.b+tag@sub.example.co.uk",
            ),
        ] {
            assert_eq!(
                normalized(typed),
                Some((address.to_owned(), key.to_owned())),
                "{typed:?}"
            );
        }
    }

    #[test]
    fn bad_hidden_and_look_alike_addresses_are_refused() {
        for bad in [
            "",
            "plain",
            "a@",
            "@example.com",
            "a b@example.com",
            "a@localhost",
            "a@b.c\u{0}",
            "\"a b\"@example.com",
            "ann\u{200B}@example.com",
            "ann@exa\u{200D}mple.com",
            "\u{202E}ann@example.com",
            "ann\u{FEFF}@example.com",
            "ann\u{3000}x@example.com",
            "ann\u{1680}x@example.com",
            "аnn@example.com",
            "ann@exаmple.com",
            "асе@example.com",
            "ɑnn@example.com",
            "ann@раураl.com",
            "ann@-example.com",
            "ann@exa_mple.com",
            "ann@[127.0.0.1]",
            "ann\u{FE0F}@example.com",
            "ann\u{34F}@example.com",
            "ann\u{3164}@example.com",
            "ann\u{2800}@example.com",
            "i\u{2764}u@example.com",
            "ann@\u{2764}.com",
            "bıll@example.com",
        ] {
            assert!(normalize(bad).is_err(), "{bad:?}");
        }
        assert!(normalize(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(normalize(&format!("a@{}.com", "b".repeat(250))).is_err());
    }

    #[test]
    fn every_accepted_address_has_the_key_a_login_computes() {
        for typed in [
            "Ann@Example.COM",
            "ＡＮＮ＠ＥＸＡＭＰＬＥ．ＣＯＭ",
            "JOSÉ@example.com",
            "ﬁle@example.com",
            "ann＠xn--bcher-kva.de",
            "ǅemal@ΕΛΛΑΔΑ.gr",
        ] {
            let accepted = normalize(typed).map(|email| email.key).ok();
            assert_eq!(accepted, Some(key(typed)), "{typed:?}");
        }
    }
}
