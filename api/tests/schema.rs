//! The checked-in SDL is what the code generates.

#[test]
fn schema_graphql_matches_the_code() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../schema.graphql");
    let checked_in = std::fs::read_to_string(path).expect("schema.graphql exists");
    let generated = api::graphql::sdl(&api::Config::with_database(""));
    assert!(
        checked_in == generated,
        "schema.graphql is out of date: run `cargo run -p api -- print-schema > schema.graphql`"
    );
}
