//! Text that people type and others read, such as names: trimmed, in Unicode normal form C,
//! and refused when it could hide or disguise anything — control and format characters (bidi
//! overrides, zero-width spaces; the joiners emoji and some scripts need excepted), private-use
//! and unassigned code points, line and paragraph separators.

use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};

use crate::error::{AppError, AppResult};

/// `text` for the argument `argument`, checked and normalized; at most `max` characters.
pub fn shown(argument: &str, text: &str, max: usize) -> AppResult<String> {
    let text: String = text.trim().nfc().collect();
    if text.is_empty() {
        return Err(AppError::bad_input(format!(
            "`{argument}` must not be empty"
        )));
    }
    if text.chars().count() > max {
        return Err(AppError::bad_input(format!(
            "`{argument}` must be at most {max} characters"
        )));
    }
    if let Some(hidden) = text.chars().find(|c| hides(*c)) {
        return Err(AppError::bad_input(format!(
            "`{argument}` must not contain the invisible or control character U+{:04X}",
            u32::from(hidden)
        )));
    }
    Ok(text)
}

/// Whether `c` is not shown as itself.
fn hides(c: char) -> bool {
    // The zero-width non-joiner and joiner shape Persian and Indic text and emoji sequences.
    if matches!(c, '\u{200C}' | '\u{200D}') {
        return false;
    }
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    )
}

#[cfg(test)]
mod tests {
    use super::shown;

    #[test]
    fn names_are_trimmed_normalized_and_shown_as_typed() {
        assert_eq!(shown("n", "  Ann  ", 10).ok().as_deref(), Some("Ann"));
        // "e" and a combining acute accent become "é".
        assert_eq!(shown("n", "Rene\u{301}", 10).ok().as_deref(), Some("René"));
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(shown("n", family, 10).ok().as_deref(), Some(family));
        assert_eq!(shown("n", "Zoë 李", 10).ok().as_deref(), Some("Zoë 李"));
    }

    #[test]
    fn hidden_characters_and_long_or_empty_names_are_refused() {
        for bad in [
            "",
            "   ",
            "Ann\u{202E}nnA",
            "An\u{200B}n",
            "Ann\u{0}",
            "Ann\nBob",
            "A\u{2028}B",
            "\u{E000}",
            "\u{FEFF}Ann",
            "\u{061C}Ann",
        ] {
            assert!(shown("n", bad, 10).is_err(), "{bad:?}");
        }
        assert!(shown("n", &"a".repeat(11), 10).is_err());
    }
}
