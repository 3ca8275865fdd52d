//! What the schema says of itself that the server's settings complete: the largest page in
//! the descriptions of `first` and `last` (`PAGE_MAX_SIZE`), and the schema's own
//! description. Introspection and the printed SDL say the same, from here.

use async_graphql::{
    ServerResult, Value,
    extensions::{ExtensionContext, NextResolve, ResolveInfo},
};

use crate::config::Limits;

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

/// Whether the field `info` resolves is a description introspection answers.
pub fn applies(info: &ResolveInfo<'_>) -> bool {
    info.name == "description" && info.parent_type.starts_with("__")
}

/// The description introspection answers for the field `info` resolves (one `applies` to):
/// the schema's own, or the engine's with the server's largest page in place.
pub async fn resolve(
    ctx: &ExtensionContext<'_>,
    info: ResolveInfo<'_>,
    next: NextResolve<'_>,
) -> ServerResult<Option<Value>> {
    if info.parent_type == "__Schema" {
        return Ok(Some(Value::from(SCHEMA)));
    }
    let page_max_size = ctx.data_opt::<Limits>().map(|limits| limits.page_max_size);
    Ok(match (next.run(ctx, info).await?, page_max_size) {
        (Some(Value::String(text)), Some(page_max_size)) if text.contains(PAGE_MAX_SIZE) => {
            Some(Value::String(complete(&text, page_max_size)))
        }
        (other, _) => other,
    })
}
