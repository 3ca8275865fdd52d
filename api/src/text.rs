//! Text that people type and others read, such as names: trimmed, in Unicode normal form C,
//! and refused when it could hide or disguise anything — control and format characters (bidi
//! overrides, zero-width spaces), other default-ignorable code points (fillers, the combining
//! grapheme joiner), private-use and unassigned code points, line and paragraph separators, the
//! joiners and variation selectors that emoji and some scripts need excepted — or when a word
//! mixes scripts the way look-alike spoofs do (`Pаypal` with a Cyrillic `а`).

use icu_properties::{
    CodePointSetData,
    props::{DefaultIgnorableCodePoint, VariationSelector},
};
use unicode_normalization::UnicodeNormalization;
use unicode_properties::{GeneralCategory, UnicodeGeneralCategory};
use unicode_script::{Script, UnicodeScript};
use unicode_security::{mixed_script::AugmentedScriptSet, skeleton};

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
    if let Some(hidden) = text.chars().find(|c| invisible(*c) && !shapes(*c)) {
        return Err(hidden_character(argument, hidden));
    }
    if let Some(word) = text
        .split(char::is_whitespace)
        .find(|word| mixes_scripts(word))
    {
        return Err(mixed_scripts(argument, word));
    }
    Ok(text)
}

/// Whether `c` is not shown as itself: a control, format (bidi controls, zero-width spaces
/// and joiners, the byte order mark), private-use, unassigned or surrogate code point, a line
/// or paragraph separator, or any other default-ignorable code point (variation selectors,
/// Hangul fillers, the combining grapheme joiner).
pub fn invisible(c: char) -> bool {
    matches!(
        c.general_category(),
        GeneralCategory::Control
            | GeneralCategory::Format
            | GeneralCategory::PrivateUse
            | GeneralCategory::Unassigned
            | GeneralCategory::Surrogate
            | GeneralCategory::LineSeparator
            | GeneralCategory::ParagraphSeparator
    ) || CodePointSetData::new::<DefaultIgnorableCodePoint>().contains(c)
}

/// Whether `c`, though invisible, shapes the text beside it: the zero-width non-joiner and
/// joiner (Persian and Indic text, emoji sequences) and the variation selectors (emoji or text
/// presentation, Mongolian and CJK variants).
fn shapes(c: char) -> bool {
    matches!(c, '\u{200C}' | '\u{200D}') || CodePointSetData::new::<VariationSelector>().contains(c)
}

/// Whether `word` mixes scripts beyond UTS 39's "Highly Restrictive" level: its letters are not
/// all of one script (characters common to scripts, such as digits, punctuation and emoji,
/// going with any), except Latin with Han and Japanese kana, with Han and Bopomofo, or with
/// Han and Hangul, as Japanese, Chinese and Korean texts mix them.
pub fn mixes_scripts(word: &str) -> bool {
    let mut all = AugmentedScriptSet::default();
    let mut besides_latin = AugmentedScriptSet::default();
    for c in word.chars() {
        let scripts = AugmentedScriptSet::for_char(c);
        all.intersect_with(scripts);
        if !scripts.base.contains_script(Script::Latin) {
            besides_latin.intersect_with(scripts);
        }
    }
    all.is_empty() && !(besides_latin.jpan || besides_latin.hanb || besides_latin.kore)
}

/// Whether `word`, though not ASCII, looks exactly like ASCII text: each of its characters is
/// confusable with ASCII (its UTS 39 skeleton is ASCII), as in a Cyrillic `асе` or a Latin
/// `ɑnn` with an alpha.
pub fn passes_for_ascii(word: &str) -> bool {
    !word.is_ascii() && skeleton(word).all(|c| c.is_ascii())
}

/// The refusal of `argument` for holding `hidden`.
pub fn hidden_character(argument: &str, hidden: char) -> AppError {
    AppError::bad_input(format!(
        "`{argument}` must not contain the invisible or control character U+{:04X}",
        u32::from(hidden)
    ))
}

/// The refusal of `argument` for `word`, which `mixes_scripts`.
pub fn mixed_scripts(argument: &str, word: &str) -> AppError {
    let mut scripts: Vec<&str> = Vec::new();
    for script in word.chars().map(|c| c.script()) {
        let name = script.full_name();
        if !matches!(script, Script::Common | Script::Inherited) && !scripts.contains(&name) {
            scripts.push(name);
        }
    }
    AppError::bad_input(format!(
        "`{argument}` mixes letters of different scripts ({}) in one word, as look-alike \
         spoofs do",
        scripts.join(", ")
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_trimmed_normalized_and_shown_as_typed() {
        assert_eq!(shown("n", "  Ann  ", 10).ok().as_deref(), Some("Ann"));
        // "e" and a combining acute accent become "é".
        assert_eq!(shown("n", "Rene\u{301}", 10).ok().as_deref(), Some("René"));
        let family = "👨\u{200D}👩\u{200D}👧";
        assert_eq!(shown("n", family, 10).ok().as_deref(), Some(family));
        assert_eq!(
            shown("n", "❤\u{FE0F} Team", 10).ok().as_deref(),
            Some("❤\u{FE0F} Team")
        );
        for name in [
            "Zoë 李",
            "Müller GmbH",
            "東京タワー",
            "ひらがなとカタカナと漢字",
            "ABC株式会社",
            "서울 Seoul",
            "Ελλάδα",
            "Москва",
            "Café Москва",
            "محمد",
            "नमस्ते",
            "Team 42 🚀",
            "O'Brien & Co.",
        ] {
            assert_eq!(shown("n", name, 100).ok().as_deref(), Some(name));
        }
    }

    #[test]
    fn hidden_characters_and_long_or_empty_names_are_refused() {
        for bad in [
            "",
            "   ",
            "Ann\u{202E}nnA",
            "invoice\u{202E}gnp.exe",
            "\u{200B}\u{200B}",
            "\u{FEFF}",
            "An\u{200B}n",
            "Ann\u{0}",
            "Ann\nBob",
            "A\u{2028}B",
            "\u{E000}",
            "\u{FEFF}Ann",
            "\u{061C}Ann",
            "\u{2066}Ann\u{2069}",
            "\u{3164}",
            "Te\u{115F}am",
            "A\u{34F}nn",
            "Ann\u{17B4}",
        ] {
            assert!(shown("n", bad, 20).is_err(), "{bad:?}");
        }
        assert!(shown("n", &"a".repeat(11), 10).is_err());
    }

    #[test]
    fn words_mixing_scripts_are_refused() {
        for bad in ["Pаypal", "Αlpha", "gοogle", "Pay раl"] {
            assert!(mixes_scripts_anywhere(bad), "{bad:?}");
            let refused = shown("name", bad, 20);
            assert!(refused.is_err(), "{bad:?}");
        }
        assert_eq!(
            mixed_scripts("name", "Pаypal").to_string(),
            "`name` mixes letters of different scripts (Latin, Cyrillic) in one word, as \
             look-alike spoofs do"
        );
    }

    fn mixes_scripts_anywhere(text: &str) -> bool {
        text.split(char::is_whitespace).any(mixes_scripts)
    }

    #[test]
    fn words_that_pass_for_ascii_are_told() {
        for word in ["асе", "ɑnn", "bıll", "раураl"] {
            assert!(passes_for_ascii(word), "{word:?}");
        }
        for word in ["ann", "josé", "müller", "иван", "straße", "田中"] {
            assert!(!passes_for_ascii(word), "{word:?}");
        }
    }
}
