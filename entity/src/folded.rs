//! The folded forms of text that rows are told apart, found and ordered by: computed here, in
//! Rust, and stored beside the text (`user.email_key`, `profile.name_key`), so that SQLite and
//! PostgreSQL, whose own `lower()` disagree beyond ASCII, compare the same bytes.

use caseless::Caseless;
use idna::uts46::{AsciiDenyList, Hyphens, Uts46};
use unicode_normalization::UnicodeNormalization;

/// The longest key kept, in bytes: PostgreSQL indexes entries of at most 2,704 bytes, and
/// folding can lengthen a text (`ﷺ`, 3 bytes, folds to 33).
pub const MAX_KEY_BYTES: usize = 2048;

/// `text` under Unicode's compatibility caseless matching (Unicode 16, section 3.13, D146:
/// full case folding around NFKD), composed again (NFKC): two texts fold alike exactly when
/// they match caselessly, ignoring width and compatibility forms (`Ä` and `ä`, `ß` and `ss`,
/// `ａ` and `a`, `ﬁ` and `fi`). Total: any text has a fold.
pub fn fold(text: &str) -> String {
    text.chars()
        .nfd()
        .default_case_fold()
        .nfkd()
        .default_case_fold()
        .nfkc()
        .collect()
}

/// The key of an email address, which tells accounts apart: the address in NFKC, its domain in
/// Unicode form after IDNA (UTS 46) mapping — so `ann@bücher.de` and `ann@xn--bcher-kva.de`
/// are one — and all of it folded (`fold`). Total, so that any text typed at login has a key,
/// valid or not.
pub fn email_key(email: &str) -> String {
    let email: String = email.trim().nfkc().collect();
    let Some((local, domain)) = email.rsplit_once('@') else {
        return fold(&email);
    };
    let (domain, _) =
        Uts46::new().to_unicode(domain.as_bytes(), AsciiDenyList::EMPTY, Hyphens::Allow);
    fold(&format!("{local}@{domain}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folds_case_width_and_compatibility_forms() {
        for (text, folded) in [
            ("Ann", "ann"),
            ("Ä Team", "ä team"),
            ("A\u{308} Team", "ä team"),
            ("Straße", "strasse"),
            ("STRASSE", "strasse"),
            ("ẞ", "ss"),
            ("ＡＮＮ", "ann"),
            ("ﬁle", "file"),
            ("ΣΊΣΥΦΟΣ", "σίσυφοσ"),
            ("σίσυφος", "σίσυφοσ"),
            ("İ", "i\u{307}"),
            ("Ꭰ", "Ꭰ"),
            ("ꭰ", "Ꭰ"),
            ("李雷 👩\u{200D}💻", "李雷 👩\u{200D}💻"),
        ] {
            assert_eq!(fold(text), folded, "{text:?}");
        }
    }

    #[test]
    fn folding_is_idempotent() {
        for text in ["Émile", "ǅ", "ﬃ", "ᾳ", "\u{345}", "㌀", "Ⅻ", "ŉ"] {
            assert_eq!(fold(&fold(text)), fold(text), "{text:?}");
        }
    }

    #[test]
    fn email_keys_fold_the_address_and_map_the_domain() {
        for (email, key) in [
            (" Ann@Example.COM ", "ann@example.com"),
            ("JOSÉ@example.com", "josé@example.com"),
            ("Jose\u{301}@example.com", "josé@example.com"),
            ("ａｎｎ＠ｅｘａｍｐｌｅ．ｃｏｍ", "ann@example.com"),
            ("ann@Bücher.DE", "ann@bücher.de"),
            ("ann@xn--bcher-kva.de", "ann@bücher.de"),
            ("ann＠xn--bcher-kva.de", "ann@bücher.de"),
            ("not an email", "not an email"),
            ("a@b@Example.com", "a@b@example.com"),
        ] {
            assert_eq!(email_key(email), key, "{email:?}");
        }
    }
}
