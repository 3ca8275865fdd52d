//! What the schema says of itself that the server's settings complete: the largest page in
//! the descriptions of `first` and `last` (`PAGE_MAX_SIZE`), and the schema's own
//! description. Introspection and the printed SDL say the same, from here.

use async_graphql::{
    ServerResult, Value,
    extensions::{Extension, ExtensionContext, ExtensionFactory, NextResolve, ResolveInfo},
};
use std::sync::Arc;

/// Where a description names the largest page.
pub const PAGE_MAX_SIZE: &str = "{PAGE_MAX_SIZE}";

/// The description of the schema (`__schema { description }`).
pub const SCHEMA: &str = "Roster: users manage profiles, and every profile shows the users \
                          who manage it. Lists are Relay connections; objects are `Node`s.";

/// The description `text` with the server's largest page in place.
pub fn complete(text: &str, page_max_size: i32) -> String {
    text.replace(PAGE_MAX_SIZE, &page_max_size.to_string())
}

/// `sdl`, the schema as async-graphql prints it, as introspection describes it: the largest
/// page in place, and the schema's description.
pub fn sdl(sdl: &str, page_max_size: i32) -> String {
    let sdl = complete(sdl, page_max_size);
    let description = format!("\"\"\"\n{SCHEMA}\n\"\"\"\nschema {{");
    match sdl.find("\nschema {") {
        Some(at) => format!(
            "{}\n{description}{}",
            &sdl[..at],
            &sdl[at + "\nschema {".len()..]
        ),
        None => sdl,
    }
}

/// Completes the descriptions introspection answers.
pub struct Descriptions {
    pub page_max_size: i32,
}

impl ExtensionFactory for Descriptions {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Descriptions {
            page_max_size: self.page_max_size,
        })
    }
}

#[async_graphql::async_trait::async_trait]
impl Extension for Descriptions {
    async fn resolve(
        &self,
        ctx: &ExtensionContext<'_>,
        info: ResolveInfo<'_>,
        next: NextResolve<'_>,
    ) -> ServerResult<Option<Value>> {
        if info.name != "description" || !info.parent_type.starts_with("__") {
            return next.run(ctx, info).await;
        }
        if info.parent_type == "__Schema" {
            return Ok(Some(Value::from(SCHEMA)));
        }
        Ok(match next.run(ctx, info).await? {
            Some(Value::String(text)) if text.contains(PAGE_MAX_SIZE) => {
                Some(Value::String(complete(&text, self.page_max_size)))
            }
            other => other,
        })
    }
}
