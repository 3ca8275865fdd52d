//! Random query documents over the schema as the server describes it (introspection): nested
//! objects and lists both ways, random field subsets, aliases, the same field twice, inline and
//! named fragments, `__typename`, `@skip`/`@include` with literals and variables, and every
//! argument of every list. Documents are trees, so a failing one can be made smaller.

use std::collections::HashMap;

use serde_json::{Value, json};

/// A small reproducible random generator (SplitMix64).
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A number in `0..n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % u64::try_from(n.max(1)).unwrap_or(1)).unwrap_or(0)
    }

    /// True `percent` times in a hundred.
    pub fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A type as introspection describes it.
#[derive(Clone, Debug)]
pub struct TypeRef {
    pub name: String,
    pub non_null: bool,
    pub list: bool,
}

impl TypeRef {
    /// The type as a variable declares it (lists of non-null items, as this schema has).
    fn declared(&self) -> String {
        let named = if self.list {
            format!("[{}!]", self.name)
        } else {
            self.name.clone()
        };
        if self.non_null {
            format!("{named}!")
        } else {
            named
        }
    }
}

#[derive(Clone, Debug)]
pub struct FieldDef {
    pub name: String,
    pub args: Vec<(String, TypeRef)>,
    pub ty: TypeRef,
}

#[derive(Clone, Debug, Default)]
pub struct TypeDef {
    pub kind: String,
    pub fields: Vec<FieldDef>,
    pub input_fields: Vec<(String, TypeRef)>,
    pub possible: Vec<String>,
    pub values: Vec<String>,
}

/// The schema: types by name.
pub struct Schema(pub HashMap<String, TypeDef>);

pub const INTROSPECTION: &str = "{ __schema { types { kind name \
    fields { name args { name type { ...R } } type { ...R } } \
    inputFields { name type { ...R } } possibleTypes { name } enumValues { name } } } } \
    fragment R on __Type { kind name ofType { kind name ofType { kind name ofType { kind name } } } }";

fn type_ref(value: &Value) -> TypeRef {
    let mut ty = value;
    let mut non_null = false;
    let mut list = false;
    loop {
        match ty["kind"].as_str() {
            Some("NON_NULL") if !list => non_null = true,
            Some("LIST") => list = true,
            Some("NON_NULL") => {}
            _ => break,
        }
        ty = &ty["ofType"];
    }
    TypeRef {
        name: ty["name"].as_str().unwrap_or_default().to_owned(),
        non_null,
        list,
    }
}

impl Schema {
    pub fn from_introspection(data: &Value) -> Schema {
        let mut types = HashMap::new();
        for ty in data["__schema"]["types"].as_array().into_iter().flatten() {
            let names = |key: &str| -> Vec<String> {
                ty[key]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(|item| item["name"].as_str().map(str::to_owned))
                    .collect()
            };
            let fields = ty["fields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|field| FieldDef {
                    name: field["name"].as_str().unwrap_or_default().to_owned(),
                    args: field["args"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .map(|arg| {
                            let name = arg["name"].as_str().unwrap_or_default().to_owned();
                            (name, type_ref(&arg["type"]))
                        })
                        .collect(),
                    ty: type_ref(&field["type"]),
                })
                .collect();
            let input_fields = ty["inputFields"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|field| {
                    let name = field["name"].as_str().unwrap_or_default().to_owned();
                    (name, type_ref(&field["type"]))
                })
                .collect();
            let name = ty["name"].as_str().unwrap_or_default().to_owned();
            types.insert(
                name,
                TypeDef {
                    kind: ty["kind"].as_str().unwrap_or_default().to_owned(),
                    fields,
                    input_fields,
                    possible: names("possibleTypes"),
                    values: names("enumValues"),
                },
            );
        }
        Schema(types)
    }

    fn get(&self, name: &str) -> &TypeDef {
        &self.0[name]
    }

    fn is_leaf(&self, name: &str) -> bool {
        matches!(self.get(name).kind.as_str(), "SCALAR" | "ENUM")
    }
}

/// A selection of a document.
#[derive(Clone, Debug)]
pub enum Sel {
    Field {
        alias: Option<String>,
        name: String,
        args: Vec<(String, String)>,
        directives: Vec<String>,
        sub: Vec<Sel>,
    },
    Inline {
        on: Option<String>,
        directives: Vec<String>,
        sub: Vec<Sel>,
    },
    Spread {
        name: String,
        directives: Vec<String>,
    },
}

/// A document: one query, its fragments and its variables.
#[derive(Clone, Debug, Default)]
pub struct Doc {
    pub selections: Vec<Sel>,
    pub fragments: Vec<(String, String, Vec<Sel>)>,
    /// Declared variables: name, type, value.
    pub variables: Vec<(String, String, Value)>,
}

impl Doc {
    pub fn text(&self) -> String {
        let mut text = String::from("query");
        if !self.variables.is_empty() {
            let declared: Vec<String> = self
                .variables
                .iter()
                .map(|(name, ty, _)| format!("${name}: {ty}"))
                .collect();
            text += &format!("({})", declared.join(", "));
        }
        text += " ";
        write_set(&mut text, &self.selections);
        for (name, on, selections) in &self.fragments {
            text += &format!(" fragment {name} on {on} ");
            write_set(&mut text, selections);
        }
        text
    }

    pub fn variables(&self) -> Value {
        let mut variables = serde_json::Map::new();
        for (name, _, value) in &self.variables {
            variables.insert(name.clone(), value.clone());
        }
        Value::Object(variables)
    }

    /// How many selections could be taken out (for making a failing document smaller).
    pub fn removable(&self) -> usize {
        count(&self.selections)
            + self
                .fragments
                .iter()
                .map(|(_, _, set)| count(set))
                .sum::<usize>()
    }

    /// The document without removable selection `index` (in the order of `removable`).
    pub fn without(&self, index: usize) -> Doc {
        let mut doc = self.clone();
        let mut left = index;
        if remove(&mut doc.selections, &mut left) {
            return doc;
        }
        for (_, _, set) in &mut doc.fragments {
            if remove(set, &mut left) {
                break;
            }
        }
        doc
    }
}

fn count(set: &[Sel]) -> usize {
    set.iter()
        .map(|sel| {
            1 + match sel {
                Sel::Field { sub, .. } | Sel::Inline { sub, .. } => count(sub),
                Sel::Spread { .. } => 0,
            }
        })
        .sum()
}

fn remove(set: &mut Vec<Sel>, left: &mut usize) -> bool {
    for index in 0..set.len() {
        if *left == 0 {
            set.remove(index);
            return true;
        }
        *left -= 1;
        if let Sel::Field { sub, .. } | Sel::Inline { sub, .. } = &mut set[index]
            && remove(sub, left)
        {
            return true;
        }
    }
    false
}

fn write_set(text: &mut String, set: &[Sel]) {
    text.push_str("{ ");
    for sel in set {
        match sel {
            Sel::Field {
                alias,
                name,
                args,
                directives,
                sub,
            } => {
                if let Some(alias) = alias {
                    text.push_str(&format!("{alias}: "));
                }
                text.push_str(name);
                if !args.is_empty() {
                    let args: Vec<String> = args
                        .iter()
                        .map(|(name, value)| format!("{name}: {value}"))
                        .collect();
                    text.push_str(&format!("({})", args.join(", ")));
                }
                for directive in directives {
                    text.push_str(&format!(" {directive}"));
                }
                text.push(' ');
                if !sub.is_empty() {
                    write_set(text, sub);
                }
            }
            Sel::Inline {
                on,
                directives,
                sub,
            } => {
                text.push_str("...");
                if let Some(on) = on {
                    text.push_str(&format!(" on {on}"));
                }
                for directive in directives {
                    text.push_str(&format!(" {directive}"));
                }
                text.push(' ');
                write_set(text, sub);
            }
            Sel::Spread { name, directives } => {
                text.push_str(&format!("...{name}"));
                for directive in directives {
                    text.push_str(&format!(" {directive}"));
                }
                text.push(' ');
            }
        }
    }
    text.push_str("} ");
}

/// What argument values are made of: the fixture's IDs, texts, times and role names, and the
/// cursors seen in answers so far.
#[derive(Default)]
pub struct Values {
    pub user_ids: Vec<String>,
    pub profile_ids: Vec<String>,
    pub texts: Vec<String>,
    pub times: Vec<String>,
    pub role_names: Vec<String>,
    pub cursors: Vec<String>,
}

/// Makes documents.
pub struct Generator<'s> {
    pub schema: &'s Schema,
    pub values: Values,
    pub rng: Rng,
    doc: Doc,
    /// Objects nested so far.
    depth: usize,
    /// Aliases given so far.
    aliases: usize,
}

/// Object levels a document nests at most (root fields are the first).
const MAX_DEPTH: usize = 4;

impl<'s> Generator<'s> {
    pub fn new(schema: &'s Schema, values: Values, seed: u64) -> Self {
        Generator {
            schema,
            values,
            rng: Rng::new(seed),
            doc: Doc::default(),
            depth: 0,
            aliases: 0,
        }
    }

    /// A new document.
    pub fn document(&mut self) -> Doc {
        self.doc = Doc::default();
        self.depth = 0;
        self.aliases = 0;
        let count = 1 + self.rng.below(3);
        self.doc.selections = self.selections_on("Query", count);
        std::mem::take(&mut self.doc)
    }

    /// One to a few selections on `type_name`, decorated at random.
    fn selections_on(&mut self, type_name: &str, at_least: usize) -> Vec<Sel> {
        let ty = self.schema.get(type_name).clone();
        if !ty.possible.is_empty() {
            return self.abstract_selections(&ty);
        }
        let mut selections = Vec::new();
        // Response keys taken in this selection set: a field asked again with other
        // arguments gets an alias of its own, so the document stays valid.
        let mut keys = std::collections::HashSet::new();
        let wanted = at_least + self.rng.below(4);
        for _ in 0..wanted {
            if self.rng.chance(8) {
                selections.push(self.typename());
                continue;
            }
            let field = self.rng.pick(&ty.fields).clone();
            if !self.schema.is_leaf(&field.ty.name) && self.depth >= MAX_DEPTH {
                continue;
            }
            let args = self.arguments(&field);
            let alias = (keys.contains(&field.name) || self.rng.chance(15)).then(|| self.alias());
            keys.insert(alias.clone().unwrap_or_else(|| field.name.clone()));
            let sel = self.field(&field, alias.clone(), args.clone());
            match self.rng.below(10) {
                0 => {
                    let sel = Sel::Inline {
                        on: self.rng.chance(50).then(|| type_name.to_owned()),
                        directives: self.directives(),
                        sub: vec![sel],
                    };
                    selections.push(sel);
                }
                1 => {
                    let name = format!("F{}", self.doc.fragments.len());
                    self.doc
                        .fragments
                        .push((name.clone(), type_name.to_owned(), vec![sel]));
                    let directives = self.directives();
                    selections.push(Sel::Spread { name, directives });
                }
                2 | 3 => {
                    // The same field again, with a sub-selection of its own: merged.
                    let twin = self.field(&field, alias, args);
                    selections.push(sel);
                    selections.push(twin);
                }
                _ => selections.push(sel),
            }
        }
        if selections.len() < at_least {
            selections.push(self.typename());
        }
        selections
    }

    fn abstract_selections(&mut self, ty: &TypeDef) -> Vec<Sel> {
        let mut selections = Vec::new();
        if self.rng.chance(40) {
            selections.push(self.typename());
        }
        if self.rng.chance(40)
            && let Some(field) = ty.fields.first()
        {
            selections.push(Sel::Field {
                alias: None,
                name: field.name.clone(),
                args: Vec::new(),
                directives: self.directives(),
                sub: Vec::new(),
            });
        }
        for possible in ty.possible.clone() {
            if self.rng.chance(70) {
                let sub = self.selections_on(&possible, 1);
                selections.push(Sel::Inline {
                    on: Some(possible),
                    directives: self.directives(),
                    sub,
                });
            }
        }
        if selections.is_empty() {
            selections.push(self.typename());
        }
        selections
    }

    fn typename(&mut self) -> Sel {
        Sel::Field {
            alias: self.rng.chance(30).then(|| self.alias()),
            name: "__typename".to_owned(),
            args: Vec::new(),
            directives: self.directives(),
            sub: Vec::new(),
        }
    }

    /// An alias no other field of the document has.
    fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("a{}", self.aliases)
    }

    /// The arguments of `field`: some, with random values.
    fn arguments(&mut self, field: &FieldDef) -> Vec<(String, String)> {
        let mut args = Vec::new();
        for (name, arg_ty) in &field.args {
            if let Some(value) = self.argument(&field.name, name, arg_ty) {
                args.push((name.clone(), value));
            }
        }
        args
    }

    /// `field` with these arguments, its directives and a sub-selection of its own.
    fn field(
        &mut self,
        field: &FieldDef,
        alias: Option<String>,
        args: Vec<(String, String)>,
    ) -> Sel {
        let sub = if self.schema.is_leaf(&field.ty.name) {
            Vec::new()
        } else {
            self.depth += 1;
            let sub = self.selections_on(&field.ty.name, 1);
            self.depth -= 1;
            sub
        };
        Sel::Field {
            alias,
            name: field.name.clone(),
            args,
            directives: self.directives(),
            sub,
        }
    }

    /// No directive most of the time; otherwise `@skip` or `@include`, literal or variable.
    fn directives(&mut self) -> Vec<String> {
        if !self.rng.chance(20) {
            return Vec::new();
        }
        let name = if self.rng.chance(50) {
            "skip"
        } else {
            "include"
        };
        let condition = match self.rng.below(3) {
            0 => "true".to_owned(),
            1 => "false".to_owned(),
            _ => {
                let value = self.rng.chance(50);
                let variable = if value { "yes" } else { "no" };
                if !self
                    .doc
                    .variables
                    .iter()
                    .any(|(name, _, _)| name == variable)
                {
                    self.doc.variables.push((
                        variable.to_owned(),
                        "Boolean!".to_owned(),
                        json!(value),
                    ));
                }
                format!("${variable}")
            }
        };
        vec![format!("@{name}(if: {condition})")]
    }

    /// A value for argument `name` of field `field`, written as a literal or a variable;
    /// `None` to leave it out.
    fn argument(&mut self, field: &str, name: &str, ty: &TypeRef) -> Option<String> {
        if !ty.non_null && self.rng.chance(45) {
            return None;
        }
        let value = match (name, ty.name.as_str()) {
            ("id" | "profileId" | "userId", _) => {
                let ids = match field {
                    "user" => &self.values.user_ids,
                    "profile" => &self.values.profile_ids,
                    _ if self.rng.chance(50) => &self.values.user_ids,
                    _ => &self.values.profile_ids,
                };
                let id = if self.rng.chance(3) {
                    "bad".to_owned()
                } else {
                    self.rng.pick(ids).clone()
                };
                json!(id)
            }
            ("first" | "last", _) => match self.rng.below(20) {
                0 => json!(101),
                1 => json!(-1),
                n => json!(n % 6),
            },
            ("after" | "before", _) => {
                if self.values.cursors.is_empty() || self.rng.chance(5) {
                    json!("bm90IGEgY3Vyc29y")
                } else {
                    json!(self.rng.pick(&self.values.cursors).clone())
                }
            }
            (_, type_name) => self.input_value(type_name)?,
        };
        if self.rng.chance(25) {
            let variable = format!("v{}", self.doc.variables.len());
            let declared = ty.declared();
            self.doc.variables.push((variable.clone(), declared, value));
            return Some(format!("${variable}"));
        }
        Some(literal(&value, self.schema, &ty.name))
    }

    /// A JSON value of input type `type_name`.
    fn input_value(&mut self, type_name: &str) -> Option<Value> {
        let ty = self.schema.get(type_name).clone();
        match ty.kind.as_str() {
            "ENUM" => Some(json!(self.rng.pick(&ty.values).clone())),
            "INPUT_OBJECT" => {
                let mut object = serde_json::Map::new();
                for (name, field_ty) in &ty.input_fields {
                    if !field_ty.non_null && self.rng.chance(60) {
                        continue;
                    }
                    let value = match (name.as_str(), field_ty.name.as_str()) {
                        (_, "String") if name.ends_with("Contains") => {
                            let text = self.rng.pick(&self.values.texts).clone();
                            let start = self.rng.below(text.len().max(1));
                            let end = (start + 1 + self.rng.below(4)).min(text.len());
                            json!(text.get(start..end).unwrap_or_default().to_uppercase())
                        }
                        (_, "String") => json!(self.rng.pick(&self.values.role_names).clone()),
                        (_, "Boolean") => json!(self.rng.chance(50)),
                        (_, "DateTime") => json!(self.rng.pick(&self.values.times).clone()),
                        (_, other) => self.input_value(other)?,
                    };
                    object.insert(name.clone(), value);
                }
                Some(Value::Object(object))
            }
            _ => None,
        }
    }
}

/// `value` of input type `type_name` as a GraphQL literal.
fn literal(value: &Value, schema: &Schema, type_name: &str) -> String {
    let ty = schema.0.get(type_name);
    match value {
        Value::String(text) if ty.is_some_and(|ty| ty.kind == "ENUM") => text.clone(),
        Value::Object(object) => {
            let fields: Vec<String> = object
                .iter()
                .map(|(name, value)| {
                    let field_ty = ty
                        .and_then(|ty| ty.input_fields.iter().find(|(field, _)| field == name))
                        .map(|(_, field_ty)| field_ty.name.clone())
                        .unwrap_or_default();
                    format!("{name}: {}", literal(value, schema, &field_ty))
                })
                .collect();
            format!("{{{}}}", fields.join(", "))
        }
        other => other.to_string(),
    }
}
