//! The templates of messages: a plain-text and an HTML part each, kept in
//! `api/templates/mail` and built into the binary. HTML parts escape what they show.

use std::sync::Arc;

use minijinja::{AutoEscape, Environment};
use serde::Serialize;

/// The parts of messages `$name`: `<name>.txt` and `<name>.html` in `api/templates/mail`.
macro_rules! templates {
    ($($name:literal),* $(,)?) => {
        &[$((
            $name,
            include_str!(concat!("../../templates/mail/", $name, ".txt")),
            include_str!(concat!("../../templates/mail/", $name, ".html")),
        )),*]
    };
}

/// Every message's two parts, by name.
const TEMPLATES: &[(&str, &str, &str)] = templates![
    "confirm_email",
    "registration_attempted",
    "password_reset",
    "password_changed",
    "confirm_email_change",
    "email_change_requested",
    "email_change_attempted",
    "two_factor_changed",
    "invitation",
];

#[derive(Clone)]
pub struct Templates(Arc<Environment<'static>>);

impl Templates {
    pub fn new() -> anyhow::Result<Self> {
        let mut environment = Environment::new();
        environment.set_auto_escape_callback(|name| {
            if name.ends_with(".html") {
                AutoEscape::Html
            } else {
                AutoEscape::None
            }
        });
        for (name, text, html) in TEMPLATES {
            environment.add_template_owned(format!("{name}.txt"), *text)?;
            environment.add_template_owned(format!("{name}.html"), *html)?;
        }
        Ok(Templates(Arc::new(environment)))
    }

    /// The plain-text and HTML parts of message `name` showing `context`.
    pub fn render(
        &self,
        name: &str,
        context: &impl Serialize,
    ) -> Result<(String, String), minijinja::Error> {
        let text = self
            .0
            .get_template(&format!("{name}.txt"))?
            .render(context)?;
        let html = self
            .0
            .get_template(&format!("{name}.html"))?
            .render(context)?;
        Ok((text, html))
    }
}

#[cfg(test)]
mod tests {
    use super::Templates;

    #[test]
    fn html_parts_escape_what_they_show_and_text_parts_do_not() {
        let templates = Templates::new().expect("the templates parse");
        let context = serde_json::json!({ "email": "<b>a&b</b>@example.com", "link": "https://x/y?token=1&2", "minutes": 60 });
        let (text, html) = templates
            .render("password_reset", &context)
            .expect("renders");
        assert!(text.contains("https://x/y?token=1&2"), "{text}");
        assert!(
            html.contains("&lt;b&gt;a&amp;b&lt;&#x2f;b&gt;")
                || html.contains("&lt;b&gt;a&amp;b&lt;/b&gt;"),
            "{html}"
        );
        assert!(!html.contains("<b>a&b</b>"), "{html}");
    }
}
